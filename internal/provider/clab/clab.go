// Package clab is the real lab: containerlab deploys the Arista cEOS switch and the kind cluster,
// knetlab exports the kubeconfig with the kind library, installs the CNI (upstream Calico through
// the Tigera operator, or knetlab's own agent image) and waits on conditions with deadlines.
//
// A deploy and a destroy are Plans: ordered steps that carry their exact commands and library
// calls. --dry-run prints the plan, a real run executes the same steps, and the first step is a
// preflight that exits 3 with the fix for everything the host lacks — this provider never reports
// a success it did not see.
package clab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/render"
	"github.com/knetlab/knetlab/verify/source"
)

// Name is the provider's --provider value.
const Name = "clab"

// Register adds the clab provider to r.
func Register(r *provider.Registry) {
	r.Register(Name, func() (provider.Provider, error) { return New(), nil })
}

// Provider drives containerlab, kind and Docker.
type Provider struct {
	home   string // work directories live in home/<lab>
	source string // the knetlab source tree the agent image is built from
	h      *host
}

// New returns the provider with its defaults: work directories under $KNETLAB_HOME or
// ~/.knetlab, the agent image built from $KNETLAB_SOURCE or the checkout around the current
// directory.
func New() *Provider {
	return &Provider{home: defaultHome(), source: defaultSource(), h: realHost()}
}

func defaultHome() string {
	if h := os.Getenv("KNETLAB_HOME"); h != "" {
		return h
	}
	if dir, err := os.UserHomeDir(); err == nil {
		return filepath.Join(dir, ".knetlab")
	}
	return filepath.Join(os.TempDir(), "knetlab")
}

// defaultSource finds the knetlab checkout: the nearest directory upwards from the current one
// that has build/Dockerfile.
func defaultSource() string {
	if s := os.Getenv("KNETLAB_SOURCE"); s != "" {
		return s
	}
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, DockerfilePath)); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return wd
		}
	}
}

// Name implements provider.Provider.
func (p *Provider) Name() string { return Name }

// ConfirmDestroy implements provider.Confirmer: a destroy removes containers and a cluster.
func (p *Provider) ConfirmDestroy() bool { return true }

func (p *Provider) workDir(labName string) string { return filepath.Join(p.home, labName) }

func progressOr(pr provider.Progress) provider.Progress {
	if pr == nil {
		return provider.NopProgress{}
	}
	return pr
}

// Deploy implements provider.Provider: it runs the deploy plan, and keeps its progress (with
// containerlab's output) in the work directory's deploy.log, which capture bundles.
func (p *Provider) Deploy(ctx context.Context, l *lab.Lab, opts provider.DeployOptions) error {
	pl, err := p.PlanDeploy(ctx, l, opts)
	if err != nil {
		return err
	}
	log := &deployLog{next: progressOr(opts.Progress)}
	err = pl.Run(ctx, log)
	if lerr := log.save(p.workDir(l.Name), err); err == nil {
		err = lerr
	}
	return exitcode.FromOutside(err, toolFix)
}

// toolFix is what to do when docker, kind or containerlab failed a step.
const toolFix = "see what docker, kind or containerlab said above (docker ps -a, containerlab inspect --all); deploy again, or --reconfigure to start over"

// PlanDeploy implements provider.Planner.
func (p *Provider) PlanDeploy(_ context.Context, l *lab.Lab, opts provider.DeployOptions) (*provider.Plan, error) {
	pl, err := deployPlan(p.h, l, opts, p.workDir(l.Name), p.source)
	if err != nil {
		return nil, exitcode.NewUsage(err)
	}
	return pl, nil
}

// Destroy implements provider.Provider: it runs the destroy plan of each lab.
func (p *Provider) Destroy(ctx context.Context, labName string, opts provider.DestroyOptions) error {
	plans, err := p.PlanDestroy(ctx, labName, opts)
	if err != nil {
		return err
	}
	for _, pl := range plans {
		if err := pl.Run(ctx, progressOr(opts.Progress)); err != nil {
			return exitcode.FromOutside(err, toolFix)
		}
	}
	return nil
}

