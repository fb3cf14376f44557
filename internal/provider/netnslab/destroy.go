package netnslab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// stopGrace is how long a lab process gets between SIGTERM and SIGKILL.
const stopGrace = 3 * time.Second

// Destroy implements provider.Provider.
func (p *Provider) Destroy(ctx context.Context, labName string, opts provider.DestroyOptions) error {
	prog := progressOr(opts.Progress)
	if err := requireRoot("destroy"); err != nil {
		return err
	}
	names, err := p.destroyNames(labName, opts)
	if err != nil {
		return err
	}
	for _, name := range names {
		def := opts.Lab
		if opts.All {
			def = nil
		}
		if err := p.destroyLab(ctx, name, def, prog); err != nil {
			return err
		}
	}
	return nil
}

// destroyNames are the labs a destroy removes: labName, or with opts.All every lab that has a
// record (none is said through opts.Progress).
func (p *Provider) destroyNames(labName string, opts provider.DestroyOptions) ([]string, error) {
	if !opts.All {
		if err := checkLabName(labName); err != nil {
			return nil, err
		}
		return []string{labName}, nil
	}
	labs, err := journal.Labs(p.root)
	if err != nil {
		return nil, err
	}
	if len(labs) == 0 {
		progressOr(opts.Progress).Done("no netns labs to remove")
	}
	return labs, nil
}

// remains is what is left of a lab on this host: its processes and its namespaces.
type remains struct {
	processes  []journal.Process
	namespaces []string
}

// findRemains finds the lab's recorded processes that still run and any other process inside
// its namespaces, and the namespaces its record lists and those its definition names (l may
// be nil) that exist.
func findRemains(rec *journal.Lab, l *lab.Lab) remains {
	candidates := map[string]bool{}
	for _, ns := range rec.Namespaces {
		candidates[ns.Name] = true
	}
	if l != nil && l.Name == rec.Lab {
		// The definition names the namespaces even when the record is gone. Names do not depend
		// on the VLAN mode.
		if t, err := newTopology(l, BridgePerVLAN); err == nil {
			for _, n := range t.namespaceNames() {
				candidates[n] = true
			}
		}
	}
	var r remains
	for n := range candidates {
		if inspectNamespace(n) != nsAbsent && !ownedByAnother(n, rec.Lab) {
			r.namespaces = append(r.namespaces, n)
		}
	}
	sort.Strings(r.namespaces)
	seen := map[int]bool{}
	for _, pr := range rec.Processes {
		if pr.Alive() {
			r.processes = append(r.processes, pr)
			seen[pr.PID] = true
		}
	}
	for _, pr := range processesIn(r.namespaces) {
		if !seen[pr.PID] {
			r.processes = append(r.processes, pr)
		}
	}
	return r
}

// destroyLab removes one lab: its remains (see findRemains), its recorded files and its state.
func (p *Provider) destroyLab(ctx context.Context, name string, l *lab.Lab, prog provider.Progress) error {
	store, err := journal.Open(ctx, p.root, name)
	if err != nil {
		return err
	}
	defer store.Close()
	rec := &journal.Lab{Lab: name}
	if store.Lab.Phase != "" {
		rec = store.Lab
	}
	r := findRemains(rec, l)
	if len(r.namespaces) == 0 && len(r.processes) == 0 && rec.Phase == "" {
		if err := store.Remove(); err != nil {
			return err
		}
		prog.Done("lab %s: nothing to remove", name)
		return nil
	}
	start := time.Now()
	p.deletePods(ctx, rec, prog)
	stopped := stopProcesses(r.processes)
	var errs []error
	for _, n := range r.namespaces {
		if err := deleteNamespace(n); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range rec.Files {
		if err := os.RemoveAll(f); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", f, err))
		}
	}
	if len(errs) > 0 {
		// Keep the record: it is how a second destroy finds what is left.
		return exitcode.FromOutside(fmt.Errorf("destroy %s: %w", name, errors.Join(errs...)),
			"run knetlab destroy "+name+" again once the cause is fixed")
	}
	if err := store.Remove(); err != nil {
		return err
	}
	prog.Done("lab %s destroyed in %s: %d namespaces removed, %d processes stopped", name, time.Since(start).Round(time.Millisecond), len(r.namespaces), stopped)
	return nil
}

// stopProcesses sends SIGTERM, waits up to stopGrace, then SIGKILLs what still runs. It only
// signals a PID whose start time matches the record, never a process that reused the PID.
func stopProcesses(procs []journal.Process) int {
	for _, pr := range procs {
		_ = syscall.Kill(pr.PID, syscall.SIGTERM)
	}
	deadline := time.Now().Add(stopGrace)
	for time.Now().Before(deadline) {
		alive := 0
		for _, pr := range procs {
			if pr.Alive() {
				alive++
			}
		}
		if alive == 0 {
			return len(procs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, pr := range procs {
		if pr.Alive() {
			_ = syscall.Kill(pr.PID, syscall.SIGKILL)
		}
	}
	return len(procs)
}
