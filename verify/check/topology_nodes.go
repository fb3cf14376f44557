package check

import (
	"context"
	"fmt"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// member is one lab member topology.nodes wants running, and why.
type member struct {
	name, why string
	reflector bool
}

// topologyNodes: every lab node (and the switch, and the route reflectors) exists and runs;
// kind nodes are Ready. Without a lab, the nodes the facts name are the ones that must run.
func topologyNodes(_ context.Context, in *Inputs) []*report.Node {
	var want []member
	switch {
	case in.Lab != nil:
		for _, n := range in.Lab.Nodes {
			want = append(want, member{name: n, why: fmt.Sprintf("%s is a node of the lab", n)})
		}
		if in.Lab.Switch != nil {
			want = append(want, member{name: in.Lab.Switch.Name, why: fmt.Sprintf("%s is a node of the lab", in.Lab.Switch.Name)})
		}
		if in.Lab.BGP != nil {
			for _, rr := range in.Lab.BGP.Reflectors {
				want = append(want, member{name: rr.Name, reflector: true, why: fmt.Sprintf(
					"%s is the lab's route reflector (%s): the nodes peer with it and learn each other's blocks only through it", rr.Name, rr.Address)})
			}
		}
	case in.Facts != nil:
		for _, n := range in.Expect.Nodes {
			want = append(want, member{name: n.Name(), why: fmt.Sprintf("%s is a node of the lab", n.Name())})
		}
	default:
		for _, st := range in.Topology {
			want = append(want, member{name: st.Name, why: fmt.Sprintf("%s is a node of the lab", st.Name)})
		}
	}
	status := map[string]observed.NodeStatus{}
	for _, st := range in.Topology {
		status[st.Name] = st
	}
	out := make([]*report.Node, 0, len(want))
	for _, m := range want {
		r := &report.Node{Node: m.name}
		out = append(out, r)
		st, ok := status[m.name]
		switch {
		case !ok && m.reflector && !in.Live:
			// A capture holds a reflector's state only when its commands were saved there.
			r.Status = report.Skipped
			r.Reason = fmt.Sprintf("route reflector %s's run state is not in this source (its rr/%s/ files were not captured)", m.name, m.name)
		case !ok:
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: m.name, Expected: "running", Found: "absent",
				Reason: m.why})
		case !st.Running:
			r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: m.name, Field: "state", Expected: "running",
				Found: orDefault(st.Detail, "not running"), Reason: m.why})
		case (st.Kind == "node" || st.Kind == "") && !st.Ready:
			r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: m.name, Field: "ready", Expected: "Ready",
				Found: orDefault(st.Detail, "not Ready"), Reason: "a node is Ready once the CNI runs on it"})
		}
	}
	return out
}
