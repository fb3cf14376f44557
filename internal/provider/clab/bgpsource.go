package clab

import (
	"context"
	"errors"
	"fmt"

	"github.com/knetlab/knetlab/internal/collect/kube"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
)

// BGP on a clab lab: calico-node's BIRD on each kind node holds the node's sessions, read with
// birdcl through pods/exec; the route reflectors are GoBGP containers beside the cluster, read
// with gobgp through docker exec.

var _ source.Reflectors = (*liveSource)(nil)

// birdReader reads nodes' BIRD sessions in one round: calico-node's pods, listed once.
type birdReader struct {
	pods    podExecer
	byNode  map[string]kube.CalicoNodePod
	listErr error
}

// birdPods lists the calico-node pods of a lab that speaks BGP; nil for a lab without BGP,
// whose nodes' BIRD is not read (a VXLAN-only Calico runs none).
func (s *liveSource) birdPods(ctx context.Context) *birdReader {
	if s.lab.BGP == nil {
		return nil
	}
	byNode, err := s.kube.CalicoNodePods(ctx)
	return &birdReader{pods: s.pods, byNode: byNode, listErr: err}
}

// read sets n's BGP sessions and learned routes from its calico-node's BIRD (birdcl show
// protocols, show route) and marks the tables it read; an error says what could not be read.
func (b *birdReader) read(ctx context.Context, n *observed.Node) error {
	if b.listErr != nil {
		return fmt.Errorf("%s, %s: %w", observed.TableBGPSessions, observed.TableBGPRoutes, b.listErr)
	}
	pod, ok := b.byNode[n.Name]
	if !ok {
		return fmt.Errorf("%s, %s: no calico-node pod on node %s (namespace %s, label %s): nothing runs BIRD there",
			observed.TableBGPSessions, observed.TableBGPRoutes, n.Name, kube.CalicoNamespace, kube.CalicoNodeSelector)
	}
	if !pod.Running() {
		state := string(pod.Phase)
		if pod.Deleting {
			state = "being deleted"
		}
		return fmt.Errorf("%s, %s: no running calico-node pod on node %s: %s (%s)",
			observed.TableBGPSessions, observed.TableBGPRoutes, n.Name, pod.Name, state)
	}
	n.BGPSpeaker = observed.SpeakerBIRD
	var errs []error
	if sessions, err := kube.BirdSessions(ctx, b.pods, pod.Name); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", observed.TableBGPSessions, err))
	} else {
		n.BGPSessions = sessions
		n.Mark(observed.TableBGPSessions)
	}
	if routes, err := kube.BirdRoutes(ctx, b.pods, pod.Name); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", observed.TableBGPRoutes, err))
	} else {
		n.BGPRoutes = routes
		n.Mark(observed.TableBGPRoutes)
	}
	return errors.Join(errs...)
}

// ReflectorNames implements source.Reflectors: the lab's route reflectors, in name order.
func (s *liveSource) ReflectorNames() []string { return s.lab.ReflectorNames() }

// Reflector implements source.Reflectors: gobgp neighbor -j and gobgp global rib -j in the
// reflector's container. What could not be read comes with an error, which fails the checks
// that need it.
func (s *liveSource) Reflector(ctx context.Context, name string) (*observed.Reflector, error) {
	if _, ok := s.lab.RouteReflector(name); !ok {
		return nil, fmt.Errorf("lab %s has no route reflector %s: %w", s.lab.Name, name, source.ErrAbsent)
	}
	return s.reflectors.Reflector(ctx, name)
}
