package verify_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

func TestSelectChecks(t *testing.T) {
	got, err := verify.SelectChecks([]string{"vxlan.fdb", "routes.blocks"})
	if err != nil || strings.Join(got, ",") != "routes.blocks,vxlan.fdb" {
		t.Fatalf("SelectChecks = %v, %v; want report order routes.blocks,vxlan.fdb", got, err)
	}
	_, err = verify.SelectChecks([]string{"routes.blocks", "routes.bogus", "fdb"})
	if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "routes.bogus, fdb") || !strings.Contains(err.Error(), "vxlan.fdb") {
		t.Fatalf("unknown IDs: %v (code %d), want a usage error naming them and listing the valid ones", err, exitcode.Code(err))
	}
}

func TestEveryCheckHasAResult(t *testing.T) {
	r := run(t, healthyLesson06())
	if len(r.Checks) != len(checkid.All) {
		t.Fatalf("%d results, want %d", len(r.Checks), len(checkid.All))
	}
	want := map[string]report.Status{
		// Offline: no run states, no lab, no traffic.
		checkid.TopologyNodes: report.Skipped, checkid.SwitchPorts: report.Skipped, checkid.SwitchSVIs: report.Skipped,
		checkid.SwitchRoutes: report.Skipped, checkid.ConnectivityPods: report.Skipped, checkid.ConnectivityEncap: report.Skipped,
		// A VXLAN capture without a lab: which BGP peers apply is unknown, and there is no BGP state.
		checkid.BGPPeers: report.Skipped, checkid.BGPRIB: report.Skipped,
	}
	for i, c := range r.Checks {
		if c.ID != checkid.All[i] {
			t.Errorf("check %d is %s, want %s", i, c.ID, checkid.All[i])
		}
		st, ok := want[c.ID]
		if !ok {
			st = report.Passed
		}
		if c.Status != st {
			t.Errorf("%s: %s (%s), want %s", c.ID, c.Status, c.Reason, st)
		}
	}
	if c, _ := r.Check(checkid.SwitchPorts); c.Reason != "no lab definition (offline capture)" {
		t.Errorf("switch.ports skip reason %q", c.Reason)
	}
	if c, _ := r.Check(checkid.ConnectivityPods); c.Reason != "source cannot send traffic (offline capture)" {
		t.Errorf("connectivity.pods skip reason %q", c.Reason)
	}
	if r.Status() != report.Passed {
		t.Errorf("report status %s, want passed (skips allowed)", r.Status())
	}
}

func TestFacts(t *testing.T) {
	src := healthyLesson06()
	src.factsErr = exitcode.Usagef("cluster.yaml:12: unknown field")
	_, err := verify.Run(context.Background(), src, verify.Options{})
	if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "cluster.yaml:12") {
		t.Fatalf("unreadable facts: %v, want the source's usage error", err)
	}
	// A capture without facts has nothing to judge its tables against: bad input, naming why
	// (it used to skip every check and pass).
	src.factsErr = fmt.Errorf("no cluster.yaml: %w", source.ErrAbsent)
	_, err = verify.Run(context.Background(), src, verify.Options{})
	if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "no cluster.yaml") {
		t.Fatalf("capture without facts: %v, want a usage error saying why", err)
	}
	// Checks that need no facts still run without them, and skip what they cannot judge.
	r := run(t, src, checkid.SwitchPorts)
	if c, _ := r.Check(checkid.SwitchPorts); c.Status != report.Skipped {
		t.Errorf("switch.ports without a lab: %s", c.Status)
	}
}

