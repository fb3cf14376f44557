package clab

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/knetlab/knetlab/internal/collect/nodeexec"
	"github.com/knetlab/knetlab/internal/collect/nodeexec/dockertest"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
)

// TestReflectorOnTheWire: the live source reads the reflector's sessions and RIB with gobgp's
// CLI in its container, through the Engine API double.
func TestReflectorOnTheWire(t *testing.T) {
	l := mustLab(t, "calico-bgp")
	answers := map[string]string{
		"gobgp neighbor -j":   rrNeighborJSON(t, calicoBGPPeers...),
		"gobgp global rib -j": gobgpRecording(t, "rr-global-rib.json", calicoBGPPeers...),
	}
	gobgp := dockertest.Container{ID: "rr", Name: "gobgp", Image: "knetlab-gobgp:v4.8.0", State: "running", Status: "Up 1 minute",
		Labels: map[string]string{"containerlab": "calico-bgp"},
		Exec: func(argv []string, _ []byte) dockertest.Result {
			if out, ok := answers[strings.Join(argv, " ")]; ok {
				return dockertest.Result{Stdout: out}
			}
			return dockertest.Result{NotFound: true}
		}}
	ctx := context.Background()
	sourceOn := func(eng *dockertest.Engine) *liveSource {
		return &liveSource{lab: l, nodes: nodeexec.New(nodeexec.DockerExecer{Client: eng.Client(t)})}
	}

	s := sourceOn(dockertest.New(t, gobgp))
	if names := s.ReflectorNames(); strings.Join(names, ",") != "gobgp" {
		t.Errorf("ReflectorNames = %v", names)
	}
	r, err := s.Reflector(ctx, "gobgp")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Has(observed.TableBGPSessions) || !r.Has(observed.TableBGPRoutes) {
		t.Fatalf("tables %v, want sessions and RIB", r.Tables)
	}
	established := map[string]bool{}
	for _, ss := range r.Sessions {
		if ss.Established() {
			established[ss.Peer.String()] = true
		}
	}
	if len(established) != 3 || !established["172.18.0.2"] || !established["172.18.0.3"] || !established["172.18.0.4"] {
		t.Errorf("Established sessions %v, want the three nodes", established)
	}
	if len(r.RIB) != 3 {
		t.Fatalf("RIB %+v, want the three nodes' blocks", r.RIB)
	}
	for _, rt := range r.RIB {
		if !strings.HasPrefix(rt.NextHop.String(), "172.18.0.") || rt.From != rt.NextHop {
			t.Errorf("path %+v: want a node as next hop, learned from it", rt)
		}
	}

	// The reflector's container is down: nothing marked, the error says what failed.
	stopped := gobgp
	stopped.State, stopped.Status = "exited", "Exited (1) 5 seconds ago"
	r, err = sourceOn(dockertest.New(t, stopped)).Reflector(ctx, "gobgp")
	if err == nil || !strings.Contains(err.Error(), "gobgp neighbor -j") || !strings.Contains(err.Error(), "gobgp global rib -j") {
		t.Errorf("stopped reflector: err = %v, want both commands named", err)
	}
	if r == nil || r.Has(observed.TableBGPSessions) || r.Has(observed.TableBGPRoutes) {
		t.Errorf("stopped reflector: %+v, want nothing marked", r)
	}

	if _, err := s.Reflector(ctx, "rr9"); !errors.Is(err, source.ErrAbsent) {
		t.Errorf("a reflector the lab lacks: %v, want ErrAbsent", err)
	}
}

// birdShowProtocols is `birdcl -s /var/run/calico/bird.ctl show protocols` in a calico-bgp
// node's calico-node: BIRD's own protocols and one session to the reflector, in the layout of
// calico-node's BIRD v0.3.3+birdv1.6.8 (verify/parse/testdata/bgp/ddella-birdcl-show-protocols-all.txt).
const birdShowProtocols = `BIRD v0.3.3+birdv1.6.8 ready.
name     proto    table    state  since       info
static1  Static   master   up     18:12:19    
kernel1  Kernel   master   up     18:12:19    
device1  Device   master   up     18:12:19    
direct1  Direct   master   up     18:12:19    
Node_172_18_0_5 BGP      master   up     18:12:24    Established   
`

// birdPods answers birdcl in calico-node pods and everything else like recordedPods.
type birdPods struct {
	recordedPods
	calls []string // namespace/pod/container of each birdcl
}

func (b *birdPods) Exec(ctx context.Context, namespace, pod, container string, argv []string) ([]byte, error) {
	if strings.Join(argv, " ") == "birdcl -s /var/run/calico/bird.ctl show protocols" {
		b.calls = append(b.calls, namespace+"/"+pod+"/"+container)
		return []byte(birdShowProtocols), nil
	}
	return b.recordedPods.Exec(ctx, namespace, pod, container, argv)
}

