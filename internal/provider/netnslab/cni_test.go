package netnslab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/internal/testenv"
)

// cniLab is a deployed lab with the knetlab CNI, shared by the subtests of one deploy.
type cniLab struct {
	t   *testing.T
	p   *Provider
	lab *lab.Lab
}

func deployCNILab(t *testing.T, catalogue string) (*cniLab, *recorder) {
	t.Helper()
	testenv.RequireLab(t, "ping")
	before := snapshot(t)
	p := newTestProvider(t)
	l := uniqueLab(t, catalogue)
	t.Cleanup(func() {
		// Runs after deployed's cleanup: the lab is gone and must have left nothing.
		if leaks := before.leaks(snapshot(t)); len(leaks) > 0 {
			t.Errorf("left behind: %v", leaks)
		}
		assertRootClean(t)
	})
	rec := deployed(t, p, l)
	return &cniLab{t: t, p: p, lab: l}, rec
}

func (c *cniLab) record() *journal.Lab {
	c.t.Helper()
	rec, err := journal.Read(c.p.root, c.lab.Name)
	if err != nil || rec == nil {
		c.t.Fatalf("lab record: %v", err)
	}
	return rec
}

func (c *cniLab) pod(name string) journal.Pod {
	c.t.Helper()
	pod, ok := c.record().Pod("default", name)
	if !ok || pod.IP == "" {
		c.t.Fatalf("pod %s not recorded with an address: %+v", name, c.record().Pods)
	}
	return pod
}

// node opens a netlink handle inside a lab node; closed at the end of the test.
func (c *cniLab) node(name string) *netlink.Handle {
	c.t.Helper()
	h, nl, err := nodeHandle(c.lab.Name, name)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { nl.Close(); h.Close() })
	return nl
}

func (c *cniLab) vxlanTX(node string) uint64 {
	c.t.Helper()
	link, err := c.node(node).LinkByName(dataplane.VXLANDeviceName)
	if err != nil {
		c.t.Fatalf("%s: %v", node, err)
	}
	return link.Attrs().Statistics.TxPackets
}