func calicoOverlay(t *testing.T) *lab.Lab {
	t.Helper()
	l, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// ceos01 is the lesson 06 switch as it must be.
func ceos01() *observed.Switch {
	return &observed.Switch{
		Name: "ceos01",
		Ports: []observed.SwitchPort{
			{Name: "eth1", Up: true, Mode: "access", VLAN: 10, Description: "Connection to k01-control-plane"},
			{Name: "eth2", Up: true, Mode: "access", VLAN: 10, Description: "Connection to k01-worker"},
			{Name: "eth3", Up: true, Mode: "access", VLAN: 10, Description: "Connection to k01-worker2"},
			{Name: "eth4", Up: true, Mode: "access", VLAN: 20, Description: "Connection to k01-worker3"},
		},
		SVIs: []observed.SVI{
			{Name: "Vlan10", VLAN: 10, Up: true, Address: pfx("10.10.10.1/24")},
			{Name: "Vlan20", VLAN: 20, Up: true, Address: pfx("10.10.20.1/24")},
		},
		Routes: []observed.SwitchRoute{
			{Dst: pfx("10.10.10.0/24"), Type: "connected", Iface: "Vlan10"},
			{Dst: pfx("10.10.20.0/24"), Type: "connected", Iface: "Vlan20"},
		},
	}
}

func TestLabChecks(t *testing.T) {
	l := calicoOverlay(t)
	src := healthyLesson06()
	src.sw = ceos01()
	for _, n := range l.Nodes {
		src.topology = append(src.topology, observed.NodeStatus{Name: n.Name, Kind: "node", Running: true, Ready: true})
	}
	src.topology = append(src.topology, observed.NodeStatus{Name: "ceos01", Kind: "switch", Running: true})
	r, err := verify.Run(context.Background(), src, verify.Options{Lab: l.VerifySpec(),
		Checks: []string{checkid.TopologyNodes, checkid.SwitchPorts, checkid.SwitchSVIs, checkid.SwitchRoutes, checkid.IPAMPools}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Checks {
		if c.Status != report.Passed {
			t.Errorf("%s: %s %s %+v", c.ID, c.Status, c.Reason, c.Nodes)
		}
	}

	// Break one thing per check.
	src.sw.Ports[3].VLAN = 10
	src.sw.SVIs[1].Up = false
	src.sw.Routes = src.sw.Routes[:1]
	src.topology[2].Ready, src.topology[2].Detail = false, "NotReady: cni plugin not initialized"
	src.facts.Pools[0].VXLANMode = "Always"
	r, _ = verify.Run(context.Background(), src, verify.Options{Lab: l.VerifySpec()})
	want := map[string]string{
		checkid.TopologyNodes: "k01-worker2 ready: NotReady: cni plugin not initialized",
		checkid.SwitchPorts:   "k01-worker3 vlan: 10",
		checkid.SwitchSVIs:    "ceos01 status: down",
		checkid.SwitchRoutes:  "ceos01 : ",
		checkid.IPAMPools:     "cluster vxlanMode: Always",
	}
	for id, w := range want {
		c, _ := r.Check(id)
		if c.Status != report.Failed {
			t.Errorf("%s: %s, want failed", id, c.Status)
			continue
		}
		var got []string
		for _, n := range c.Nodes {
			for _, f := range n.Findings {
				got = append(got, fmt.Sprintf("%s %s: %s", n.Node, f.Field, f.Found))
			}
		}
		if len(got) != 1 || got[0] != w {
			t.Errorf("%s findings %q, want [%q]", id, got, w)
		}
	}
}

// prober answers pings by a rule and counts the echo requests a node routes through
// vxlan.calico as a real node would.
type prober struct {
	*fakeSource
	drop    func(from facts.Pod, dst netip.Addr) bool
	encapTo func(node string, dst netip.Addr) bool
}

func (p *prober) Ping(_ context.Context, from facts.Pod, dst netip.Addr, count int) (int, error) {
	if p.drop != nil && p.drop(from, dst) {
		return 0, nil
	}
	return count, nil
}

func (p *prober) PingThrough(ctx context.Context, from facts.Pod, dst netip.Addr, count int, dev string) (source.Egress, error) {
	if dev != "vxlan.calico" {
		return source.Egress{}, errors.New("no such device")
	}
	answered, err := p.Ping(ctx, from, dst, count)
	eg := source.Egress{Answered: answered, Forwarded: uint64(count)}
	if p.encapTo(from.Node, dst) {
		eg.Through = eg.Forwarded
	}
	return eg, err
}

func TestConnectivity(t *testing.T) {
	worker3Block := pfx("192.168.209.64/26")
	tests := []struct {
		name      string
		drop      func(facts.Pod, netip.Addr) bool
		encapTo   func(string, netip.Addr) bool
		wantPods  []string
		wantEncap []string
	}{
		{
			name: "healthy: only traffic to and from k01-worker3 is encapsulated",
			encapTo: func(node string, dst netip.Addr) bool {
				return node == "k01-worker3" || worker3Block.Contains(dst)
			},
		},
		{
			name:      "worker3 unreachable from worker",
			drop:      func(f facts.Pod, dst netip.Addr) bool { return f.Node == "k01-worker" && worker3Block.Contains(dst) },
			encapTo:   func(node string, dst netip.Addr) bool { return node == "k01-worker3" || worker3Block.Contains(dst) },
			wantPods:  []string{"k01-worker default/net-w1 → default/net-w3 (192.168.209.65)"},
			wantEncap: []string{"k01-worker default/net-w1 → default/net-w3 (192.168.209.65)"},
		},
		{
			name:    "everything encapsulated (a VXLAN Always dataplane on a CrossSubnet pool)",
			encapTo: func(string, netip.Addr) bool { return true },
			wantEncap: []string{
				"k01-control-plane default/net-cp → default/net-w1 (192.168.26.1)", "k01-control-plane default/net-cp → default/net-w2 (192.168.104.8)",
				"k01-worker default/net-w1 → default/net-cp (192.168.52.193)", "k01-worker default/net-w1 → default/net-w2 (192.168.104.8)",
				"k01-worker2 default/net-w2 → default/net-cp (192.168.52.193)", "k01-worker2 default/net-w2 → default/net-w1 (192.168.26.1)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &prober{fakeSource: healthyLesson06(), drop: tt.drop, encapTo: tt.encapTo}
			r := run(t, p, checkid.ConnectivityPods, checkid.ConnectivityEncap)
			for id, want := range map[string][]string{checkid.ConnectivityPods: tt.wantPods, checkid.ConnectivityEncap: tt.wantEncap} {
				c, _ := r.Check(id)
				var got []string
				for _, n := range c.Nodes {
					for _, f := range n.Findings {
						got = append(got, n.Node+" "+f.Entry)
					}
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s findings:\n%s\nwant:\n%s", id, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

// healingSource is a lab that converges: its FDB is incomplete for the first reads.
type healingSource struct {
	*fakeSource
	reads, healAfter int
	full             []observed.FDBEntry
}

func (h *healingSource) NodeState(ctx context.Context, node string) (*observed.Node, error) {
	n, err := h.fakeSource.NodeState(ctx, node)
	if node == "k01-worker" {
		h.reads++
		if h.reads > h.healAfter {
			n.FDB = h.full
		}
	}
	return n, err
}

func TestWaitRerunsFailingChecks(t *testing.T) {
	tests := []struct {
		name       string
		healAfter  int
		wait       time.Duration
		wantStatus report.Status
	}{
		{"converges within the wait", 2, time.Minute, report.Passed},
		{"never converges", 1 << 30, 50 * time.Millisecond, report.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := healthyLesson06()
			full := src.nodes["k01-worker"].FDB
			src.nodes["k01-worker"].FDB = nil
			h := &healingSource{fakeSource: src, healAfter: tt.healAfter, full: full}
			r, err := verify.Run(context.Background(), h, verify.Options{
				Checks: []string{checkid.VXLANFDB, checkid.RoutesBlocks}, Wait: tt.wait, Interval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			fdb, _ := r.Check(checkid.VXLANFDB)
			if fdb.Status != tt.wantStatus {
				t.Fatalf("vxlan.fdb %s, want %s", fdb.Status, tt.wantStatus)
			}
			if (fdb.PassedAfter > 0) != (tt.wantStatus == report.Passed) {
				t.Errorf("PassedAfter = %v", fdb.PassedAfter)
			}
			if rb, _ := r.Check(checkid.RoutesBlocks); rb.PassedAfter != 0 {
				t.Errorf("routes.blocks passed at once but records PassedAfter %v", rb.PassedAfter)
			}
			if tt.wantStatus == report.Passed && h.reads != tt.healAfter+1 {
				t.Errorf("k01-worker read %d times, want %d (one run, then re-runs until healed)", h.reads, tt.healAfter+1)
			}
		})
	}
}

// BenchmarkRun is a whole offline verify of a synthetic cluster whose every node is healthy:
// every check that needs only facts and node tables, over every node (docs/benchmarks.md).
func BenchmarkRun(b *testing.B) {
	for _, n := range []int{100, 1000} {
		f := expecttest.Synthetic(n)
		c := expect.Compute(f)
		src := &fakeSource{facts: f, nodes: map[string]*observed.Node{}}
		for _, node := range c.Nodes {
			src.nodes[node.Name()] = expecttest.Healthy(c, node.Name())
		}
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := verify.Run(context.Background(), src, verify.Options{})
				if err != nil || r.Failed() != 0 {
					b.Fatalf("healthy cluster: err %v, %d checks failed", err, r.Failed())
				}
			}
		})
	}
}
