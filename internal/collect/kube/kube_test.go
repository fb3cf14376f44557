package kube

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/facts"
)

// The objects below are what Calico v3.30 with the Kubernetes datastore keeps for lab
// calico-overlay: the operator-created default pool, one confirmed affinity per node (one node
// also has a pending-deletion one), Calico's node annotations, and one test pod per node plus a
// host-network calico-node pod that must not become a pod fact.

func calicoObject(kind, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "crd.projectcalico.org/v1",
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "resourceVersion": "1"},
		"spec":       spec,
	}}
}

func affinity(node, cidr, st, deleted string) *unstructured.Unstructured {
	name := node + "-" + strings.NewReplacer(".", "-", "/", "-").Replace(cidr)
	return calicoObject("BlockAffinity", name, map[string]any{
		"node": node, "cidr": cidr, "state": st, "deleted": deleted,
	})
}

func calicoObjects() []runtime.Object {
	return []runtime.Object{
		calicoObject("IPPool", "default-ipv4-ippool", map[string]any{
			"cidr": "192.168.0.0/16", "blockSize": int64(26), "vxlanMode": "CrossSubnet",
			"ipipMode": "Never", "natOutgoing": true, "nodeSelector": "all()", "disableBGPExport": true,
		}),
		affinity("k01-control-plane", "192.168.33.0/26", "confirmed", "false"),
		affinity("k01-worker", "192.168.162.128/26", "confirmed", "false"),
		affinity("k01-worker2", "192.168.46.64/26", "confirmed", "false"),
		affinity("k01-worker3", "192.168.209.64/26", "confirmed", "false"),
		affinity("k01-worker3", "192.168.209.128/26", "pendingDeletion", "true"),
	}
}

func node(name, addr, tunnel string, ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
			"projectcalico.org/IPv4Address":         addr,
			"projectcalico.org/IPv4VXLANTunnelAddr": tunnel,
		}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: ready, Message: "container runtime network not ready: cni plugin not initialized"},
		}},
	}
}

func pod(ns, name, nodeName, ip string, hostNetwork bool) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{NodeName: nodeName, HostNetwork: hostNetwork},
		Status:     corev1.PodStatus{PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, Phase: corev1.PodRunning},
	}
}

func coreObjects() []runtime.Object {
	return []runtime.Object{
		node("k01-control-plane", "10.10.10.10/24", "192.168.33.0", corev1.ConditionTrue),
		node("k01-worker", "10.10.10.11/24", "192.168.162.128", corev1.ConditionTrue),
		node("k01-worker2", "10.10.10.12/24", "192.168.46.64", corev1.ConditionTrue),
		node("k01-worker3", "10.10.20.20/24", "192.168.209.64", corev1.ConditionFalse),
		pod("default", "net-cp", "k01-control-plane", "192.168.33.1", false),
		pod("default", "net-w1", "k01-worker", "192.168.162.130", false),
		pod("default", "net-w2", "k01-worker2", "192.168.46.65", false),
		pod("default", "net-w3", "k01-worker3", "192.168.209.65", false),
		pod("calico-system", "calico-node-x7k2p", "k01-worker", "172.18.0.3", true),
	}
}

func newCollector(decode func(map[string]any, *facts.Facts) error) *Collector {
	scheme := runtime.NewScheme()
	return &Collector{
		Dynamic: dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, ListKinds, calicoObjects()...),
		Core:    fake.NewSimpleClientset(coreObjects()...),
		Decode:  decode,
	}
}

