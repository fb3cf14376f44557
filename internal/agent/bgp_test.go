package agent

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/knetlab/knetlab/internal/agent/agenttest"
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

// startBIRDReflector runs BIRD as a passive route reflector for every address of subnet (AS
// 64496) in namespace ns, listening on addr, until the returned stop or the test's end. The
// lab's reflector is GoBGP (in a process of its own, deploy's business); BIRD stands in for it
// here, started in the switch's namespace as the lab starts the reflector in its own.
func startBIRDReflector(t *testing.T, ns string, addr netip.Addr, subnet netip.Prefix) (stop func()) {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`router id %s;
protocol device { scan time 2; }
protocol bgp clients {
  local %s as 64496;
  neighbor range %s as 64496;
  rr client;
  rr cluster id %s;
  passive;
  hold time 9;
  ipv4 { import all; export all; };
}
`, addr, addr, subnet.Masked(), addr)
	if err := os.WriteFile(filepath.Join(dir, "rr.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, BIRDPath("bird"), "-f", "-c", filepath.Join(dir, "rr.conf"), "-s", filepath.Join(dir, "rr.ctl"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("route reflector's BIRD said:\n%s", out.String())
		}
	})
	return stop
}

// bgpTestbed is a datastore with one pool without encapsulation and an underlay holding the
// nodes names.
func bgpTestbed(t *testing.T, names []string) (datastore.Store, *testbed.Underlay) {
	t.Helper()
	store := storetest.Connect(t)
	pool := storetest.Pool("default-ipv4-ippool", "10.244.128.0/17", 24)
	pool.Spec.VXLANMode, pool.Spec.IPIPMode = calico.EncapNever, calico.EncapNever
	if err := datastore.IPPools(store).Create(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	u := testbed.NewUnderlay(t)
	for _, n := range names {
		u.AddNode(t, n, agenttest.Underlays[n])
	}
	return store, u
}

// TestAgentsRouteWhatBGPLearned is the BGP mode at the dataplane boundary: two node namespaces
// whose agents run BIRD, peering with a route reflector, route each other's blocks as learned
// (via the owner's underlay address, proto bird, no onlink) and blackhole their own proto bird;
// a block released in the datastore is withdrawn and its route removed; when the reflector
// stops, the learned routes go and the blackholes stay. A stopped agent leaves no BIRD behind.
func TestAgentsRouteWhatBGPLearned(t *testing.T) {
	testenv.RequireLab(t, "ip", "bird", "birdcl")
	ctx := context.Background()
	names := []string{"k01-worker", "k01-worker2"} // both in 10.10.10.0/24
	store, u := bgpTestbed(t, names)
	rrAddr := testbed.Subnet10.Addr() // the switch's address on their subnet
	stopRR := startBIRDReflector(t, u.Switch, rrAddr, testbed.Subnet10)

	dirs := t.TempDir()
	handles := map[string]*netlink.Handle{}
	stops := map[string]func(){}
	start := func(n string) *Agent {
		a := New(store, Config{NodeName: n, AutodetectCIDRs: underlayCIDRs, NetNSPath: testbed.Path(u.Nodes[n].NS),
			BGP: &BGPConfig{ASNumber: 64496, Dir: filepath.Join(dirs, n), Peers: []BGPPeer{{Address: rrAddr, ASNumber: 64496}}}})
		stops[n] = testbed.Background(t, "agent "+n, a.Run)
		return a
	}
	t.Cleanup(func() {
		for _, stop := range stops {
			stop()
		}
		if left := agenttest.BIRDProcesses(t, dirs); len(left) > 0 {
			t.Errorf("stopped agents left BIRD running: %q", left)
		}
	})
	for _, n := range names {
		start(n)
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

	// Restarting an agent changes nothing in the kernel: the agent leaves proto bird routes
	// to BIRD, and BIRD keeps them while it restarts (persist).
	stops["k01-worker"]()
	if left := agenttest.BIRDProcesses(t, filepath.Join(dirs, "k01-worker")); len(left) > 0 {
		t.Errorf("the stopped agent of k01-worker left BIRD running: %q", left)
	}
	if got := birdRoutes(t, handles["k01-worker"]); !slices.Equal(got, want("k01-worker")) {
		t.Errorf("with its agent stopped k01-worker has %q, want %q", got, want("k01-worker"))
	}
	expectNoChanges(t, start("k01-worker"))
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
	stopRR()
	for _, n := range names {
		waitFor(t, 10*time.Second, n+" drops the learned route", func() bool {
			got := birdRoutes(t, handles[n])
			return len(got) == 1 && strings.HasPrefix(got[0], "blackhole "+block[n].String())
		})
	}
}

// TestAgentAdoptsARunningBIRD: when a BIRD already answers on the node's control socket (a
// lab started it as a process of its own, on the configuration the agent starts with), the
// agent configures that BIRD instead of starting another, the node routes as with a BIRD of
// the agent's own, and the stopped agent leaves that BIRD running with the node's routes.
func TestAgentAdoptsARunningBIRD(t *testing.T) {
	testenv.RequireLab(t, "ip", "bird", "birdcl")
	names := []string{"k01-worker", "k01-worker2"}
	store, u := bgpTestbed(t, names)
	rrAddr := testbed.Subnet10.Addr()
	startBIRDReflector(t, u.Switch, rrAddr, testbed.Subnet10)
	dirs := t.TempDir()

	// k01-worker's BIRD, started beside its agent as a lab starts it.
	adopted := filepath.Join(dirs, "k01-worker")
	o := Options{Node: "k01-worker", Autodetect: underlayCIDRs, BGPAS: 64496, BGPPeers: []BGPPeer{{Address: rrAddr}}, BGPDir: adopted}
	conf, err := o.BIRDStartConfig(testbed.Path(u.Nodes["k01-worker"].NS))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(adopted, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(adopted, BIRDConfigFile), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	bird := exec.Command("ip", append([]string{"netns", "exec", u.Nodes["k01-worker"].NS, BIRDPath("bird")}, BIRDArgs(adopted)...)...)
	bird.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := bird.Start(); err != nil {
		t.Fatal(err)
	}
	birdDone := make(chan struct{})
	go func() { _ = bird.Wait(); close(birdDone) }()
	t.Cleanup(func() { _ = bird.Process.Kill(); <-birdDone })
	waitFor(t, 5*time.Second, "the lab's BIRD answers", func() bool { return BIRDAnswers(adopted) })
	before := agenttest.BIRDProcesses(t, adopted)

	handles := map[string]*netlink.Handle{}
	stops := map[string]func(){}
	for _, n := range names {
		a := New(store, Config{NodeName: n, AutodetectCIDRs: underlayCIDRs, NetNSPath: testbed.Path(u.Nodes[n].NS),
			BGP: &BGPConfig{ASNumber: 64496, Dir: filepath.Join(dirs, n), Peers: []BGPPeer{{Address: rrAddr, ASNumber: 64496}}}})
		stops[n] = testbed.Background(t, "agent "+n, a.Run)
		handles[n] = testbed.Handle(t, u.Nodes[n].NS)
	}
	t.Cleanup(func() {
		for _, stop := range stops {
			stop()
		}
	})
	block := agenttest.WaitForBlocks(t, store, names)
	for _, n := range names {
		var want []string
		for m, b := range block {
			if m == n {
				want = append(want, fmt.Sprintf("blackhole %s proto bird", b))
			} else {
				want = append(want, fmt.Sprintf("%s via %s dev eth1 proto bird", b, agenttest.Underlays[m].Addr()))
			}
		}
		slices.Sort(want)
		waitFor(t, 20*time.Second, n+" routes the other block as learned over BGP", func() bool {
			return slices.Equal(birdRoutes(t, handles[n]), want)
		})
	}
	if got := agenttest.BIRDProcesses(t, adopted); !slices.Equal(got, before) {
		t.Errorf("the agent of k01-worker runs BIRD %q, want only the one it found running: %q", got, before)
	}
	held := birdRoutes(t, handles["k01-worker"])
	stops["k01-worker"]()
	delete(stops, "k01-worker")
	if got := agenttest.BIRDProcesses(t, adopted); !slices.Equal(got, before) {
		t.Errorf("after its agent stopped, k01-worker runs BIRD %q, want the adopted one still: %q", got, before)
	}
	time.Sleep(500 * time.Millisecond)
	if got := birdRoutes(t, handles["k01-worker"]); !slices.Equal(got, held) {
		t.Errorf("with its agent stopped k01-worker has %q, want %q", got, held)
	}
}
