package expect_test

import (
	"crypto/sha1"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
	"github.com/knetlab/knetlab/verify/facts"
)

func TestVTEPMAC(t *testing.T) {
	tests := []struct {
		node facts.Node
		want string
	}{
		{facts.Node{Name: "k01-worker"}, "66:fb:ad:98:aa:13"},
		{facts.Node{Name: "k01-worker", VXLANTunnelMAC: "66:00:00:00:00:01"}, "66:00:00:00:00:01"},
	}
	for _, tt := range tests {
		if got := expect.VTEPMAC(tt.node); got != tt.want {
			t.Errorf("VTEPMAC(%+v) = %s, want %s", tt.node, got, tt.want)
		}
	}
}

func TestPodInterface(t *testing.T) {
	got := expect.PodInterface("default", "multitool")
	if len(got) != 15 || !strings.HasPrefix(got, "cali") {
		t.Fatalf("PodInterface = %q, want cali + 11 hex (15 chars, the kernel's IFNAMSIZ-1)", got)
	}
	if got == expect.PodInterface("default", "multitool2") {
		t.Fatalf("different pods got the same interface %s", got)
	}
	// The hashed string is "<namespace>.<pod>", not the reverse.
	if got, want := expect.PodInterface("kube-system", "coredns"), "cali"+sha1Prefix("kube-system.coredns"); got != want {
		t.Fatalf("PodInterface(kube-system, coredns) = %s, want %s", got, want)
	}
}

// route is an expected route in the compact form the table below states it.
type route struct {
	typ, dst, gw, dev string
	underlay, onlink  bool
	proto             string
	kind              expect.ReasonKind
}

// threeNodes: a and b share 10.0.1.0/24, c is alone in 10.0.2.0/24.
func threeNodes(vxlanMode, ipipMode calico.EncapMode) *facts.Facts {
	return &facts.Facts{
		Pools: []facts.Pool{{Name: "p", CIDR: pfx("192.168.0.0/16"), BlockSize: 26, VXLANMode: vxlanMode, IPIPMode: ipipMode}},
		Nodes: []facts.Node{
			{Name: "a", Address: pfx("10.0.1.1/24"), VXLANTunnelAddr: addr("192.168.1.0")},
			{Name: "b", Address: pfx("10.0.1.2/24"), VXLANTunnelAddr: addr("192.168.2.0")},
			{Name: "c", Address: pfx("10.0.2.3/24"), VXLANTunnelAddr: addr("192.168.3.9")}, // not the block base
		},
		Affinities: []facts.BlockAffinity{
			{Node: "a", CIDR: pfx("192.168.1.0/26"), State: "confirmed"},
			{Node: "b", CIDR: pfx("192.168.2.0/26"), State: "confirmed"},
			{Node: "c", CIDR: pfx("192.168.3.0/26"), State: "confirmed"},
			{Node: "c", CIDR: pfx("192.168.4.0/26"), State: "pending"},
			{Node: "b", CIDR: pfx("192.168.5.0/26"), State: "confirmed", Deleted: true},
			{Node: "b", CIDR: pfx("192.168.6.0/26"), State: "pendingDeletion"},
			{Node: "gone", CIDR: pfx("192.168.7.0/26"), State: "confirmed"},
		},
	}
}

