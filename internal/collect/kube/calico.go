package kube

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
)

// calico-node as Calico's operator deploys it: the DaemonSet calico-node in calico-system, one
// pod per node, whose container calico-node runs BIRD in a cluster that speaks BGP.
const (
	CalicoNamespace     = "calico-system"
	CalicoNodeSelector  = "k8s-app=calico-node"
	CalicoNodeContainer = "calico-node"
)

// BirdProtocolsCmd asks calico-node's BIRD for its protocols over BIRD's control socket, as
// Calico's own readiness check reaches it. BIRD not (yet) running is birdcl's "Unable to connect
// to server control socket" on stderr and exit 1.
var BirdProtocolsCmd = []string{"birdcl", "-s", "/var/run/calico/bird.ctl", "show", "protocols"}

// BirdRoutesCmd asks the same BIRD for the routes it holds; of them, the BGP paths are the
// routes the node learned.
var BirdRoutesCmd = []string{"birdcl", "-s", "/var/run/calico/bird.ctl", "show", "route"}

// CalicoNodePod is a node's calico-node pod.
type CalicoNodePod struct {
	Name  string
	Phase corev1.PodPhase
	// Deleting: the pod is being deleted (a rolling update replaces it).
	Deleting bool
}

// Running reports whether BIRD can be asked in the pod.
func (p CalicoNodePod) Running() bool { return p.Phase == corev1.PodRunning && !p.Deleting }

// CalicoNodePods finds each node's calico-node pod. Of two pods on one node (a rolling update)
// the running one that is not being deleted wins, then the newer.
func (c *Collector) CalicoNodePods(ctx context.Context) (map[string]CalicoNodePod, error) {
	// The selector by label only: the node is matched here, so that the choice between two pods
	// of one node is knetlab's and not the API server's.
	list, err := c.Core.CoreV1().Pods(CalicoNamespace).List(ctx, metav1.ListOptions{LabelSelector: CalicoNodeSelector})
	if err != nil {
		return nil, fmt.Errorf("list pods %s in namespace %s: %w", CalicoNodeSelector, CalicoNamespace, err)
	}
	best := map[string]*corev1.Pod{}
	for i := range list.Items {
		p := &list.Items[i]
		if p.Spec.NodeName == "" {
			continue // not scheduled yet
		}
		if cur, ok := best[p.Spec.NodeName]; !ok || preferPod(p, cur) {
			best[p.Spec.NodeName] = p
		}
	}
	out := make(map[string]CalicoNodePod, len(best))
	for node, p := range best {
		out[node] = CalicoNodePod{Name: p.Name, Phase: p.Status.Phase, Deleting: p.DeletionTimestamp != nil}
	}
	return out, nil
}

// preferPod reports whether a is the better calico-node pod of a node than b.
func preferPod(a, b *corev1.Pod) bool {
	live := func(p *corev1.Pod) bool {
		return CalicoNodePod{Phase: p.Status.Phase, Deleting: p.DeletionTimestamp != nil}.Running()
	}
	if live(a) != live(b) {
		return live(a)
	}
	return b.CreationTimestamp.Before(&a.CreationTimestamp)
}

// Execer runs a command in a pod's container (PodExec).
type Execer interface {
	Exec(ctx context.Context, namespace, pod, container string, argv []string) ([]byte, error)
}

// BirdSessions reads the BGP sessions of the BIRD in calico-node pod pod (BirdProtocolsCmd
// through pods/exec, parsed by verify/parse).
func BirdSessions(ctx context.Context, e Execer, pod string) ([]observed.BGPSession, error) {
	return birdcl(ctx, e, pod, BirdProtocolsCmd, parse.BirdProtocols)
}

// BirdRoutes reads the routes the BIRD in calico-node pod pod learned over BGP (BirdRoutesCmd
// through pods/exec, parsed by verify/parse).
func BirdRoutes(ctx context.Context, e Execer, pod string) ([]observed.BGPRoute, error) {
	return birdcl(ctx, e, pod, BirdRoutesCmd, parse.BirdRoutes)
}

// birdcl runs argv in pod's calico-node container and parses its output. BIRD not answering is
// birdcl's own error (exit 1, its stderr), never an empty answer.
func birdcl[T any](ctx context.Context, e Execer, pod string, argv []string, read func([]byte) ([]T, error)) ([]T, error) {
	out, err := e.Exec(ctx, CalicoNamespace, pod, CalicoNodeContainer, argv)
	if err != nil {
		return nil, err
	}
	got, err := read(out)
	if err != nil {
		return nil, fmt.Errorf("%s in pod %s/%s: %w", strings.Join(argv, " "), CalicoNamespace, pod, err)
	}
	return got, nil
}
