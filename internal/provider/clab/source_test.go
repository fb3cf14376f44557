package clab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/docker/docker/api/types/container"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/knetlab/knetlab/internal/collect/kube"
	"github.com/knetlab/knetlab/internal/collect/nodeexec"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// recordedNodes answers every node's commands with the recordings of nodeexec's k01-worker,
// and its sandbox commands with the recorded pod namespace; other pods have none.
func recordedNodes(t *testing.T) nodeexec.Execer {
	dir := filepath.Join("..", "..", "collect", "nodeexec", "testdata", "k01-worker")
	files := map[string]string{
		strings.Join(nodeexec.RouteCmd, " "):       "ip-route.json",
		strings.Join(nodeexec.LinkCmd, " "):        "ip-link.json",
		strings.Join(nodeexec.AddrCmd, " "):        "ip-addr.json",
		strings.Join(nodeexec.NeighCmd, " "):       "ip-neigh.json",
		strings.Join(nodeexec.FDBCmd, " "):         "bridge-fdb.json",
		strings.Join(nodeexec.SysctlCmd, " "):      "sysctl.txt",
		strings.Join(nodeexec.NetnsListCmd, " "):   "ip-netns-list.json",
		"ip -n cni-e6rec-5b1f0d2c -j -d addr show": "pod-ip-addr.json",
		"ip -n cni-e6rec-5b1f0d2c -j route show":   "pod-ip-route.json",
		"ip -n cni-e6rec-hostnet -j -d addr show":  "ip-addr.json",
	}
	return nodeexec.ExecFunc(func(_ context.Context, node string, argv []string) ([]byte, error) {
		if node == "pod-network-worker2" {
			return nil, errors.New("Error response from daemon: container pod-network-worker2 is not running")
		}
		cmd := strings.Join(argv, " ")
		if f, ok := files[cmd]; ok {
			return os.ReadFile(filepath.Join(dir, f))
		}
		if strings.HasPrefix(cmd, "sh -c ip netns exec cni-e6rec-5b1f0d2c ping") {
			return os.ReadFile(filepath.Join("..", "..", "..", "verify", "parse", "testdata", "pod", "ping-ok.txt"))
		}
		// PingThrough's script: ping's output, then the probe table's counters.
		if strings.HasPrefix(cmd, "sh -c set -e") && strings.Contains(cmd, "ip netns exec cni-e6rec-5b1f0d2c ping") {
			ping, err := os.ReadFile(filepath.Join("..", "..", "..", "verify", "parse", "testdata", "pod", "ping-ok.txt"))
			return append(ping, "knetlab-probe: counters\n"+
				"table ip knetlab-probe-1-1 {\n\tchain forward {\n"+
				"\t\tip saddr 192.168.162.130 ip daddr 192.168.162.130 icmp type echo-request counter packets 0 bytes 0 comment \"forwarded\"\n"+
				"\t\tip saddr 192.168.162.130 ip daddr 192.168.162.130 icmp type echo-request oifname \"vxlan.calico\" counter packets 0 bytes 0 comment \"through\"\n"+
				"\t}\n}\n"...), err
		}
		return nil, fmt.Errorf("unexpected command %q", cmd)
	})
}

// countingExecer counts the commands that reach the nodes.
type countingExecer struct {
	next  nodeexec.Execer
	calls atomic.Int32
}

func (c *countingExecer) Exec(ctx context.Context, node string, argv []string) ([]byte, error) {
	c.calls.Add(1)
	return c.next.Exec(ctx, node, argv)
}

func newTestSource(t *testing.T) *liveSource {
	l := mustLab(t, "pod-network")
	readyNode := func(name string, ready corev1.ConditionStatus) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
	}
	core := fake.NewSimpleClientset(
		readyNode("pod-network-control-plane", corev1.ConditionTrue),
		readyNode("pod-network-worker", corev1.ConditionTrue),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "multitool"},
			Spec:   corev1.PodSpec{NodeName: "pod-network-worker"},
			Status: corev1.PodStatus{PodIP: "192.168.162.130", PodIPs: []corev1.PodIP{{IP: "192.168.162.130"}}}},
	)
	pool := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": map[string]any{"name": "default-ipv4-ippool"},
		"spec": map[string]any{"cidr": "192.168.0.0/16", "blockSize": int64(26), "vxlanMode": "CrossSubnet", "natOutgoing": true},
	}}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), kube.ListKinds, pool)
	kindLabel := map[string]string{"io.x-k8s.kind.cluster": "pod-network"}
	d := &fakeDocker{containers: []container.Summary{
		{Names: []string{"/pod-network-control-plane"}, Labels: kindLabel, State: "running", Status: "Up 9 minutes"},
		{Names: []string{"/pod-network-worker"}, Labels: kindLabel, State: "running", Status: "Up 9 minutes"},
		{Names: []string{"/pod-network-worker2"}, Labels: kindLabel, State: "exited", Status: "Exited (137) 1 minute ago"},
		{Names: []string{"/other-control-plane"}, Labels: map[string]string{"io.x-k8s.kind.cluster": "other"}, State: "running"},
	}}
	return &liveSource{
		lab:    l,
		docker: d,
		kube:   &kube.Collector{Dynamic: dyn, Core: core},
		nodes:  nodeexec.New(&countingExecer{next: recordedNodes(t)}),
	}
}