func TestRoutesPerPoolMode(t *testing.T) {
	tests := []struct {
		name            string
		vxlan, ipip     calico.EncapMode
		wantDevice      bool
		local, toB, toC route
	}{
		{
			name: "VXLAN CrossSubnet", vxlan: calico.EncapCrossSubnet, ipip: calico.EncapNever, wantDevice: true,
			local: route{typ: "blackhole", dst: "192.168.1.0/26", proto: "80", kind: expect.LocalBlock},
			toB:   route{typ: "unicast", dst: "192.168.2.0/26", gw: "10.0.1.2", underlay: true, onlink: true, proto: "80", kind: expect.VXLANSameSubnet},
			toC:   route{typ: "unicast", dst: "192.168.3.0/26", gw: "192.168.3.9", dev: "vxlan.calico", onlink: true, proto: "", kind: expect.VXLANCrossSubnet},
		},
		{
			name: "VXLAN Always", vxlan: calico.EncapAlways, ipip: calico.EncapNever, wantDevice: true,
			local: route{typ: "blackhole", dst: "192.168.1.0/26", proto: "80", kind: expect.LocalBlock},
			toB:   route{typ: "unicast", dst: "192.168.2.0/26", gw: "192.168.2.0", dev: "vxlan.calico", onlink: true, proto: "", kind: expect.VXLANAlways},
			toC:   route{typ: "unicast", dst: "192.168.3.0/26", gw: "192.168.3.9", dev: "vxlan.calico", onlink: true, proto: "", kind: expect.VXLANAlways},
		},
		{
			name: "BGP (Never, Never)", vxlan: calico.EncapNever, ipip: calico.EncapNever,
			local: route{typ: "blackhole", dst: "192.168.1.0/26", proto: "bird", kind: expect.LocalBlock},
			toB:   route{typ: "unicast", dst: "192.168.2.0/26", gw: "10.0.1.2", underlay: true, proto: "bird", kind: expect.BGPDirect},
			toC:   route{typ: "unicast", dst: "192.168.3.0/26", gw: "10.0.2.3", underlay: true, proto: "bird", kind: expect.BGPDirect},
		},
		{
			name: "IPIP Always", vxlan: calico.EncapNever, ipip: calico.EncapAlways,
			local: route{typ: "blackhole", dst: "192.168.1.0/26", proto: "bird", kind: expect.LocalBlock},
			toB:   route{typ: "unicast", dst: "192.168.2.0/26", gw: "10.0.1.2", dev: "tunl0", onlink: true, proto: "bird", kind: expect.IPIPAlways},
			toC:   route{typ: "unicast", dst: "192.168.3.0/26", gw: "10.0.2.3", dev: "tunl0", onlink: true, proto: "bird", kind: expect.IPIPAlways},
		},
		{
			name: "IPIP CrossSubnet", vxlan: calico.EncapNever, ipip: calico.EncapCrossSubnet,
			local: route{typ: "blackhole", dst: "192.168.1.0/26", proto: "bird", kind: expect.LocalBlock},
			toB:   route{typ: "unicast", dst: "192.168.2.0/26", gw: "10.0.1.2", underlay: true, proto: "bird", kind: expect.IPIPSameSubnet},
			toC:   route{typ: "unicast", dst: "192.168.3.0/26", gw: "10.0.2.3", dev: "tunl0", onlink: true, proto: "bird", kind: expect.IPIPCrossSubnet},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := expect.Compute(threeNodes(tt.vxlan, tt.ipip))
			a, ok := c.Node("a")
			if !ok {
				t.Fatal("no expectation for node a")
			}
			if (a.Device != nil) != tt.wantDevice {
				t.Fatalf("vxlan.calico expected = %v, want %v", a.Device != nil, tt.wantDevice)
			}
			// Only the three confirmed blocks of known nodes: pending, deleted, pendingDeletion
			// and unknown owners are not routed.
			routes, problems := a.Routes()
			if len(routes) != 3 || len(problems) != 0 {
				t.Fatalf("node a expects %d block routes (problems %v), want 3: %+v", len(routes), problems, routes)
			}
			for i, want := range []route{tt.local, tt.toB, tt.toC} {
				assertRoute(t, routes[i], want)
			}
		})
	}
}

func assertRoute(t *testing.T, got expect.Route, want route) {
	t.Helper()
	gw := ""
	if got.Gateway.IsValid() {
		gw = got.Gateway.String()
	}
	if got.Type != want.typ || got.Dst.String() != want.dst || gw != want.gw || got.Dev != want.dev ||
		got.Underlay != want.underlay || got.Onlink != want.onlink || got.Protocols.Canonical() != want.proto || got.Why().Kind != want.kind {
		t.Errorf("route %s = {%s gw=%s dev=%q underlay=%v onlink=%v proto=%q kind=%d}, want %+v",
			got.Dst, got.Type, gw, got.Dev, got.Underlay, got.Onlink, got.Protocols.Canonical(), got.Why().Kind, want)
	}
}

