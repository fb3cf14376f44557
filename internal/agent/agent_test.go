package agent

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/agent/agenttest"
	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/storetest"
	"github.com/knetlab/knetlab/internal/ipam"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/vishvananda/netlink"
)

var underlayCIDRs = []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16")}

// startAgent runs an agent for node until the test ends (or stop is called).
func startAgent(t *testing.T, store datastore.Store, name, nsName string) (a *Agent, stop func()) {
	t.Helper()
	a = New(store, Config{NodeName: name, AutodetectCIDRs: underlayCIDRs, NetNSPath: testbed.Path(nsName)})
	return a, testbed.Background(t, "agent "+name, a.Run)
}

var blockRoutes = agenttest.BlockRoutes

var waitFor = testbed.WaitFor

// overlayLab starts an etcd datastore holding the lab's pool and the calico-overlay-shaped
// underlay of agenttest's nodes, with no agent running yet.
func overlayLab(t *testing.T) (datastore.Store, *testbed.Underlay) {
	t.Helper()
	testenv.RequireLab(t, "ip", "sysctl", "ping")
	store := storetest.Connect(t)
	if err := datastore.IPPools(store).Create(context.Background(), storetest.Pool("default-ipv4-ippool", "192.168.0.0/16", 26)); err != nil {
		t.Fatal(err)
	}
	u := testbed.NewUnderlay(t)
	for _, n := range agenttest.Names() {
		u.AddNode(t, n, agenttest.Underlays[n])
	}
	return store, u
}

func TestAgentsConvergeFromTheDatastore(t *testing.T) {
	store, u := overlayLab(t)
	ctx := context.Background()
	names := agenttest.Names()
	stops := map[string]func(){}
	for _, n := range names {
		_, stops[n] = startAgent(t, store, n, u.Nodes[n].NS)
	}

	// Expected from the datastore itself: every node routes every other node's block.
	im := ipam.New(store)
	block := agenttest.WaitForBlocks(t, store, names)
	handles := map[string]*netlink.Handle{}
	for _, n := range names {
		h := testbed.Handle(t, u.Nodes[n].NS)
		handles[n] = h
		took := agenttest.WaitForBlockRoutes(t, h, n, block)
		t.Logf("%s converged after %v more", n, took.Round(time.Millisecond))
	}

	// Tunnel to tunnel across the subnets: the overlay really works.
	tunnel3, err := im.AllocateTunnelAddress(ctx, "k01-worker3")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := testbed.Try(u.Nodes["k01-worker"].NS, "ping", "-c", "1", "-W", "2", tunnel3.String()); err != nil {
		t.Errorf("k01-worker -> k01-worker3's tunnel address %s: %v\n%s", tunnel3, err, out)
	}

	// A node joins through the datastore only: every running node programs it.
	joined := netip.MustParsePrefix("192.168.250.0/26")
	start := time.Now()
	if err := datastore.Nodes(store).Create(ctx, &datastore.Node{
		Metadata: datastore.ObjectMeta{Name: "k01-worker4"},
		Spec: datastore.NodeSpec{BGP: datastore.NodeBGPSpec{IPv4Address: netip.MustParsePrefix("10.10.20.21/24")},
			IPv4VXLANTunnelAddr: joined.Addr()},
	}); err != nil {
		t.Fatal(err)
	}
	if err := datastore.BlockAffinities(store).Create(ctx, &datastore.BlockAffinity{
		Metadata: datastore.ObjectMeta{Name: datastore.BlockAffinityName("k01-worker4", joined)},
		Spec:     datastore.BlockAffinitySpec{Node: "k01-worker4", CIDR: joined, State: datastore.AffinityConfirmed},
	}); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		h := handles[n]
		// The ≤ 1 s target is measured by BenchmarkJoin; here only that it happens.
		waitFor(t, 10*time.Second, "k01-worker4's block on "+n, func() bool {
			return slices.ContainsFunc(blockRoutes(t, h), func(s string) bool { return strings.HasPrefix(s, joined.String()) })
		})
	}
	t.Logf("a joining node was programmed on every node after %v", time.Since(start).Round(time.Millisecond))

	// Restarting an agent changes nothing in the kernel.
	stops["k01-worker"]()
	a, _ := startAgent(t, store, "k01-worker", u.Nodes["k01-worker"].NS)
	expectNoChanges(t, a)
}