// pingPod pings pod dst from inside pod src.
func (c *cniLab) pingPod(src, dst string) {
	c.t.Helper()
	var out bytes.Buffer
	ip := c.pod(dst).IP
	err := c.p.Exec(context.Background(), c.lab.Name, "default/"+src, []string{"ping", "-c2", "-i0.2", "-W2", "-n", ip}, provider.Stdio{Out: &out, Err: &out})
	if err != nil {
		c.t.Fatalf("ping %s (%s) from %s: %v\n%s", dst, ip, src, err, out.String())
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, deadline time.Duration, cond func() error) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: still %v after %s", what, err, deadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// datastore connects to the lab's datastore; closed at the end of the test.
func (c *cniLab) datastore() datastore.Store {
	c.t.Helper()
	store, err := openDatastore(context.Background(), c.p.root, c.lab.Name, c.record().Datastore, 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { store.Close() })
	return store
}

func (c *cniLab) datastoreNodes() []*datastore.Node {
	c.t.Helper()
	nodes, _, err := datastore.Nodes(c.datastore()).List(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	return nodes
}

func TestCNIDeployCalicoOverlay(t *testing.T) {
	c, progress := deployCNILab(t, "calico-overlay")
	ctx := context.Background()
	rec := c.record()
	if rec.Datastore != "https://172.18.0.2:2379" {
		t.Errorf("datastore recorded as %q, want the control plane's management address", rec.Datastore)
	}

	t.Run("every node registered", func(t *testing.T) {
		nodes := c.datastoreNodes()
		want := map[string]string{"k01-control-plane": "10.10.10.10/24", "k01-worker": "10.10.10.11/24", "k01-worker2": "10.10.10.12/24", "k01-worker3": "10.10.20.20/24"}
		for _, n := range nodes {
			if want[n.Metadata.Name] != n.Spec.BGP.IPv4Address.String() || !n.Spec.IPv4VXLANTunnelAddr.IsValid() {
				t.Errorf("node %s: underlay %s tunnel %s", n.Metadata.Name, n.Spec.BGP.IPv4Address, n.Spec.IPv4VXLANTunnelAddr)
			}
			delete(want, n.Metadata.Name)
		}
		if len(want) > 0 {
			t.Errorf("not registered: %v", want)
		}
		if !strings.Contains(progress.String(), "agents: 4 nodes registered and programmed") {
			t.Errorf("deploy did not report convergence:\n%s", progress)
		}
	})

	t.Run("pods recorded with their wiring", func(t *testing.T) {
		if len(rec.Pods) != len(c.lab.Pods) {
			t.Fatalf("%d pods recorded, lab has %d", len(rec.Pods), len(c.lab.Pods))
		}
		for _, pod := range rec.Pods {
			ns, ok := rec.Namespace(pod.Namespace + "/" + pod.Name)
			if !ok || ns.Role != journal.RolePod || ns.Name != pod.NetNS || inspectNamespace(pod.NetNS) != nsPresent {
				t.Errorf("pod %s: namespace %+v not recorded or missing", pod.Name, ns)
			}
			if want := cni.HostVethName(cni.PodID{Namespace: pod.Namespace, Name: pod.Name}); pod.HostIface != want {
				t.Errorf("pod %s: host iface %q, want %q", pod.Name, pod.HostIface, want)
			}
			if _, err := c.node(pod.Node).LinkByName(pod.HostIface); err != nil {
				t.Errorf("pod %s: %s has no %s: %v", pod.Name, pod.Node, pod.HostIface, err)
			}
		}
	})

	t.Run("pods ping across subnets through vxlan.calico", func(t *testing.T) {
		before := c.vxlanTX("k01-worker")
		c.pingPod("net-w1", "net-w3")
		if after := c.vxlanTX("k01-worker"); after <= before {
			t.Errorf("k01-worker vxlan.calico TX stayed at %d: cross-subnet traffic must be encapsulated", after)
		}
	})

	t.Run("pods ping within a subnet directly", func(t *testing.T) {
		before := c.vxlanTX("k01-worker")
		c.pingPod("net-w1", "net-w2")
		c.pingPod("net-w1", "net-cp")
		if after := c.vxlanTX("k01-worker"); after != before {
			t.Errorf("k01-worker vxlan.calico TX went from %d to %d: same-subnet traffic must not be encapsulated", before, after)
		}
	})

	t.Run("hand-deleted FDB entry and block route come back", func(t *testing.T) {
		nl := c.node("k01-worker")
		vx, err := nl.LinkByName(dataplane.VXLANDeviceName)
		if err != nil {
			t.Fatal(err)
		}
		fdb, err := nl.NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
		if err != nil || len(fdb) == 0 {
			t.Fatalf("FDB of vxlan.calico: %v %v", fdb, err)
		}
		victim := fdb[0]
		if err := nl.NeighDel(&victim); err != nil {
			t.Fatalf("delete FDB %s: %v", victim.HardwareAddr, err)
		}
		w3 := c.pod("net-w3")
		route := blockRouteTo(t, nl, w3.IP)
		if err := nl.RouteDel(&route); err != nil {
			t.Fatalf("delete route %s: %v", route.Dst, err)
		}
		eventually(t, "FDB entry "+victim.HardwareAddr.String(), 5*time.Second, func() error {
			have, err := nl.NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
			if err != nil {
				return err
			}
			for _, n := range have {
				if n.HardwareAddr.String() == victim.HardwareAddr.String() && n.IP.Equal(victim.IP) {
					return nil
				}
			}
			return fmt.Errorf("missing")
		})
		eventually(t, "route "+route.Dst.String(), 5*time.Second, func() error {
			routes, err := nl.RouteList(nil, netlink.FAMILY_V4)
			if err != nil {
				return err
			}
			for _, r := range routes {
				if r.Dst != nil && r.Dst.String() == route.Dst.String() && r.Gw.Equal(route.Gw) && r.LinkIndex == route.LinkIndex {
					return nil
				}
			}
			return fmt.Errorf("missing")
		})
		c.pingPod("net-w1", "net-w3")
	})

	t.Run("a restarted agent changes no route", func(t *testing.T) {
		nl := c.node("k01-worker")
		routesBefore := poolRoutes(t, nl)
		h, err := openNamespace(NamespaceName(c.lab.Name, "k01-worker"))
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		events := make(chan netlink.RouteUpdate, 64)
		done := make(chan struct{})
		defer close(done)
		if err := netlink.RouteSubscribeWithOptions(events, done, netlink.RouteSubscribeOptions{Namespace: &h}); err != nil {
			t.Fatal(err)
		}
		logFile := filepath.Join(journal.Dir(c.p.root, c.lab.Name), "logs", "agent-k01-worker.log")
		old := agentProcessOf(t, c.record(), "k01-worker")
		if err := syscall.Kill(old.PID, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		eventually(t, "agent of k01-worker stopping", 5*time.Second, func() error {
			if old.Alive() {
				return fmt.Errorf("running")
			}
			return nil
		})
		logBefore, _ := os.ReadFile(logFile)
		redeploy := &recorder{}
		if err := c.p.Deploy(ctx, c.lab, provider.DeployOptions{Progress: redeploy}); err != nil {
			t.Fatalf("redeploy: %v\n%s", err, redeploy)
		}
		if !strings.Contains(redeploy.String(), "repaired: started the agent of k01-worker") {
			t.Errorf("redeploy did not say it restarted the agent:\n%s", redeploy)
		}
		// The new agent runs once its log says so (it logs "registered" only when the node
		// record changes, which it must not); then it gets two resync periods to change
		// something it should not.
		eventually(t, "restarted agent starting", 10*time.Second, func() error {
			b, _ := os.ReadFile(logFile)
			if !strings.Contains(string(b[len(logBefore):]), `"msg":"agent starting"`) {
				return fmt.Errorf("not started")
			}
			return nil
		})
		window := time.After(2 * dataplane.DefaultResyncPeriod)
	observe:
		for {
			select {
			case ev := <-events:
				if ev.Dst != nil && netip.MustParsePrefix("192.168.0.0/16").Contains(netip.MustParseAddr(ev.Dst.IP.String())) {
					t.Errorf("route event during agent restart: type %d %s via %s", ev.Type, ev.Dst, ev.Gw)
				}
			case <-window:
				break observe
			}
		}
		b, _ := os.ReadFile(logFile)
		if strings.Contains(string(b[len(logBefore):]), "dataplane change") {
			t.Errorf("the restarted agent changed the dataplane:\n%s", b[len(logBefore):])
		}
		if after := poolRoutes(t, nl); !slices.Equal(routesBefore, after) {
			t.Errorf("routes changed across the restart:\nbefore %v\nafter  %v", routesBefore, after)
		}
	})

	t.Run("pod add, del twice, and CNI DEL twice", func(t *testing.T) {
		extra := lab.Pod{Name: "extra", Namespace: "test", Node: "k01-worker3"}
		pod, err := c.p.AddPod(ctx, c.lab.Name, extra, provider.AddPodOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !netip.MustParsePrefix("192.168.0.0/16").Contains(netip.MustParseAddr(pod.IP)) {
			t.Fatalf("pod address %s outside the pool", pod.IP)
		}
		c.pingPod("net-w1", "net-w3")
		var out bytes.Buffer
		if err := c.p.Exec(ctx, c.lab.Name, "test/extra", []string{"ping", "-c1", "-W2", "-n", c.pod("net-w1").IP}, provider.Stdio{Out: &out, Err: &out}); err != nil {
			t.Fatalf("ping from the new pod: %v\n%s", err, out.String())
		}
		// The runtime's own view: DEL twice on the same sandbox succeeds.
		rec := c.record()
		rt := &podRuntime{lab: c.lab.Name, dir: journal.Dir(c.p.root, c.lab.Name), datastore: rec.Datastore}
		sandbox, ok := rec.Pod("test", "extra")
		if !ok {
			t.Fatal("pod test/extra is not recorded")
		}
		for i := 0; i < 2; i++ {
			if _, err := rt.invoke(ctx, "DEL", sandbox); err != nil {
				t.Fatalf("CNI DEL #%d: %v", i+1, err)
			}
		}
		if _, err := c.node("k01-worker3").LinkByName(pod.HostIface); err == nil {
			t.Errorf("%s still on k01-worker3 after DEL", pod.HostIface)
		}
		for i, want := range []bool{true, false} {
			found, err := c.p.DeletePod(ctx, c.lab.Name, "test", "extra")
			if err != nil || found != want {
				t.Fatalf("pod del #%d: found=%v err=%v", i+1, found, err)
			}
		}
		if inspectNamespace(pod.NetNS) != nsAbsent {
			t.Errorf("namespace %s left after pod del", pod.NetNS)
		}
		if _, ok := c.record().Namespace("test/extra"); ok {
			t.Errorf("namespace record of test/extra left after pod del")
		}
	})

	t.Run("deploy re-adds a pod whose sandbox is gone and restarts a dead datastore", func(t *testing.T) {
		w2 := c.pod("net-w2")
		if err := deleteNamespace(w2.NetNS); err != nil {
			t.Fatal(err)
		}
		for _, pr := range c.record().Processes {
			if pr.Name == datastoreProcess {
				_ = syscall.Kill(pr.PID, syscall.SIGKILL)
			}
		}
		repair := &recorder{}
		if err := c.p.Deploy(ctx, c.lab, provider.DeployOptions{Progress: repair}); err != nil {
			t.Fatalf("repair: %v\n%s", err, repair)
		}
		for _, want := range []string{"repaired: started the datastore", "repaired: pod default/net-w2 re-added (its namespace is missing)"} {
			if !strings.Contains(repair.String(), want) {
				t.Errorf("repair does not say %q:\n%s", want, repair)
			}
		}
		if strings.Contains(repair.String(), "started the agent") {
			t.Errorf("repair restarted agents that were running:\n%s", repair)
		}
		c.pingPod("net-w1", "net-w2")
		c.pingPod("net-w3", "net-w2")
	})

	t.Run("a second deploy changes nothing", func(t *testing.T) {
		again := &recorder{}
		if err := c.p.Deploy(ctx, c.lab, provider.DeployOptions{Progress: again}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(again.String(), "nothing to change") {
			t.Errorf("second deploy:\n%s", again)
		}
	})

	t.Run("destroy leaves no process, namespace or file", func(t *testing.T) {
		rec := c.record()
		if err := c.p.Destroy(ctx, c.lab.Name, provider.DestroyOptions{Lab: c.lab}); err != nil {
			t.Fatal(err)
		}
		for _, pr := range rec.Processes {
			if pr.Alive() {
				t.Errorf("process %s (pid %d) still runs", pr.Name, pr.PID)
			}
		}
		for _, ns := range rec.Namespaces {
			if inspectNamespace(ns.Name) != nsAbsent {
				t.Errorf("namespace %s left", ns.Name)
			}
		}
		if _, err := os.Stat(journal.Dir(c.p.root, c.lab.Name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("state directory left: %v", err)
		}
	})
}

func TestCNIDeployPodNetwork(t *testing.T) {
	c, _ := deployCNILab(t, "pod-network")
	nodes := c.datastoreNodes()
	for _, n := range nodes {
		want, _ := c.lab.Node(n.Metadata.Name)
		if n.Spec.BGP.IPv4Address != want.Address {
			t.Errorf("node %s registered with %s, lab says %s", n.Metadata.Name, n.Spec.BGP.IPv4Address, want.Address)
		}
	}
	if len(nodes) != len(c.lab.Nodes) {
		t.Errorf("%d nodes registered, lab has %d", len(nodes), len(c.lab.Nodes))
	}
	for _, src := range c.lab.Pods {
		for _, dst := range c.lab.Pods {
			if src.Name != dst.Name {
				c.pingPod(src.Name, dst.Name)
			}
		}
	}
}

// blockRouteTo is the route of the block holding a remote pod's address.
func blockRouteTo(t *testing.T, nl *netlink.Handle, podIP string) netlink.Route {
	t.Helper()
	ip := netip.MustParseAddr(podIP)
	routes, err := nl.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Gw == nil {
			continue
		}
		p, err := netip.ParsePrefix(r.Dst.String())
		if err == nil && p.Bits() > 16 && p.Bits() < 32 && p.Contains(ip) {
			return r
		}
	}
	t.Fatalf("no block route to %s in %v", podIP, routes)
	return netlink.Route{}
}

// poolRoutes lists a node's routes inside the pool, as comparable strings.
func poolRoutes(t *testing.T, nl *netlink.Handle) []string {
	t.Helper()
	routes, err := nl.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	pool := netip.MustParsePrefix("192.168.0.0/16")
	var out []string
	for _, r := range routes {
		if r.Dst == nil || !pool.Contains(netip.MustParseAddr(r.Dst.IP.String())) {
			continue
		}
		out = append(out, fmt.Sprintf("%s via %s dev %d proto %d type %d", r.Dst, r.Gw, r.LinkIndex, r.Protocol, r.Type))
	}
	slices.Sort(out)
	return out
}

func agentProcessOf(t *testing.T, rec *journal.Lab, node string) journal.Process {
	t.Helper()
	for _, pr := range rec.Processes {
		if pr.Name == agentProcess+node && pr.Alive() {
			return pr
		}
	}
	t.Fatalf("no running agent of %s in %+v", node, rec.Processes)
	return journal.Process{}
}

// BenchmarkDeployCalicoOverlayWithCNI is the whole lab (issue 5 target ≤ 3 s): underlay,
// datastore, four agents converged, one test pod per node through the CNI plugin.
//
//	go test -run '^$' -bench WithCNI -benchtime 5x ./internal/provider/netnslab/
func BenchmarkDeployCalicoOverlayWithCNI(b *testing.B) {
	testenv.RequireLab(b)
	benchDeploy(b, newTestProvider(b), uniqueLab(b, "calico-overlay"))
}
