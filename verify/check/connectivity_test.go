package check

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// simulatedDataplane answers pings the way a lab's dataplane does: a pair answers unless it
// is cut, and the source node forwards each echo request through vxlan.calico when the pair
// actually goes through the tunnel. others are echo requests between the same two pods that
// are not the burst's (another verify probing at the same time, counted where the prober
// cannot tell them apart); they take the same route.
type simulatedDataplane struct {
	nodeOf   map[netip.Addr]string
	subnetOf map[string]string // node → underlay subnet
	swapped  bool              // encapsulate within a subnet and not across (a wrong dataplane)
	cut      map[string]bool   // "src→dst" pod names that do not answer
	others   uint64
	half     map[string]bool // "src→dst": every other echo request takes the other way (a wrong ECMP)
	unseen   map[string]bool // nodes that forward outside netfilter (eBPF)
	absent   map[string]bool // nodes that cannot count (no nft)
	failing  map[string]bool // "src→dst" whose probe fails
}

func (d *simulatedDataplane) Ping(_ context.Context, from facts.Pod, dst netip.Addr, count int) (int, error) {
	if _, ok := d.nodeOf[dst]; !ok {
		return 0, errors.New("no such pod")
	}
	if d.cut[from.Name+"→"+dst.String()] {
		return 0, nil
	}
	return count, nil
}

func (d *simulatedDataplane) PingThrough(ctx context.Context, from facts.Pod, dst netip.Addr, count int, dev string) (source.Egress, error) {
	pair := from.Name + "→" + dst.String()
	switch {
	case dev != expect.VXLANDevice:
		return source.Egress{}, errors.New("no such device")
	case d.absent[from.Node]:
		return source.Egress{}, fmt.Errorf("%s has no nft: %w", from.Node, source.ErrAbsent)
	case d.failing[pair]:
		return source.Egress{}, errors.New("nftables: operation not permitted")
	}
	answered, err := d.Ping(ctx, from, dst, count)
	if err != nil {
		return source.Egress{}, err
	}
	to := d.nodeOf[dst]
	across := d.subnetOf[from.Node] != d.subnetOf[to]
	eg := source.Egress{Answered: answered, Forwarded: uint64(count) + d.others}
	if to != from.Node && across != d.swapped {
		eg.Through = eg.Forwarded
	}
	if d.half[pair] {
		eg.Through = eg.Forwarded / 2
	}
	if d.unseen[from.Node] {
		eg.Forwarded, eg.Through = 0, 0
	}
	return eg, nil
}

func connectivityInputs(p source.Prober) *Inputs {
	f := &facts.Facts{
		Pools: []facts.Pool{{Name: "default-ipv4-ippool", CIDR: netip.MustParsePrefix("192.168.0.0/16"), BlockSize: 26, VXLANMode: "CrossSubnet", IPIPMode: "Never"}},
		Nodes: []facts.Node{
			{Name: "k01-worker", Address: netip.MustParsePrefix("10.10.10.11/24"), VXLANTunnelAddr: netip.MustParseAddr("192.168.1.0")},
			{Name: "k01-worker2", Address: netip.MustParsePrefix("10.10.10.12/24"), VXLANTunnelAddr: netip.MustParseAddr("192.168.2.0")},
			{Name: "k01-worker3", Address: netip.MustParsePrefix("10.10.20.20/24"), VXLANTunnelAddr: netip.MustParseAddr("192.168.3.0")},
		},
		Affinities: []facts.BlockAffinity{
			{Node: "k01-worker", CIDR: netip.MustParsePrefix("192.168.1.0/26"), State: "confirmed"},
			{Node: "k01-worker2", CIDR: netip.MustParsePrefix("192.168.2.0/26"), State: "confirmed"},
			{Node: "k01-worker3", CIDR: netip.MustParsePrefix("192.168.3.0/26"), State: "confirmed"},
		},
		Pods: []facts.Pod{
			{Namespace: "default", Name: "w1", Node: "k01-worker", IP: netip.MustParseAddr("192.168.1.1")},
			{Namespace: "default", Name: "w2", Node: "k01-worker2", IP: netip.MustParseAddr("192.168.2.1")},
			{Namespace: "default", Name: "w3", Node: "k01-worker3", IP: netip.MustParseAddr("192.168.3.1")},
		},
	}
	return &Inputs{Facts: f, Expect: expect.Compute(f), Prober: p}
}

