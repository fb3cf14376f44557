package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/knetlab/knetlab/internal/agent/agenttest"
	"github.com/knetlab/knetlab/internal/bgp"
	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/storetest"
	"github.com/knetlab/knetlab/internal/testenv"
)

// birdRoutes lists a node's proto bird routes as `ip route` shows them.
func birdRoutes(t testing.TB, h *netlink.Handle) []string {
	t.Helper()
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: dataplane.ProtoBird}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatalf("list proto bird routes: %v", err)
	}
	var out []string
	for _, r := range routes {
		if r.Type == 6 /* RTN_BLACKHOLE */ {
			out = append(out, fmt.Sprintf("blackhole %s proto bird", r.Dst))
			continue
		}
		dev := "?"
		if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		s := fmt.Sprintf("%s via %s dev %s proto bird", r.Dst, r.Gw, dev)
		if r.Flags&int(netlink.FLAG_ONLINK) != 0 {
			s += " onlink"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func freeLoopbackPort(t testing.TB) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// TestAgentsRouteWhatBGPLearned is the BGP mode at the dataplane boundary: two node namespaces
// whose agents peer with a route reflector program each other's blocks as learned (via the
// owner's underlay address, proto bird, no onlink) and blackhole their own proto bird; a block
// released in the datastore is withdrawn and its route removed; when the reflector stops, the
// learned routes go and the blackholes stay. The BGP sessions run over the test's loopback
// (the speakers live in this process); the routes are programmed in the node namespaces.
func TestAgentsRouteWhatBGPLearned(t *testing.T) {
	testenv.RequireLab(t, "ip")
	ctx := context.Background()
	store := storetest.Connect(t)
	pool := storetest.Pool("default-ipv4-ippool", "10.244.128.0/17", 24)
	pool.Spec.VXLANMode, pool.Spec.IPIPMode = calico.EncapNever, calico.EncapNever
	if err := datastore.IPPools(store).Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	names := []string{"k01-worker", "k01-worker2"} // both in 10.10.10.0/24
	u := testbed.NewUnderlay(t)
	for _, n := range names {
		u.AddNode(t, n, agenttest.Underlays[n])
	}

	rrAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freeLoopbackPort(t))
	rrCfg := bgp.ReflectorConfig{ASNumber: 64496, RouterID: netip.MustParseAddr("192.0.2.1"), Clients: netip.MustParsePrefix("127.0.0.0/8"),
		PeerGroup: "k8s-group", PeerAS: 64496, Passive: true}
	rr, err := bgp.StartReflector(ctx, rrCfg, bgp.ReflectorOptions{Listen: rrAddr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rr.Close)

	handles := map[string]*netlink.Handle{}
	stops := map[string]func(){}
	start := func(i int, n string) *Agent {
		a := New(store, Config{NodeName: n, AutodetectCIDRs: underlayCIDRs, NetNSPath: testbed.Path(u.Nodes[n].NS),
			BGP: &BGPConfig{ASNumber: 64496, LocalAddress: netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 2)}),
				Peers: []bgp.PeerConfig{{Address: rrAddr.Addr(), ASNumber: 64496, Port: rrAddr.Port()}}}})
		stops[n] = testbed.Background(t, "agent "+n, a.Run)
		return a
	}
	for i, n := range names {
		start(i, n)
		handles[n] = testbed.Handle(t, u.Nodes[n].NS)
	}
	block := agenttest.WaitForBlocks(t, store, names)
	want := func(self string, extra ...string) []string {
		var out []string
		for n, b := range block {
			if n == self {
				out = append(out, fmt.Sprintf("blackhole %s proto bird", b))
			} else {
				out = append(out, fmt.Sprintf("%s via %s dev eth1 proto bird", b, agenttest.Underlays[n].Addr()))
			}
		}
		out = append(out, extra...)
		slices.Sort(out)
		return out
	}
	for _, n := range names {
		took := waitFor(t, 20*time.Second, n+" routes the other block as learned over BGP", func() bool {
			return slices.Equal(birdRoutes(t, handles[n]), want(n))
		})
		t.Logf("%s converged after %v more", n, took.Round(time.Millisecond))
	}
	for _, n := range names {
		if got := blockRoutes(t, handles[n]); len(got) != 0 {
			t.Errorf("%s has proto 80 block routes in BGP mode: %v", n, got)
		}
		if _, err := handles[n].LinkByName(dataplane.VXLANDeviceName); err == nil {
			t.Errorf("%s has %s in a lab without encapsulation", n, dataplane.VXLANDeviceName)
		}
	}

	// Restarting an agent changes nothing in the kernel: it waits for its speaker's table
	// before it programs, rather than withdrawing the learned route and installing it again.
	stops["k01-worker"]()
	expectNoChanges(t, start(0, "k01-worker"))
	if got := birdRoutes(t, handles["k01-worker"]); !slices.Equal(got, want("k01-worker")) {
		t.Errorf("after the restart k01-worker has %q, want %q", got, want("k01-worker"))
	}

	// k01-worker2 claims one more block: announced and routed on k01-worker; released, it is
	// withdrawn and its route goes.
	extra := netip.MustParsePrefix("10.244.200.0/24")
	aff := &datastore.BlockAffinity{
		Metadata: datastore.ObjectMeta{Name: datastore.BlockAffinityName("k01-worker2", extra)},
		Spec:     datastore.BlockAffinitySpec{Node: "k01-worker2", CIDR: extra, State: datastore.AffinityConfirmed},
	}
	if err := datastore.BlockAffinities(store).Create(ctx, aff); err != nil {
		t.Fatal(err)
	}
	extraRoute := fmt.Sprintf("%s via %s dev eth1 proto bird", extra, agenttest.Underlays["k01-worker2"].Addr())
	waitFor(t, 10*time.Second, "k01-worker routes k01-worker2's new block", func() bool {
		return slices.Equal(birdRoutes(t, handles["k01-worker"]), want("k01-worker", extraRoute))
	})
	if err := datastore.BlockAffinities(store).Delete(ctx, aff); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the released block is withdrawn from k01-worker", func() bool {
		return slices.Equal(birdRoutes(t, handles["k01-worker"]), want("k01-worker"))
	})

	// The reflector stops: the learned routes go, each node keeps only its blackhole.
	rr.Close()
	for _, n := range names {
		waitFor(t, 10*time.Second, n+" drops the learned route", func() bool {
			got := birdRoutes(t, handles[n])
			return len(got) == 1 && strings.HasPrefix(got[0], "blackhole "+block[n].String())
		})
	}
}
