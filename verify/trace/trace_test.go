package trace

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
	"github.com/knetlab/knetlab/verify/spec"
)

// lesson06 is the calico-overlay lab as tables: the healthy dataplane of every node, the
// underlay routes to the other subnet through the switch's SVIs, and ceos01 with VLAN 10
// (k01-control-plane, k01-worker, k01-worker2 on eth1..eth3) and VLAN 20 (k01-worker3 on eth4).
func lesson06(t *testing.T) (*World, map[string]*observed.Node) {
	t.Helper()
	f := expecttest.Lesson06()
	c := expect.Compute(f)
	nodes := map[string]*observed.Node{}
	for _, n := range f.Nodes {
		s := expecttest.Healthy(c, n.Name)
		other, gw := "10.10.20.0/24", "10.10.10.1"
		if n.Name == "k01-worker3" {
			other, gw = "10.10.10.0/24", "10.10.20.1"
		}
		s.Routes = append(s.Routes, observed.Route{Type: "unicast", Dst: netip.MustParsePrefix(other), Gateway: netip.MustParseAddr(gw), Dev: "eth1"})
		nodes[n.Name] = s
	}
	sw := &observed.Switch{Name: "ceos01",
		SVIs: []observed.SVI{
			{Name: "Vlan10", VLAN: 10, Up: true, Address: netip.MustParsePrefix("10.10.10.1/24")},
			{Name: "Vlan20", VLAN: 20, Up: true, Address: netip.MustParsePrefix("10.10.20.1/24")},
		},
		Routes: []observed.SwitchRoute{
			{Dst: netip.MustParsePrefix("10.10.10.0/24"), Type: "connected", Iface: "Vlan10"},
			{Dst: netip.MustParsePrefix("10.10.20.0/24"), Type: "connected", Iface: "Vlan20"},
		},
		VLANs: []observed.SwitchVLAN{{ID: 10, Name: "Calico-Network"}, {ID: 20, Name: "Calico-Network-2"}},
	}
	for i, n := range []string{"k01-control-plane", "k01-worker", "k01-worker2", "k01-worker3"} {
		vlan := 10
		if i == 3 {
			vlan = 20
		}
		sw.Ports = append(sw.Ports, observed.SwitchPort{Name: "eth" + string(rune('1'+i)), Up: true, Status: "connected", Mode: "access", VLAN: vlan,
			Description: "Connection to " + n})
	}
	return NewWorld(f, nodes, sw), nodes
}

// replaceRoute puts r in place of the node's route to the same destination.
func replaceRoute(n *observed.Node, r observed.Route) {
	for i := range n.Routes {
		if n.Routes[i].Dst == r.Dst {
			n.Routes[i] = r
		}
	}
}

func mustResolve(t *testing.T, w *World, arg string) Endpoint {
	t.Helper()
	e, err := w.Resolve(arg)
	if err != nil {
		t.Fatalf("resolve %s: %v", arg, err)
	}
	return e
}

func traceOf(t *testing.T, w *World, from, to string) *Result {
	t.Helper()
	return w.Trace(context.Background(), mustResolve(t, w, from), mustResolve(t, w, to))
}

func steps(r *Result) []string {
	var out []string
	for _, h := range r.Hops {
		out = append(out, h.At+" "+h.Step)
	}
	return out
}

func hopText(r *Result) string {
	var b strings.Builder
	for i, h := range r.Hops {
		b.WriteString(strings.Join([]string{"", string(rune('0' + i%10)), h.At, h.Step, h.Entry, h.Note}, " | "))
		b.WriteByte('\n')
	}
	return b.String() + "end: " + r.End.Kind + " " + r.End.Detail
}

