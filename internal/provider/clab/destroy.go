package clab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/labrecord"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/render"
)

// mgmtNetwork is containerlab's default management network, the one a lab's destroy may find
// left over. A topology with a route reflector names kind's network instead, which kind
// shares between clusters and leaves in place; containerlab's destroy removes it once empty.
const mgmtNetwork = "clab"

// target is what a destroy removes: the lab's work directory, its kind cluster, its topology.
type target struct {
	lab     string
	cluster string
	workDir string
	def     *lab.Lab // nil when known only from the work directory
}

// resolveTarget finds what belongs to labName: the definition if the command had one, else the
// work directory's record, else the built-in lab of that name.
func resolveTarget(labName string, def *lab.Lab, workDir string) (target, error) {
	t := target{lab: labName, workDir: workDir, def: def}
	if def != nil {
		t.cluster = def.Cluster.Name
		return t, nil
	}
	if data, err := os.ReadFile(filepath.Join(workDir, recordFile)); err == nil {
		var rec labRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return t, fmt.Errorf("%s: %w", filepath.Join(workDir, recordFile), err)
		}
		t.cluster = rec.Cluster
		return t, nil
	}
	if l, err := definitionOf(labName); err == nil {
		t.def, t.cluster = l, l.Cluster.Name
		return t, nil
	}
	return t, fmt.Errorf("lab %s: %w and no built-in lab of that name (pass --lab-file)", labName, errNoWorkDir)
}

// definitionOf is the definition of a lab known by name only: the record's copy of the lab file
// it was deployed with (labrecord), else the built-in lab of that name.
func definitionOf(labName string) (*lab.Lab, error) {
	rec, err := labrecord.Load(labName)
	if err != nil {
		return nil, err
	}
	if def := rec.Definition(); def != "" {
		return lab.LoadFile(def)
	}
	return lab.Load(labName)
}

