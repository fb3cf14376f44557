package clab

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/knetlab/knetlab/internal/collect/kube"
	"github.com/knetlab/knetlab/internal/collect/nodeexec"
	"github.com/knetlab/knetlab/internal/collect/nodeexec/dockertest"
	"github.com/knetlab/knetlab/internal/collect/nodeexec/gobgpnode"
	"github.com/knetlab/knetlab/internal/collect/nodeexec/kindnode"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/capture"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// The calico-bgp lab's nodes, addresses and the block each owns (as the recorded reflector RIB
// of gobgpnode.Recorded has them).
var bgpNodes = []struct{ name, addr, block, pod string }{
	{"k8s-guide-control-plane", "172.18.0.2", "10.244.236.0/24", "calico-node-cp7zq"},
	{"k8s-guide-worker", "172.18.0.3", "10.244.175.0/24", "calico-node-w1x4d"},
	{"k8s-guide-worker2", "172.18.0.4", "10.244.190.0/24", "calico-node-w2k9m"},
}

// birdDown is birdcl's answer while BIRD is not running (calico-node starting, BIRD crashed):
// BIRD's client dies with this on stderr and exit code 1.
const birdDown = "Unable to connect to server control socket (/var/run/calico/bird.ctl): No such file or directory\n"

// calicoNodeExec is the API server's pods/exec as far as calico-node's pods answer it, behind
// the real kube.PodExec: the pod must exist in calico-system and the container must be
// calico-node; birdcl answers show protocols from bird and show route from routes (pod →
// reply; a reply "" means BIRD is down).
type calicoNodeExec struct {
	mu     sync.Mutex
	bird   map[string]string
	routes map[string]string
	execs  []string // "namespace/pod/container: command"
}

func (c *calicoNodeExec) podExec(t *testing.T) *kube.PodExec {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443"}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &kube.PodExec{REST: cs.CoreV1().RESTClient(), Config: cfg,
		NewExecutor: func(_ *rest.Config, _ string, u *url.URL) (remotecommand.Executor, error) {
			return &calicoNodeStream{c: c, u: u}, nil
		}}
}

type calicoNodeStream struct {
	c *calicoNodeExec
	u *url.URL
}

func (s *calicoNodeStream) Stream(o remotecommand.StreamOptions) error {
	return s.StreamWithContext(context.Background(), o)
}

func (s *calicoNodeStream) StreamWithContext(_ context.Context, o remotecommand.StreamOptions) error {
	// /api/v1/namespaces/<ns>/pods/<pod>/exec
	p := strings.Split(strings.Trim(s.u.Path, "/"), "/")
	ns, pod := p[3], p[5]
	q := s.u.Query()
	container, cmd := q.Get("container"), strings.Join(q["command"], " ")
	s.c.mu.Lock()
	s.c.execs = append(s.c.execs, ns+"/"+pod+"/"+container+": "+cmd)
	reply, ok := s.c.bird[pod]
	if cmd == strings.Join(kube.BirdRoutesCmd, " ") {
		reply = s.c.routes[pod]
	}
	s.c.mu.Unlock()
	switch {
	case ns != kube.CalicoNamespace || !ok:
		return errors.New(`pods "` + pod + `" not found`)
	case container != kube.CalicoNodeContainer:
		return errors.New("container " + container + " is not valid for pod " + pod)
	case q["command"][0] != "birdcl":
		return errors.New(`Internal error occurred: error executing command in container: failed to exec in container: failed to start exec: OCI runtime exec failed: exec failed: unable to start container process: exec: "` +
			q["command"][0] + `": executable file not found in $PATH: unknown`)
	case cmd != strings.Join(kube.BirdProtocolsCmd, " ") && cmd != strings.Join(kube.BirdRoutesCmd, " "):
		_, _ = o.Stderr.Write([]byte("syntax error\n"))
		return utilexec.CodeExitError{Err: errors.New("command terminated with non-zero exit code"), Code: 1}
	case reply == "":
		_, _ = o.Stderr.Write([]byte(birdDown))
		return utilexec.CodeExitError{Err: errors.New("command terminated with non-zero exit code"), Code: 1}
	}
	_, err := o.Stdout.Write([]byte(reply))
	return err
}

