package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// lab is the miniature calico-overlay: k01-worker and k01-worker2 share 10.10.10.0/24,
// k01-worker3 sits in 10.10.20.0/24 behind the switch.
type lab struct {
	underlay *testbed.Underlay
	hosts    []Host
	blocks   []Block
	pools    []Pool
}

func newLab(t *testing.T, vxlan, ipip calico.EncapMode) *lab {
	testenv.RequireLab(t, "ip", "sysctl", "bridge", "ping", "nft")
	l := &lab{underlay: testbed.NewUnderlay(t)}
	for _, n := range []struct{ name, underlay, block string }{
		{"k01-worker", "10.10.10.11/24", "192.168.10.0/26"},
		{"k01-worker2", "10.10.10.12/24", "192.168.20.0/26"},
		{"k01-worker3", "10.10.20.20/24", "192.168.30.0/26"},
	} {
		l.underlay.AddNode(t, n.name, netip.MustParsePrefix(n.underlay))
		block := netip.MustParsePrefix(n.block)
		l.hosts = append(l.hosts, Host{Name: n.name, Underlay: netip.MustParsePrefix(n.underlay), TunnelIP: block.Addr()})
		l.blocks = append(l.blocks, Block{CIDR: block, Node: n.name})
	}
	l.pools = []Pool{{CIDR: netip.MustParsePrefix("192.168.0.0/16"), VXLANMode: vxlan, IPIPMode: ipip, NATOutgoing: true}}
	return l
}

// desired is node's view of the lab.
func (l *lab) desired(node string) DesiredState {
	d := DesiredState{Blocks: l.blocks, Pools: l.pools}
	for _, h := range l.hosts {
		if h.Name == node {
			d.Self = h
		} else {
			d.Peers = append(d.Peers, h)
		}
	}
	return d
}

