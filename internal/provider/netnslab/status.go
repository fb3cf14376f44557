package netnslab

import (
	"context"
	"fmt"
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
	for _, pr := range rec.Processes {
		st := "running"
		if !pr.Alive() {
			st = "stopped"
			missing++
		}
		ls.Nodes = append(ls.Nodes, provider.NodeStatus{Name: pr.Name, Kind: "process", State: st, Detail: fmt.Sprintf("pid %d in %s", pr.PID, pr.Namespace)})
	}
	switch {
	case rec.Phase != journal.PhaseDeployed:
		ls.State = "incomplete"
		details = append(details, "a deploy did not finish: deploy again to complete it, or destroy it")
	case missing > 0:
		ls.State = "degraded"
		details = append(details, fmt.Sprintf("%d missing: deploy again to repair", missing))
	}
	ls.Detail = strings.Join(details, "; ")
	return ls
}
