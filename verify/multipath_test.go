package verify_test

import (
	"testing"

	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// Calico never installs ECMP for a block: a multipath route to one is judged next hop by next
// hop, and every next hop but the one right one is a finding (issue 10: the one-line form once
// collapsed to its last next hop and passed while half the traffic went to the wrong node).
func TestMultipathBlockRoute(t *testing.T) {
	hop := func(gw string, weight int) observed.Nexthop {
		return observed.Nexthop{Gateway: addr(gw), Dev: "eth1", Weight: weight, Onlink: true}
	}
	tests := []struct {
		name string
		hops []observed.Nexthop
		want []finding
	}{
		{"the right next hop and a wrong one", []observed.Nexthop{hop("10.10.10.12", 1), hop("10.10.10.10", 1)},
			[]finding{{node: "k01-worker", kind: "different", entry: "192.168.104.0/26", field: "nexthop 2",
				expected: "only via 10.10.10.12 dev eth1 onlink", found: "via 10.10.10.10 dev eth1 weight 1 onlink",
				reasonHas: "Calico never installs ECMP for a block: this next hop takes 1/2 of the flows to 192.168.104.0/26 away from nexthop 1 via 10.10.10.12 dev eth1, the right one"}}},
		{"the wrong next hop first", []observed.Nexthop{hop("10.10.10.10", 3), hop("10.10.10.12", 1)},
			[]finding{{node: "k01-worker", kind: "different", entry: "192.168.104.0/26", field: "nexthop 1",
				found: "via 10.10.10.10 dev eth1 weight 3 onlink", reasonHas: "takes 3/4 of the flows"}}},
		{"no next hop is right", []observed.Nexthop{hop("10.10.10.10", 1), {Gateway: addr("192.168.104.7"), Dev: "vxlan.calico", Weight: 1, Onlink: true}},
			[]finding{
				{node: "k01-worker", kind: "different", entry: "192.168.104.0/26", field: "nexthop 1", expected: "only via 10.10.10.12 dev eth1 onlink",
					found: "via 10.10.10.10 dev eth1 weight 1 onlink", reasonHas: "none of its 2 next hops is the right one"},
				{node: "k01-worker", kind: "different", entry: "192.168.104.0/26", field: "nexthop 2", expected: "only via 10.10.10.12 dev eth1 onlink",
					found: "via 192.168.104.7 dev vxlan.calico weight 1 onlink", reasonHas: "k01-worker2 10.10.10.12 is inside k01-worker's 10.10.10.0/24"},
			}},
		{"the right next hop twice", []observed.Nexthop{hop("10.10.10.12", 1), hop("10.10.10.12", 1)},
			[]finding{{node: "k01-worker", kind: "different", entry: "192.168.104.0/26", field: "nexthop 2",
				found: "via 10.10.10.12 dev eth1 weight 1 onlink", reasonHas: "a second next hop"}}},
		{"a single next hop in multipath form is the plain route", []observed.Nexthop{hop("10.10.10.12", 1)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := healthyLesson06()
			r := routeTo(src.nodes["k01-worker"], "192.168.104.0/26")
			r.Gateway, r.Dev, r.Onlink, r.Nexthops = observed.Route{}.Gateway, "", false, tt.hops
			rep := run(t, src, checkid.RoutesBlocks)
			c, _ := rep.Check(checkid.RoutesBlocks)
			var got []finding
			for _, n := range c.Nodes {
				for _, f := range n.Findings {
					got = append(got, finding{node: n.Node, kind: string(f.Kind), entry: f.Entry, field: f.Field, expected: f.Expected, found: f.Found, reasonHas: f.Reason})
				}
			}
			wantFindings(t, got, tt.want)
			if want := report.Passed; len(tt.want) > 0 && c.Status == want {
				t.Errorf("check status %s with findings", c.Status)
			}
		})
	}
}