// PlanDestroy implements provider.Planner.
func (p *Provider) PlanDestroy(_ context.Context, labName string, opts provider.DestroyOptions) ([]*provider.Plan, error) {
	var labs []string
	if opts.All {
		var err error
		if labs, err = p.deployedLabs(); err != nil {
			return nil, err
		}
		if len(labs) == 0 {
			progressOr(opts.Progress).Done("no clab labs under %s: nothing to destroy", p.home)
			return nil, nil
		}
	} else {
		labs = []string{labName}
	}
	var plans []*provider.Plan
	for _, name := range labs {
		def := opts.Lab
		if opts.All || (def != nil && def.Name != name) {
			def = nil
		}
		t, err := resolveTarget(name, def, p.workDir(name))
		if err != nil {
			return nil, exitcode.NewUsage(err)
		}
		plans = append(plans, destroyPlan(p.h, t))
	}
	return plans, nil
}

// deployedLabs are the labs with a work directory.
func (p *Provider) deployedLabs() ([]string, error) {
	entries, err := os.ReadDir(p.home)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p.home, err)
	}
	var labs []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(p.home, e.Name(), recordFile)); e.IsDir() && err == nil {
			labs = append(labs, e.Name())
		}
	}
	sort.Strings(labs)
	return labs, nil
}

// Status implements provider.Provider: the labs with a work directory, their containers as
// `containerlab inspect` and Docker see them.
func (p *Provider) Status(ctx context.Context, labName string) ([]provider.LabStatus, error) {
	labs := []string{labName}
	if labName == "" {
		var err error
		if labs, err = p.deployedLabs(); err != nil {
			return nil, err
		}
	}
	var out []provider.LabStatus
	for _, name := range labs {
		t, err := resolveTarget(name, nil, p.workDir(name))
		if errors.Is(err, errNoWorkDir) {
			continue
		}
		if err != nil {
			return nil, err
		}
		st := provider.LabStatus{Lab: name, Provider: Name, State: "running"}
		d, err := p.h.destroyPreflight(ctx, name, false)
		if err != nil {
			return nil, err
		}
		nodes, err := labNodeContainers(ctx, d, name, t.cluster)
		if err != nil {
			return nil, err
		}
		for _, c := range nodes {
			ns := provider.NodeStatus{Name: c.node, Kind: c.kind, State: c.state, Address: c.ip}
			if c.state != "running" {
				st.State = "degraded"
				ns.Detail = c.status
			}
			st.Nodes = append(st.Nodes, ns)
		}
		if len(nodes) == 0 {
			st.State, st.Detail = "incomplete", "no containers: the deploy did not finish or the lab was removed by hand"
		}
		out = append(out, st)
	}
	return out, nil
}

// nodeContainer is one container of a lab with its node name.
type nodeContainer struct {
	node, container, kind, state, status, ip string
}

// labNodeContainers lists the switch (clab-<lab>-*) and the kind node containers of a lab.
func labNodeContainers(ctx context.Context, d dockerAPI, labName, cluster string) ([]nodeContainer, error) {
	var out []nodeContainer
	queries := []struct {
		f    filters.Args
		kind string
	}{
		{filters.NewArgs(filters.Arg("label", clabLabel+"="+labName)), "switch"},
		{filters.NewArgs(filters.Arg("label", "io.x-k8s.kind.cluster="+cluster)), "node"},
	}
	seen := map[string]bool{}
	for _, q := range queries {
		list, err := d.ContainerList(ctx, container.ListOptions{All: true, Filters: q.f})
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		for _, c := range list {
			if len(c.Names) == 0 {
				continue
			}
			name := strings.TrimPrefix(c.Names[0], "/")
			if seen[name] {
				continue
			}
			seen[name] = true
			kind := q.kind
			if _, isKind := c.Labels["io.x-k8s.kind.cluster"]; isKind {
				kind = "node"
			} else if c.Labels[clabNodeKindLabel] == render.KindLinux {
				kind = "reflector" // the only plain Linux container a rendered topology has
			}
			nc := nodeContainer{node: strings.TrimPrefix(name, "clab-"+labName+"-"), container: name, kind: kind,
				state: string(c.State), status: c.Status}
			if c.NetworkSettings != nil {
				for _, n := range c.NetworkSettings.Networks {
					if n.IPAddress != "" {
						nc.ip = n.IPAddress
						break
					}
				}
			}
			out = append(out, nc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].node < out[j].node })
	return out, nil
}