// birdUp is calico-node's birdcl answer on a node of the calico-bgp lab, its session with the
// reflector Established (internal/collect/kube/testdata/README.md).
func birdUp(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join("..", "..", "collect", "kube", "testdata", "birdcl-show-protocols.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// birdRoutesUp is calico-node's birdcl show route on node n of a healthy calico-bgp lab: BIRD
// 1.6.8's own answer, recorded on the lab's addresses (verify/parse/testdata/bgp/bird-1.6.8):
// every other node's block via its owner from the reflector, its own block static1's blackhole.
func birdRoutesUp(t *testing.T, n string) string {
	t.Helper()
	for _, m := range bgpNodes {
		if m.name == n {
			return birdRecorded(t, "node"+m.addr[strings.LastIndex(m.addr, ".")+1:]+"-show-route.txt")
		}
	}
	t.Fatalf("no node %s", n)
	return ""
}

// newBGPTestSource is a live source on the calico-bgp lab: its cluster's facts, every node's
// calico-node answering birdcl with birdUp, and the gobgp reflector container (through the
// Docker Engine double) answering with GoBGP's recorded output.
func newBGPTestSource(t *testing.T) (*liveSource, *calicoNodeExec, *dockertest.Engine, *gobgpnode.Reflector) {
	l := mustLab(t, "calico-bgp")
	var objs []runtime.Object
	calico := &calicoNodeExec{bird: map[string]string{}, routes: map[string]string{}}
	dyn := []runtime.Object{&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": map[string]any{"name": "default-ipv4-ippool"},
		"spec": map[string]any{"cidr": "10.244.128.0/17", "blockSize": int64(24), "vxlanMode": "Never", "ipipMode": "Never",
			"natOutgoing": true, "nodeSelector": "all()"},
	}}}
	for _, n := range bgpNodes {
		objs = append(objs,
			&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Annotations: map[string]string{"projectcalico.org/IPv4Address": n.addr + "/16"}},
				Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: kube.CalicoNamespace, Name: n.pod, Labels: map[string]string{"k8s-app": "calico-node"}},
				Spec: corev1.PodSpec{NodeName: n.name, HostNetwork: true}, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: n.addr}},
		)
		calico.bird[n.pod] = birdUp(t)
		calico.routes[n.pod] = birdRoutesUp(t, n.name)
		dyn = append(dyn, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "crd.projectcalico.org/v1", "kind": "BlockAffinity",
			"metadata": map[string]any{"name": n.name + "-" + strings.NewReplacer(".", "-", "/", "-").Replace(n.block)},
			"spec":     map[string]any{"node": n.name, "cidr": n.block, "state": "confirmed", "deleted": "false"},
		}})
	}
	rr := gobgpnode.Recorded(t, "172.18.0.5", [3]string{"172.18.0.2", "172.18.0.3", "172.18.0.4"})
	eng := dockertest.New(t, gobgpnode.Container("gobgp", rr))
	for _, n := range bgpNodes {
		eng.Containers = append(eng.Containers, dockertest.Container{ID: "k-" + n.name, Name: n.name, Image: "kindest/node:v1.32.2",
			State: "running", Status: "Up 5 minutes", Labels: map[string]string{"io.x-k8s.kind.cluster": "k8s-guide"}})
	}
	cli := eng.Client(t)
	return &liveSource{
		lab:        l,
		docker:     cli,
		kube:       &kube.Collector{Dynamic: dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), kube.ListKinds, dyn...), Core: fake.NewSimpleClientset(objs...)},
		nodes:      nodeexec.New(kindnode.Node{Next: recordedNodes(t)}),
		pods:       calico.podExec(t),
		reflectors: nodeexec.New(nodeexec.DockerExecer{Client: cli}),
	}, calico, eng, rr
}

