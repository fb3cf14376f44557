package clab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
)

// deployLogFile is where a deploy keeps its progress and containerlab's output, in the lab's
// work directory; capture copies it into the bundle.
const deployLogFile = "deploy.log"

// deployLog passes progress on and keeps every line, time-stamped, for deploy.log.
type deployLog struct {
	next  provider.Progress
	mu    sync.Mutex
	lines []string
}

func (d *deployLog) keep(format string, args []any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lines = append(d.lines, time.Now().UTC().Format(time.RFC3339)+" "+fmt.Sprintf(format, args...))
}

func (d *deployLog) Step(format string, args ...any) {
	d.keep(format, args)
	d.next.Step(format, args...)
}
func (d *deployLog) Done(format string, args ...any) {
	d.keep(format, args)
	d.next.Done(format, args...)
}

// save writes deploy.log with the error the deploy stopped at. A deploy that stopped before the
// work directory existed (preflight) leaves nothing behind, as it created nothing.
func (d *deployLog) save(workDir string, runErr error) error {
	if fi, err := os.Stat(workDir); err != nil || !fi.IsDir() {
		return nil
	}
	d.mu.Lock()
	text := strings.Join(d.lines, "\n") + "\n"
	d.mu.Unlock()
	if runErr != nil {
		text += time.Now().UTC().Format(time.RFC3339) + " failed: " + runErr.Error() + "\n"
	} else {
		text += time.Now().UTC().Format(time.RFC3339) + " deployed\n"
	}
	if err := os.WriteFile(filepath.Join(workDir, deployLogFile), []byte(text), 0o644); err != nil {
		return fmt.Errorf("write the deploy log: %w", err)
	}
	return nil
}

// Bundle implements provider.Bundler: versions.txt with what the lab ran with, as this host's
// containerlab and Docker report it, and the deploy's log.
func (p *Provider) Bundle(ctx context.Context, l *lab.Lab) (map[string][]byte, error) {
	var b strings.Builder
	line := func(key, value string) { fmt.Fprintf(&b, "%s: %s\n", key, value) }
	unknown := func(err error) string { return "unknown: " + strings.ReplaceAll(err.Error(), "\n", " ") }

	if out, err := p.h.output(ctx, "", []string{"containerlab", "version"}); err != nil {
		line("containerlab", unknown(err))
	} else if v := parseContainerlabVersion(out); v == "" {
		line("containerlab", unknown(errors.New("containerlab version printed no version")))
	} else {
		line("containerlab", v)
	}
	line("kind library (knetlab's kubeconfig export and cluster delete)", moduleVersion("sigs.k8s.io/kind"))

	line("kind node image", l.Cluster.NodeImage)
	d, derr := p.h.docker()
	inspect := func(ref string) string {
		if derr != nil {
			return "id " + unknown(derr)
		}
		img, err := d.ImageInspect(ctx, ref)
		if err != nil {
			return "id " + unknown(err)
		}
		s := "id " + img.ID
		if len(img.RepoDigests) > 0 {
			s += ", repo digests " + strings.Join(img.RepoDigests, " ")
		}
		return s
	}
	line("kind node image (local)", inspect(l.Cluster.NodeImage))
	if derr == nil {
		list, err := d.ContainerList(ctx, container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", "io.x-k8s.kind.cluster="+l.Cluster.Name))})
		if err != nil {
			line("kind nodes", unknown(err))
		}
		for _, c := range list {
			if len(c.Names) > 0 {
				line("kind node "+strings.TrimPrefix(c.Names[0], "/"), fmt.Sprintf("%s (image id %s, %s)", c.Image, c.ImageID, c.State))
			}
		}
	}

	line("cni", recordedCNI(p.workDir(l.Name)))
	line("calico", l.CNI.Calico.Version)
	if urls, err := pinnedCalicoManifests(l.CNI.Calico.Version); err != nil {
		line("calico manifests", unknown(err))
	} else {
		for _, u := range urls {
			line("calico manifest "+u, "sha256 "+calicoManifestSHA256[u]+" (pinned: deploy refuses any other)")
		}
	}
	if l.Switch != nil {
		line("ceos image", fmt.Sprintf("%s (%s)", l.Switch.Image, inspect(l.Switch.Image)))
	}

	files := map[string][]byte{provider.VersionsFile: []byte(b.String())}
	if data, err := os.ReadFile(filepath.Join(p.workDir(l.Name), deployLogFile)); err == nil {
		files[deployLogFile] = data
	}
	return files, nil
}

// recordedCNI is the CNI the lab's deploy recorded in its work directory.
func recordedCNI(workDir string) string {
	data, err := os.ReadFile(filepath.Join(workDir, recordFile))
	if err != nil {
		return "unknown: " + err.Error()
	}
	var rec labRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.CNI == "" {
		return "unknown: " + filepath.Join(workDir, recordFile) + " records none"
	}
	return rec.CNI + " (recorded by deploy)"
}

// moduleVersion is the version of a module built into knetlab.
func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "unknown: not in the binary's build information"
}
