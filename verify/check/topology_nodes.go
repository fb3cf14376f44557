package check

import (
	"context"
	"fmt"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// topologyNodes: every lab node (and the switch) exists and runs; kind nodes are Ready.
// Without a lab, the nodes the facts name are the ones that must run.
func topologyNodes(_ context.Context, in *Inputs) []*report.Node {
	var want []string
	switch {
	case in.Lab != nil:
		want = append(want, in.Lab.Nodes...)
		if in.Lab.Switch != nil {
			want = append(want, in.Lab.Switch.Name)
		}
	case in.Facts != nil:
		for _, n := range in.Expect.Nodes {
			want = append(want, n.Name())
		}
	default:
		for _, st := range in.Topology {
			want = append(want, st.Name)
		}
	}
	status := map[string]observed.NodeStatus{}
	for _, st := range in.Topology {
		status[st.Name] = st
	}
	out := make([]*report.Node, 0, len(want))
	for _, name := range want {
		r := &report.Node{Node: name}
		out = append(out, r)
		st, ok := status[name]
		switch {
		case !ok:
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: name, Expected: "running", Found: "absent",
				Reason: fmt.Sprintf("%s is a node of the lab", name)})
		case !st.Running:
			r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: name, Field: "state", Expected: "running",
				Found: orDefault(st.Detail, "not running"), Reason: fmt.Sprintf("%s is a node of the lab", name)})
		case (st.Kind == "node" || st.Kind == "") && !st.Ready:
			r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: name, Field: "ready", Expected: "Ready",
				Found: orDefault(st.Detail, "not Ready"), Reason: "a node is Ready once the CNI runs on it"})
		}
	}
	return out
}
