package check

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/spec"
)

// switchPorts: the switch port of every lab node is up, an access port in the node's VLAN,
// and its description names the node. One result per lab node behind the switch.
func switchPorts(_ context.Context, in *Inputs) []*report.Node {
	sw := in.Lab.Switch
	var out []*report.Node
	for _, want := range sw.Ports {
		r := &report.Node{Node: want.Node}
		out = append(out, r)
		keyedDiff[string, spec.Port, observed.SwitchPort]{
			key:      func(want spec.Port) string { return want.Name },
			foundKey: func(got observed.SwitchPort) string { return got.Name },
			entry:    func(want spec.Port) string { return sw.Name + " " + want.Name },
			missing:  func(want spec.Port) string { return "port " + want.Name },
			why: func(want spec.Port) string {
				return fmt.Sprintf("the lab connects %s:%s to %s in VLAN %d", sw.Name, want.Name, want.Node, want.VLAN)
			},
			compare: func(want spec.Port, got observed.SwitchPort, f fields) {
				if !got.Up {
					f.differ("status", "connected (up)", orDefault(got.Status, "down"))
				}
				if got.Mode != "" && got.Mode != "access" {
					f.differ("mode", "access", got.Mode)
				}
				f.compare("vlan", strconv.Itoa(want.VLAN), strconv.Itoa(got.VLAN))
				if !strings.Contains(got.Description, want.Node) {
					f.differ("description", "Connection to "+want.Node, orNone(got.Description))
				}
			},
		}.run(r, []spec.Port{want}, in.Switch.Ports) // one result per node: the switch's other ports are not judged
	}
	return out
}
