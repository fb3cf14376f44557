package check

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// simulatedDataplane answers pings the way a lab's dataplane does: a pair answers unless it
// is cut, and each echo request raises the source node's vxlan.calico TX when the pair
// actually goes through the tunnel. background packets appear on every read of the counters,
// as other traffic on a busy node would.
type simulatedDataplane struct {
	nodeOf     map[netip.Addr]string
	subnetOf   map[string]string // node → underlay subnet
	swapped    bool              // encapsulate within a subnet and not across (a wrong dataplane)
	cut        map[string]bool   // "src→dst" pod names that do not answer
	background uint64
	tx         map[string]uint64
}

func (d *simulatedDataplane) Ping(_ context.Context, from facts.Pod, dst netip.Addr, count int) (int, error) {
	to, ok := d.nodeOf[dst]
	if !ok {
		return 0, errors.New("no such pod")
	}
	across := d.subnetOf[from.Node] != d.subnetOf[to]
	if to != from.Node && across != d.swapped {
		d.tx[from.Node] += uint64(count)
	}
	if d.cut[from.Name+"→"+dst.String()] {
		return 0, nil
	}
	return count, nil
}

func (d *simulatedDataplane) LinkStats(_ context.Context, node, link string) (observed.LinkStats, error) {
	if link != expect.VXLANDevice {
		return observed.LinkStats{}, errors.New("no such link")
	}
	d.tx[node] += d.background
	return observed.LinkStats{TxPackets: d.tx[node]}, nil
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
		tx:       map[string]uint64{},
	}
}

// findingsOf flattens a check's findings as "node: entry | expected | found".
func findingsOf(nodes []*report.Node) []string {
	var out []string
	for _, n := range nodes {
		for _, f := range n.Findings {
			out = append(out, n.Node+": "+f.Entry+" | "+f.Expected+" | "+f.Found)
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
		{name: "a little background traffic is not encapsulation", setup: func(d *simulatedDataplane) { d.background = 2 }},
		{name: "cross-subnet pair cut", setup: func(d *simulatedDataplane) { d.cut["w1→192.168.3.1"] = true },
			pods: []string{"k01-worker: default/w1 → default/w3 (192.168.3.1) | echo replies | 0 of 3 answered"},
			// Found has no trailing space when the prober reported no error.
			encap: []string{"k01-worker: default/w1 → default/w3 (192.168.3.1) | echo replies | 0 of 10 answered"}},
		{name: "encapsulated where it must not be, direct where it must not be", setup: func(d *simulatedDataplane) { d.swapped = true },
			encap: []string{
				"k01-worker: default/w1 → default/w2 (192.168.2.1) | no packets (direct) | 10",
				"k01-worker: default/w1 → default/w3 (192.168.3.1) | ≥ 10 packets (encapsulated) | 0",
				"k01-worker2: default/w2 → default/w1 (192.168.1.1) | no packets (direct) | 10",
				"k01-worker2: default/w2 → default/w3 (192.168.3.1) | ≥ 10 packets (encapsulated) | 0",
				"k01-worker3: default/w3 → default/w1 (192.168.1.1) | ≥ 10 packets (encapsulated) | 0",
				"k01-worker3: default/w3 → default/w2 (192.168.2.1) | ≥ 10 packets (encapsulated) | 0",
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