// bgpVerdicts runs bgp.peers and bgp.rib on src and returns "check speaker: status" lines and
// every finding.
func bgpVerdicts(t *testing.T, src source.Source, s *liveSource) (map[string]report.Status, string) {
	t.Helper()
	r, err := verify.Run(context.Background(), src, verify.Options{Lab: s.lab.VerifySpec(), Checks: []string{"bgp.peers", "bgp.rib"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]report.Status{}
	var findings []string
	for _, c := range r.Checks {
		for _, n := range c.Nodes {
			got[c.ID+" "+n.Node] = n.Status
			if n.Reason != "" {
				findings = append(findings, c.ID+" "+n.Node+": "+n.Reason)
			}
			for _, f := range n.Findings {
				findings = append(findings, c.ID+" "+n.Node+": "+f.Entry+" "+f.Field+" found "+f.Found)
			}
		}
	}
	return got, strings.Join(findings, "\n")
}

// TestSourceReadsBGP: on the calico-bgp lab every node's sessions come from its calico-node's
// BIRD, the reflector's from gobgp in its container, and bgp.peers passes on all four speakers;
// bgp.rib judges the reflector's RIB and each node's routes BIRD learned.
func TestSourceReadsBGP(t *testing.T) {
	s, calico, _, _ := newBGPTestSource(t)
	n, err := s.NodeState(context.Background(), "k8s-guide-worker")
	if n == nil {
		t.Fatal(err)
	}
	if err != nil && strings.Contains(err.Error(), "bgp") {
		t.Errorf("BGP read failed: %v", err)
	}
	if !n.Has(observed.TableBGPSessions) || n.BGPSpeaker != observed.SpeakerBIRD || len(n.BGPSessions) != 1 ||
		n.BGPSessions[0].Peer.String() != "172.18.0.5" || !n.BGPSessions[0].Established() {
		t.Errorf("node = speaker %q, sessions %+v, tables %v", n.BGPSpeaker, n.BGPSessions, n.Tables)
	}
	// The other two blocks, and the reflector's network, which BIRD's reflector exports too and
	// bgp.rib ignores (outside every pool).
	if !n.Has(observed.TableBGPRoutes) || len(n.BGPRoutes) != 3 || n.BGPRoutes[0].Prefix.String() != "10.244.236.0/24" ||
		n.BGPRoutes[0].NextHop.String() != "172.18.0.2" || n.BGPRoutes[0].From.String() != "172.18.0.5" {
		t.Errorf("learned routes = %+v, tables %v; want the two other blocks via their owners from the reflector", n.BGPRoutes, n.Tables)
	}
	// Each birdcl once per node, each in its own node's calico-node.
	calico.mu.Lock()
	execs := strings.Join(calico.execs, "\n")
	calico.mu.Unlock()
	for _, bn := range bgpNodes {
		for _, cmd := range []string{"show protocols", "show route"} {
			want := "calico-system/" + bn.pod + "/calico-node: birdcl -s /var/run/calico/bird.ctl " + cmd
			if strings.Count(execs+"\n", want+"\n") != 1 {
				t.Errorf("execs:\n%s\nwant once: %s", execs, want)
			}
		}
	}
	if got := s.ReflectorNames(); len(got) != 1 || got[0] != "gobgp" {
		t.Errorf("reflectors = %v", got)
	}
	if _, err := s.Reflector(context.Background(), "rr2"); !errors.Is(err, source.ErrAbsent) {
		t.Errorf("a reflector the lab does not have: err = %v, want ErrAbsent", err)
	}

	got, findings := bgpVerdicts(t, s, s)
	for _, k := range []string{"bgp.peers k8s-guide-control-plane", "bgp.peers k8s-guide-worker", "bgp.peers k8s-guide-worker2", "bgp.peers gobgp",
		"bgp.rib gobgp", "bgp.rib k8s-guide-control-plane", "bgp.rib k8s-guide-worker", "bgp.rib k8s-guide-worker2"} {
		if got[k] != report.Passed {
			t.Errorf("%s = %q, want passed\n%s", k, got[k], findings)
		}
	}
}

// TestSourceBIRDRoutesJudged: a node whose BIRD lacks a block (the reflector withdrew it, an
// import filter dropped it) or holds it via the wrong next hop fails bgp.rib on that node alone;
// BIRD's show route failing is a failure naming birdcl's answer.
func TestSourceBIRDRoutesJudged(t *testing.T) {
	s, calico, _, _ := newBGPTestSource(t)
	calico.routes["calico-node-w1x4d"] = strings.Replace(birdRoutesUp(t, "k8s-guide-worker"),
		"10.244.236.0/24    via 172.18.0.2", "10.244.236.0/24    via 172.18.0.4", 1)
	calico.routes["calico-node-w2k9m"] = birdRecorded(t, "node3-rr-down-show-route.txt") // nothing learned (recorded on k8s-guide-worker)
	got, findings := bgpVerdicts(t, s, s)
	for k, want := range map[string]report.Status{
		"bgp.rib k8s-guide-worker": report.Failed, "bgp.rib k8s-guide-worker2": report.Failed,
		"bgp.rib k8s-guide-control-plane": report.Passed, "bgp.rib gobgp": report.Passed,
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q\n%s", k, got[k], want, findings)
		}
	}
	for _, want := range []string{
		"bgp.rib k8s-guide-worker: 10.244.236.0/24 next hop found 172.18.0.4",
		"bgp.rib k8s-guide-worker2: 10.244.236.0/24  found",
		"bgp.rib k8s-guide-worker2: 10.244.175.0/24  found",
	} {
		if !strings.Contains(findings, want) {
			t.Errorf("findings do not say %q:\n%s", want, findings)
		}
	}

	calico.routes["calico-node-w1x4d"] = ""
	got, findings = bgpVerdicts(t, s, s)
	if got["bgp.rib k8s-guide-worker"] != report.Failed || got["bgp.peers k8s-guide-worker"] != report.Passed ||
		!strings.Contains(findings, "bgp-routes: birdcl in pod calico-system/calico-node-w1x4d exited 1: Unable to connect to server control socket") {
		t.Errorf("show route failing: bgp.rib %q, bgp.peers %q\n%s", got["bgp.rib k8s-guide-worker"], got["bgp.peers k8s-guide-worker"], findings)
	}
}

// TestSourceBGPUnreadableFails: on a live lab, BIRD not running on a node (birdcl's real
// failure) and a reflector whose gobgpd does not answer, or whose container is gone, fail the
// checks with the cause; none of them is a skip.
func TestSourceBGPUnreadableFails(t *testing.T) {
	s, calico, eng, rr := newBGPTestSource(t)
	calico.bird["calico-node-w1x4d"] = ""
	rr.Down = true
	got, findings := bgpVerdicts(t, s, s)
	for _, k := range []string{"bgp.peers k8s-guide-worker", "bgp.peers gobgp", "bgp.rib gobgp"} {
		if got[k] != report.Failed {
			t.Errorf("%s = %q, want failed\n%s", k, got[k], findings)
		}
	}
	for _, want := range []string{
		"birdcl in pod calico-system/calico-node-w1x4d exited 1: Unable to connect to server control socket",
		`gobgp in gobgp exited 1: {"error":"rpc error: code = Unavailable`,
	} {
		if !strings.Contains(findings, want) {
			t.Errorf("findings do not say %q:\n%s", want, findings)
		}
	}
	if got["bgp.peers k8s-guide-worker2"] != report.Passed {
		t.Errorf("k8s-guide-worker2 = %q, want passed: its BIRD answers\n%s", got["bgp.peers k8s-guide-worker2"], findings)
	}

	// The reflector's container is gone: the daemon's 404.
	eng.Containers = eng.Containers[1:]
	got, findings = bgpVerdicts(t, s, s)
	if got["bgp.peers gobgp"] != report.Failed || !strings.Contains(findings, "No such container: gobgp") {
		t.Errorf("no reflector container: bgp.peers gobgp = %q\n%s", got["bgp.peers gobgp"], findings)
	}

	// calico-node not Running on a node (its image still pulling, crash-looping init): named
	// with its phase, and birdcl is not even tried.
	calico.bird["calico-node-w1x4d"] = birdUp(t)
	pods := s.kube.Core.CoreV1().Pods(kube.CalicoNamespace)
	w2, err := pods.Get(context.Background(), "calico-node-w2k9m", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w2.Status.Phase = corev1.PodPending
	if _, err := pods.UpdateStatus(context.Background(), w2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	calico.execs = nil
	got, findings = bgpVerdicts(t, s, s)
	if got["bgp.peers k8s-guide-worker2"] != report.Failed || !strings.Contains(findings, "no running calico-node pod on node k8s-guide-worker2: calico-node-w2k9m (Pending)") {
		t.Errorf("pending calico-node: bgp.peers k8s-guide-worker2 = %q\n%s", got["bgp.peers k8s-guide-worker2"], findings)
	}
	if strings.Contains(strings.Join(calico.execs, "\n"), "calico-node-w2k9m") {
		t.Errorf("birdcl ran in a pending pod: %q", calico.execs)
	}

	// No calico-node on a node (a CNI other than Calico, a DaemonSet not scheduled there).
	if err := s.kube.Core.CoreV1().Pods(kube.CalicoNamespace).Delete(context.Background(), "calico-node-w2k9m", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, findings = bgpVerdicts(t, s, s)
	if got["bgp.peers k8s-guide-worker2"] != report.Failed || !strings.Contains(findings, "no calico-node pod on node k8s-guide-worker2") {
		t.Errorf("no calico-node: bgp.peers k8s-guide-worker2 = %q\n%s", got["bgp.peers k8s-guide-worker2"], findings)
	}
}

// TestSourceWithoutBGPReadsNoBIRD: a VXLAN-only lab runs no BIRD worth asking; nothing is
// exec'd in calico-node and the source names no reflector.
func TestSourceWithoutBGPReadsNoBIRD(t *testing.T) {
	s := newTestSource(t) // pod-network: its pods double refuses anything but the probes' ping
	n, err := s.NodeState(context.Background(), "pod-network-worker")
	if err != nil {
		t.Fatal(err)
	}
	if n.Has(observed.TableBGPSessions) || n.BGPSpeaker != "" {
		t.Errorf("a lab without BGP read BGP sessions: %q %v", n.BGPSpeaker, n.Tables)
	}
	if names := s.ReflectorNames(); len(names) != 0 {
		t.Errorf("reflectors = %v", names)
	}
}

// TestCaptureOfTheBGPLab: knetlab capture on a clab calico-bgp lab writes each node's BIRD
// sessions and learned routes as bird-protocols.txt and bird-routes.txt and the reflector's as rr/gobgp/gobgp-*.json, and verify
// --from judges them as the live lab was judged.
func TestCaptureOfTheBGPLab(t *testing.T) {
	s, _, _, _ := newBGPTestSource(t)
	dir := captureBGPLab(t, s)
	for _, f := range []string{
		"nodes/k8s-guide-worker/bird-protocols.txt", "nodes/k8s-guide-worker2/bird-protocols.txt",
		"nodes/k8s-guide-worker/bird-routes.txt", "nodes/k8s-guide-worker2/bird-routes.txt",
		"rr/gobgp/gobgp-neighbors.json", "rr/gobgp/gobgp-rib.json",
	} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			t.Errorf("capture lacks %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nodes", "k8s-guide-worker", capture.GoBGPNeighborsFile)); err == nil {
		t.Errorf("a BIRD node's sessions were written as GoBGP's")
	}
	cap, err := capture.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	live, liveFindings := bgpVerdicts(t, s, s)
	from, fromFindings := bgpVerdicts(t, cap, s)
	for k, st := range live {
		if from[k] != st {
			t.Errorf("%s: live %q, from the capture %q\nlive:\n%s\ncapture:\n%s", k, st, from[k], liveFindings, fromFindings)
		}
	}
}

// TestSourceReflectorWithoutClients: a reflector whose gobgpd runs but that no node reaches
// prints what GoBGP v4.8.0 prints then — no dynamic neighbour (`[]`) and an empty RIB (`{}`) —
// and that is judged, not refused: every node's session and every block is missing.
func TestSourceReflectorWithoutClients(t *testing.T) {
	s, _, _, rr := newBGPTestSource(t)
	rr.Neighbors, rr.RIB = "[]\n", "{}\n"
	got, findings := bgpVerdicts(t, s, s)
	if got["bgp.peers gobgp"] != report.Failed || got["bgp.rib gobgp"] != report.Failed {
		t.Errorf("bgp.peers gobgp = %q, bgp.rib gobgp = %q, want both failed\n%s", got["bgp.peers gobgp"], got["bgp.rib gobgp"], findings)
	}
	for _, want := range []string{"bgp.peers gobgp: session with k8s-guide-worker (172.18.0.3)", "bgp.rib gobgp: 10.244.190.0/24"} {
		if !strings.Contains(findings, want) {
			t.Errorf("findings do not say %q:\n%s", want, findings)
		}
	}
	if strings.Contains(findings, "cannot read") {
		t.Errorf("an empty reflector was taken for an unreadable one:\n%s", findings)
	}
}

// TestSourceTopologyNamesReflector: the route reflector's container is a member of the lab, so
// topology.nodes says when it is stopped or gone, beside the BGP checks' Docker errors.
func TestSourceTopologyNamesReflector(t *testing.T) {
	s, _, eng, _ := newBGPTestSource(t)
	var src source.Source = s
	run := func() *report.Node {
		t.Helper()
		r, err := verify.Run(context.Background(), src, verify.Options{Lab: s.lab.VerifySpec(), Checks: []string{"topology.nodes"}})
		if err != nil {
			t.Fatal(err)
		}
		c := r.Checks[0]
		for _, n := range c.Nodes {
			if n.Node != "gobgp" && (n.Status != report.Passed || len(n.Findings) > 0) {
				t.Errorf("%s: %s %+v", n.Node, n.Status, n.Findings)
			}
			if n.Node == "gobgp" {
				return n
			}
		}
		t.Fatalf("topology.nodes does not judge the reflector: %+v", c.Nodes)
		return nil
	}
	if rr := run(); rr.Status != report.Passed {
		t.Errorf("running reflector: %s %+v", rr.Status, rr.Findings)
	}
	// Its capture says the same: the reflector answered gobgp, so it ran; a capture without
	// rr/gobgp/ cannot tell, and skips it.
	dir := captureBGPLab(t, s)
	cap, err := capture.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	src = cap
	if rr := run(); rr.Status != report.Passed {
		t.Errorf("captured reflector: %s %+v %q", rr.Status, rr.Findings, rr.Reason)
	}
	if err := os.RemoveAll(filepath.Join(dir, capture.RRDir)); err != nil {
		t.Fatal(err)
	}
	if src, err = capture.Open(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if rr := run(); rr.Status != report.Skipped || !strings.Contains(rr.Reason, "rr/gobgp/") {
		t.Errorf("capture without the reflector: %s %q", rr.Status, rr.Reason)
	}
	src = s
	eng.Containers[0].State, eng.Containers[0].Status = "exited", "Exited (0) 3 seconds ago"
	if rr := run(); rr.Status != report.Failed || len(rr.Findings) != 1 || rr.Findings[0].Found != "container exited (Exited (0) 3 seconds ago)" ||
		!strings.Contains(rr.Findings[0].Reason, "route reflector") {
		t.Errorf("stopped reflector: %s %+v", rr.Status, rr.Findings)
	}
	eng.Containers = eng.Containers[1:]
	if rr := run(); rr.Status != report.Failed || len(rr.Findings) != 1 || rr.Findings[0].Found != "no container gobgp" {
		t.Errorf("reflector container gone: %s %+v", rr.Status, rr.Findings)
	}
}

// captureBGPLab is knetlab capture of s's lab into a new directory. The recorded node tables are
// k01-worker's, and the same for every node; capture writes them as read. Its NodeState errors
// only when a node could not be read.
func captureBGPLab(t *testing.T, s *liveSource) string {
	t.Helper()
	dir := t.TempDir()
	var names []string
	for _, n := range bgpNodes {
		names = append(names, n.name)
	}
	if _, err := capture.FromSource(context.Background(), s, names, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// birdRecorded is one of BIRD 1.6.8's recorded answers (verify/parse/testdata/bgp/bird-1.6.8).
func birdRecorded(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "verify", "parse", "testdata", "bgp", "bird-1.6.8", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