func newSimulatedDataplane() *simulatedDataplane {
	return &simulatedDataplane{
		nodeOf: map[netip.Addr]string{
			netip.MustParseAddr("192.168.1.1"): "k01-worker",
			netip.MustParseAddr("192.168.2.1"): "k01-worker2",
			netip.MustParseAddr("192.168.3.1"): "k01-worker3",
		},
		subnetOf: map[string]string{"k01-worker": "10.10.10.0/24", "k01-worker2": "10.10.10.0/24", "k01-worker3": "10.10.20.0/24"},
		cut:      map[string]bool{},
		half:     map[string]bool{},
		unseen:   map[string]bool{},
		absent:   map[string]bool{},
		failing:  map[string]bool{},
	}
}

// findingsOf flattens a check's findings as "node: entry | expected | found", and what it
// could not judge as "node: skipped: reason" and "node: note: note".
func findingsOf(nodes []*report.Node) []string {
	var out []string
	for _, n := range nodes {
		for _, f := range n.Findings {
			out = append(out, n.Node+": "+f.Entry+" | "+f.Expected+" | "+f.Found)
		}
		if n.Status == report.Skipped {
			out = append(out, n.Node+": skipped: "+n.Reason)
		}
		for _, note := range n.Notes {
			out = append(out, n.Node+": note: "+note)
		}
	}
	return out
}