func (l *lab) programmer(t *testing.T, node string) *Programmer {
	t.Helper()
	p, err := NewProgrammer(testbed.Path(l.underlay.Nodes[node].NS), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func (l *lab) applyAll(t *testing.T) {
	t.Helper()
	for _, h := range l.hosts {
		if _, err := l.programmer(t, h.Name).Apply(l.desired(h.Name)); err != nil {
			t.Fatalf("apply %s: %v", h.Name, err)
		}
	}
}

// kernelRoutes prints the routes of a namespace the agent may own (proto 80, or
// through vxlan.calico) as `ip route` prints them.
func kernelRoutes(t *testing.T, h *netlink.Handle) []string {
	t.Helper()
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range routes {
		dev := ""
		if r.LinkIndex > 0 {
			link, err := h.LinkByIndex(r.LinkIndex)
			if err != nil {
				t.Fatal(err)
			}
			dev = link.Attrs().Name
		}
		if r.Protocol != ProtoFelix && dev != VXLANDeviceName {
			continue
		}
		dst, _ := prefixOf(r.Dst)
		rt := Route{Dst: dst, Blackhole: r.Type == unix.RTN_BLACKHOLE, Dev: dev, Protocol: int(r.Protocol), OnLink: r.Flags&int(netlink.FLAG_ONLINK) != 0}
		if r.Gw != nil {
			rt.Via, _ = netip.AddrFromSlice(r.Gw.To4())
		}
		out = append(out, rt.String())
	}
	slices.Sort(out)
	return out
}

func kernelNeigh(t *testing.T, h *netlink.Handle, family int) []string {
	t.Helper()
	link, err := h.LinkByName(VXLANDeviceName)
	if err != nil {
		t.Fatal(err)
	}
	neighs, err := h.NeighList(link.Attrs().Index, family)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range neighs {
		if n.LinkIndex != link.Attrs().Index {
			continue
		}
		perm := ""
		if n.State&netlink.NUD_PERMANENT != 0 {
			perm = " permanent"
		}
		out = append(out, fmt.Sprintf("%s %s%s", n.IP, n.HardwareAddr, perm))
	}
	slices.Sort(out)
	return out
}

func TestApplyProgramsCalicoTables(t *testing.T) {
	l := newLab(t, calico.EncapCrossSubnet, calico.EncapNever)
	worker := l.underlay.Nodes["k01-worker"]
	h := testbed.Handle(t, worker.NS)

	// Routes the agent must leave alone, and one stale route it must remove.
	testbed.Run(t, worker.NS, "ip", "link", "add", "cali0123456789a", "type", "veth", "peer", "name", "podend")
	testbed.Run(t, worker.NS, "ip", "link", "set", "cali0123456789a", "up")
	testbed.Run(t, worker.NS, "ip", "route", "add", "192.168.10.5/32", "dev", "cali0123456789a", "proto", "80", "scope", "link")
	testbed.Run(t, worker.NS, "ip", "route", "add", "192.168.99.0/24", "via", "10.10.10.1", "proto", "static")
	testbed.Run(t, worker.NS, "ip", "route", "add", "172.31.0.0/24", "via", "10.10.10.1", "proto", "80")
	testbed.Run(t, worker.NS, "ip", "route", "add", "192.168.77.0/26", "via", "10.10.10.1", "proto", "80")
	// BGP's routes are BIRD's, never the agent's: one inside the pool stays, as one outside.
	testbed.Run(t, worker.NS, "ip", "route", "add", "192.168.78.0/26", "via", "10.10.10.1", "proto", "bird")
	testbed.Run(t, worker.NS, "ip", "route", "add", "172.31.1.0/24", "via", "10.10.10.1", "proto", "bird")

	l.applyAll(t)

	link, err := h.LinkByName(VXLANDeviceName)
	if err != nil {
		t.Fatalf("no %s: %v", VXLANDeviceName, err)
	}
	vx, ok := link.(*netlink.Vxlan)
	if !ok {
		t.Fatalf("%s is a %s, want vxlan", VXLANDeviceName, link.Type())
	}
	eth1, _ := h.LinkByName("eth1")
	if vx.VxlanId != 4096 || vx.Port != 4789 || !vx.SrcAddr.Equal(net.ParseIP("10.10.10.11")) ||
		vx.VtepDevIndex != eth1.Attrs().Index || vx.Learning || vx.MTU != 1450 || vx.HardwareAddr.String() != "66:fb:ad:98:aa:13" {
		t.Errorf("vxlan.calico = vni %d port %d local %s parent %d learning %v mtu %d mac %s; want vni 4096 port 4789 local 10.10.10.11 parent %d nolearning mtu 1450 mac 66:fb:ad:98:aa:13",
			vx.VxlanId, vx.Port, vx.SrcAddr, vx.VtepDevIndex, vx.Learning, vx.MTU, vx.HardwareAddr, eth1.Attrs().Index)
	}
	addrs, _ := h.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "192.168.10.0/32" {
		t.Errorf("vxlan.calico addresses = %v, want [192.168.10.0/32]", addrs)
	}

	wantRoutes := []string{
		"172.31.0.0/24 via 10.10.10.1 dev eth1 proto 80", // outside every pool: not ours to judge
		"blackhole 192.168.10.0/26 proto 80",
		"192.168.10.5 dev cali0123456789a proto 80 scope link", // a pod route, even with proto 80
		"192.168.20.0/26 via 10.10.10.12 dev eth1 proto 80 onlink",
		"192.168.20.0 via 10.10.10.12 dev eth1 proto 80 onlink",
		"192.168.30.0/26 via 192.168.30.0 dev vxlan.calico onlink",
		"192.168.30.0 dev vxlan.calico scope link",
	}
	slices.Sort(wantRoutes)
	if got := kernelRoutes(t, h); !slices.Equal(got, wantRoutes) {
		t.Errorf("agent-owned routes:\n got %q\nwant %q", got, wantRoutes)
	}
	if out := testbed.Run(t, worker.NS, "ip", "route", "show", "192.168.99.0/24"); !strings.Contains(out, "proto static") {
		t.Errorf("foreign route 192.168.99.0/24 was touched: %q", out)
	}
	if out := testbed.Run(t, worker.NS, "ip", "route", "show", "192.168.78.0/26"); !strings.Contains(out, "proto bird") {
		t.Errorf("BIRD's proto bird route inside the pool was touched: %q", out)
	}
	if out := testbed.Run(t, worker.NS, "ip", "route", "show", "172.31.1.0/24"); !strings.Contains(out, "proto bird") {
		t.Errorf("proto bird route outside every pool was touched: %q", out)
	}
	// A stale route through vxlan.calico is the agent's whatever its protocol; a route the
	// kernel made there is not.
	testbed.Run(t, worker.NS, "ip", "route", "add", "10.99.0.1/32", "dev", VXLANDeviceName, "scope", "link")
	testbed.Run(t, worker.NS, "ip", "route", "add", "10.99.0.2/32", "dev", VXLANDeviceName, "scope", "link", "proto", "kernel")
	l.applyAll(t)
	if out := testbed.Run(t, worker.NS, "ip", "route", "show", "10.99.0.1/32"); out != "" {
		t.Errorf("stale route through %s stayed: %q", VXLANDeviceName, out)
	}
	if out := testbed.Run(t, worker.NS, "ip", "route", "show", "10.99.0.2/32"); out == "" {
		t.Errorf("kernel route through %s was deleted", VXLANDeviceName)
	}

	w2, w3 := VTEPMAC("k01-worker2"), VTEPMAC("k01-worker3")
	wantNeigh := []string{"192.168.20.0 " + w2.String() + " permanent", "192.168.30.0 " + w3.String() + " permanent"}
	if got := kernelNeigh(t, h, netlink.FAMILY_V4); !slices.Equal(got, wantNeigh) {
		t.Errorf("neighbours:\n got %q\nwant %q", got, wantNeigh)
	}
	wantFDB := []string{"10.10.10.12 " + w2.String() + " permanent", "10.10.20.20 " + w3.String() + " permanent"}
	if got := kernelNeigh(t, h, unix.AF_BRIDGE); !slices.Equal(got, wantFDB) {
		t.Errorf("fdb:\n got %q\nwant %q", got, wantFDB)
	}
}

func TestApplyIsIdempotentAndRemovesStale(t *testing.T) {
	l := newLab(t, calico.EncapCrossSubnet, calico.EncapNever)
	l.applyAll(t)
	worker := l.underlay.Nodes["k01-worker"]
	p := l.programmer(t, "k01-worker")

	// Stale entries on vxlan.calico: a neighbour and an FDB entry nobody wants.
	testbed.Run(t, worker.NS, "ip", "neigh", "add", "192.168.40.0", "lladdr", "66:00:00:00:00:40", "dev", VXLANDeviceName, "nud", "permanent")
	testbed.Run(t, worker.NS, "bridge", "fdb", "append", "66:00:00:00:00:40", "dev", VXLANDeviceName, "dst", "10.10.10.40", "self", "permanent")
	ch, err := p.Apply(l.desired("k01-worker"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 2 {
		t.Errorf("changes = %q, want the two stale entries deleted", ch)
	}

	// The second pass must change nothing, and the kernel must not even hear from us.
	events := watchEvents(t, worker.NS)
	ch, err = p.Apply(l.desired("k01-worker"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 0 {
		t.Errorf("second apply changed %q, want nothing", ch)
	}
	if n := events(); n != 0 {
		t.Errorf("second apply caused %d netlink events, want 0", n)
	}

	// A peer leaves: its block route, neighbour and FDB entry go.
	d := l.desired("k01-worker")
	d.Peers = d.Peers[:1]
	d.Blocks = d.Blocks[:2]
	if _, err := p.Apply(d); err != nil {
		t.Fatal(err)
	}
	h := testbed.Handle(t, worker.NS)
	if got := kernelRoutes(t, h); slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "192.168.30.0/26") }) {
		t.Errorf("route to the departed peer's block survived: %q", got)
	}
	if got := kernelNeigh(t, h, unix.AF_BRIDGE); len(got) != 1 {
		t.Errorf("fdb after a peer left = %q, want only k01-worker2", got)
	}
}

// watchEvents counts route, neighbour and link events in a namespace until the returned
// function is called (which waits briefly for stragglers).
func watchEvents(t *testing.T, nsName string) func() int {
	t.Helper()
	h, err := netns.GetFromName(nsName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	done := make(chan struct{})
	routes := make(chan netlink.RouteUpdate, 100)
	neighs := make(chan netlink.NeighUpdate, 100)
	links := make(chan netlink.LinkUpdate, 100)
	if err := netlink.RouteSubscribeAt(h, routes, done); err != nil {
		t.Fatal(err)
	}
	if err := netlink.NeighSubscribeAt(h, neighs, done); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSubscribeAt(h, links, done); err != nil {
		t.Fatal(err)
	}
	return func() int {
		// Events are delivered asynchronously; 200 ms is far more than the kernel needs.
		time.Sleep(200 * time.Millisecond)
		close(done)
		return len(routes) + len(neighs) + len(links)
	}
}

func TestReconcilerRestoresHandDeletedEntries(t *testing.T) {
	l := newLab(t, calico.EncapCrossSubnet, calico.EncapNever)
	worker := l.underlay.Nodes["k01-worker"]
	p := l.programmer(t, "k01-worker")
	r := NewReconciler(p, time.Second, nil)
	r.SetDesired(l.desired("k01-worker"))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { r.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })

	h := testbed.Handle(t, worker.NS)
	waitFor(t, 2*time.Second, "first pass", func() bool { n, _ := r.Passes(); return n > 0 })

	w3 := VTEPMAC("k01-worker3").String()
	tests := []struct {
		name    string
		break_  []string
		present func() bool
	}{
		{"fdb entry", []string{"bridge", "fdb", "del", w3, "dev", VXLANDeviceName, "dst", "10.10.20.20", "self"},
			func() bool { return slices.Contains(kernelNeigh(t, h, unix.AF_BRIDGE), "10.10.20.20 "+w3+" permanent") }},
		{"block route", []string{"ip", "route", "del", "192.168.30.0/26"},
			func() bool {
				return slices.Contains(kernelRoutes(t, h), "192.168.30.0/26 via 192.168.30.0 dev vxlan.calico onlink")
			}},
		{"route changed by hand", []string{"ip", "route", "replace", "192.168.20.0/26", "via", "10.10.10.1", "proto", "80"},
			func() bool {
				return slices.Contains(kernelRoutes(t, h), "192.168.20.0/26 via 10.10.10.12 dev eth1 proto 80 onlink")
			}},
		{"neighbour", []string{"ip", "neigh", "del", "192.168.30.0", "dev", VXLANDeviceName},
			func() bool {
				return slices.Contains(kernelNeigh(t, h, netlink.FAMILY_V4), "192.168.30.0 "+w3+" permanent")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.present() {
				t.Fatal("entry missing before the test broke it")
			}
			// Let the passes our own previous repair triggered die down, so that the repair
			// measured is the one this break causes.
			time.Sleep(100 * time.Millisecond)
			before, _ := r.Passes()
			testbed.Run(t, worker.NS, tt.break_...)
			start := time.Now()
			waitFor(t, 2*time.Second, tt.name+" restored", tt.present)
			after, _ := r.Passes()
			t.Logf("%s restored after %v (%d passes)", tt.name, time.Since(start).Round(time.Millisecond), after-before)
		})
	}
	// Settled: a pass now finds nothing to do.
	if ch, err := r.Resync(); err != nil || len(ch) != 0 {
		t.Errorf("resync after repair = %q, %v; want no changes", ch, err)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestVXLANCarriesOnlyCrossSubnetTraffic(t *testing.T) {
	l := newLab(t, calico.EncapCrossSubnet, calico.EncapNever)
	l.applyAll(t)
	worker := l.underlay.Nodes["k01-worker"]
	h := testbed.Handle(t, worker.NS)
	txPackets := func() uint64 {
		link, err := h.LinkByName(VXLANDeviceName)
		if err != nil {
			t.Fatal(err)
		}
		return link.Attrs().Statistics.TxPackets
	}
	tests := []struct {
		target    string
		viaVXLAN  bool
		reasoning string
	}{
		{"192.168.30.0", true, "k01-worker3's tunnel address, other subnet"},
		{"192.168.20.0", false, "k01-worker2's tunnel address, same subnet: routed directly"},
	}
	for _, tt := range tests {
		before := txPackets()
		if out, err := testbed.Try(worker.NS, "ping", "-c", "3", "-i", "0.2", "-W", "1", tt.target); err != nil {
			t.Errorf("ping %s (%s): %v\n%s", tt.target, tt.reasoning, err, out)
			continue
		}
		sent := txPackets() - before
		if tt.viaVXLAN && sent < 3 || !tt.viaVXLAN && sent != 0 {
			t.Errorf("ping %s (%s): vxlan.calico sent %d packets", tt.target, tt.reasoning, sent)
		}
	}
}

func TestNATOutgoing(t *testing.T) {
	l := newLab(t, calico.EncapCrossSubnet, calico.EncapNever)
	l.pools = append(l.pools, Pool{CIDR: netip.MustParsePrefix("172.30.0.0/16"), VXLANMode: calico.EncapNever, IPIPMode: calico.EncapNever})
	l.applyAll(t)
	worker := l.underlay.Nodes["k01-worker"]
	path := testbed.Path(worker.NS)

	st, err := ReadNAT(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Present || st.Rules != 1 || fmt.Sprint(st.Masquerade) != "[192.168.0.0/16]" || fmt.Sprint(st.AllPools) != "[172.30.0.0/16 192.168.0.0/16]" {
		t.Errorf("nat state = %+v", st)
	}
	out := testbed.Run(t, worker.NS, "nft", "list", "table", "ip", NATTable)
	if !strings.Contains(out, "ip saddr @masq-ipam-pools ip daddr != @all-ipam-pools masquerade") {
		t.Errorf("nft rule not as intended:\n%s", out)
	}
	// random-fully where the kernel has it (5.0+), and ReadNAT says which it got.
	if strings.Contains(out, "fully-random") != st.FullyRandom { // nft spells iptables' --random-fully so
		t.Errorf("ReadNAT FullyRandom = %v, nft shows:\n%s", st.FullyRandom, out)
	}
	t.Logf("masquerade random-fully: %v", st.FullyRandom)

	// Masquerade for real: the switch has no route to the pod CIDR, so a reply from it can
	// only come back if the source was rewritten to k01-worker's underlay address.
	testbed.Run(t, worker.NS, "ip", "addr", "add", "192.168.10.9/32", "dev", "lo")
	if out, err := testbed.Try(worker.NS, "ping", "-c", "1", "-W", "2", "-I", "192.168.10.9", "10.10.20.1"); err != nil {
		t.Errorf("ping from a pool address to outside the pools: %v\n%s", err, out)
	}

	// Idempotent, then gone with the pools' natOutgoing.
	p := l.programmer(t, "k01-worker")
	if ch, err := p.Apply(l.desired("k01-worker")); err != nil || len(ch) != 0 {
		t.Errorf("re-apply = %q, %v; want no change", ch, err)
	}
	d := l.desired("k01-worker")
	d.Pools = []Pool{{CIDR: netip.MustParsePrefix("192.168.0.0/16"), VXLANMode: calico.EncapCrossSubnet, IPIPMode: calico.EncapNever}}
	if _, err := p.Apply(d); err != nil {
		t.Fatal(err)
	}
	if st, _ := ReadNAT(path); st.Present {
		t.Errorf("nat table still present without natOutgoing pools: %+v", st)
	}
}

func TestTeardownRemovesOnlyOwnEntries(t *testing.T) {
	l := newLab(t, calico.EncapCrossSubnet, calico.EncapNever)
	l.applyAll(t)
	worker := l.underlay.Nodes["k01-worker"]
	testbed.Run(t, worker.NS, "ip", "route", "add", "192.168.99.0/24", "via", "10.10.10.1", "proto", "static")
	p := l.programmer(t, "k01-worker")
	if _, err := p.Apply(l.desired("k01-worker")); err != nil {
		t.Fatal(err)
	}
	if err := p.Teardown(); err != nil {
		t.Fatal(err)
	}
	h := testbed.Handle(t, worker.NS)
	if got := kernelRoutes(t, h); len(got) != 0 {
		t.Errorf("routes left after teardown: %q", got)
	}
	if _, err := h.LinkByName(VXLANDeviceName); err == nil {
		t.Error("vxlan.calico left after teardown")
	}
	if st, _ := ReadNAT(testbed.Path(worker.NS)); st.Present {
		t.Error("nat table left after teardown")
	}
	if out := testbed.Run(t, worker.NS, "ip", "route", "show", "192.168.99.0/24"); out == "" {
		t.Error("teardown removed a route it does not own")
	}
	if err := p.Teardown(); err != nil {
		t.Errorf("second teardown: %v", err)
	}
}

func TestIPIPReportedWhereUnsupported(t *testing.T) {
	l := newLab(t, calico.EncapNever, calico.EncapAlways)
	worker := l.underlay.Nodes["k01-worker"]
	p := l.programmer(t, "k01-worker")
	_, err := p.Apply(l.desired("k01-worker"))
	h := testbed.Handle(t, worker.NS)
	routes := kernelRoutes(t, h)
	if !slices.Contains(routes, "blackhole 192.168.10.0/26 proto 80") {
		t.Errorf("local blackhole missing next to the IPIP problem: %q", routes)
	}
	switch {
	case errors.Is(err, ErrIPIPUnsupported):
		t.Logf("this kernel has no IPIP, reported as: %v", err)
		if slices.ContainsFunc(routes, func(s string) bool { return strings.Contains(s, "tunl0") }) {
			t.Errorf("routes through tunl0 on a kernel without it: %q", routes)
		}
	case err == nil:
		if !slices.Contains(routes, "192.168.30.0/26 via 10.10.20.20 dev tunl0 proto 80 onlink") {
			t.Errorf("IPIP routes = %q", routes)
		}
	default:
		t.Fatalf("apply: %v", err)
	}
}

// fiftyNodeLab is k01-worker's desired state in a lab of 50 peers, half of them in the other
// subnet: the "50-node lab" of the performance list.
func fiftyNodeLab(tb testing.TB) (DesiredState, *Programmer) {
	testenv.RequireLab(tb, "ip", "sysctl")
	u := testbed.NewUnderlay(tb)
	n := u.AddNode(tb, "k01-worker", netip.MustParsePrefix("10.10.10.11/24"))
	d := DesiredState{
		Self:  Host{Name: "k01-worker", Underlay: n.Underlay, TunnelIP: netip.MustParseAddr("192.168.0.0")},
		Pools: []Pool{{CIDR: netip.MustParsePrefix("192.168.0.0/16"), VXLANMode: calico.EncapCrossSubnet, IPIPMode: calico.EncapNever, NATOutgoing: true}},
	}
	for i := 1; i <= 50; i++ {
		d.Peers = append(d.Peers, benchPeer(i))
		d.Blocks = append(d.Blocks, Block{CIDR: netip.PrefixFrom(benchPeer(i).TunnelIP, 26), Node: benchPeer(i).Name})
	}
	p, err := NewProgrammer(testbed.Path(n.NS), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	if _, err := p.Apply(d); err != nil {
		tb.Fatal(err)
	}
	return d, p
}

func benchPeer(i int) Host {
	under := fmt.Sprintf("10.10.10.%d/24", 100+i)
	if i%2 == 0 {
		under = fmt.Sprintf("10.10.20.%d/24", 100+i)
	}
	return Host{Name: "peer" + strconv.Itoa(i), Underlay: netip.MustParsePrefix(under), TunnelIP: netip.AddrFrom4([4]byte{192, 168, byte(i), 0})}
}

// BenchmarkApplyConverged is one periodic resync of a converged 50-peer node.
func BenchmarkApplyConverged(b *testing.B) {
	d, p := fiftyNodeLab(b)
	b.ResetTimer()
	for range b.N {
		if ch, err := p.Apply(d); err != nil || len(ch) != 0 {
			b.Fatalf("converged apply = %q, %v", ch, err)
		}
	}
}

// BenchmarkApplyNewPeer is the dataplane's share of "a node joins a 50-node lab": the pass
// that adds its block route, neighbour and FDB entry (removing it again is not timed).
func BenchmarkApplyNewPeer(b *testing.B) {
	d, p := fiftyNodeLab(b)
	joined := d
	joined.Peers = append(slices.Clone(d.Peers), benchPeer(52)) // other subnet: route via vxlan.calico
	joined.Blocks = append(slices.Clone(d.Blocks), Block{CIDR: netip.PrefixFrom(benchPeer(52).TunnelIP, 26), Node: "peer52"})
	b.ResetTimer()
	for range b.N {
		if ch, err := p.Apply(joined); err != nil || len(ch) != 3 {
			b.Fatalf("join = %q, %v; want route, neighbour and FDB entry", ch, err)
		}
		b.StopTimer()
		if _, err := p.Apply(d); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func TestApplyRepairsVXLANDevice(t *testing.T) {
	l := newLab(t, calico.EncapCrossSubnet, calico.EncapNever)
	l.applyAll(t)
	worker := l.underlay.Nodes["k01-worker"]
	p := l.programmer(t, "k01-worker")
	h := testbed.Handle(t, worker.NS)
	recreate := func(args ...string) [][]string {
		return [][]string{
			{"ip", "link", "del", VXLANDeviceName},
			append([]string{"ip", "link", "add", VXLANDeviceName, "type", "vxlan"}, args...),
		}
	}
	tests := []struct {
		name   string
		break_ [][]string
	}{
		{"wrong VNI", recreate("id", "42", "dstport", "4789", "local", "10.10.10.11", "dev", "eth1", "nolearning")},
		{"wrong port", recreate("id", "4096", "dstport", "8472", "local", "10.10.10.11", "dev", "eth1", "nolearning")},
		{"learning on", recreate("id", "4096", "dstport", "4789", "local", "10.10.10.11", "dev", "eth1", "learning")},
		{"no local address", recreate("id", "4096", "dstport", "4789", "dev", "eth1", "nolearning")},
		{"wrong MTU", [][]string{{"ip", "link", "set", VXLANDeviceName, "mtu", "1300"}}},
		{"wrong MAC", [][]string{{"ip", "link", "set", VXLANDeviceName, "address", "66:00:00:00:00:01"}}},
		{"extra address", [][]string{{"ip", "addr", "add", "192.168.10.99/32", "dev", VXLANDeviceName}}},
		{"down", [][]string{{"ip", "link", "set", VXLANDeviceName, "down"}}},
	}
	wantRoutes := kernelRoutes(t, h)
	wantNeigh := kernelNeigh(t, h, netlink.FAMILY_V4)
	wantFDB := kernelNeigh(t, h, unix.AF_BRIDGE)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, argv := range tt.break_ {
				testbed.Run(t, worker.NS, argv...)
			}
			ch, err := p.Apply(l.desired("k01-worker"))
			if err != nil {
				t.Fatal(err)
			}
			if len(ch) == 0 {
				t.Fatal("apply changed nothing on a broken device")
			}
			link, err := h.LinkByName(VXLANDeviceName)
			if err != nil {
				t.Fatal(err)
			}
			vx := link.(*netlink.Vxlan)
			addrs, _ := h.AddrList(link, netlink.FAMILY_V4)
			if vx.VxlanId != 4096 || vx.Port != 4789 || vx.Learning || !vx.SrcAddr.Equal(net.ParseIP("10.10.10.11")) || vx.MTU != 1450 ||
				vx.HardwareAddr.String() != "66:fb:ad:98:aa:13" || vx.Flags&net.FlagUp == 0 || len(addrs) != 1 {
				t.Errorf("after repair: vni %d port %d learning %v local %s mtu %d mac %s flags %v addrs %v",
					vx.VxlanId, vx.Port, vx.Learning, vx.SrcAddr, vx.MTU, vx.HardwareAddr, vx.Flags, addrs)
			}
			// A rebuilt device loses its routes, neighbours and FDB entries: all back.
			if got := kernelRoutes(t, h); !slices.Equal(got, wantRoutes) {
				t.Errorf("routes after repair %q, want %q", got, wantRoutes)
			}
			if got := kernelNeigh(t, h, netlink.FAMILY_V4); !slices.Equal(got, wantNeigh) {
				t.Errorf("neighbours after repair %q, want %q", got, wantNeigh)
			}
			if got := kernelNeigh(t, h, unix.AF_BRIDGE); !slices.Equal(got, wantFDB) {
				t.Errorf("fdb after repair %q, want %q", got, wantFDB)
			}
		})
	}
}
