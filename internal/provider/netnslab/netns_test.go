package netnslab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/verify/observed"
)

// Both labs side by side (they share addresses, each in its own namespaces): every node reaches
// every other node's underlay address, the switch reads as the lab says, and destroy leaves
// the host as it was.
func TestDeployBothLabsSideBySide(t *testing.T) {
	testenv.RequireLab(t, "ping")
	before := snapshot(t)
	p := newTestProvider(t)
	overlay, podnet := uniqueLab(t, "calico-overlay"), uniqueLab(t, "pod-network")
	out := deployed(t, p, overlay)
	deployed(t, p, podnet)
	assertRootClean(t)

	if !strings.Contains(out.String(), "switch VLANs: "+BridgePerVLAN) && !strings.Contains(out.String(), "switch VLANs: "+VLANAware) {
		t.Errorf("deploy does not say how the switch realises VLANs:\n%s", out)
	}

	for _, l := range []*lab.Lab{overlay, podnet} {
		for _, from := range l.Nodes {
			for _, to := range l.Nodes {
				if from.Name == to.Name {
					continue
				}
				if err := ping(p, l.Name, from.Name, to.IP()); err != nil {
					t.Errorf("%s: %v", l.Name, err)
				}
			}
		}
	}

	src, err := p.Source(context.Background(), overlay)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := src.Topology(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(topo) != len(overlay.Nodes)+2 {
		t.Errorf("topology lists %d members, want %d nodes + switch + network", len(topo), len(overlay.Nodes))
	}
	for _, st := range topo {
		if !st.Running || !st.Ready {
			t.Errorf("%s %s: running=%v ready=%v (%s)", st.Kind, st.Name, st.Running, st.Ready, st.Detail)
		}
	}
	// The lab's CNI is deployed with it, so its datastore has every node.
	if f, err := src.Facts(context.Background()); err != nil || len(f.Nodes) != len(overlay.Nodes) {
		t.Errorf("Facts: %+v, %v; want the lab's %d nodes from its datastore", f, err, len(overlay.Nodes))
	}
	sw, err := src.Switch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	assertSwitchMatchesLab(t, sw, overlay)

	node, err := src.NodeState(context.Background(), "k01-worker")
	if err != nil {
		t.Fatal(err)
	}
	eth1, ok := node.Link("eth1")
	if !ok || len(eth1.Addrs) != 1 || eth1.Addrs[0] != netip.MustParsePrefix("10.10.10.11/24") || eth1.OperState != "UP" || eth1.Kind != "veth" {
		t.Errorf("k01-worker eth1 = %+v, want an up veth with 10.10.10.11/24", eth1)
	}
	if !hasRoute(node.Routes, "10.10.20.0/24", "10.10.10.1", "eth1") {
		t.Errorf("k01-worker lacks 10.10.20.0/24 via 10.10.10.1 dev eth1: %+v", node.Routes)
	}
	if node.Sysctls == nil || !node.Has(observed.TableSysctls) || !node.Has(observed.TableRoutes) {
		t.Errorf("k01-worker tables not marked collected: %v", node.Tables)
	}

	for _, l := range []*lab.Lab{overlay, podnet} {
		if err := p.Destroy(context.Background(), l.Name, provider.DestroyOptions{Lab: l}); err != nil {
			t.Fatal(err)
		}
	}
	if leaks := before.leaks(snapshot(t)); len(leaks) > 0 {
		t.Errorf("destroy left: %v", leaks)
	}
	if st, err := p.Status(context.Background(), ""); err != nil || len(st) != 0 {
		t.Errorf("status after destroy = %+v, %v; want no labs", st, err)
	}
}

func hasRoute(routes []observed.Route, dst, via, dev string) bool {
	for _, r := range routes {
		if r.Dst.String() == dst && r.Gateway.String() == via && r.Dev == dev {
			return true
		}
	}
	return false
}

func assertSwitchMatchesLab(t *testing.T, sw *observed.Switch, l *lab.Lab) {
	t.Helper()
	ports := map[string]observed.SwitchPort{}
	for _, p := range sw.Ports {
		ports[p.Name] = p
	}
	if len(sw.Ports) != len(l.Nodes) {
		t.Errorf("switch has %d ports, want %d", len(sw.Ports), len(l.Nodes))
	}
	for _, n := range l.Nodes {
		p, ok := ports[n.SwitchPort]
		switch {
		case !ok:
			t.Errorf("switch port %s missing", n.SwitchPort)
		case !p.Up || p.Status != "connected" || p.Mode != "access":
			t.Errorf("port %s: up=%v status=%q mode=%q", p.Name, p.Up, p.Status, p.Mode)
		case p.VLAN != n.VLAN:
			t.Errorf("port %s in VLAN %d, want %d", p.Name, p.VLAN, n.VLAN)
		case p.Description != "Connection to "+n.Name:
			t.Errorf("port %s description %q", p.Name, p.Description)
		}
	}
	if len(sw.SVIs) != len(l.Switch.VLANs) || len(sw.VLANs) != len(l.Switch.VLANs) {
		t.Fatalf("switch SVIs %+v VLANs %+v, want %d each", sw.SVIs, sw.VLANs, len(l.Switch.VLANs))
	}
	for i, v := range l.Switch.VLANs {
		svi := sw.SVIs[i]
		if svi.Name != v.SVI() || svi.VLAN != v.ID || !svi.Up || svi.Address != v.GatewayPrefix() {
			t.Errorf("SVI %+v, want %s up with %s", svi, v.SVI(), v.GatewayPrefix())
		}
		if sw.VLANs[i].Name != v.Name {
			t.Errorf("VLAN %d named %q, want %q", v.ID, sw.VLANs[i].Name, v.Name)
		}
		found := false
		for _, r := range sw.Routes {
			if r.Dst == v.Subnet && r.Iface == v.SVI() && r.Type == "connected" {
				found = true
			}
		}
		if !found {
			t.Errorf("no connected route for %s on %s: %+v", v.Subnet, v.SVI(), sw.Routes)
		}
	}
}

// A second deploy changes nothing and says so; a deploy after damage repairs exactly the damage.
func TestRedeployRepairsOnlyWhatIsMissing(t *testing.T) {
	testenv.RequireLab(t, "ping")
	p := newTestProvider(t)
	l := uniqueLab(t, "calico-overlay")
	deployed(t, p, l)

	again := &recorder{}
	if err := p.Deploy(context.Background(), l, provider.DeployOptions{Progress: again}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(again.String(), "nothing to change") {
		t.Errorf("second deploy did not say nothing changed:\n%s", again)
	}

	// Damage: pull a switch cable, drop a route, take a loopback down.
	sw := nlHandle(t, NamespaceName(l.Name, "ceos01"))
	eth4, err := sw.LinkByName("eth4")
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.LinkDel(eth4); err != nil {
		t.Fatal(err)
	}
	w1 := nlHandle(t, NamespaceName(l.Name, "k01-worker"))
	lo, _ := w1.LinkByName("lo")
	if err := w1.LinkSetDown(lo); err != nil {
		t.Fatal(err)
	}
	if err := ping(p, l.Name, "k01-worker", netip.MustParseAddr("10.10.20.20")); err == nil {
		t.Fatal("ping across VLANs worked with eth4 pulled; the damage did not happen")
	}

	repair := &recorder{}
	if err := p.Deploy(context.Background(), l, provider.DeployOptions{Progress: repair}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cabled eth1 to " + NamespaceName(l.Name, "ceos01") + " eth4", "set lo up", "added route 10.10.10.0/24 via 10.10.20.1"} {
		if !strings.Contains(repair.String(), want) {
			t.Errorf("repair does not report %q:\n%s", want, repair)
		}
	}
	if err := ping(p, l.Name, "k01-worker", netip.MustParseAddr("10.10.20.20")); err != nil {
		t.Errorf("after repair: %v", err)
	}

	// --reconfigure rebuilds from scratch: a fresh deploy, not a repair.
	rebuild := &recorder{}
	if err := p.Deploy(context.Background(), l, provider.DeployOptions{Progress: rebuild, Reconfigure: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rebuild.String(), "destroyed") || !strings.Contains(rebuild.String(), "deployed in") {
		t.Errorf("--reconfigure did not destroy and deploy:\n%s", rebuild)
	}
}

func nlHandle(t *testing.T, ns string) *netlink.Handle {
	t.Helper()
	h, err := openNamespace(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nl.Close)
	return nl
}

// A deploy SIGKILLed half way is removed by destroy: from its journal alone, or, with the
// journal gone, from the lab definition's namespace names.
func TestKilledDeployIsCleanedUp(t *testing.T) {
	testenv.RequireLab(t)
	for _, tc := range []struct {
		name       string
		killAfter  int
		keepRecord bool
	}{
		{"after the first namespace", 1, true},
		{"after all namespaces", 6, true},
		{"after the first bridge", 7, true},
		{"after some cables", 12, true},
		{"record lost, by definition", 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t)
			root := t.TempDir()
			p := New(WithStateRoot(root))
			l := uniqueLab(t, "calico-overlay")
			t.Cleanup(func() { removeTestNamespaces(l.Name) })

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(),
				"KNETLAB_TEST_HELPER=deploy", "KNETLAB_TEST_CATALOGUE_LAB=calico-overlay",
				"KNETLAB_TEST_LAB_NAME="+l.Name, "KNETLAB_STATE_DIR="+root,
				"KNETLAB_TEST_KILL_AFTER="+strconv.Itoa(tc.killAfter))
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("helper deploy was not SIGKILLed: %v\n%s", err, out)
			}
			st, err := p.Status(context.Background(), l.Name)
			if err != nil || len(st) != 1 || st[0].State != "incomplete" {
				t.Errorf("status of the killed lab = %+v, %v; want incomplete", st, err)
			}
			if left := snapshot(t); len(before.leaks(left)) == 0 {
				t.Fatalf("the killed deploy left nothing; kill point %d is not half way", tc.killAfter)
			}

			opts := provider.DestroyOptions{}
			if !tc.keepRecord {
				if err := os.RemoveAll(journal.Dir(root, l.Name)); err != nil {
					t.Fatal(err)
				}
				opts.Lab = l
			}
			if err := p.Destroy(context.Background(), l.Name, opts); err != nil {
				t.Fatal(err)
			}
			if leaks := before.leaks(snapshot(t)); len(leaks) > 0 {
				t.Errorf("destroy left: %v", leaks)
			}
			// A deploy on top of a half-built lab also finishes it.
		})
	}
}

