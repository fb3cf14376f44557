package clab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
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
	"github.com/knetlab/knetlab/internal/collect/nodeexec/kindnode"
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
		// PingThrough's node side: the probe table is added, then listed and removed.
		if strings.HasPrefix(cmd, "sh -c command -v nft") && strings.Contains(cmd, "nft -f -") {
			return nil, nil
		}
		if strings.HasPrefix(cmd, "sh -c trap 'nft delete table ip knetlab-probe-") {
			return []byte("table ip knetlab-probe-1-1 {\n\tchain forward {\n" +
				"\t\tip saddr 192.168.162.130 ip daddr 192.168.10.1 icmp type echo-request counter packets 3 bytes 252 comment \"forwarded\"\n" +
				"\t\tip saddr 192.168.162.130 ip daddr 192.168.10.1 icmp type echo-request oifname \"vxlan.calico\" counter packets 3 bytes 252 comment \"through\"\n" +
				"\t}\n}\n"), nil
		}
		return nil, fmt.Errorf("unexpected command %q", cmd)
	})
}

// recordedPods answers the probes' exec in the lab's test pods with a recorded ping, and
// records which pod pinged which address.
type recordedPods struct {
	mu    sync.Mutex
	pings []string // "namespace/pod → dst"
}

func (r *recordedPods) Exec(_ context.Context, namespace, pod, container string, argv []string) ([]byte, error) {
	cmd := strings.Join(argv, " ")
	if container != "" || !strings.HasPrefix(cmd, "sh -c ping -n -q -c ") {
		return nil, fmt.Errorf("unexpected exec in pod %s/%s (container %q): %q", namespace, pod, container, cmd)
	}
	f := strings.Fields(cmd)
	r.mu.Lock()
	r.pings = append(r.pings, namespace+"/"+pod+" → "+f[len(f)-3])
	r.mu.Unlock()
	return os.ReadFile(filepath.Join("..", "..", "..", "verify", "parse", "testdata", "pod", "ping-ok.txt"))
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

func newTestSource(t *testing.T, more ...runtime.Object) *liveSource {
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
	for _, o := range more {
		if err := core.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
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
		// The kind node image's commands only: a collector calling one it lacks fails here.
		nodes: nodeexec.New(&countingExecer{next: kindnode.Node{Next: recordedNodes(t)}}),
		pods:  &recordedPods{},
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
	netCP := netip.MustParseAddr("192.168.10.1")
	got, err := p.Ping(ctx, from, netCP, 3)
	if err != nil || got != 3 {
		t.Errorf("ping = %d, %v; want 3 answered", got, err)
	}
	eg, err := p.PingThrough(ctx, from, netCP, 3, "vxlan.calico")
	if err != nil || eg != (source.Egress{Answered: 3, Forwarded: 3, Through: 3}) {
		t.Errorf("PingThrough = %+v, %v; want 3 answered, 3 forwarded, 3 through vxlan.calico", eg, err)
	}
	// Both pings ran in the pod (kind's node has no ping), the counting on its node.
	if got := strings.Join(s.pods.(*recordedPods).pings, ", "); got != "default/multitool → 192.168.10.1, default/multitool → 192.168.10.1" {
		t.Errorf("pings in pods = %s", got)
	}
	// Not one of the lab's test pods: nothing is sent from it.
	stranger := facts.Pod{Namespace: "kube-system", Name: "coredns-668d6bf9bc-x2x7q", Node: "pod-network-worker", IP: netip.MustParseAddr("192.168.162.140")}
	if _, err := p.Ping(ctx, stranger, netip.MustParseAddr("192.168.162.130"), 3); err == nil || !strings.Contains(err.Error(), "not one of lab pod-network's test pods") {
		t.Errorf("ping from a pod that is not the lab's: err = %v", err)
	}
	if _, err := p.PingThrough(ctx, stranger, netip.MustParseAddr("192.168.162.130"), 3, "vxlan.calico"); err == nil {
		t.Errorf("PingThrough from a pod that is not the lab's succeeded")
	}
	if n := len(s.pods.(*recordedPods).pings); n != 2 {
		t.Errorf("%d pings in pods, want the 2 from multitool", n)
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

func podAt(namespace, name, node, ip string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
}

// TestConnectivityProbesTestPodsOnly: the cluster runs pods of its own in the pool (coredns,
// Calico's apiserver); connectivity.pods pairs the lab's declared test pods only, whose image
// has ping, and never sends traffic from or to the others.
func TestConnectivityProbesTestPodsOnly(t *testing.T) {
	s := newTestSource(t,
		podAt("default", "net-cp", "pod-network-control-plane", "192.168.10.1"),
		podAt("kube-system", "coredns-668d6bf9bc-x2x7q", "pod-network-worker", "192.168.162.131"),
		podAt("calico-apiserver", "calico-apiserver-7d9f8c-abcde", "pod-network-control-plane", "192.168.10.2"),
	)
	r, err := verify.Run(context.Background(), s, verify.Options{Lab: s.lab.VerifySpec(), Checks: []string{"connectivity.pods"}})
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for _, c := range r.Checks {
		if c.Status != report.Passed {
			t.Errorf("%s = %s, want passed", c.ID, c.Status)
		}
		for _, n := range c.Nodes {
			for _, f := range n.Findings {
				entries = append(entries, f.Entry+": "+f.Found)
			}
		}
	}
	if got := strings.Join(entries, "\n"); strings.Contains(got, "coredns") || strings.Contains(got, "calico-apiserver") {
		t.Errorf("pods that are not the lab's were probed:\n%s", got)
	}
	for _, e := range entries {
		t.Errorf("finding: %s", e)
	}
	pings := s.pods.(*recordedPods).pings
	sort.Strings(pings)
	if got, want := strings.Join(pings, ", "), "default/multitool → 192.168.10.1, default/net-cp → 192.168.162.130"; got != want {
		t.Errorf("pings in pods = %s, want %s", got, want)
	}
}