func TestAcrossSubnetsGoesThroughVXLANAndTheSwitch(t *testing.T) {
	w, _ := lesson06(t)
	r := traceOf(t, w, "net-w1", "default/net-w3")
	want := []string{
		"default/net-w1 route", "k01-worker proxy-arp", "k01-worker route", "k01-worker neigh", "k01-worker fdb", "k01-worker encap",
		"k01-worker route", "k01-worker arp", "ceos01 switch", "ceos01 route", "ceos01 switch",
		"k01-worker3 decap", "k01-worker3 route", "default/net-w3 deliver",
	}
	if got := steps(r); !slices.Equal(got, want) {
		t.Fatalf("hops:\n%s\nwant steps %q", hopText(r), want)
	}
	if r.Verdict != VerdictOK || r.Kind != "vxlan" || r.End.Kind != EndDelivered {
		t.Fatalf("verdict %s kind %s end %+v, want ok vxlan delivered\n%s", r.Verdict, r.Kind, r.End, hopText(r))
	}
	for i, want := range map[int]string{
		0:  "default via 169.254.1.1 dev eth0",
		2:  "192.168.209.64/26 via 192.168.209.64 dev vxlan.calico onlink",
		3:  "192.168.209.64 dev vxlan.calico lladdr " + expect.VTEPMAC(w.Facts.Nodes[3]) + " PERMANENT",
		4:  expect.VTEPMAC(w.Facts.Nodes[3]) + " dev vxlan.calico dst 10.10.20.20 self permanent",
		5:  "10.10.10.11 → 10.10.20.20 udp/4789 vni 4096",
		6:  "10.10.20.0/24 via 10.10.10.1 dev eth1",
		8:  "VLAN 10 Calico-Network: eth2 → Vlan10",
		9:  "10.10.20.0/24 connected Vlan20",
		10: "VLAN 20 Calico-Network-2: Vlan20 → eth4",
		12: "192.168.209.65 dev " + expect.PodInterface("default", "net-w3") + " scope link",
		13: "eth0 192.168.209.65/32",
	} {
		if r.Hops[i].Entry != want {
			t.Errorf("hop %d entry %q, want %q", i+1, r.Hops[i].Entry, want)
		}
	}
}

func TestWithinASubnetGoesDirectOnEth1(t *testing.T) {
	w, _ := lesson06(t)
	r := traceOf(t, w, "net-w1", "net-w2")
	if r.Verdict != VerdictOK || r.Kind != "direct" {
		t.Fatalf("verdict %s kind %s, want ok direct\n%s", r.Verdict, r.Kind, hopText(r))
	}
	for _, h := range r.Hops {
		if strings.Contains(h.Entry, "vxlan.calico") || h.Step == StepEncap {
			t.Errorf("the direct path touches vxlan.calico: %+v", h)
		}
	}
	if got := r.Hops[2].Entry; got != "192.168.104.0/26 via 10.10.10.12 dev eth1 proto 80 onlink" {
		t.Errorf("route hop %q", got)
	}
	if got := r.Hops[4].Entry; got != "VLAN 10 Calico-Network: eth2 → eth3" {
		t.Errorf("switch hop %q", got)
	}
}

func TestEndpoints(t *testing.T) {
	w, _ := lesson06(t)
	// From a node to its own pod: local, no underlay.
	r := traceOf(t, w, "k01-worker", "net-w1")
	if r.Verdict != VerdictOK || r.Kind != "local" || len(r.Hops) != 2 {
		t.Errorf("node to its pod: %s %s\n%s", r.Verdict, r.Kind, hopText(r))
	}
	// To a node's address: delivered to the node.
	r = traceOf(t, w, "net-w1", "10.10.20.20")
	if r.Verdict != VerdictOK || r.End.At != "k01-worker3" || r.To.Kind != "node" {
		t.Errorf("pod to node: %s %+v\n%s", r.Verdict, r.End, hopText(r))
	}
	// A pod to itself never leaves it.
	r = traceOf(t, w, "net-w1", "net-w1")
	if r.Verdict != VerdictOK || len(r.Hops) != 0 || r.End.At != "default/net-w1" {
		t.Errorf("pod to itself: %s %+v\n%s", r.Verdict, r.End, hopText(r))
	}
	// To the switch's SVI.
	r = traceOf(t, w, "k01-worker3", "10.10.20.1")
	if r.Verdict != VerdictOK || r.End.At != "ceos01" {
		t.Errorf("node to SVI: %s %+v\n%s", r.Verdict, r.End, hopText(r))
	}
	for _, bad := range []string{"nope", "default/nope", "10.1.2.300", "::1"} {
		if _, err := w.Resolve(bad); err == nil {
			t.Errorf("resolve %q: no error", bad)
		}
	}
	if e := mustResolve(t, w, "192.168.209.65"); e.Kind != "pod" || e.Name != "default/net-w3" {
		t.Errorf("an address a pod holds names the pod: %+v", e)
	}
}