func calicoNodePod(name, node string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "calico-system", Name: name, Labels: map[string]string{"k8s-app": "calico-node"}},
		Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
}

// TestSourceNodeStateReadsBIRD: in a lab with BGP each node's sessions come from BIRD in its
// own calico-node pod; a node whose BIRD cannot be read comes with an error naming why, so
// that bgp.peers fails there rather than skips.
func TestSourceNodeStateReadsBIRD(t *testing.T) {
	s := newTestSource(t,
		calicoNodePod("calico-node-a", "pod-network-control-plane", corev1.PodPending),
		calicoNodePod("calico-node-b", "pod-network-worker", corev1.PodRunning),
	)
	bgpLab := *s.lab
	bgpLab.BGP = &lab.BGP{ASNumber: 64496, NodeToNodeMesh: true}
	s.lab = &bgpLab
	pods := &birdPods{}
	s.pods = pods
	ctx := context.Background()

	n, err := s.NodeState(ctx, "pod-network-worker")
	if err != nil {
		t.Fatal(err)
	}
	if !n.Has(observed.TableBGPSessions) || n.BGPSpeaker != observed.SpeakerBIRD || len(n.BGPSessions) != 1 ||
		n.BGPSessions[0].Peer.String() != "172.18.0.5" || !n.BGPSessions[0].Established() {
		t.Errorf("sessions %+v (speaker %q, tables %v), want one Established with 172.18.0.5 from BIRD", n.BGPSessions, n.BGPSpeaker, n.Tables)
	}
	if strings.Join(pods.calls, ",") == "" || !strings.Contains(strings.Join(pods.calls, ","), "calico-system/calico-node-b/calico-node") {
		t.Errorf("birdcl ran in %v, want calico-node-b's calico-node container among them", pods.calls)
	}

	// The control plane's calico-node is Pending: its tables are read, its sessions are not,
	// and the error names the pod.
	n, err = s.NodeState(ctx, "pod-network-control-plane")
	if err == nil || !strings.Contains(err.Error(), "node pod-network-control-plane: BGP sessions: no running calico-node pod on pod-network-control-plane: calico-node-a (Pending)") {
		t.Errorf("control plane: err = %v, want the Pending calico-node named", err)
	}
	if n == nil || !n.Has(observed.TableRoutes) || n.Has(observed.TableBGPSessions) {
		t.Errorf("control plane: %+v, want its routes read and its sessions unmarked", n)
	}

	// Without BGP in the lab, no birdcl runs.
	s = newTestSource(t, calicoNodePod("calico-node-b", "pod-network-worker", corev1.PodRunning))
	pods = &birdPods{}
	s.pods = pods
	if n, err := s.NodeState(ctx, "pod-network-worker"); err != nil || n.Has(observed.TableBGPSessions) || len(pods.calls) != 0 {
		t.Errorf("a lab without BGP: err %v, tables %v, birdcl calls %v", err, n.Tables, pods.calls)
	}
}

// `knetlab status calico-bgp` lists the reflector's container as a reflector, by the node kind
// containerlab labels it with (linux), not as a switch.
func TestLabContainersNameTheReflector(t *testing.T) {
	rr := dockertest.Container{ID: "rr", Name: "gobgp", Image: "knetlab-gobgp:v4.8.0", State: "running", Status: "Up 1 minute",
		Labels:   map[string]string{"containerlab": "calico-bgp", "clab-node-name": "gobgp", "clab-node-kind": "linux"},
		Networks: map[string]string{"kind": "172.18.0.5"}}
	node := dockertest.Container{ID: "k", Name: "k8s-guide-worker", Image: "kindest/node:v1.32.2", State: "running", Status: "Up 1 minute",
		Labels: map[string]string{"io.x-k8s.kind.cluster": "k8s-guide"}, Networks: map[string]string{"kind": "172.18.0.3"}}
	eng := dockertest.New(t, rr, node)
	got, err := labNodeContainers(context.Background(), eng.Client(t), "calico-bgp", "k8s-guide")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range got {
		lines = append(lines, strings.Join([]string{c.node, c.container, c.kind, c.ip}, " "))
	}
	if want := "gobgp gobgp reflector 172.18.0.5\nk8s-guide-worker k8s-guide-worker node 172.18.0.3"; strings.Join(lines, "\n") != want {
		t.Errorf("containers:\n%s\nwant:\n%s", strings.Join(lines, "\n"), want)
	}
}