// clabNodeKindLabel is the label containerlab puts on a container with its node's kind.
const clabNodeKindLabel = "clab-node-kind"

// containerOf maps a target of `knetlab exec` to its container: kind nodes and route reflectors
// are containers of their own name, the switch is clab-<lab>-<switch>.
func containerOf(l *lab.Lab, target string) (string, error) {
	if _, ok := l.Node(target); ok {
		return target, nil
	}
	if l.Switch != nil && target == l.Switch.Name {
		return "clab-" + l.Name + "-" + target, nil
	}
	if _, ok := l.RouteReflector(target); ok {
		return target, nil // the topology's prefix is empty: the container is the node's name
	}
	var names []string
	for _, n := range l.Nodes {
		names = append(names, n.Name)
	}
	if l.Switch != nil {
		names = append(names, l.Switch.Name)
	}
	for _, rr := range l.RouteReflectors() {
		names = append(names, rr.Name)
	}
	return "", exitcode.Usagef("lab %s has no node %q (nodes: %s)", l.Name, target, strings.Join(names, ", "))
}

// Exec implements provider.Provider: docker exec into the node's container.
func (p *Provider) Exec(ctx context.Context, labName, target string, argv []string, stdio provider.Stdio) error {
	if len(argv) == 0 {
		return exitcode.Usagef("no command given: knetlab exec %s %s -- CMD...", labName, target)
	}
	t, err := resolveTarget(labName, nil, p.workDir(labName))
	if err != nil {
		return exitcode.NewUsage(err)
	}
	if t.def == nil {
		if t.def, err = definitionOf(labName); err != nil {
			return exitcode.NewUsage(fmt.Errorf("lab %s: %w", labName, err))
		}
	}
	name, err := containerOf(t.def, target)
	if err != nil {
		return err
	}
	d, err := p.h.destroyPreflight(ctx, labName, false)
	if err != nil {
		return err
	}
	created, err := d.ContainerExecCreate(ctx, name, container.ExecOptions{
		Cmd: argv, AttachStdin: stdio.In != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return exitcode.FromOutside(fmt.Errorf("docker exec in %s: %w", name, err), toolFix)
	}
	att, err := d.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return exitcode.FromOutside(fmt.Errorf("docker exec in %s: %w", name, err), toolFix)
	}
	defer att.Close()
	if stdio.In != nil {
		go func() {
			_, _ = io.Copy(att.Conn, stdio.In)
			_ = att.CloseWrite()
		}()
	}
	out, errOut := stdio.Out, stdio.Err
	if out == nil {
		out = io.Discard
	}
	if errOut == nil {
		errOut = io.Discard
	}
	if _, err := stdcopy.StdCopy(out, errOut, att.Reader); err != nil {
		return exitcode.FromOutside(fmt.Errorf("docker exec in %s: %w", name, err), toolFix)
	}
	res, err := d.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return exitcode.FromOutside(fmt.Errorf("docker exec in %s: %w", name, err), toolFix)
	}
	if res.ExitCode != 0 {
		return &exitcode.CommandError{Command: strings.Join(argv, " "), Code: res.ExitCode}
	}
	return nil
}

// Source implements provider.Provider.
func (p *Provider) Source(ctx context.Context, l *lab.Lab) (source.Source, error) {
	d, err := p.h.destroyPreflight(ctx, l.Name, false)
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(p.workDir(l.Name), "kubeconfig")
	if _, err := os.Stat(kubeconfig); err != nil {
		return nil, exitcode.NewEnvironment(fmt.Errorf("lab %s has no kubeconfig at %s", l.Name, kubeconfig),
			fmt.Sprintf("deploy it first: knetlab deploy %s --provider clab", l.Name))
	}
	k, err := newKubeClients(kubeconfig)
	if err != nil {
		return nil, err
	}
	return newSource(l, p.h, d, k, p.workDir(l.Name)), nil
}