// Each break fault of the netns lab, as the tables show it, and the hop the trace of the pair
// it affects marks.
func TestFaults(t *testing.T) {
	w3mac := expect.VTEPMAC(expecttest.Lesson06().Nodes[3])
	host := expect.PodInterface("default", "net-w1")
	tests := []struct {
		name     string
		from, to string
		breakIt  func(w *World, nodes map[string]*observed.Node)
		end      string
		hop      int
		expected string
		reason   string
	}{
		{"fdb-missing", "net-w1", "net-w3", func(_ *World, n map[string]*observed.Node) {
			w := n["k01-worker"]
			w.FDB = slices.DeleteFunc(w.FDB, func(e observed.FDBEntry) bool { return e.MAC == w3mac })
		}, EndNoFDB, 5, w3mac + " dev vxlan.calico dst 10.10.20.20 self permanent", "VTEP MAC"},
		{"vxlan-mtu", "net-w1", "net-w3", func(_ *World, n map[string]*observed.Node) {
			l, _ := n["k01-worker"].Link("vxlan.calico")
			l.MTU = 1400
		}, EndDelivered, 6, "10.10.10.11 → 10.10.20.20 udp/4789 vni 4096; vxlan.calico mtu 1450", "1450"},
		{"worker3-via-eth1", "net-w1", "net-w3", func(_ *World, n map[string]*observed.Node) {
			replaceRoute(n["k01-worker"], observed.Route{Type: "unicast", Dst: netip.MustParsePrefix("192.168.209.64/26"), Gateway: netip.MustParseAddr("10.10.20.20"), Dev: "eth1", Onlink: true, Protocol: "80"})
		}, EndNoNeighbour, 3, "192.168.209.64/26 via 192.168.209.64 dev vxlan.calico onlink", "must go via vxlan.calico"},
		{"proxy-arp-off", "net-w1", "net-w2", func(_ *World, n map[string]*observed.Node) {
			n["k01-worker"].Sysctls["net.ipv4.conf."+host+".proxy_arp"] = "0"
		}, EndNoNeighbour, 2, "net.ipv4.conf." + host + ".proxy_arp = 1", "answers the pod's ARP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, nodes := lesson06(t)
			tc.breakIt(w, nodes)
			r := traceOf(t, w, tc.from, tc.to)
			d := r.Divergence
			if r.Verdict != VerdictDiverged || d == nil {
				t.Fatalf("verdict %s, want diverged\n%s", r.Verdict, hopText(r))
			}
			if r.End.Kind != tc.end || d.Hop != tc.hop || d.Expected != tc.expected || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("end %s, divergence %+v\nwant end %s at hop %d, expected %q, reason with %q\n%s", r.End.Kind, *d, tc.end, tc.hop, tc.expected, tc.reason, hopText(r))
			}
			if r.Expected == nil || r.Expected.End.Kind != EndDelivered {
				t.Errorf("the expected path is not given, or not delivered: %+v", r.Expected)
			}
		})
	}
}

// agent-stopped leaves the tables as they were: the packet still goes the expected way, and
// the first hop on the node whose agent is gone says that nothing keeps its tables.
func TestAgentStoppedWarnsOnItsNode(t *testing.T) {
	w, _ := lesson06(t)
	w.NotReady = map[string]string{"k01-worker2": "agent not running (pid 4242)"}
	r := traceOf(t, w, "net-w1", "net-w2")
	if r.Verdict != VerdictOK {
		t.Fatalf("verdict %s\n%s", r.Verdict, hopText(r))
	}
	var warned []int
	for i, h := range r.Hops {
		if h.Warning != "" {
			warned = append(warned, i+1)
			if !strings.Contains(h.Warning, "agent not running (pid 4242)") {
				t.Errorf("warning %q", h.Warning)
			}
		}
	}
	if !slices.Equal(warned, []int{6}) || !strings.Contains(r.Summary(), "nothing keeps them") {
		t.Errorf("warnings on hops %v, want [6] (k01-worker2's route); summary %q\n%s", warned, r.Summary(), hopText(r))
	}
}

