package kernel

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
)

func TestProtocolNames(t *testing.T) {
	for _, tc := range []struct {
		proto int
		want  string
	}{
		{2, "kernel"}, {3, "boot"}, {4, "static"}, {11, "zebra"}, {12, "bird"}, {16, "dhcp"},
		{80, "80"}, // Calico felix: no name in rt_protos, so ip prints the number
		{186, "bgp"}, {250, "250"},
	} {
		if got := ProtocolName(tc.proto); got != tc.want {
			t.Errorf("ProtocolName(%d) = %q, want %q", tc.proto, got, tc.want)
		}
	}
}

func TestNeighStates(t *testing.T) {
	for _, tc := range []struct {
		state int
		want  []string
	}{
		{unix.NUD_PERMANENT, []string{"PERMANENT"}},
		{unix.NUD_REACHABLE, []string{"REACHABLE"}},
		{unix.NUD_STALE, []string{"STALE"}},
		{unix.NUD_NONE, []string{"NONE"}},
		{unix.NUD_INCOMPLETE, []string{"INCOMPLETE"}},
		{unix.NUD_FAILED, []string{"FAILED"}},
	} {
		if got := NeighStates(tc.state); !slices.Equal(got, tc.want) {
			t.Errorf("NeighStates(%#x) = %v, want %v", tc.state, got, tc.want)
		}
	}
}

// scratchNamespace is a namespace without a name: it goes away when the test closes it.
func scratchNamespace(t *testing.T) netns.NsHandle {
	t.Helper()
	testenv.RequireLab(t)
	done := make(chan netns.NsHandle, 1)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		h, err := netns.New()
		if serr := netns.Set(orig); serr != nil {
			errc <- serr // thread stays locked and is retired
			return
		}
		orig.Close()
		runtime.UnlockOSThread()
		if err != nil {
			errc <- err
			return
		}
		done <- h
	}()
	select {
	case err := <-errc:
		t.Fatal(err)
	case h := <-done:
		t.Cleanup(func() { h.Close() })
		return h
	}
	return netns.None()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ipnet(s string) *net.IPNet {
	p := netip.MustParsePrefix(s)
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}

func mac(s string) net.HardwareAddr {
	m, _ := net.ParseMAC(s)
	return m
}