// A deploy killed half way can also be finished by deploying again.
func TestDeployFinishesAKilledDeploy(t *testing.T) {
	testenv.RequireLab(t, "ping")
	root := t.TempDir()
	p := New(WithStateRoot(root))
	l := uniqueLab(t, "calico-overlay")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KNETLAB_TEST_HELPER=deploy", "KNETLAB_TEST_CATALOGUE_LAB=calico-overlay",
		"KNETLAB_TEST_LAB_NAME="+l.Name, "KNETLAB_STATE_DIR="+root, "KNETLAB_TEST_KILL_AFTER=9")
	_ = cmd.Run()
	deployed(t, p, l)
	if err := ping(p, l.Name, "k01-control-plane", netip.MustParseAddr("10.10.20.20")); err != nil {
		t.Error(err)
	}
}

func TestDestroyWithNothingToRemoveSucceeds(t *testing.T) {
	testenv.RequireRoot(t)
	p := newTestProvider(t)
	l := uniqueLab(t, "calico-overlay")
	for _, opts := range []provider.DestroyOptions{{}, {Lab: l}} {
		rec := &recorder{}
		opts.Progress = rec
		if err := p.Destroy(context.Background(), l.Name, opts); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rec.String(), "nothing to remove") {
			t.Errorf("destroy of an absent lab does not say so:\n%s", rec)
		}
	}
}