func TestEnds(t *testing.T) {
	t.Run("blackhole", func(t *testing.T) {
		w, _ := lesson06(t)
		// An address of k01-worker3's block that no pod holds: its owner blackholes it, as expected.
		r := traceOf(t, w, "net-w1", "192.168.209.70")
		if r.End.Kind != EndBlackhole || r.End.At != "k01-worker3" || r.Verdict != VerdictDropped || r.Divergence != nil {
			t.Errorf("end %+v verdict %s\n%s", r.End, r.Verdict, hopText(r))
		}
		if !strings.Contains(r.End.Detail, "blackhole 192.168.209.64/26 proto 80") {
			t.Errorf("the end does not name the blackhole: %s", r.End.Detail)
		}
	})
	t.Run("no route", func(t *testing.T) {
		w, nodes := lesson06(t)
		w2 := nodes["k01-worker2"]
		w2.Routes = slices.DeleteFunc(w2.Routes, func(r observed.Route) bool { return r.Dst.Bits() == 0 || r.Dst.String() == "192.168.26.0/26" })
		r := traceOf(t, w, "net-w2", "net-w1")
		if r.End.Kind != EndNoRoute || r.Divergence == nil || r.Divergence.Hop != 3 || !strings.Contains(r.Divergence.Reason, "goes direct via eth1") {
			t.Errorf("end %+v divergence %+v\n%s", r.End, r.Divergence, hopText(r))
		}
	})
	t.Run("no neighbour on vxlan.calico", func(t *testing.T) {
		w, nodes := lesson06(t)
		n := nodes["k01-worker"]
		n.Neighs = nil
		r := traceOf(t, w, "net-w1", "net-w3")
		if r.End.Kind != EndNoNeighbour || r.Divergence == nil || r.Divergence.Hop != 4 || !strings.Contains(r.Divergence.Reason, "never lets vxlan.calico ARP") {
			t.Errorf("end %+v divergence %+v\n%s", r.End, r.Divergence, hopText(r))
		}
	})
	t.Run("loop", func(t *testing.T) {
		w, nodes := lesson06(t)
		// k01-worker2 sends its own block back to k01-worker, which sends it to k01-worker2.
		replaceRoute(nodes["k01-worker2"], observed.Route{Type: "unicast", Dst: netip.MustParsePrefix("192.168.104.0/26"), Gateway: netip.MustParseAddr("10.10.10.11"), Dev: "eth1", Onlink: true})
		r := traceOf(t, w, "net-w1", "192.168.104.9")
		if r.End.Kind != EndTTL || r.Divergence == nil {
			t.Errorf("end %+v divergence %+v\n%s", r.End, r.Divergence, hopText(r))
		}
	})
	t.Run("multipath", func(t *testing.T) {
		w, nodes := lesson06(t)
		replaceRoute(nodes["k01-worker"], observed.Route{Type: "unicast", Dst: netip.MustParsePrefix("192.168.104.0/26"), Protocol: "80", Nexthops: []observed.Nexthop{
			{Gateway: netip.MustParseAddr("10.10.10.12"), Dev: "eth1", Weight: 1, Onlink: true},
			{Gateway: netip.MustParseAddr("10.10.10.10"), Dev: "eth1", Weight: 1, Onlink: true},
		}})
		r := traceOf(t, w, "net-w1", "net-w2")
		h := r.Hops[2]
		if !strings.Contains(h.Note, "multipath: 2 next hops") || !strings.Contains(h.Entry, "nexthop via 10.10.10.10 dev eth1") {
			t.Errorf("multipath hop %+v", h)
		}
		// Calico never installs ECMP for a block: the route differs from the expected one,
		// though the first next hop still delivers.
		if r.End.Kind != EndDelivered || r.Divergence == nil || r.Divergence.Hop != 3 {
			t.Errorf("end %+v divergence %+v\n%s", r.End, r.Divergence, hopText(r))
		}
	})
	t.Run("unknown: node not captured", func(t *testing.T) {
		w, _ := lesson06(t)
		delete(w.nodes, "k01-worker3")
		r := traceOf(t, w, "net-w1", "net-w3")
		if r.Verdict != VerdictUnknown || !strings.Contains(r.End.Detail, "k01-worker3") {
			t.Errorf("verdict %s end %+v\n%s", r.Verdict, r.End, hopText(r))
		}
	})
	t.Run("unknown: FDB not captured", func(t *testing.T) {
		w, nodes := lesson06(t)
		delete(nodes["k01-worker"].Tables, observed.TableFDB)
		r := traceOf(t, w, "net-w1", "net-w3")
		if r.Verdict != VerdictUnknown || !strings.Contains(r.End.Detail, "the FDB of k01-worker: not captured (the fdb table)") || len(r.Hops) != 4 {
			t.Errorf("verdict %s end %+v\n%s", r.Verdict, r.End, hopText(r))
		}
	})
	t.Run("unknown: switch not captured", func(t *testing.T) {
		w, _ := lesson06(t)
		w.Switch, w.SwitchWhy = nil, "no switch/ directory"
		r := traceOf(t, w, "net-w1", "net-w3")
		if r.Verdict != VerdictUnknown || !strings.Contains(r.End.Detail, "the switch was not captured") {
			t.Errorf("verdict %s end %+v\n%s", r.Verdict, r.End, hopText(r))
		}
	})
}