func TestConnectivityChecks(t *testing.T) {
	tests := []struct {
		name  string
		setup func(d *simulatedDataplane)
		pods  []string // findings of connectivity.pods
		encap []string // findings of connectivity.encap
	}{
		{name: "healthy", setup: func(*simulatedDataplane) {}},
		// Echo requests of another verify between the same pods take the same route: they
		// add to both counts and change no verdict.
		{name: "another run probing the same pairs", setup: func(d *simulatedDataplane) { d.others = 30 }},
		{name: "cross-subnet pair cut", setup: func(d *simulatedDataplane) { d.cut["w1→192.168.3.1"] = true },
			pods:  []string{"k01-worker: default/w1 → default/w3 (192.168.3.1) | echo replies | 0 of 3 answered"},
			encap: []string{"k01-worker: default/w1 → default/w3 (192.168.3.1) | echo replies | 0 of 10 answered"}},
		{name: "encapsulated where it must not be, direct where it must not be", setup: func(d *simulatedDataplane) { d.swapped = true },
			encap: []string{
				"k01-worker: default/w1 → default/w2 (192.168.2.1) | no echo request through vxlan.calico (direct) | 10 of 10 forwarded echo requests through vxlan.calico",
				"k01-worker: default/w1 → default/w3 (192.168.3.1) | every echo request through vxlan.calico (encapsulated) | 0 of 10 forwarded echo requests through vxlan.calico",
				"k01-worker2: default/w2 → default/w1 (192.168.1.1) | no echo request through vxlan.calico (direct) | 10 of 10 forwarded echo requests through vxlan.calico",
				"k01-worker2: default/w2 → default/w3 (192.168.3.1) | every echo request through vxlan.calico (encapsulated) | 0 of 10 forwarded echo requests through vxlan.calico",
				"k01-worker3: default/w3 → default/w1 (192.168.1.1) | every echo request through vxlan.calico (encapsulated) | 0 of 10 forwarded echo requests through vxlan.calico",
				"k01-worker3: default/w3 → default/w2 (192.168.2.1) | every echo request through vxlan.calico (encapsulated) | 0 of 10 forwarded echo requests through vxlan.calico",
			}},
		// Half the burst the wrong way fails both directions of the rule: a direct pair with
		// some of its echoes in the tunnel, an encapsulated one with some outside it.
		{name: "part of a burst takes the other way", setup: func(d *simulatedDataplane) {
			d.half["w1→192.168.2.1"], d.half["w1→192.168.3.1"] = true, true
		},
			encap: []string{
				"k01-worker: default/w1 → default/w2 (192.168.2.1) | no echo request through vxlan.calico (direct) | 5 of 10 forwarded echo requests through vxlan.calico",
				"k01-worker: default/w1 → default/w3 (192.168.3.1) | every echo request through vxlan.calico (encapsulated) | 5 of 10 forwarded echo requests through vxlan.calico",
			}},
		{name: "a node that forwards outside netfilter cannot be judged", setup: func(d *simulatedDataplane) { d.unseen["k01-worker3"] = true },
			encap: []string{"k01-worker3: skipped: cannot judge " +
				"default/w3 → default/w1 (192.168.1.1): 10 of 10 answered, but none of the echo requests passed the node's netfilter forward hook; " +
				"default/w3 → default/w2 (192.168.2.1): 10 of 10 answered, but none of the echo requests passed the node's netfilter forward hook"}},
		{name: "a node that cannot count cannot be judged; a failure elsewhere on it still fails", setup: func(d *simulatedDataplane) {
			d.absent["k01-worker2"] = true
			d.failing["w1→192.168.3.1"] = true
		},
			encap: []string{
				"k01-worker: default/w1 → default/w3 (192.168.3.1) | 10 sent and counted | nftables: operation not permitted",
				"k01-worker2: skipped: cannot judge default/w2 → default/w1 (192.168.1.1): k01-worker2 has no nft: not available from this source; " +
					"default/w2 → default/w3 (192.168.3.1): k01-worker2 has no nft: not available from this source",
			}},
		{name: "what could not be judged is noted beside a failure", setup: func(d *simulatedDataplane) {
			d.cut["w3→192.168.1.1"] = true
			d.half["w3→192.168.2.1"] = true
			d.unseen["k01-worker3"] = true
		},
			pods: []string{"k01-worker3: default/w3 → default/w1 (192.168.1.1) | echo replies | 0 of 3 answered"},
			encap: []string{
				"k01-worker3: default/w3 → default/w1 (192.168.1.1) | echo replies | 0 of 10 answered",
				"k01-worker3: note: cannot judge default/w3 → default/w2 (192.168.2.1): 10 of 10 answered, but none of the echo requests passed the node's netfilter forward hook",
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newSimulatedDataplane()
			tc.setup(d)
			in := connectivityInputs(d)
			if got := findingsOf(connectivityPods(context.Background(), in)); strings.Join(got, "\n") != strings.Join(tc.pods, "\n") {
				t.Errorf("connectivity.pods findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.pods, "\n"))
			}
			if got := findingsOf(connectivityEncap(context.Background(), in)); strings.Join(got, "\n") != strings.Join(tc.encap, "\n") {
				t.Errorf("connectivity.encap findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.encap, "\n"))
			}
		})
	}
}

// scopedProber probes some pods only (a clab lab's declared test pods) and records the pairs
// it was asked for.
type scopedProber struct {
	*simulatedDataplane
	probes map[string]bool
	asked  []string
}

func (s *scopedProber) Probes(p facts.Pod) bool { return s.probes[p.Name] }

func (s *scopedProber) Ping(ctx context.Context, from facts.Pod, dst netip.Addr, count int) (int, error) {
	s.asked = append(s.asked, "ping "+from.Name+"→"+dst.String())
	return s.simulatedDataplane.Ping(ctx, from, dst, count)
}

func (s *scopedProber) PingThrough(ctx context.Context, from facts.Pod, dst netip.Addr, count int, dev string) (source.Egress, error) {
	s.asked = append(s.asked, "burst "+from.Name+"→"+dst.String())
	return s.simulatedDataplane.PingThrough(ctx, from, dst, count, dev)
}

// TestConnectivityPairsTheProbersPodsOnly: the cluster's own pods (coredns here) are in the
// facts and the pool, but a source.ProbeScope prober pairs only the pods it probes.
func TestConnectivityPairsTheProbersPodsOnly(t *testing.T) {
	p := &scopedProber{simulatedDataplane: newSimulatedDataplane(), probes: map[string]bool{"w1": true, "w3": true}}
	in := connectivityInputs(p)
	in.Facts.Pods = append(in.Facts.Pods, facts.Pod{Namespace: "kube-system", Name: "coredns-668d6bf9bc-x2x7q", Node: "k01-worker2", IP: netip.MustParseAddr("192.168.2.7")})
	if got := findingsOf(connectivityPods(context.Background(), in)); len(got) != 0 {
		t.Errorf("connectivity.pods findings: %q", got)
	}
	if got := findingsOf(connectivityEncap(context.Background(), in)); len(got) != 0 {
		t.Errorf("connectivity.encap findings: %q", got)
	}
	want := "ping w1→192.168.3.1, ping w3→192.168.1.1, burst w1→192.168.3.1, burst w3→192.168.1.1"
	if got := strings.Join(p.asked, ", "); got != want {
		t.Errorf("probed %s, want %s", got, want)
	}
}
