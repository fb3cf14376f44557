package check

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// switchPorts: the switch port of every lab node is up, an access port in the node's VLAN,
// and its description names the node. One result per lab node behind the switch.
func switchPorts(_ context.Context, in *Inputs) []*report.Node {
	ports := map[string]*observed.SwitchPort{}
	for i := range in.Switch.Ports {
		ports[in.Switch.Ports[i].Name] = &in.Switch.Ports[i]
	}
	var out []*report.Node
	for _, n := range in.Lab.Switch.Ports {
		r := &report.Node{Node: n.Node}
		out = append(out, r)
		entry := in.Lab.Switch.Name + " " + n.Name
		why := fmt.Sprintf("the lab connects %s:%s to %s in VLAN %d", in.Lab.Switch.Name, n.Name, n.Node, n.VLAN)
		p, ok := ports[n.Name]
		if !ok {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: entry, Expected: "port " + n.Name, Reason: why})
			continue
		}
		add := func(field, want, got string) {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: entry, Field: field, Expected: want, Found: got, Reason: why})
		}
		if !p.Up {
			add("status", "connected (up)", orDefault(p.Status, "down"))
		}
		if p.Mode != "" && p.Mode != "access" {
			add("mode", "access", p.Mode)
		}
		if p.VLAN != n.VLAN {
			add("vlan", strconv.Itoa(n.VLAN), strconv.Itoa(p.VLAN))
		}
		if !strings.Contains(p.Description, n.Node) {
			add("description", "Connection to "+n.Node, orNone(p.Description))
		}
	}
	return out
}