func TestAllPairs(t *testing.T) {
	w, _ := lesson06(t)
	rs := w.All(context.Background(), w.Facts.Pods)
	if len(rs) != 12 {
		t.Fatalf("%d results, want 12 (4 pods, ordered pairs)", len(rs))
	}
	kinds := map[string]int{}
	for _, r := range rs {
		if r.Verdict != VerdictOK {
			t.Errorf("%s", r.Summary())
		}
		kinds[r.Kind]++
	}
	// k01-worker3 is alone in its subnet: 3 pairs each way go through vxlan.calico.
	if kinds["vxlan"] != 6 || kinds["direct"] != 6 {
		t.Errorf("path kinds %v, want 6 vxlan and 6 direct", kinds)
	}
}

// kernel answers route lookups as a live source's kernel does.
type kernel struct {
	answer func(member string, dst netip.Addr) (observed.Route, error)
	asked  []string
}

func (k *kernel) RouteGet(_ context.Context, member string, dst netip.Addr) (observed.Route, error) {
	k.asked = append(k.asked, member+" "+dst.String())
	return k.answer(member, dst)
}

// Where the source can ask a kernel, its answer decides, not the walk's own longest match; the
// switch's routes, when its kernel is not asked (ErrAbsent), are matched over its table.
func TestKernelDecides(t *testing.T) {
	w, nodes := lesson06(t)
	k := &kernel{answer: func(member string, dst netip.Addr) (observed.Route, error) {
		if member == "ceos01" {
			return observed.Route{}, source.ErrAbsent
		}
		if member == "k01-worker3" && dst.String() == "192.168.209.70" {
			return observed.Route{}, fmt.Errorf("route get: %w", syscall.EINVAL) // a blackhole
		}
		if member == "k01-worker" && dst.String() == "192.168.104.8" {
			return observed.Route{}, fmt.Errorf("k01-worker: %w", source.ErrNoRoute)
		}
		if r := longestMatch(nodes[member].Routes, dst); r != nil {
			return *r, nil
		}
		return observed.Route{}, source.ErrNoRoute
	}}
	w.router = k
	r := traceOf(t, w, "net-w1", "net-w3")
	if r.Verdict != VerdictOK || !slices.Contains(k.asked, "k01-worker 10.10.20.20") || !slices.Contains(k.asked, "ceos01 10.10.20.20") {
		t.Errorf("verdict %s, asked %q\n%s", r.Verdict, k.asked, hopText(r))
	}
	r = traceOf(t, w, "net-w1", "192.168.209.70")
	if r.End.Kind != EndBlackhole || r.End.At != "k01-worker3" {
		t.Errorf("a blackhole the kernel answers EINVAL for: %+v\n%s", r.End, hopText(r))
	}
	r = traceOf(t, w, "net-w1", "net-w2")
	if r.End.Kind != EndNoRoute || !strings.Contains(r.End.Detail, "the kernel") || r.Divergence == nil {
		t.Errorf("the kernel finds no route, whatever the table says: %+v\n%s", r.End, hopText(r))
	}
}