// destroy --all removes every recorded lab and leaves a namespace knetlab did not record, even
// one whose name looks like knetlab's.
func TestDestroyAllRemovesOnlyKnetlabLabs(t *testing.T) {
	testenv.RequireLab(t)
	p := newTestProvider(t)
	foreign := NamespaceName(testPrefix+"foreign", "x")
	h, err := createNamespace(foreign)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	t.Cleanup(func() { _ = deleteNamespace(foreign) })

	labs := []*lab.Lab{uniqueLab(t, "calico-overlay"), uniqueLab(t, "pod-network")}
	for _, l := range labs {
		deployed(t, p, l)
	}
	if err := p.Destroy(context.Background(), "", provider.DestroyOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	for _, l := range labs {
		for _, n := range l.Nodes {
			if ns := NamespaceName(l.Name, n.Name); inspectNamespace(ns) != nsAbsent {
				t.Errorf("%s survived destroy --all", ns)
			}
		}
	}
	if inspectNamespace(foreign) != nsPresent {
		t.Errorf("destroy --all removed %s, which knetlab did not create", foreign)
	}
}

func TestDeployDestroyCyclesLeakNothing(t *testing.T) {
	testenv.RequireLab(t)
	p := newTestProvider(t)
	l := uniqueLab(t, "calico-overlay")
	t.Cleanup(func() { removeTestNamespaces(l.Name) })
	// One cycle first, so lazily opened descriptors (netlink sockets of the runtime, /dev/null)
	// are in the baseline.
	cycle := func() {
		if err := p.Deploy(context.Background(), l, provider.DeployOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Destroy(context.Background(), l.Name, provider.DestroyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cycle()
	before := snapshot(t)
	for i := 0; i < 20; i++ {
		cycle()
	}
	if leaks := before.leaks(snapshot(t)); len(leaks) > 0 {
		t.Errorf("20 deploy/destroy cycles leaked: %v", leaks)
	}
}

func TestExecPropagatesTheExitCode(t *testing.T) {
	testenv.RequireLab(t)
	p := newTestProvider(t)
	l := uniqueLab(t, "pod-network")
	deployed(t, p, l)
	for _, tc := range []struct {
		target string
		argv   []string
		code   int
	}{
		{"pod-network-worker", []string{"true"}, 0},
		{"pod-network-worker", []string{"sh", "-c", "exit 7"}, 7},
		{"network", []string{"sh", "-c", "exit 3"}, 3},
		{"no-such-node", []string{"true"}, exitcode.Usage},
		// Like a shell: not found is 127 (issue 12; it was exit 3, "environment").
		{"pod-network-worker", []string{"/nonexistent/binary"}, 127},
	} {
		err := p.Exec(context.Background(), l.Name, tc.target, tc.argv, provider.Stdio{})
		if got := exitcode.Code(err); got != tc.code {
			t.Errorf("exec %s %v: exit code %d (%v), want %d", tc.target, tc.argv, got, err, tc.code)
		}
	}
}

// Without root, nothing is touched and the exit code is 3.
func TestNotRootIsRefusedBeforeAnything(t *testing.T) {
	orig := geteuid
	geteuid = func() int { return 1000 }
	t.Cleanup(func() { geteuid = orig })
	root := t.TempDir()
	p := New(WithStateRoot(root))
	l, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	l.Name = testPrefix + "notroot"
	calls := map[string]error{
		"deploy":  p.Deploy(context.Background(), l, provider.DeployOptions{}),
		"destroy": p.Destroy(context.Background(), l.Name, provider.DestroyOptions{}),
		"exec":    p.Exec(context.Background(), l.Name, "k01-worker", []string{"true"}, provider.Stdio{}),
	}
	_, calls["source"] = p.Source(context.Background(), l)
	for what, err := range calls {
		if exitcode.Code(err) != exitcode.Environment || !strings.Contains(err.Error(), "root") {
			t.Errorf("%s as non-root: %v (exit %d), want exit 3 naming root", what, err, exitcode.Code(err))
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("non-root run wrote lab state: %v", entries)
	}
	if inspectNamespace(NamespaceName(l.Name, "ceos01")) != nsAbsent {
		t.Error("non-root run created a namespace")
	}
	// dry-run needs no root.
	if _, err := p.PlanDeploy(context.Background(), l, provider.DeployOptions{}); err != nil {
		t.Errorf("dry-run as non-root: %v", err)
	}
	if _, err := p.PlanDestroy(context.Background(), l.Name, provider.DestroyOptions{Lab: l}); err != nil {
		t.Errorf("destroy dry-run as non-root: %v", err)
	}
}

func TestStatusReportsMissingNamespaces(t *testing.T) {
	testenv.RequireLab(t)
	p := newTestProvider(t)
	l := uniqueLab(t, "calico-overlay")
	deployed(t, p, l)
	st, err := p.Status(context.Background(), l.Name)
	if err != nil || len(st) != 1 || st[0].State != "running" {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if !strings.Contains(st[0].Detail, "switch VLANs:") {
		t.Errorf("status detail %q does not name the VLAN mode", st[0].Detail)
	}
	if err := deleteNamespace(NamespaceName(l.Name, "k01-worker2")); err != nil {
		t.Fatal(err)
	}
	st, _ = p.Status(context.Background(), l.Name)
	if st[0].State != "degraded" {
		t.Errorf("status with a namespace gone = %q, want degraded", st[0].State)
	}
	for _, n := range st[0].Nodes {
		if want := map[bool]string{true: "missing", false: "running"}[n.Name == "k01-worker2"]; n.State != want {
			t.Errorf("%s is %s, want %s", n.Name, n.State, want)
		}
	}
}

// Destroy stops the lab's processes: the journaled ones (SIGTERM first, SIGKILL for one that
// ignores it) and one that runs inside a lab namespace without a record.
func TestDestroyStopsLabProcesses(t *testing.T) {
	testenv.RequireLab(t)
	p := newTestProvider(t)
	l := uniqueLab(t, "pod-network")
	deployed(t, p, l)
	nodeNS := NamespaceName(l.Name, "pod-network-worker")

	// The lab's own daemons (datastore, agents) run already; the test adds to them.
	st, _ := p.Status(context.Background(), l.Name)
	daemons := countKind(st[0].Nodes, "process", "running")
	agent := exec.Command("sleep", "60")
	stubborn := exec.Command("sh", "-c", `trap "" TERM; echo ready; while :; do sleep 0.1; done`)
	stray := exec.Command("sleep", "61")
	ready, err := stubborn.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	store, err := journal.Open(context.Background(), p.root, l.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := StartProcess(store, nodeNS, "agent", agent); err != nil {
		t.Fatal(err)
	}
	if err := stubborn.Start(); err != nil {
		t.Fatal(err)
	}
	if err := store.AddProcess("stubborn", stubborn.Process.Pid, ""); err != nil {
		t.Fatal(err)
	}
	store.Close()
	h, err := openNamespace(nodeNS)
	if err != nil {
		t.Fatal(err)
	}
	err = kernel.Do(h, stray.Start)
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	procs := map[string]*exec.Cmd{"agent": agent, "stubborn": stubborn, "stray": stray}
	for _, cmd := range procs {
		t.Cleanup(func() { _ = cmd.Process.Kill() })
	}

	ino, _ := namespaceInode(nodeNS)
	if link, _ := os.Readlink("/proc/" + strconv.Itoa(agent.Process.Pid) + "/ns/net"); link != "net:["+strconv.FormatUint(ino, 10)+"]" {
		t.Errorf("StartProcess ran the agent in %s, want %s's net:[%d]", link, nodeNS, ino)
	}
	st, _ = p.Status(context.Background(), l.Name)
	if n := countKind(st[0].Nodes, "process", "running"); n != daemons+2 {
		t.Errorf("status shows %d running processes, want the lab's %d and the 2 recorded: %+v", n, daemons, st[0].Nodes)
	}

	// SIGTERM must not arrive before the shell has set its trap.
	if _, err := bufio.NewReader(ready).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	exited := map[string]chan error{}
	for name, cmd := range procs {
		exited[name] = make(chan error, 1)
		go func() { exited[name] <- cmd.Wait() }()
	}
	rec := &recorder{}
	if err := p.Destroy(context.Background(), l.Name, provider.DestroyOptions{Progress: rec}); err != nil {
		t.Fatal(err)
	}
	for name, sig := range map[string]syscall.Signal{"agent": syscall.SIGTERM, "stubborn": syscall.SIGKILL, "stray": syscall.SIGTERM} {
		err := <-exited[name]
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != sig {
			t.Errorf("%s process ended with %v, want %v", name, err, sig)
		}
	}
	if !strings.Contains(rec.String(), fmt.Sprintf("%d processes stopped", daemons+3)) {
		t.Errorf("destroy does not report the stopped processes:\n%s", rec)
	}
}

func countKind(nodes []provider.NodeStatus, kind, state string) int {
	n := 0
	for _, x := range nodes {
		if x.Kind == kind && x.State == state {
			n++
		}
	}
	return n
}