func TestMultiplePools(t *testing.T) {
	f := threeNodes(calico.EncapCrossSubnet, calico.EncapNever)
	f.Pools = append(f.Pools, facts.Pool{Name: "bgp", CIDR: pfx("172.30.0.0/16"), BlockSize: 24, VXLANMode: calico.EncapNever, IPIPMode: calico.EncapNever},
		facts.Pool{Name: "always", CIDR: pfx("10.244.0.0/16"), BlockSize: 26, VXLANMode: calico.EncapAlways, IPIPMode: calico.EncapNever})
	f.Affinities = append(f.Affinities,
		facts.BlockAffinity{Node: "c", CIDR: pfx("172.30.3.0/24"), State: "confirmed"},
		facts.BlockAffinity{Node: "b", CIDR: pfx("10.244.2.0/26"), State: "confirmed"},
		facts.BlockAffinity{Node: "b", CIDR: pfx("10.99.0.0/26"), State: "confirmed"}, // in no pool: not Calico's
	)
	a, _ := expect.Compute(f).Node("a")
	got := map[string]expect.ReasonKind{}
	routes, _ := a.Routes()
	for _, r := range routes {
		got[r.Dst.String()] = r.Why().Kind
	}
	want := map[string]expect.ReasonKind{
		"192.168.1.0/26": expect.LocalBlock, "192.168.2.0/26": expect.VXLANSameSubnet, "192.168.3.0/26": expect.VXLANCrossSubnet,
		"172.30.3.0/24": expect.BGPDirect, "10.244.2.0/26": expect.VXLANAlways,
	}
	if len(got) != len(want) {
		t.Fatalf("routes = %v, want %v", got, want)
	}
	for dst, k := range want {
		if got[dst] != k {
			t.Errorf("%s: rule %d, want %d", dst, got[dst], k)
		}
	}
}

func TestVXLANDeviceNeighboursFDB(t *testing.T) {
	c := expect.Compute(expecttest.Lesson06())
	w, _ := c.Node("k01-worker")
	d := w.Device
	if d == nil {
		t.Fatal("no vxlan.calico expected on a VXLAN CrossSubnet cluster")
	}
	if d.VNI != 4096 || d.Port != 4789 || d.Local != addr("10.10.10.11") || d.Learning || d.MTU(1500) != 1450 ||
		d.Addr != pfx("192.168.26.0/32") || d.MAC != "66:fb:ad:98:aa:13" {
		t.Errorf("device = %+v", d)
	}
	// One neighbour and one FDB entry for every remote node, same subnet or not.
	if len(w.Neighs()) != 3 || len(w.FDB()) != 3 {
		t.Fatalf("neighbours %d, fdb %d, want 3 each", len(w.Neighs()), len(w.FDB()))
	}
	for _, n := range w.Neighs() {
		if n.Peer.Name == "k01-worker2" && n.Dst != addr("192.168.104.7") {
			t.Errorf("neighbour for k01-worker2 = %s, want its tunnel address 192.168.104.7 (not the block base)", n.Dst)
		}
	}
	for _, e := range w.FDB() {
		if e.Peer.Name == "k01-worker3" && (e.Dst != addr("10.10.20.20") || e.MAC != expect.VTEPMAC(*e.Peer)) {
			t.Errorf("fdb for k01-worker3 = %+v", e)
		}
	}
	if len(w.PodRoutes) != 1 || w.PodRoutes[0].Dst != pfx("192.168.26.1/32") || w.PodRoutes[0].Dev != expect.PodInterface("default", "net-w1") {
		t.Errorf("pod routes = %+v", w.PodRoutes)
	}
	// worker2's block goes direct, worker3's through vxlan.calico to worker3's tunnel address.
	routes, _ := w.Routes()
	for _, r := range routes {
		switch r.Dst.String() {
		case "192.168.104.0/26":
			if !r.Underlay || r.Gateway != addr("10.10.10.12") {
				t.Errorf("worker2 block: %+v", r)
			}
		case "192.168.209.64/26":
			if r.Dev != "vxlan.calico" || r.Gateway != addr("192.168.209.64") {
				t.Errorf("worker3 block: %+v", r)
			}
			want := "k01-worker3 is in 10.10.20.0/24, not in k01-worker's 10.10.10.0/24: 192.168.209.64/26 must go via vxlan.calico"
			if got := r.Why().Text("eth1"); !strings.HasPrefix(got, want) {
				t.Errorf("reason = %q, want prefix %q", got, want)
			}
		}
	}
}