// Calico 3.30's VXLAN routes carry no proto, and a /32 to each remote tunnel address is added:
// the walk follows what the tables say, and neither shape is a divergence.
func TestCalico330Shapes(t *testing.T) {
	w, nodes := lesson06(t)
	n := nodes["k01-worker"]
	for i := range n.Routes {
		if n.Routes[i].Dev == "vxlan.calico" {
			n.Routes[i].Protocol = ""
		}
	}
	n.Routes = append(n.Routes, observed.Route{Type: "unicast", Dst: netip.MustParsePrefix("192.168.209.64/32"), Dev: "vxlan.calico", Scope: "link"})
	r := traceOf(t, w, "net-w1", "net-w3")
	if r.Verdict != VerdictOK || r.Hops[2].Entry != "192.168.209.64/26 via 192.168.209.64 dev vxlan.calico onlink" {
		t.Errorf("verdict %s\n%s", r.Verdict, hopText(r))
	}
	// To the tunnel address itself the /32 matches.
	r = traceOf(t, w, "net-w1", "192.168.209.64")
	if r.Verdict != VerdictOK || r.Hops[2].Entry != "192.168.209.64 dev vxlan.calico scope link" || r.End.At != "k01-worker3" {
		t.Errorf("to the tunnel address: verdict %s\n%s", r.Verdict, hopText(r))
	}
}