// TestFactsHandsTheDecoderKubectlShapedObjects checks the boundary to facts.DecodeObject: every
// object arrives with apiVersion and kind set, as `kubectl get -o yaml` prints it.
func TestFactsHandsTheDecoderKubectlShapedObjects(t *testing.T) {
	var got []string
	var workerAnnotations map[string]any
	c := newCollector(func(obj map[string]any, _ *facts.Facts) error {
		u := unstructured.Unstructured{Object: obj}
		got = append(got, u.GetAPIVersion()+" "+u.GetKind()+" "+u.GetNamespace()+"/"+u.GetName())
		if u.GetKind() == "Node" && u.GetName() == "k01-worker" {
			workerAnnotations, _, _ = unstructured.NestedMap(obj, "metadata", "annotations")
		}
		return nil
	})
	if _, err := c.Facts(context.Background()); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := []string{
		"crd.projectcalico.org/v1 BlockAffinity /k01-control-plane-192-168-33-0-26",
		"crd.projectcalico.org/v1 BlockAffinity /k01-worker-192-168-162-128-26",
		"crd.projectcalico.org/v1 BlockAffinity /k01-worker2-192-168-46-64-26",
		"crd.projectcalico.org/v1 BlockAffinity /k01-worker3-192-168-209-128-26",
		"crd.projectcalico.org/v1 BlockAffinity /k01-worker3-192-168-209-64-26",
		"crd.projectcalico.org/v1 IPPool /default-ipv4-ippool",
		"v1 Node /k01-control-plane",
		"v1 Node /k01-worker",
		"v1 Node /k01-worker2",
		"v1 Node /k01-worker3",
		"v1 Pod default/net-cp",
		"v1 Pod default/net-w1",
		"v1 Pod default/net-w2",
		"v1 Pod default/net-w3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("objects decoded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if workerAnnotations["projectcalico.org/IPv4Address"] != "10.10.10.11/24" {
		t.Errorf("k01-worker annotations = %v", workerAnnotations)
	}
}

// TestFactsDecodedByTheCaptureDecoder runs the real decoder on the fake cluster: the live
// collector and a capture must give the same facts.
func TestFactsDecodedByTheCaptureDecoder(t *testing.T) {
	f, err := newCollector(nil).Facts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pools) != 1 || f.Pools[0].CIDR != netip.MustParsePrefix("192.168.0.0/16") ||
		f.Pools[0].BlockSize != 26 || f.Pools[0].VXLANMode != calico.EncapCrossSubnet || !f.Pools[0].NATOutgoing {
		t.Errorf("pools = %+v", f.Pools)
	}
	nodes := map[string]facts.Node{}
	for _, n := range f.Nodes {
		nodes[n.Name] = n
	}
	if n := nodes["k01-worker3"]; n.Address != netip.MustParsePrefix("10.10.20.20/24") ||
		n.VXLANTunnelAddr != netip.MustParseAddr("192.168.209.64") {
		t.Errorf("k01-worker3 = %+v", n)
	}
	confirmed := 0
	for _, a := range f.Affinities {
		if a.State == "confirmed" && !a.Deleted {
			confirmed++
		}
	}
	if confirmed != 4 {
		t.Errorf("%d confirmed live affinities, want 4: %+v", confirmed, f.Affinities)
	}
	if len(f.Pods) != 4 {
		t.Errorf("pods = %+v, want the 4 test pods and no host-network pod", f.Pods)
	}
}

func TestNodeStatusesReadTheReadyCondition(t *testing.T) {
	st, err := newCollector(nil).NodeStatuses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ready := map[string]bool{}
	for _, s := range st {
		ready[s.Name] = s.Ready
		if s.Name == "k01-worker3" && !strings.Contains(s.Detail, "cni plugin not initialized") {
			t.Errorf("k01-worker3 detail %q does not say why it is not ready", s.Detail)
		}
	}
	want := map[string]bool{"k01-control-plane": true, "k01-worker": true, "k01-worker2": true, "k01-worker3": false}
	for n, w := range want {
		if r, ok := ready[n]; !ok || r != w {
			t.Errorf("%s ready = %v (present %v), want %v", n, r, ok, w)
		}
	}
}

func TestFactsOfAnEmptyCluster(t *testing.T) {
	c := &Collector{
		// No objects at all: the collector must return empty facts, not an error, so that the
		// checks report "no pools" themselves.
		Dynamic: dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), ListKinds),
		Core:    fake.NewSimpleClientset(),
	}
	f, err := c.Facts(context.Background())
	if err != nil {
		t.Fatalf("empty cluster: %v", err)
	}
	if len(f.Pools) != 0 || len(f.Affinities) != 0 {
		t.Errorf("facts from an empty cluster = %+v", f)
	}
}
