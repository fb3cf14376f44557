package netnslab

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// Status implements provider.Provider. It needs no root: it reads the lab records and looks at
// /run/netns.
func (p *Provider) Status(_ context.Context, name string) ([]provider.LabStatus, error) {
	var names []string
	if name != "" {
		if err := checkLabName(name); err != nil {
			return nil, err
		}
		names = []string{name}
	} else {
		var err error
		if names, err = journal.Labs(p.root); err != nil {
			return nil, err
		}
	}
	var out []provider.LabStatus
	for _, n := range names {
		rec, err := journal.Read(p.root, n)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			continue
		}
		out = append(out, labStatus(rec))
	}
	return out, nil
}

func labStatus(rec *journal.Lab) provider.LabStatus {
	ls := provider.LabStatus{Lab: rec.Lab, Provider: Name, State: "running"}
	var details []string
	if rec.VLANMode != "" {
		details = append(details, "switch VLANs: "+rec.VLANMode)
	}
	if !rec.Updated.IsZero() {
		details = append(details, "updated "+rec.Updated.Local().Format("2006-01-02 15:04:05"))
	}
	missing := 0
	for _, ns := range rec.Namespaces {
		st := "running"
		if inspectNamespace(ns.Name) != nsPresent {
			st = "missing"
			missing++
		}
		ls.Nodes = append(ls.Nodes, provider.NodeStatus{
			Name: ns.Node, Kind: ns.Role, State: st,
			Address: strings.Join(ns.Addresses, ", "), Detail: "netns " + ns.Name,
		})
	}
	notRunning := map[string]int{}
	for _, pr := range processesInLabOrder(rec) {
		st := pr.State()
		if st != journal.StateRunning {
			notRunning[st]++
		}
		ls.Nodes = append(ls.Nodes, provider.NodeStatus{Name: pr.Name, Kind: "process", State: st, Detail: fmt.Sprintf("pid %d in %s", pr.PID, pr.Namespace)})
	}
	for _, f := range rec.Faults {
		if f.Unnamed && f.Hints <= provider.HintSteps {
			// An exercise: the student finds it (hint reveals it step by step).
			ls.Faults = append(ls.Faults, "an unnamed fault (knetlab hint "+rec.Lab+" gives one clue at a time)")
			continue
		}
		ls.Faults = append(ls.Faults, f.Name+" on "+f.Node)
	}
	switch {
	case rec.Phase != journal.PhaseDeployed:
		ls.State = "incomplete"
		details = append(details, "a deploy did not finish: deploy again to complete it, or destroy it")
	case missing > 0 || len(notRunning) > 0:
		ls.State = "degraded"
		var what []string
		if missing > 0 {
			what = append(what, count(missing, "namespace")+" missing")
		}
		for _, st := range []string{journal.StatePaused, journal.StateExited} {
			if n := notRunning[st]; n > 0 {
				what = append(what, count(n, "process")+" "+st)
			}
		}
		repair := "deploy again to repair"
		if len(rec.Faults) > 0 || notRunning[journal.StatePaused] > 0 {
			repair = "knetlab fix " + rec.Lab + " repairs it"
		}
		details = append(details, strings.Join(what, ", ")+": "+repair)
	}
	ls.Detail = strings.Join(details, "; ")
	return ls
}

// count is "1 process", "2 processes".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// processesInLabOrder lists the lab's processes in the order of the members they run in (the
// lab's own order), the datastore before an agent in the same member: the record keeps them
// in the order they were last started, which a restart changes.
func processesInLabOrder(rec *journal.Lab) []journal.Process {
	member := map[string]int{}
	for i, ns := range rec.Namespaces {
		member[ns.Name] = i
	}
	rank := func(p journal.Process) int {
		switch {
		case p.Name == datastoreProcess:
			return 0
		case strings.HasPrefix(p.Name, birdProcess):
			return 1
		}
		return 2
	}
	out := slices.Clone(rec.Processes)
	slices.SortStableFunc(out, func(a, b journal.Process) int {
		if c := cmp.Compare(member[a.Namespace], member[b.Namespace]); c != 0 {
			return c
		}
		return cmp.Compare(rank(a), rank(b))
	})
	return out
}