// destroyPlan removes one lab: containerlab destroy, the kind cluster, the leftovers of that lab
// only. Every step finds out first whether there is anything to remove, so a second destroy
// succeeds and says there was nothing.
func destroyPlan(h *host, t target) *provider.Plan {
	topology := filepath.Join(t.workDir, filepath.FromSlash(render.TopologyPath(t.lab)))
	pl := &provider.Plan{Action: "destroy", Provider: Name, Lab: t.lab, WorkDir: t.workDir}
	var docker dockerAPI

	pl.Steps = append(pl.Steps, provider.Step{
		Title: "check the host",
		Actions: []string{
			"docker client (FromEnv, API version negotiation): Ping — the Docker daemon is reachable",
			"look up containerlab on PATH",
		},
		Run: func(ctx context.Context, _ provider.Progress) error {
			d, err := h.destroyPreflight(ctx, t.lab, true)
			docker = d
			return err
		},
	})
	actions := []string{
		"docker client: ContainerList label=" + clabLabel + "=" + t.lab,
		"kind library: cluster.NewProvider(cluster.ProviderWithDocker()).List() — the topology's k8s-kind node is cluster " + t.cluster,
	}
	if t.def != nil {
		actions = append(actions, "render the topology to "+topology+" if it is not there")
	}
	actions = append(actions, "exec (in "+t.workDir+"): containerlab destroy -t "+topology+" --cleanup"+
		" (its k8s-kind node deletes the cluster and its context in kind's kubeconfig, $KUBECONFIG or ~/.kube/config)")
	pl.Steps = append(pl.Steps, provider.Step{
		Title:   "destroy the topology with containerlab (output streamed)",
		Actions: actions,
		Waits:   "containerlab to exit 0; skipped when no container is labelled " + clabLabel + "=" + t.lab + " and there is no kind cluster " + t.cluster,
		Run: func(ctx context.Context, p provider.Progress) error {
			names, err := labContainers(ctx, docker, t.lab)
			if err != nil {
				return err
			}
			cluster, err := kindClusterExists(h, t.cluster)
			if err != nil {
				return err
			}
			if len(names) == 0 && !cluster {
				p.Done("no containers of lab %s and no kind cluster %s: nothing for containerlab to destroy", t.lab, t.cluster)
				return nil
			}
			if cluster {
				names = append(names, "kind cluster "+t.cluster)
			}
			if _, err := os.Stat(topology); err != nil {
				if t.def == nil {
					return fmt.Errorf("%s exist but there is no topology at %s to destroy them with (pass --lab-file, or docker rm -f them and kind delete cluster --name %s)",
						strings.Join(names, ", "), topology, t.cluster)
				}
				if err := writeTopology(t.def, t.workDir); err != nil {
					return err
				}
			}
			return h.stream(ctx, t.workDir, []string{"containerlab", "destroy", "-t", topology, "--cleanup"},
				func(line string) { p.Step("containerlab: %s", line) })
		},
	})
	pl.Steps = append(pl.Steps, provider.Step{
		Title: "delete kind cluster " + t.cluster,
		Actions: []string{
			"kind library: cluster.NewProvider(cluster.ProviderWithDocker()).List() — skipped when there is no such cluster",
			// kind wrote the context where containerlab's create put it, kind's default
			// kubeconfig; the work directory's kubeconfig is an export and goes with the directory.
			fmt.Sprintf("kind library: Delete(%q, \"\") — also removes its context from $KUBECONFIG or ~/.kube/config", t.cluster),
		},
		Run: func(_ context.Context, p provider.Progress) error {
			exists, err := kindClusterExists(h, t.cluster)
			if err != nil || !exists {
				if err == nil && t.cluster != "" {
					p.Done("no kind cluster %s: nothing to delete", t.cluster)
				}
				return err
			}
			if err := h.kind().Delete(t.cluster, ""); err != nil {
				return fmt.Errorf("delete kind cluster %s: %w", t.cluster, err)
			}
			return nil
		},
	})
	pl.Steps = append(pl.Steps, provider.Step{
		Title: "remove what is left of lab " + t.lab + " (and nothing else)",
		Actions: []string{
			"docker client: ContainerList label=" + clabLabel + "=" + t.lab + " → ContainerRemove (force) of each",
			"docker client: NetworkInspect " + mgmtNetwork + " → NetworkRemove only if no container is attached (other labs share it)",
			"remove " + t.workDir + " (kubeconfig, rendered files)",
		},
		Run: func(ctx context.Context, p provider.Progress) error {
			return removeLeftovers(ctx, docker, t, p)
		},
	})
	return pl
}

// kindClusterExists reports whether kind knows a cluster of that name ("" is none).
func kindClusterExists(h *host, name string) (bool, error) {
	if name == "" {
		return false, nil
	}
	clusters, err := h.kind().List()
	if err != nil {
		return false, fmt.Errorf("list kind clusters: %w", err)
	}
	for _, c := range clusters {
		if c == name {
			return true, nil
		}
	}
	return false, nil
}

func writeTopology(l *lab.Lab, workDir string) error {
	files, err := render.Render(l)
	if err != nil {
		return fmt.Errorf("render %s: %w", l.Name, err)
	}
	for _, f := range files {
		p := filepath.Join(workDir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func removeLeftovers(ctx context.Context, d dockerAPI, t target, p provider.Progress) error {
	names, err := labContainers(ctx, d, t.lab)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := d.ContainerRemove(ctx, n, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !client.IsErrNotFound(err) {
			return fmt.Errorf("remove container %s: %w", n, err)
		}
		p.Step("removed leftover container %s", n)
	}
	net, err := d.NetworkInspect(ctx, mgmtNetwork, network.InspectOptions{})
	switch {
	case client.IsErrNotFound(err):
	case err != nil:
		return fmt.Errorf("inspect docker network %s: %w", mgmtNetwork, err)
	case len(net.Containers) == 0:
		if err := d.NetworkRemove(ctx, mgmtNetwork); err != nil && !client.IsErrNotFound(err) {
			return fmt.Errorf("remove docker network %s: %w", mgmtNetwork, err)
		}
		p.Step("removed docker network %s (no container left on it)", mgmtNetwork)
	}
	if err := os.RemoveAll(t.workDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", t.workDir, err)
	}
	return nil
}