func TestSourceNodeStateWithPods(t *testing.T) {
	s := newTestSource(t)
	ctx := context.Background()
	n, err := s.NodeState(ctx, "pod-network-worker")
	if err != nil {
		t.Fatal(err)
	}
	if !n.Has(observed.TableRoutes) || !n.Has(observed.TableFDB) || !n.Has(observed.TablePods) {
		t.Errorf("tables = %v", n.Tables)
	}
	if len(n.Pods) != 1 || n.Pods[0].Name != "multitool" || n.Pods[0].HostIface != "cali1b2c3d4e5f6" {
		t.Errorf("pods = %+v", n.Pods)
	}
	// A stopped node is an error naming it, never an empty node that would pass.
	if _, err := s.NodeState(ctx, "pod-network-worker2"); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("stopped node: err = %v", err)
	}
	if _, err := s.NodeState(ctx, "nope"); err == nil {
		t.Errorf("unknown node accepted")
	}
}

func TestSourceTopology(t *testing.T) {
	st, err := newTestSource(t).Topology(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]observed.NodeStatus{}
	for _, s := range st {
		got[s.Name] = s
	}
	if len(st) != 3 {
		t.Errorf("%d statuses, want the lab's 3 nodes and nothing of the other cluster: %+v", len(st), st)
	}
	if s := got["pod-network-worker"]; !s.Running || !s.Ready {
		t.Errorf("worker = %+v", s)
	}
	if s := got["pod-network-worker2"]; s.Running || s.Ready || !strings.Contains(s.Detail, "Exited (137)") ||
		!strings.Contains(s.Detail, "not registered") {
		t.Errorf("worker2 = %+v, want stopped, not ready, with both reasons", s)
	}
}

func TestSourceProbesAndSwitch(t *testing.T) {
	s := newTestSource(t)
	ctx := context.Background()
	var p source.Prober = s
	from := facts.Pod{Namespace: "default", Name: "multitool", Node: "pod-network-worker", IP: netip.MustParseAddr("192.168.162.130")}
	got, err := p.Ping(ctx, from, netip.MustParseAddr("192.168.162.130"), 3)
	if err != nil || got != 3 {
		t.Errorf("ping = %d, %v; want 3 answered", got, err)
	}
	eg, err := p.PingThrough(ctx, from, netip.MustParseAddr("192.168.162.130"), 3, "vxlan.calico")
	if err != nil || eg != (source.Egress{Answered: 3}) {
		t.Errorf("PingThrough = %+v, %v; want 3 answered, none forwarded (the pod's own address)", eg, err)
	}
	stranger := facts.Pod{Namespace: "default", Name: "x", Node: "pod-network-worker", IP: netip.MustParseAddr("192.168.162.140")}
	if _, err := p.Ping(ctx, stranger, netip.MustParseAddr("192.168.162.130"), 3); err == nil {
		t.Errorf("ping from a pod without a namespace succeeded")
	}
	if _, err := p.PingThrough(ctx, stranger, netip.MustParseAddr("192.168.162.130"), 3, "vxlan.calico"); err == nil {
		t.Errorf("PingThrough from a pod without a namespace succeeded")
	}
	if _, err := s.Switch(ctx); !errors.Is(err, source.ErrAbsent) {
		t.Errorf("pod-network switch: err = %v, want ErrAbsent", err)
	}
}

// TestSourceReadsAllNodesOncePerRound: the first node asked for reads every node; the others
// come from that read; asking for a node again (a re-run under --wait) reads afresh.
func TestSourceReadsAllNodesOncePerRound(t *testing.T) {
	s := newTestSource(t)
	counter := s.nodes.Exec.(*countingExecer)
	ctx := context.Background()
	if _, err := s.NodeState(ctx, "pod-network-worker"); err != nil {
		t.Fatal(err)
	}
	first := counter.calls.Load()
	if _, err := s.NodeState(ctx, "pod-network-control-plane"); err != nil {
		t.Fatal(err)
	}
	if got := counter.calls.Load(); got != first {
		t.Errorf("second node of the round ran %d more commands, want 0", got-first)
	}
	if _, err := s.NodeState(ctx, "pod-network-worker"); err != nil {
		t.Fatal(err)
	}
	if got := counter.calls.Load(); got == first {
		t.Errorf("the next round served stale tables: no command ran")
	}
}

// TestSourceThroughTheVerifyEngine runs the engine on the source: a stopped kind node fails
// topology.nodes, and the node tables reach the checks that need them instead of being skipped.
func TestSourceThroughTheVerifyEngine(t *testing.T) {
	s := newTestSource(t)
	r, err := verify.Run(context.Background(), s, verify.Options{Lab: s.lab.VerifySpec(), Checks: []string{"topology.nodes", "vxlan.device", "pods.wiring"}})
	if err != nil {
		t.Fatal(err)
	}
	judged := map[string]report.Status{} // check → status of pod-network-worker
	var findings []string
	for _, c := range r.Checks {
		if c.ID == "topology.nodes" && c.Status != report.Failed {
			t.Errorf("topology.nodes = %s, want failed: pod-network-worker2 has exited", c.Status)
		}
		for _, n := range c.Nodes {
			if n.Node == "pod-network-worker" {
				judged[c.ID] = n.Status
				for _, f := range n.Findings {
					findings = append(findings, c.ID+": "+f.Entry+" "+f.Field)
				}
			}
		}
	}
	for _, id := range []string{"vxlan.device", "pods.wiring"} {
		if st, ok := judged[id]; !ok || st == report.Skipped {
			t.Errorf("%s did not judge pod-network-worker (status %q) although its tables were read", id, st)
		}
	}
	// The recorded tables are k01-worker's, not pod-network-worker's: the engine must notice,
	// e.g. the veth name Calico would derive for default/multitool.
	if !strings.Contains(strings.Join(findings, "\n"), "pods.wiring: pod default/multitool host interface") {
		t.Errorf("pods.wiring findings on pod-network-worker: %q", findings)
	}
}