// expectNoChanges waits for a (restarted) agent's first pass and fails the test if it, or any
// pass shortly after, changed the kernel.
func expectNoChanges(t *testing.T, a *Agent) {
	t.Helper()
	waitFor(t, 20*time.Second, "restarted agent's first pass", func() bool {
		r := a.Reconciler()
		if r == nil {
			return false
		}
		n, _ := r.Passes()
		return n > 0
	})
	time.Sleep(300 * time.Millisecond) // room for any pass a change of ours would trigger
	if n := a.Reconciler().TotalChanges(); n != 0 {
		_, last := a.Reconciler().Passes()
		t.Errorf("restarted agent made %d kernel changes (last pass: %q), want none", n, last)
	}
}

func TestAgentWithoutUnderlayAddressStops(t *testing.T) {
	testenv.RequireLab(t, "ip")
	nsName := testbed.NewNS(t, "kdpn") // only lo: nothing in 10.10.0.0/16
	a := New(nil, Config{NodeName: "k01-worker", AutodetectCIDRs: underlayCIDRs, NetNSPath: testbed.Path(nsName)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "no interface has an address in [10.10.0.0/16]") {
		t.Errorf("Run = %v, want the autodetection failure named", err)
	}
	if ctx.Err() != nil {
		t.Error("Run retried a failure no retry can fix")
	}
}

// addFakeNode registers a node that has no agent (its namespace does not matter to the
// others): a Node and a confirmed affinity, as a remote agent would write them.
func addFakeNode(tb testing.TB, store datastore.Store, name string, underlay netip.Prefix, block netip.Prefix) {
	tb.Helper()
	ctx := context.Background()
	if err := datastore.Nodes(store).Create(ctx, &datastore.Node{
		Metadata: datastore.ObjectMeta{Name: name},
		Spec:     datastore.NodeSpec{BGP: datastore.NodeBGPSpec{IPv4Address: underlay}, IPv4VXLANTunnelAddr: block.Addr()},
	}); err != nil {
		tb.Fatal(err)
	}
	if err := datastore.BlockAffinities(store).Create(ctx, &datastore.BlockAffinity{
		Metadata: datastore.ObjectMeta{Name: datastore.BlockAffinityName(name, block)},
		Spec:     datastore.BlockAffinitySpec{Node: name, CIDR: block, State: datastore.AffinityConfirmed},
	}); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkJoin is "a node added to a running 50-node lab is programmed on every other
// node": three real agents and 47 registered peers without agents; each iteration adds one
// more node to the datastore and waits until all three agents have routed its block.
func BenchmarkJoin(b *testing.B) {
	testenv.RequireLab(b, "ip", "sysctl")
	store := storetest.Connect(b)
	ctx := context.Background()
	if err := datastore.IPPools(store).Create(ctx, &datastore.IPPool{
		Metadata: datastore.ObjectMeta{Name: "default-ipv4-ippool"},
		Spec: datastore.IPPoolSpec{CIDR: netip.MustParsePrefix("10.244.0.0/14"), BlockSize: 26,
			VXLANMode: calico.EncapCrossSubnet, IPIPMode: calico.EncapNever, NodeSelector: "all()"},
	}); err != nil {
		b.Fatal(err)
	}
	u := testbed.NewUnderlay(b)
	var handles []*netlink.Handle
	for _, n := range []struct{ name, underlay string }{
		{"k01-worker", "10.10.10.11/24"}, {"k01-worker2", "10.10.10.12/24"}, {"k01-worker3", "10.10.20.20/24"},
	} {
		node := u.AddNode(b, n.name, netip.MustParsePrefix(n.underlay))
		a := New(store, Config{NodeName: n.name, AutodetectCIDRs: underlayCIDRs, NetNSPath: testbed.Path(node.NS)})
		runCtx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { a.Run(runCtx); close(done) }()
		b.Cleanup(func() { cancel(); <-done })
		handles = append(handles, testbed.Handle(b, node.NS))
	}
	fakeBlock := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 247, byte(i / 4), byte(i%4) * 64}), 26)
	}
	for i := range 47 {
		addFakeNode(b, store, fmt.Sprintf("fake%d", i), netip.MustParsePrefix(fmt.Sprintf("10.10.20.%d/24", 100+i)), fakeBlock(i))
	}
	routed := func(h *netlink.Handle, block netip.Prefix) bool {
		return slices.ContainsFunc(blockRoutes(b, h), func(s string) bool { return strings.HasPrefix(s, block.String()+" ") })
	}
	waitFor(b, 30*time.Second, "50-node lab converged", func() bool {
		for _, h := range handles {
			if !routed(h, fakeBlock(46)) {
				return false
			}
		}
		return true
	})
	b.ResetTimer()
	for i := range b.N {
		block := fakeBlock(100 + i)
		addFakeNode(b, store, fmt.Sprintf("join%d", i), netip.MustParsePrefix("10.10.20.250/24"), block)
		for _, h := range handles {
			for !routed(h, block) {
				time.Sleep(time.Millisecond)
			}
		}
	}
}
