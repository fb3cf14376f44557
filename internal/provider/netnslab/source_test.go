package netnslab

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
)

// The live source of a lab with the CNI: facts from the lab's etcd (reached from inside the
// lab), pod wiring and natOutgoing per node, agents in the node's readiness.
func TestSourceReadsCNILab(t *testing.T) {
	c, _ := deployCNILab(t, "calico-overlay")
	ctx := context.Background()
	vs, err := c.p.Source(ctx, c.lab)
	if err != nil {
		t.Fatal(err)
	}
	src := vs.(*Source)
	t.Cleanup(func() { src.Close() })

	f, err := src.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Nodes) != len(c.lab.Nodes) || len(f.Pods) != len(c.lab.Pods) || len(f.Pools) != 1 {
		t.Fatalf("facts: %d nodes, %d pods, %d pools; want %d, %d, 1", len(f.Nodes), len(f.Pods), len(f.Pools), len(c.lab.Nodes), len(c.lab.Pods))
	}

	w1 := c.pod("net-w1")
	st, err := src.NodeState(ctx, "k01-worker")
	if err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []observed.Table{observed.TableRoutes, observed.TableFDB, observed.TablePods, observed.TableNAT, observed.TableSysctls} {
		if !st.Has(tbl) {
			t.Errorf("k01-worker: table %s not collected", tbl)
		}
	}
	if len(st.Pods) != 1 || st.Pods[0].Name != "net-w1" || st.Pods[0].HostIface != w1.HostIface {
		t.Fatalf("k01-worker pods: %+v, want net-w1 on %s", st.Pods, w1.HostIface)
	}
	pod := st.Pods[0]
	if want := netip.MustParsePrefix(w1.IP + "/32"); !slices.Contains(pod.Eth0.Addrs, want) || pod.Eth0.MTU != 1450 {
		t.Errorf("net-w1 eth0: %v mtu %d, want %s mtu 1450", pod.Eth0.Addrs, pod.Eth0.MTU, want)
	}
	if !slices.ContainsFunc(pod.Routes, func(r observed.Route) bool {
		return r.Dst.Bits() == 0 && r.Gateway == netip.MustParseAddr("169.254.1.1") && r.Dev == "eth0"
	}) {
		t.Errorf("net-w1 has no default via 169.254.1.1: %+v", pod.Routes)
	}
	if !slices.Contains(st.NATOutgoing, netip.MustParsePrefix("192.168.0.0/16")) {
		t.Errorf("k01-worker natOutgoing: %v, want 192.168.0.0/16", st.NATOutgoing)
	}

	// A paused agent makes its node not ready, naming the PID; resumed, the node is ready.
	agent := agentProcessOf(t, c.record(), "k01-worker2")
	readiness := func() observed.NodeStatus {
		t.Helper()
		nodes, err := src.Topology(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(nodes, func(n observed.NodeStatus) bool { return n.Name == "k01-worker2" })
		return nodes[i]
	}
	if st := readiness(); !st.Ready {
		t.Fatalf("k01-worker2 not ready on a healthy lab: %s", st.Detail)
	}
	if err := unix.Kill(agent.PID, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Kill(agent.PID, unix.SIGCONT) })
	eventually(t, "agent paused", 2*time.Second, func() error {
		if st := readiness(); st.Ready || !strings.Contains(st.Detail, "agent paused (pid ") {
			return fmt.Errorf("k01-worker2: ready %v, %q", st.Ready, st.Detail)
		}
		return nil
	})
	if err := unix.Kill(agent.PID, unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, "agent resumed", 2*time.Second, func() error {
		if st := readiness(); !st.Ready {
			return fmt.Errorf("k01-worker2 not ready: %s", st.Detail)
		}
		return nil
	})
}

// The prober pings from inside a pod and counts the burst in the node's forward path: traffic
// to the other subnet goes through vxlan.calico, traffic within the subnet does not, and
// nothing leaves for an address outside the lab. The probe's nftables table is gone after it,
// and so is one that a killed process left behind.
func TestProber(t *testing.T) {
	testenv.RequireLab(t, "nft")
	c, _ := deployCNILab(t, "calico-overlay")
	ctx := context.Background()
	vs, err := c.p.Source(ctx, c.lab)
	if err != nil {
		t.Fatal(err)
	}
	src := vs.(*Source)
	from := facts.Pod{Namespace: "default", Name: "net-w1", Node: "k01-worker"}
	const count = 5
	tests := []struct {
		name      string
		from      facts.Pod
		dst       string
		received  int
		forwarded uint64 // ^0: not asserted
		through   uint64
		err       string
	}{
		{name: "same subnet goes direct", from: from, dst: c.pod("net-w2").IP, received: count, forwarded: count},
		{name: "across subnets through vxlan.calico", from: from, dst: c.pod("net-w3").IP, received: count, forwarded: count, through: count},
		{name: "its own address is not forwarded", from: from, dst: c.pod("net-w1").IP, received: count},
		{name: "no pod holds it", from: from, dst: "192.168.255.250", forwarded: ^uint64(0)},
		{name: "outside the lab is refused", from: from, dst: "8.8.8.8", err: "not a lab address"},
		{name: "unknown pod", from: facts.Pod{Namespace: "default", Name: "nobody"}, dst: c.pod("net-w2").IP, err: "is not a pod of lab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := netip.MustParseAddr(tc.dst)
			got, err := src.Ping(ctx, tc.from, dst, count)
			eg, terr := src.PingThrough(ctx, tc.from, dst, count, dataplane.VXLANDeviceName)
			if tc.err != "" {
				for _, err := range []error{err, terr} {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("Ping %s: %v, want an error with %q", tc.dst, err, tc.err)
					}
				}
				return
			}
			if err != nil || got != tc.received {
				t.Fatalf("Ping %s: %d answered (%v), want %d", tc.dst, got, err, tc.received)
			}
			if terr != nil || eg.Answered != tc.received {
				t.Fatalf("PingThrough %s: %+v (%v), want %d answered", tc.dst, eg, terr, tc.received)
			}
			if tc.forwarded != ^uint64(0) && (eg.Forwarded != tc.forwarded || eg.Through != tc.through) {
				t.Errorf("PingThrough %s: %d forwarded, %d through vxlan.calico; want %d, %d", tc.dst, eg.Forwarded, eg.Through, tc.forwarded, tc.through)
			}
		})
	}

	// A table that a killed verify left behind is swept by the next probe on the node; the
	// probe's own is gone after it.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%s%d-1", probeTablePrefix, gone.Process.Pid)
	c.nft("k01-worker", "add", "table", "ip", stale)
	if _, err := src.PingThrough(ctx, from, netip.MustParseAddr(c.pod("net-w3").IP), 1, dataplane.VXLANDeviceName); err != nil {
		t.Fatal(err)
	}
	if tables := c.nft("k01-worker", "list", "tables"); strings.Contains(tables, probeTablePrefix) {
		t.Errorf("probe tables left in k01-worker:\n%s", tables)
	}
}

// nft runs nft in a lab node's namespace.
func (c *cniLab) nft(node string, args ...string) string {
	c.t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", NamespaceName(c.lab.Name, node), "nft"}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("nft %s in %s: %v\n%s", strings.Join(args, " "), node, err, out)
	}
	return string(out)
}
