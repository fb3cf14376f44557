package netnslab

import (
	"context"
	"fmt"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// stopGrace is how long a lab process gets between SIGTERM and SIGKILL.
const stopGrace = 3 * time.Second

// Destroy implements provider.Provider.
func (p *Provider) Destroy(ctx context.Context, labName string, opts provider.DestroyOptions) error {
	prog := progressOr(opts.Progress)
	if !opts.DryRun {
		if err := requireRoot("destroy"); err != nil {
			return err
		}
	}
	if !opts.All {
		if err := checkLabName(labName); err != nil {
			return err
		}
		return p.destroyLab(ctx, labName, opts.Lab, opts.DryRun, prog)
	}
	labs, err := journal.Labs(p.root)
	if err != nil {
		return err
	}
	if len(labs) == 0 {
		prog.Done("no netns labs to remove")
		return nil
	}
	for _, name := range labs {
		if err := p.destroyLab(ctx, name, nil, opts.DryRun, prog); err != nil {
			return err
		}
	}
	return nil
}

// destroyLab removes one lab: its recorded processes and any other process inside its
// namespaces, the namespaces its journal records and those its definition names (l may be
// nil), its recorded files and its state.
func (p *Provider) destroyLab(ctx context.Context, name string, l *lab.Lab, dryRun bool, prog provider.Progress) error {
	var rec *journal.Lab
	var store *journal.Store
	var err error
	if dryRun {
		rec, err = journal.Read(p.root, name)
	} else {
		store, err = journal.Open(ctx, p.root, name)
		if store != nil {
			defer store.Close()
			if store.Lab.Phase != "" {
				rec = store.Lab
			}
		}
	}
	if err != nil {
		return err
	}
	if rec == nil {
		rec = &journal.Lab{Lab: name}
	}

	candidates := map[string]bool{}
	for _, ns := range rec.Namespaces {
		candidates[ns.Name] = true
	}
	if l != nil && l.Name == name {
		// The definition names the namespaces even when the record is gone. Names do not depend
		// on the VLAN mode.
		if t, err := newTopology(l, BridgePerVLAN); err == nil {
			for _, n := range t.namespaceNames() {
				candidates[n] = true
			}
		}
	}
	var namespaces []string
	for n := range candidates {
		if inspectNamespace(n) != nsAbsent {
			namespaces = append(namespaces, n)
		}
	}
	sort.Strings(namespaces)
	var procs []journal.Process
	seen := map[int]bool{}
	for _, pr := range rec.Processes {
		if pr.Alive() {
			procs = append(procs, pr)
			seen[pr.PID] = true
		}
	}
	for _, pr := range processesIn(namespaces) {
		if !seen[pr.PID] {
			procs = append(procs, pr)
		}
	}

	if dryRun {
		for _, pr := range procs {
			prog.Step("would stop %s (pid %d)", pr.Name, pr.PID)
		}
		for _, n := range namespaces {
			prog.Step("would remove namespace %s", n)
		}
		for _, f := range rec.Files {
			prog.Step("would remove %s", f)
		}
		if rec.Phase != "" {
			prog.Step("would remove %s", journal.Dir(p.root, name))
		}
		prog.Done("dry run: nothing was changed")
		return nil
	}

	if len(namespaces) == 0 && len(procs) == 0 && rec.Phase == "" {
		if err := store.Remove(); err != nil {
			return err
		}
		prog.Done("lab %s: nothing to remove", name)
		return nil
	}
	start := time.Now()
	p.deletePods(ctx, rec, prog)
	stopped := stopProcesses(procs)
	var errs []error
	for _, n := range namespaces {
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
		return fmt.Errorf("destroy %s: %v; run knetlab destroy %s again once the cause is fixed", name, errs, name)
	}
	if err := store.Remove(); err != nil {
		return err
	}
	prog.Done("lab %s destroyed in %s: %d namespaces removed, %d processes stopped", name, time.Since(start).Round(time.Millisecond), len(namespaces), stopped)
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
