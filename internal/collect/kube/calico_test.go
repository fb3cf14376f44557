package kube

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/knetlab/knetlab/verify/observed"
)

func calicoNodePod(name, node string, phase corev1.PodPhase, created time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: CalicoNamespace, Name: name, Labels: map[string]string{"k8s-app": "calico-node"},
			CreationTimestamp: metav1.NewTime(created)},
		Spec:   corev1.PodSpec{NodeName: node, HostNetwork: true},
		Status: corev1.PodStatus{Phase: phase},
	}
}

// TestCalicoNodePods: each node's calico-node pod by spec.nodeName; during a rolling update the
// running pod wins over the pending one, and the newer of two running ones; pods of other
// DaemonSets or namespaces are not taken.
func TestCalicoNodePods(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	deleting := calicoNodePod("calico-node-old", "k8s-guide-worker2", corev1.PodRunning, t0)
	deleting.DeletionTimestamp = &metav1.Time{Time: t0.Add(time.Hour)}
	typha := calicoNodePod("calico-typha-1", "k8s-guide-worker", corev1.PodRunning, t0.Add(time.Hour))
	typha.Labels = map[string]string{"k8s-app": "calico-typha"}
	elsewhere := calicoNodePod("calico-node-kube", "k8s-guide-worker", corev1.PodRunning, t0.Add(time.Hour))
	elsewhere.Namespace = "kube-system"
	core := fake.NewSimpleClientset(
		calicoNodePod("calico-node-cp", "k8s-guide-control-plane", corev1.PodRunning, t0),
		calicoNodePod("calico-node-w1", "k8s-guide-worker", corev1.PodRunning, t0),
		calicoNodePod("calico-node-w1-pending", "k8s-guide-worker", corev1.PodPending, t0.Add(time.Minute)),
		deleting,
		calicoNodePod("calico-node-w2", "k8s-guide-worker2", corev1.PodRunning, t0.Add(2*time.Hour)),
		calicoNodePod("calico-node-unscheduled", "", corev1.PodPending, t0),
		typha, elsewhere,
	)
	got, err := (&Collector{Core: core}).CalicoNodePods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"k8s-guide-control-plane": "calico-node-cp", "k8s-guide-worker": "calico-node-w1", "k8s-guide-worker2": "calico-node-w2"}
	if len(got) != len(want) {
		t.Errorf("pods = %v, want %v", got, want)
	}
	for node, pod := range want {
		if got[node].Name != pod || !got[node].Running() {
			t.Errorf("node %s: pod %+v, want %q running", node, got[node], pod)
		}
	}
	// A node whose only calico-node is being deleted or pending has it, not running.
	core = fake.NewSimpleClientset(deleting, calicoNodePod("calico-node-p", "k8s-guide-worker", corev1.PodPending, t0))
	got, err = (&Collector{Core: core}).CalicoNodePods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := got["k8s-guide-worker2"]; p.Name != "calico-node-old" || p.Running() {
		t.Errorf("deleting pod = %+v, want it found and not running", p)
	}
	if p := got["k8s-guide-worker"]; p.Name != "calico-node-p" || p.Running() || p.Phase != corev1.PodPending {
		t.Errorf("pending pod = %+v", p)
	}
}

// birdReply is calico-node's birdcl answer on a calico-bgp node (testdata/README.md).
func birdReply(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join("testdata", "birdcl-show-protocols.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestBirdSessions(t *testing.T) {
	rec := &recordedExec{stdout: birdReply(t)}
	got, err := BirdSessions(context.Background(), testPodExec(t, rec), "calico-node-w1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "Node_172_18_0_5" || got[0].Peer.String() != "172.18.0.5" || got[0].State != observed.BGPEstablished {
		t.Errorf("sessions = %+v, want the one Established session with 172.18.0.5", got)
	}
	// The exec went to calico-node's container in calico-system, with birdcl on Calico's socket.
	q := rec.url.Query()
	if rec.url.Path != "/api/v1/namespaces/calico-system/pods/calico-node-w1/exec" || q.Get("container") != "calico-node" ||
		strings.Join(q["command"], " ") != "birdcl -s /var/run/calico/bird.ctl show protocols" {
		t.Errorf("exec = %s container=%q command=%q", rec.url.Path, q.Get("container"), q["command"])
	}

	// BIRD not running (calico-node starting, or BIRD crashed): birdcl dies on stderr, exit 1.
	// That is an error naming it, never an empty list of sessions.
	rec = &recordedExec{stderr: "Unable to connect to server control socket (/var/run/calico/bird.ctl): No such file or directory\n", exit: 1}
	got, err = BirdSessions(context.Background(), testPodExec(t, rec), "calico-node-w1")
	if err == nil || got != nil || !strings.Contains(err.Error(), "exited 1: Unable to connect to server control socket") {
		t.Errorf("BIRD down: sessions %v, err = %v", got, err)
	}

	// Something that is not birdcl's table is refused, naming the line.
	rec = &recordedExec{stdout: "Calico process is not running.\n"}
	if _, err := BirdSessions(context.Background(), testPodExec(t, rec), "calico-node-w1"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("foreign reply: err = %v", err)
	}
}

func TestBirdRoutes(t *testing.T) {
	// BIRD 1.6.8's own answer on k8s-guide-worker (172.18.0.3), recorded on the lab's addresses.
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "verify", "parse", "testdata", "bgp", "bird-1.6.8", "node3-show-route.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordedExec{stdout: string(data)}
	got, err := BirdRoutes(context.Background(), testPodExec(t, rec), "calico-node-w1")
	if err != nil {
		t.Fatal(err)
	}
	// The two blocks learned from the reflector (and the reflector's own network, which it
	// exports too); the node's own blackhole is static1's.
	if len(got) != 3 || got[0].Prefix.String() != "10.244.236.0/24" || got[0].NextHop.String() != "172.18.0.2" ||
		got[0].From.String() != "172.18.0.5" || got[1].Prefix.String() != "10.244.190.0/24" || got[1].NextHop.String() != "172.18.0.4" {
		t.Errorf("routes = %+v, want 10.244.236.0/24 via 172.18.0.2 and 10.244.190.0/24 via 172.18.0.4, from 172.18.0.5", got)
	}
	q := rec.url.Query()
	if rec.url.Path != "/api/v1/namespaces/calico-system/pods/calico-node-w1/exec" || q.Get("container") != "calico-node" ||
		strings.Join(q["command"], " ") != "birdcl -s /var/run/calico/bird.ctl show route" {
		t.Errorf("exec = %s container=%q command=%q", rec.url.Path, q.Get("container"), q["command"])
	}
	rec = &recordedExec{stderr: "Unable to connect to server control socket (/var/run/calico/bird.ctl): No such file or directory\n", exit: 1}
	got, err = BirdRoutes(context.Background(), testPodExec(t, rec), "calico-node-w1")
	if err == nil || got != nil || !strings.Contains(err.Error(), "exited 1: Unable to connect to server control socket") {
		t.Errorf("BIRD down: routes %v, err = %v", got, err)
	}
	rec = &recordedExec{stdout: "name     proto    table    state  since       info\n"}
	if _, err := BirdRoutes(context.Background(), testPodExec(t, rec), "calico-node-w1"); err == nil ||
		!strings.Contains(err.Error(), "show route in pod calico-system/calico-node-w1: line 1") {
		t.Errorf("foreign reply: err = %v", err)
	}
}