// Plain BGP (the calico-bgp lab): no encapsulation, every node on one network with no switch,
// each remote /24 via its owner proto bird.
func TestBGPPath(t *testing.T) {
	f := &facts.Facts{
		Pools: []facts.Pool{{Name: "default-ipv4-ippool", CIDR: netip.MustParsePrefix("10.244.128.0/17"), BlockSize: 24,
			VXLANMode: calico.EncapNever, IPIPMode: calico.EncapNever, NATOutgoing: true}},
		Nodes: []facts.Node{
			{Name: "k8s-guide-control-plane", Address: netip.MustParsePrefix("172.18.0.2/16")},
			{Name: "k8s-guide-worker", Address: netip.MustParsePrefix("172.18.0.3/16")},
			{Name: "k8s-guide-worker2", Address: netip.MustParsePrefix("172.18.0.4/16")},
		},
		Affinities: []facts.BlockAffinity{
			{Node: "k8s-guide-control-plane", CIDR: netip.MustParsePrefix("10.244.128.0/24"), State: "confirmed"},
			{Node: "k8s-guide-worker", CIDR: netip.MustParsePrefix("10.244.129.0/24"), State: "confirmed"},
			{Node: "k8s-guide-worker2", CIDR: netip.MustParsePrefix("10.244.130.0/24"), State: "confirmed"},
		},
		Pods: []facts.Pod{
			{Namespace: "default", Name: "a", Node: "k8s-guide-worker", IP: netip.MustParseAddr("10.244.129.5")},
			{Namespace: "default", Name: "b", Node: "k8s-guide-worker2", IP: netip.MustParseAddr("10.244.130.7")},
		},
	}
	c := expect.Compute(f)
	nodes := map[string]*observed.Node{}
	for _, n := range f.Nodes {
		nodes[n.Name] = expecttest.Healthy(c, n.Name)
	}
	w := NewWorld(f, nodes, nil)
	r := traceOf(t, w, "a", "b")
	want := []string{"default/a route", "k8s-guide-worker proxy-arp", "k8s-guide-worker route", "k8s-guide-worker arp", "k8s-guide-worker2 route", "default/b deliver"}
	if r.Verdict != VerdictOK || r.Kind != "bgp" || !slices.Equal(steps(r), want) {
		t.Fatalf("verdict %s kind %s, want ok bgp with steps %q\n%s", r.Verdict, r.Kind, want, hopText(r))
	}
	if got := r.Hops[2].Entry; got != "10.244.130.0/24 via 172.18.0.4 dev eth1 proto bird" {
		t.Errorf("route %q", got)
	}
	// A route the RR never delivered: the node has no route to the block, and says why it must.
	n := nodes["k8s-guide-worker"]
	n.Routes = slices.DeleteFunc(n.Routes, func(r observed.Route) bool { return r.Dst.String() == "10.244.130.0/24" || r.Dst.Bits() == 0 })
	r = traceOf(t, w, "a", "b")
	if r.End.Kind != EndNoRoute || r.Divergence == nil || !strings.Contains(r.Divergence.Reason, "routed by BGP via 172.18.0.4") {
		t.Errorf("end %+v divergence %+v\n%s", r.End, r.Divergence, hopText(r))
	}

	// With the lab's BGP known, the reason names the owner's announcement and the reflector;
	// the node's BGP state says why it was not learned.
	w = NewWorld(f, nodes, nil)
	w.BGP = &spec.BGP{ASNumber: 64496, Peers: map[string][]spec.Peer{},
		Reflectors: []spec.Reflector{{Name: "gobgp", Address: netip.MustParseAddr("172.18.0.5")}}}
	for _, n := range f.Nodes {
		w.BGP.Peers[n.Name] = []spec.Peer{{Name: "gobgp-peer", Address: netip.MustParseAddr("172.18.0.5"), ASNumber: 64496, Reflector: "gobgp"}}
	}
	n.BGPSessions = []observed.BGPSession{{Name: "172.18.0.5", Peer: netip.MustParseAddr("172.18.0.5"), PeerAS: 64496, State: observed.BGPActive}}
	n.Mark(observed.TableBGPSessions)
	n.Mark(observed.TableBGPRoutes)
	r = traceOf(t, w, "a", "b")
	wantWhy := "k8s-guide-worker2 owns 10.244.130.0/24 and announces it to the route reflector gobgp (172.18.0.5); every node learns it via 172.18.0.4"
	wantBGP := "k8s-guide-worker's BGP speaker holds no path for 10.244.130.0/24: its session with gobgp (172.18.0.5) is Active"
	if d := r.Divergence; d == nil || !strings.HasPrefix(d.Reason, wantWhy) || d.BGP != wantBGP {
		t.Errorf("divergence %+v, want reason %q and bgp %q", d, wantWhy, wantBGP)
	}
	n.BGPSessions[0].State = observed.BGPEstablished
	if d := traceOf(t, w, "a", "b").Divergence; d == nil || !strings.HasSuffix(d.BGP, "its sessions with gobgp (172.18.0.5) are Established, and no peer announces it") {
		t.Errorf("divergence %+v", d)
	}

	// A default route to the management network's gateway: the kernel of the gateway (no
	// node) has the address, and no route to the pods.
	gw := netip.MustParseAddr("172.18.0.1")
	n.Routes = append(n.Routes, observed.Route{Type: "unicast", Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gw, Dev: "eth1"})
	w = NewWorld(f, nodes, nil)
	w.Networks = []string{"network"}
	w.gateways = &kernel{answer: func(member string, dst netip.Addr) (observed.Route, error) {
		if member == "network" && dst == gw {
			return observed.Route{Type: "local", Dst: netip.PrefixFrom(gw, 32), Dev: "kind", Table: "local"}, nil
		}
		return observed.Route{}, fmt.Errorf("%s: %w", member, source.ErrNoRoute)
	}}
	r = traceOf(t, w, "a", "b")
	if r.End.Kind != EndNoRoute || r.End.At != "network" || r.Divergence == nil || r.Divergence.Hop != 3 ||
		r.Hops[3].Step != StepARP || !strings.Contains(r.Hops[3].Note, "the management network's gateway") {
		t.Errorf("to the gateway: end %+v divergence %+v\n%s", r.End, r.Divergence, hopText(r))
	}

	// A capture holds no gateway: the walk stops unknown there, and the hop before it that
	// parts from the expected path is still named.
	w = NewWorld(f, nodes, nil)
	w.SwitchWhy = "no switch/ directory"
	r = traceOf(t, w, "a", "b")
	if r.End.Kind != EndUnknown || r.Verdict != VerdictDiverged || r.Divergence == nil || r.Divergence.Hop != 3 {
		t.Errorf("over a capture: verdict %s end %+v divergence %+v\n%s", r.Verdict, r.End, r.Divergence, hopText(r))
	}
	// When the lab is known to have no switch, the unknown end says the shared network was not
	// captured, never that a switch was.
	w.NoSwitch = true
	r = traceOf(t, w, "a", "b")
	if r.End.Kind != EndUnknown || strings.Contains(r.End.Detail, "switch was not captured") || !strings.Contains(r.End.Detail, "the lab has no switch") {
		t.Errorf("over a capture of a lab without a switch: end %+v\n%s", r.End, hopText(r))
	}
}