// A node as Calico leaves it: vxlan.calico on eth1, a local blackhole, a same-subnet block via
// the peer and a cross-subnet block via the tunnel, the VTEP's neighbour and FDB entries, and a
// pod's cali veth with its sysctls. ReadNode must hand back each of them as ip would print it.
func TestReadNode(t *testing.T) {
	ns := scratchNamespace(t)
	h, err := netlink.NewHandleAt(ns)
	must(t, err)
	defer h.Close()

	must(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth1"}, PeerName: "peer1"}))
	must(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "cali1234567890a", HardwareAddr: mac("ee:ee:ee:ee:ee:ee")}, PeerName: "pod0"}))
	eth1, err := h.LinkByName("eth1")
	must(t, err)
	must(t, h.AddrAdd(eth1, &netlink.Addr{IPNet: ipnet("10.10.10.11/24")}))
	vx := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: "vxlan.calico", MTU: 1450, HardwareAddr: mac("66:fb:ad:98:aa:13")},
		VxlanId:      4096,
		Port:         4789,
		SrcAddr:      net.ParseIP("10.10.10.11"),
		VtepDevIndex: eth1.Attrs().Index,
	}
	must(t, h.LinkAdd(vx))
	vxl, err := h.LinkByName("vxlan.calico")
	must(t, err)
	for _, name := range []string{"eth1", "peer1", "vxlan.calico", "cali1234567890a", "pod0"} {
		l, err := h.LinkByName(name)
		must(t, err)
		must(t, h.LinkSetUp(l))
	}
	must(t, h.AddrAdd(vxl, &netlink.Addr{IPNet: ipnet("192.168.1.0/32")}))
	must(t, h.RouteAdd(&netlink.Route{Dst: ipnet("192.168.1.0/26"), Type: unix.RTN_BLACKHOLE, Protocol: 80}))
	must(t, h.RouteAdd(&netlink.Route{Dst: ipnet("192.168.2.0/26"), Gw: net.ParseIP("10.10.10.12"), LinkIndex: eth1.Attrs().Index, Protocol: 80, Flags: int(netlink.FLAG_ONLINK)}))
	must(t, h.RouteAdd(&netlink.Route{Dst: ipnet("192.168.3.0/26"), Gw: net.ParseIP("192.168.3.0"), LinkIndex: vxl.Attrs().Index, Flags: int(netlink.FLAG_ONLINK)}))
	must(t, h.NeighSet(&netlink.Neigh{LinkIndex: vxl.Attrs().Index, State: netlink.NUD_PERMANENT, IP: net.ParseIP("192.168.3.0"), HardwareAddr: mac("66:aa:bb:cc:dd:ee")}))
	must(t, h.NeighSet(&netlink.Neigh{LinkIndex: vxl.Attrs().Index, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT, Flags: netlink.NTF_SELF, IP: net.ParseIP("10.10.20.20"), HardwareAddr: mac("66:aa:bb:cc:dd:ee")}))
	must(t, WriteSysctls(ns, map[string]string{"net.ipv4.conf.cali1234567890a.proxy_arp": "1", "net.ipv4.neigh.cali1234567890a.proxy_delay": "0"}))

	node, err := ReadNode(ns, "k01-worker")
	must(t, err)
	for _, tbl := range []observed.Table{observed.TableRoutes, observed.TableLinks, observed.TableAddrs, observed.TableNeigh, observed.TableFDB, observed.TableSysctls} {
		if !node.Has(tbl) {
			t.Errorf("table %s not marked collected", tbl)
		}
	}
	if node.Has(observed.TablePods) {
		t.Error("pods table marked collected; ReadNode does not read pods")
	}

	routes := map[string]observed.Route{}
	for _, r := range node.Routes {
		routes[r.Dst.String()] = r
	}
	for _, want := range []observed.Route{
		{Type: "blackhole", Dst: netip.MustParsePrefix("192.168.1.0/26"), Protocol: "80"},
		{Type: "unicast", Dst: netip.MustParsePrefix("192.168.2.0/26"), Gateway: netip.MustParseAddr("10.10.10.12"), Dev: "eth1", Protocol: "80", Onlink: true},
		{Type: "unicast", Dst: netip.MustParsePrefix("192.168.3.0/26"), Gateway: netip.MustParseAddr("192.168.3.0"), Dev: "vxlan.calico", Protocol: "boot", Onlink: true},
		{Type: "unicast", Dst: netip.MustParsePrefix("10.10.10.0/24"), Dev: "eth1", Protocol: "kernel", Scope: "link", Src: netip.MustParseAddr("10.10.10.11")},
	} {
		got, ok := routes[want.Dst.String()]
		if !ok {
			t.Errorf("route %s missing: %+v", want.Dst, node.Routes)
			continue
		}
		got.Metric, got.MTU = 0, 0
		if !reflect.DeepEqual(got, want) {
			t.Errorf("route %s:\n got %+v\nwant %+v", want.Dst, got, want)
		}
	}

	if lo, ok := node.Link("lo"); !ok || lo.MAC != "00:00:00:00:00:00" || lo.Kind != "" {
		t.Errorf("lo = %+v, want MAC 00:00:00:00:00:00 as ip prints it and no kind", lo)
	}
	l, ok := node.Link("vxlan.calico")
	if !ok {
		t.Fatal("vxlan.calico missing")
	}
	wantVX := observed.VXLAN{VNI: 4096, Port: 4789, Local: netip.MustParseAddr("10.10.10.11"), Dev: "eth1", Learning: false}
	if l.Kind != "vxlan" || l.MTU != 1450 || l.MAC != "66:fb:ad:98:aa:13" || l.VXLAN == nil || *l.VXLAN != wantVX || !l.Up {
		t.Errorf("vxlan.calico = %+v (vxlan %+v), want %+v", l, l.VXLAN, wantVX)
	}
	if len(l.Addrs) != 1 || l.Addrs[0].String() != "192.168.1.0/32" || l.Stats == nil {
		t.Errorf("vxlan.calico addrs %v stats %v", l.Addrs, l.Stats)
	}
	if cali, ok := node.Link("cali1234567890a"); !ok || cali.MAC != "ee:ee:ee:ee:ee:ee" || cali.Parent != "pod0" || len(cali.Addrs) != 0 {
		t.Errorf("cali1234567890a = %+v", cali)
	}

	wantNeigh := observed.Neigh{Dst: netip.MustParseAddr("192.168.3.0"), Dev: "vxlan.calico", LLAddr: "66:aa:bb:cc:dd:ee", State: []string{"PERMANENT"}}
	found := false
	for _, n := range node.Neighs {
		if n.Dst == wantNeigh.Dst {
			found = true
			if n.Dev != wantNeigh.Dev || n.LLAddr != wantNeigh.LLAddr || !n.Permanent() {
				t.Errorf("neighbour %+v, want %+v", n, wantNeigh)
			}
		}
	}
	if !found {
		t.Errorf("neighbour %s missing: %+v", wantNeigh.Dst, node.Neighs)
	}

	found = false
	for _, f := range node.FDB {
		if f.MAC == "66:aa:bb:cc:dd:ee" {
			found = true
			if f.Dev != "vxlan.calico" || f.Dst != netip.MustParseAddr("10.10.20.20") || !f.Self || !f.Permanent {
				t.Errorf("fdb entry %+v", f)
			}
		}
	}
	if !found {
		t.Errorf("fdb entry for 66:aa:bb:cc:dd:ee missing: %+v", node.FDB)
	}

	for key, want := range map[string]string{
		"net.ipv4.conf.cali1234567890a.proxy_arp":    "1",
		"net.ipv4.neigh.cali1234567890a.proxy_delay": "0",
		"net.ipv4.conf.cali1234567890a.forwarding":   "0",
	} {
		if got := node.Sysctls[key]; got != want {
			t.Errorf("sysctl %s = %q, want %q", key, got, want)
		}
	}
}