func TestNoVXLANPoolNoDevice(t *testing.T) {
	f := threeNodes(calico.EncapCrossSubnet, calico.EncapNever)
	f.Pools[0].Disabled = true // a disabled pool still routes its blocks but needs no device
	a, _ := expect.Compute(f).Node("a")
	if a.Device != nil || len(a.Neighs()) != 0 || len(a.FDB()) != 0 || len(a.Tolerated()) != 0 {
		t.Fatalf("disabled VXLAN pool: device %v, %d neighbours, %d fdb; want none", a.Device, len(a.Neighs()), len(a.FDB()))
	}
	if routes, _ := a.Routes(); len(routes) != 3 {
		t.Fatalf("blocks of a disabled pool are still routed: got %d routes, want 3", len(routes))
	}
}

func TestMissingTunnelAddressIsAProblem(t *testing.T) {
	f := threeNodes(calico.EncapCrossSubnet, calico.EncapNever)
	f.Nodes[2].VXLANTunnelAddr = netip.Addr{}
	a, _ := expect.Compute(f).Node("a")
	_, problems := a.Routes()
	if len(problems) != 1 || problems[0].Entry != "192.168.3.0/26" || !strings.Contains(problems[0].Reason, "no VXLAN tunnel address") {
		t.Fatalf("problems = %+v", problems)
	}
	if len(a.Neighs()) != 1 {
		t.Fatalf("a node without a tunnel address gets no neighbour entry: got %d neighbours, want 1", len(a.Neighs()))
	}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func sha1Prefix(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])[:11]
}

func TestToleratedAndRouteTo(t *testing.T) {
	c := expect.Compute(expecttest.Lesson06())
	w, _ := c.Node("k01-worker")
	tests := []struct {
		dst  string
		want int // forms accepted
	}{
		{"192.168.209.64/32", 1}, // k01-worker3, another subnet: only via vxlan.calico
		{"192.168.104.7/32", 2},  // k01-worker2, same subnet: via vxlan.calico or via its underlay
		{"192.168.26.0/32", 0},   // k01-worker's own tunnel address
		{"192.168.104.0/32", 0},  // k01-worker2's block base is not its tunnel address
		{"192.168.209.64/26", 0},
	}
	for _, tt := range tests {
		if got := len(w.ToleratedTo(pfx(tt.dst))); got != tt.want {
			t.Errorf("ToleratedTo(%s) = %d forms, want %d", tt.dst, got, tt.want)
		}
	}
	// Two forms for each same-subnet peer (control-plane, worker2), one for worker3.
	if got := len(w.Tolerated()); got != 5 {
		t.Errorf("Tolerated() = %d routes, want 5", got)
	}
	r, ok := w.RouteTo(addr("192.168.209.65"))
	if !ok || r.Dst != pfx("192.168.209.64/26") || r.Dev != "vxlan.calico" {
		t.Errorf("RouteTo(192.168.209.65) = %+v, %v", r, ok)
	}
	if _, ok := w.RouteTo(addr("192.168.99.1")); ok {
		t.Error("RouteTo an address no block holds found a route")
	}
}
