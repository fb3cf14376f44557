package check

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// lesson06Inputs are the lesson 06 facts with every node healthy, as a live lab or a capture.
func lesson06Inputs(live bool) *Inputs {
	f := expecttest.Lesson06()
	c := expect.Compute(f)
	in := &Inputs{Facts: f, Expect: c, Nodes: map[string]*observed.Node{}, Live: live}
	for _, n := range c.Nodes {
		in.Nodes[n.Name()] = expecttest.Healthy(c, n.Name())
	}
	return in
}

func resultOf(t *testing.T, nodes []*report.Node, name string) *report.Node {
	t.Helper()
	for _, n := range nodes {
		if n.Node == name {
			return n
		}
	}
	t.Fatalf("no result for %s", name)
	return nil
}

// What a capture did not collect is not judged; on a live lab the same absence is a failure.
func TestAbsentPodLiveFailsCaptureNotes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		break_ func(n *observed.Node)
		want   string // the finding's entry on a live lab
	}{
		{"no network namespace", func(n *observed.Node) { n.Pods = nil }, "pod default/net-w2"},
		{"no routes", func(n *observed.Node) {
			n.Pods[0].Routes = nil
			n.Pods[0].Absent = map[observed.Table]bool{observed.TableRoutes: true}
		}, "pod default/net-w2 route"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, live := range []bool{true, false} {
				in := lesson06Inputs(live)
				tt.break_(in.Nodes["k01-worker2"])
				r := resultOf(t, podsWiring(context.Background(), in), "k01-worker2")
				switch {
				case live && (len(r.Findings) == 0 || r.Findings[0].Kind != report.Missing || r.Findings[0].Entry != tt.want):
					t.Errorf("live: findings %+v, want missing %s", r.Findings, tt.want)
				case !live && (len(r.Findings) != 0 || !strings.Contains(strings.Join(r.Notes, "\n"), "not captured")):
					t.Errorf("capture: findings %+v notes %q, want none and a note that it was not captured", r.Findings, r.Notes)
				}
			}
		})
	}
}

// A pod route no known pod holds is stale on a live lab, or where the IPAMBlock's allocations
// say the address is free; otherwise it is unattributed and does not fail routes.pods.
func TestUnknownPodRouteStaleOnlyWhenFactsComplete(t *testing.T) {
	block := netip.MustParsePrefix("192.168.26.0/26")
	allocated := facts.IPAMBlock{CIDR: block, Node: "k01-worker", AllocationsKnown: true, Allocations: []facts.Allocation{
		{IP: netip.MustParseAddr("192.168.26.0"), Handle: "vxlan-tunnel-addr-k01-worker", Node: "k01-worker", Type: "vxlanTunnelAddress"},
		{IP: netip.MustParseAddr("192.168.26.1"), Namespace: "default", Pod: "net-w1", Node: "k01-worker"},
		{IP: netip.MustParseAddr("192.168.26.9"), Namespace: "default", Pod: "net-w9", Node: "k01-worker"},
	}}
	for _, tt := range []struct {
		name   string
		live   bool
		blocks []facts.IPAMBlock
		dev    string
		want   report.Status
		note   string
	}{
		{"capture, no allocations", false, nil, "cali1234567890a", report.Passed, "UNATTRIBUTED"},
		{"live", true, nil, "cali1234567890a", report.Failed, ""},
		{"capture, block allocations without it", false, []facts.IPAMBlock{{CIDR: block, Node: "k01-worker", AllocationsKnown: true}}, "cali1234567890a", report.Failed, ""},
		{"capture, block without allocations", false, []facts.IPAMBlock{{CIDR: block, Node: "k01-worker"}}, "cali1234567890a", report.Passed, "UNATTRIBUTED"},
		{"capture, allocated to a pod, its veth", false, []facts.IPAMBlock{allocated}, expect.PodInterface("default", "net-w9"), report.Passed, "default/net-w9"},
		{"capture, allocated to a pod, another veth", false, []facts.IPAMBlock{allocated}, "cali1234567890a", report.Failed, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := lesson06Inputs(tt.live)
			in.Facts.Blocks = tt.blocks
			n := in.Nodes["k01-worker"]
			n.Routes = append(n.Routes, observed.Route{Type: "unicast", Dst: netip.MustParsePrefix("192.168.26.9/32"), Dev: tt.dev, Scope: "link"})
			nodes := routesPods(context.Background(), in)
			for _, r := range nodes {
				if len(r.Findings) > 0 {
					r.Status = report.Failed
				} else if r.Status == "" {
					r.Status = report.Passed
				}
			}
			r := resultOf(t, nodes, "k01-worker")
			if r.Status != tt.want {
				t.Errorf("routes.pods: %s %+v (notes %q), want %s", r.Status, r.Findings, r.Notes, tt.want)
			}
			if tt.note != "" && !strings.Contains(strings.Join(r.Notes, "\n"), tt.note) {
				t.Errorf("notes %q, want one with %q", r.Notes, tt.note)
			}
		})
	}
}

// A capture whose cluster.yaml states no block ownership at all cannot judge block routes.
func TestNoOwnershipCapturedSkipsBlockChecks(t *testing.T) {
	for _, live := range []bool{false, true} {
		in := lesson06Inputs(live)
		in.Facts.Affinities = nil
		in.Expect = expect.Compute(in.Facts)
		for name, run := range map[string]func(context.Context, *Inputs) []*report.Node{"routes.blocks": routesBlocks, "ipam.affinities": ipamAffinities} {
			r := resultOf(t, run(context.Background(), in), "k01-worker")
			if skipped := r.Status == report.Skipped; skipped == live {
				t.Errorf("%s live=%v: %s %q %+v; want skipped only from a capture", name, live, r.Status, r.Reason, r.Findings)
			}
		}
	}
}

// A block whose free list holds an address in use is an ipam.affinities finding.
func TestContradictoryIPAMBlockIsAFinding(t *testing.T) {
	in := lesson06Inputs(false)
	in.Facts.Blocks = []facts.IPAMBlock{{CIDR: netip.MustParsePrefix("192.168.26.0/26"), Node: "k01-worker",
		Contradiction: "192.168.26.1 listed free in spec.unallocated and in use in spec.allocations"}}
	in.Expect = expect.Compute(in.Facts)
	r := resultOf(t, ipamAffinities(context.Background(), in), Cluster)
	if len(r.Findings) != 1 || r.Findings[0].Entry != "192.168.26.0/26" || r.Findings[0].Field != "allocations" {
		t.Errorf("cluster findings %+v, want one on 192.168.26.0/26's allocations", r.Findings)
	}
}
