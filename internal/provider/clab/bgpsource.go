package clab

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
	"github.com/knetlab/knetlab/verify/source"
)

// reflectorRIBCmd reads a reflector's global RIB (every path, best or not), as JSON.
var reflectorRIBCmd = []string{"gobgp", "global", "rib", "-j"}

// Where calico-node's BIRD answers: the calico-node pods of the operator's install, their
// container, and the birdcl command that lists the sessions.
const (
	calicoNamespace     = "calico-system"
	calicoNodeSelector  = "k8s-app=calico-node"
	calicoNodeContainer = "calico-node"
)

var birdProtocolsCmd = []string{"birdcl", "-s", "/var/run/calico/bird.ctl", "show", "protocols"}

var _ source.Reflectors = (*liveSource)(nil)

// ReflectorNames implements source.Reflectors: the lab's route reflectors.
func (s *liveSource) ReflectorNames() []string {
	var names []string
	for _, rr := range s.lab.RouteReflectors() {
		names = append(names, rr.Name)
	}
	sort.Strings(names)
	return names
}

// Reflector implements source.Reflectors: the reflector's sessions and RIB, read with GoBGP's
// own CLI in its container (docker exec gobgp neighbor -j, gobgp global rib -j). What could
// not be read is left unmarked and named in the error.
func (s *liveSource) Reflector(ctx context.Context, name string) (*observed.Reflector, error) {
	if _, ok := s.lab.RouteReflector(name); !ok {
		return nil, fmt.Errorf("lab %s has no route reflector %s: %w", s.lab.Name, name, source.ErrAbsent)
	}
	r := &observed.Reflector{Name: name}
	var errs []error
	read := func(argv []string, apply func([]byte) error) {
		out, err := s.nodes.Exec.Exec(ctx, name, argv)
		if err == nil {
			err = apply(out)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", strings.Join(argv, " "), err))
		}
	}
	read(reflectorNeighborCmd, func(out []byte) (err error) {
		if r.Sessions, err = parse.GoBGPNeighbors(out); err == nil {
			r.Mark(observed.TableBGPSessions)
		}
		return err
	})
	read(reflectorRIBCmd, func(out []byte) (err error) {
		if r.RIB, err = parse.GoBGPRIB(out); err == nil {
			r.Mark(observed.TableBGPRoutes)
		}
		return err
	})
	return r, errors.Join(errs...)
}

// readBIRD reads node's BGP sessions from BIRD in the node's calico-node pod (pods/exec:
// birdcl show protocols) into n.
func (s *liveSource) readBIRD(ctx context.Context, node string, n *observed.Node) error {
	pod, err := s.calicoNodePod(ctx, node)
	if err != nil {
		return err
	}
	out, err := s.pods.Exec(ctx, calicoNamespace, pod, calicoNodeContainer, birdProtocolsCmd)
	if err != nil {
		return fmt.Errorf("%s in pod %s/%s: %w", strings.Join(birdProtocolsCmd, " "), calicoNamespace, pod, err)
	}
	sessions, err := parse.BirdProtocols(out)
	if err != nil {
		return fmt.Errorf("%s in pod %s/%s: %w", strings.Join(birdProtocolsCmd, " "), calicoNamespace, pod, err)
	}
	n.BGPSpeaker, n.BGPSessions = observed.SpeakerBIRD, sessions
	n.Mark(observed.TableBGPSessions)
	return nil
}

// calicoNodePod names the running calico-node pod on node. The pods are listed by label and
// matched by spec.nodeName here: a field selector would do it on the server, and a test's
// fake clientset ignores field selectors.
func (s *liveSource) calicoNodePod(ctx context.Context, node string) (string, error) {
	list, err := s.kube.Core.CoreV1().Pods(calicoNamespace).List(ctx, metav1.ListOptions{LabelSelector: calicoNodeSelector})
	if err != nil {
		return "", fmt.Errorf("list the calico-node pods: %w", err)
	}
	var seen []string
	for _, p := range list.Items {
		if p.Spec.NodeName != node {
			continue
		}
		if p.Status.Phase == corev1.PodRunning {
			return p.Name, nil
		}
		seen = append(seen, fmt.Sprintf("%s (%s)", p.Name, p.Status.Phase))
	}
	if len(seen) > 0 {
		return "", fmt.Errorf("no running calico-node pod on %s: %s", node, strings.Join(seen, ", "))
	}
	return "", fmt.Errorf("no calico-node pod on %s (pods %s in %s)", node, calicoNodeSelector, calicoNamespace)
}
