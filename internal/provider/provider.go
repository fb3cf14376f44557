// Package provider is how a lab comes to exist: the netns provider builds it from network
// namespaces on this host, the clab provider drives containerlab, kind and Docker. Commands talk
// to the Provider interface, and to the optional capabilities beside it (Planner for --dry-run,
// Faults for break and fix, PodRuntime for pods, Bundler for a capture's extra files) that a
// provider may implement; no command and no verify code knows which provider runs. The binary's
// main registers its providers in a Registry, which the command line gets handed.
package provider

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/verify/source"
)

// Provider deploys, inspects and removes labs.
type Provider interface {
	// Name is the provider's --provider value.
	Name() string
	// Deploy builds the lab; on a deployed lab it repairs what is missing and says so.
	Deploy(ctx context.Context, l *lab.Lab, opts DeployOptions) error
	// Destroy removes everything the lab created. Nothing to remove is success.
	Destroy(ctx context.Context, labName string, opts DestroyOptions) error
	// Status lists the provider's labs (all when labName is ""), with their nodes.
	Status(ctx context.Context, labName string) ([]LabStatus, error)
	// Exec runs argv inside a node (or pod, or the switch) of the lab.
	Exec(ctx context.Context, labName, target string, argv []string, stdio Stdio) error
	// Source returns the live verify source of a deployed lab.
	Source(ctx context.Context, l *lab.Lab) (source.Source, error)
}

// DeployOptions steer a deploy.
type DeployOptions struct {
	CNI         string // "calico" or "knetlab"
	Reconfigure bool   // destroy and rebuild from scratch
	Progress    Progress
}

// DestroyOptions steer a destroy.
type DestroyOptions struct {
	// Lab is the lab definition when the command had one (clab needs its rendered topology);
	// nil for labs known only from state (destroy --all, a lab file that is gone).
	Lab      *lab.Lab
	All      bool // every lab of this provider, and nothing else
	Progress Progress
}

// Confirmer is implemented by providers whose destroy is costly to undo (containers, clusters):
// the CLI asks on a terminal before destroying unless --yes is given.
type Confirmer interface {
	ConfirmDestroy() bool
}

// Progress receives one line per step; the CLI shows it as a spinner or timestamped lines.
type Progress interface {
	Step(format string, args ...any)
	Done(format string, args ...any)
}

// Stdio are an exec's streams.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// LabStatus is a deployed lab as a provider sees it.
type LabStatus struct {
	Lab      string
	Provider string
	State    string // "running", "degraded", "incomplete" (a deploy did not finish)
	Detail   string
	Faults   []string // teaching faults applied and not yet fixed, e.g. "fdb-missing on k01-worker"
	Nodes    []NodeStatus
}

// NodeStatus is one node of a deployed lab.
type NodeStatus struct {
	Name    string
	Kind    string // node, switch, network, datastore
	State   string // running, paused (stopped by a signal), exited, stopped, missing
	Address string
	Detail  string
}

// Factory makes a provider.
type Factory func() (Provider, error)

// Registry is the providers a knetlab binary carries, by their --provider value. The binary's
// main registers each provider package explicitly (netnslab.Register, clab.Register), so that
// what a build contains is written in one place.
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]Factory{}} }

// Register adds a provider under name.
func (r *Registry) Register(name string, f Factory) { r.factories[name] = f }

// Names lists the registered providers.
func (r *Registry) Names() []string {
	var out []string
	for n := range r.factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Has says whether name ("" is Default) is registered.
func (r *Registry) Has(name string) bool {
	if name == "" {
		name = Default
	}
	_, ok := r.factories[name]
	return ok
}

// Default is the provider used without --provider.
const Default = "netns"

// Get returns the named provider ("" is Default).
func (r *Registry) Get(name string) (Provider, error) {
	if name == "" {
		name = Default
	}
	f, ok := r.factories[name]
	if !ok {
		return nil, exitcode.Usagef("unknown provider %q (providers: %s)", name, strings.Join(r.Names(), ", "))
	}
	p, err := f()
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", name, err)
	}
	return p, nil
}

// NopProgress discards progress.
type NopProgress struct{}

func (NopProgress) Step(string, ...any) {}
func (NopProgress) Done(string, ...any) {}