// With the lab's switch known, a port in the wrong VLAN is where the path parts, with the
// lab's reason.
func TestSwitchAgainstTheLab(t *testing.T) {
	w, _ := lesson06(t)
	w.SwitchSpec = &spec.Switch{Name: "ceos01", VLANs: []spec.VLAN{
		{ID: 10, Name: "Calico-Network", Subnet: netip.MustParsePrefix("10.10.10.0/24"), SVI: "Vlan10", Gateway: netip.MustParsePrefix("10.10.10.1/24")},
		{ID: 20, Name: "Calico-Network-2", Subnet: netip.MustParsePrefix("10.10.20.0/24"), SVI: "Vlan20", Gateway: netip.MustParsePrefix("10.10.20.1/24")},
	}}
	for i, n := range []string{"k01-control-plane", "k01-worker", "k01-worker2", "k01-worker3"} {
		w.SwitchSpec.Ports = append(w.SwitchSpec.Ports, spec.Port{Name: w.Switch.Ports[i].Name, Node: n, VLAN: w.Switch.Ports[i].VLAN})
	}
	if r := traceOf(t, w, "net-w1", "net-w3"); r.Verdict != VerdictOK {
		t.Fatalf("healthy: %s\n%s", r.Verdict, hopText(r))
	}
	w.Switch.Ports[3].VLAN = 10 // eth4, k01-worker3's port
	r := traceOf(t, w, "net-w1", "net-w3")
	d := r.Divergence
	if r.End.Kind != EndNoNeighbour || d == nil || d.Hop != 11 || d.Expected != "VLAN 20 Calico-Network-2: Vlan20 → eth4" ||
		d.Reason != "the lab puts k01-worker3 behind ceos01 eth4, an access port in VLAN 20" {
		t.Errorf("end %+v divergence %+v\n%s", r.End, d, hopText(r))
	}
}

// A route's protocol shows as `ip route` shows it: the kernel's default (boot), which pod
// routes and Felix's vxlan.calico routes carry, is not printed; every other protocol is.
func TestRouteTextHidesProtoBoot(t *testing.T) {
	for _, tc := range []struct {
		r    observed.Route
		want string
	}{
		{observed.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("169.254.1.1"), Dev: "eth0", Protocol: "boot"},
			"default via 169.254.1.1 dev eth0"},
		{observed.Route{Dst: netip.MustParsePrefix("10.244.148.0/24"), Gateway: netip.MustParseAddr("172.18.0.4"), Dev: "eth0", Protocol: "bird"},
			"10.244.148.0/24 via 172.18.0.4 dev eth0 proto bird"},
	} {
		if got := routeText(&tc.r); got != tc.want {
			t.Errorf("routeText = %q, want %q", got, tc.want)
		}
	}
}
