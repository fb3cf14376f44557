// Package reexec runs a process as what it was started to be when that is not the command
// line: a lab deploy re-executes the knetlab binary as the lab's datastore and node agents, and
// a container runtime executes it as the CNI plugin under the plugin's name. A Registry maps
// those names to their entry functions; the binary (and a test binary standing in for it)
// dispatches on its argv before anything else runs.
package reexec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Main is a process's entry: it gets the arguments after its name and returns the exit code.
type Main func(args []string) int

// Registry maps process names to their entries.
type Registry struct {
	mains map[string]Main
}

// New returns an empty registry.
func New() *Registry { return &Registry{mains: map[string]Main{}} }

// Register adds the process name. Registering a name twice is a programming error.
func (r *Registry) Register(name string, m Main) {
	if _, dup := r.mains[name]; dup {
		panic(fmt.Sprintf("reexec: %q registered twice", name))
	}
	r.mains[name] = m
}

// Names lists the registered names, sorted.
func (r *Registry) Names() []string {
	var names []string
	for n := range r.mains {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup finds the entry argv asks for: the executable's base name (a runtime executing the
// binary through a link named after the process), else the first argument (`knetlab NAME
// ARGS...`). It returns the entry and the arguments that follow the name.
func (r *Registry) Lookup(argv []string) (Main, []string, bool) {
	if len(argv) == 0 {
		return nil, nil, false
	}
	if m, ok := r.mains[filepath.Base(argv[0])]; ok {
		return m, argv[1:], true
	}
	if len(argv) > 1 {
		if m, ok := r.mains[argv[1]]; ok {
			return m, argv[2:], true
		}
	}
	return nil, nil, false
}

// Dispatch runs the entry argv asks for and exits with its code; it returns when argv names
// none, and the caller goes on as itself.
func (r *Registry) Dispatch(argv []string) {
	if m, args, ok := r.Lookup(argv); ok {
		os.Exit(m(args))
	}
}