// A multipath route (issue 10) is read with every next hop, as `ip route` shows it in the same
// namespace: the live collector and a capture of the node agree, so neither hides the ECMP.
func TestReadNodeMultipath(t *testing.T) {
	ns := scratchNamespace(t)
	h, err := netlink.NewHandleAt(ns)
	must(t, err)
	defer h.Close()

	must(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "peer0"}))
	eth0, err := h.LinkByName("eth0")
	must(t, err)
	for _, name := range []string{"eth0", "peer0"} {
		l, err := h.LinkByName(name)
		must(t, err)
		must(t, h.LinkSetUp(l))
	}
	must(t, h.AddrAdd(eth0, &netlink.Addr{IPNet: ipnet("10.18.132.11/24")}))
	must(t, h.RouteAdd(&netlink.Route{Dst: ipnet("10.148.158.64/26"), Protocol: unix.RTPROT_BIRD, MultiPath: []*netlink.NexthopInfo{
		{LinkIndex: eth0.Attrs().Index, Gw: net.ParseIP("10.18.132.12")},
		{LinkIndex: eth0.Attrs().Index, Gw: net.ParseIP("10.18.132.13"), Hops: 2, Flags: unix.RTNH_F_ONLINK},
	}}))

	node, err := ReadNode(ns, "k01-worker")
	must(t, err)
	want := observed.Route{Type: "unicast", Dst: netip.MustParsePrefix("10.148.158.64/26"), Protocol: "bird", Nexthops: []observed.Nexthop{
		{Gateway: netip.MustParseAddr("10.18.132.12"), Dev: "eth0", Weight: 1},
		{Gateway: netip.MustParseAddr("10.18.132.13"), Dev: "eth0", Weight: 3, Onlink: true},
	}}
	var live *observed.Route
	for i := range node.Routes {
		if node.Routes[i].Dst == want.Dst {
			live = &node.Routes[i]
		}
	}
	if live == nil {
		t.Fatalf("multipath route missing: %+v", node.Routes)
	}
	live.Metric = 0
	if !reflect.DeepEqual(*live, want) {
		t.Errorf("live multipath route\n got %+v\nwant %+v", *live, want)
	}

	// The same route as `ip route` and `ip -j route` print it in that namespace.
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skip("no nsenter to run ip in the namespace")
	}
	nsPath := "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(int(ns))
	for _, args := range [][]string{{"ip", "route"}, {"ip", "-o", "route"}, {"ip", "-j", "route"}} {
		out, err := exec.Command(nsenter, append([]string{"--net=" + nsPath}, args...)...).Output()
		must(t, err)
		captured, err := parse.Routes(out)
		must(t, err)
		found := false
		for _, r := range captured {
			if r.Dst == want.Dst {
				found = true
				if !reflect.DeepEqual(r, *live) {
					t.Errorf("%v shows\n%+v\nthe collector read\n%+v", args, r, *live)
				}
			}
		}
		if !found {
			t.Errorf("%v shows no route to %s:\n%s", args, want.Dst, out)
		}
	}
}
