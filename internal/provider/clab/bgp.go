package clab

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/knetlab/knetlab/internal/collect/nodeexec"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/render"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
)

// calicoBGPKinds are the kinds of the rendered bgp.yaml: projectcalico.org/v3 objects, which
// Calico's API server serves once the operator has it running.
var calicoBGPKinds = []schema.GroupVersionKind{
	{Group: "projectcalico.org", Version: "v3", Kind: "BGPConfiguration"},
	{Group: "projectcalico.org", Version: "v3", Kind: "BGPPeer"},
}

// reflectorNeighborCmd is how the sessions are read in a reflector's container: gobgp's own CLI,
// JSON (session_state 6 is Established), as verify reads them.
var reflectorNeighborCmd = nodeexec.GoBGPNeighborsCmd

// bgpSessionTimeout is how long a reflector may take to see every node Established after the
// BGPPeer is applied: calico-node reloads BIRD within seconds, BGP's connect retry is 120 s
// for a peer that refused once.
const bgpSessionTimeout = 4 * time.Minute

// reflectorImageSteps build each reflector's image from its rendered Dockerfile, before
// containerlab starts the container (it would try to pull the tag otherwise).
func (d *deployment) reflectorImageSteps() []provider.Step {
	var steps []provider.Step
	for _, rr := range d.lab.RouteReflectors() {
		dir := d.path(render.ReflectorDir(d.lab.Name, rr.Name))
		steps = append(steps, provider.Step{
			Title: "build the image of route reflector " + rr.Name + " (GoBGP " + render.GoBGPVersion + ")",
			Actions: []string{fmt.Sprintf("docker client: ImageBuild (context: tar of %s, dockerfile %s, tag %s, output streamed)",
				dir, filepath.Base(render.ReflectorDockerfilePath(d.lab.Name, rr.Name)), rr.Image)},
			Run: func(ctx context.Context, p provider.Progress) error {
				return d.buildImage(ctx, p, dir, filepath.Base(render.ReflectorDockerfilePath(d.lab.Name, rr.Name)), rr.Image)
			},
		})
	}
	return steps
}

// bgpSteps apply the Calico BGP resources and wait until every reflector has a session
// Established with every node.
func (d *deployment) bgpSteps() ([]provider.Step, error) {
	l := d.lab
	if l.BGP == nil {
		return nil, nil
	}
	objs, err := d.objectsOf(render.BGPPath(l.Name))
	if err != nil {
		return nil, err
	}
	steps := []provider.Step{{
		Title: "configure Calico BGP",
		Actions: []string{fmt.Sprintf("server-side apply %s: %s", d.path(render.BGPPath(l.Name)), describe(objs)) +
			" (dynamic client + discovery RESTMapper, field manager knetlab)"},
		Waits: fmt.Sprintf("first, Calico's API server serves %s (deadline %s)", kindNames(calicoBGPKinds), crdTimeout),
		Run: func(ctx context.Context, _ provider.Progress) error {
			if err := d.kube.waitKinds(ctx, calicoBGPKinds); err != nil {
				return err
			}
			return d.kube.apply(ctx, objs)
		},
	}}
	for _, rr := range l.RouteReflectors() {
		steps = append(steps, provider.Step{
			Title:   "wait for the BGP sessions of route reflector " + rr.Name,
			Actions: []string{fmt.Sprintf("docker exec %s %s (Docker Engine API exec, every %s)", rr.Name, strings.Join(reflectorNeighborCmd, " "), pollInterval)},
			Waits: fmt.Sprintf("a session in state Established (session_state 6) from every node: %s (deadline %s; a timeout names each node's state)",
				nodeAddresses(l), bgpSessionTimeout),
			Run: func(ctx context.Context, p provider.Progress) error {
				e, err := d.h.nodes()
				if err != nil {
					return err
				}
				if err := waitReflectorSessions(ctx, e, l, rr, bgpSessionTimeout); err != nil {
					return err
				}
				p.Done("route reflector %s: %d sessions Established", rr.Name, len(l.Nodes))
				return nil
			},
		})
	}
	return steps, nil
}

func nodeAddresses(l *lab.Lab) string {
	var a []string
	for _, n := range l.Nodes {
		a = append(a, n.IP().String())
	}
	return strings.Join(a, ", ")
}

// waitReflectorSessions polls the reflector's sessions until every node's is Established.
func waitReflectorSessions(ctx context.Context, e nodeexec.Execer, l *lab.Lab, rr lab.RouteReflector, timeout time.Duration) error {
	return waitFor(ctx, "BGP sessions of route reflector "+rr.Name, timeout, func(ctx context.Context) (bool, string, error) {
		out, err := e.Exec(ctx, rr.Name, reflectorNeighborCmd)
		if err != nil {
			return false, fmt.Sprintf("%s: %v", strings.Join(reflectorNeighborCmd, " "), err), nil
		}
		sessions, err := parse.GoBGPNeighbors(out)
		if err != nil {
			return false, "", fmt.Errorf("%s in %s: %w", strings.Join(reflectorNeighborCmd, " "), rr.Name, err)
		}
		missing := notEstablished(l, sessions)
		return len(missing) == 0, strings.Join(missing, "; "), nil
	})
}

// notEstablished names every node whose session with the reflector is not Established, with the
// state the reflector reports (and why, when it says).
func notEstablished(l *lab.Lab, sessions []observed.BGPSession) []string {
	byPeer := map[netip.Addr]observed.BGPSession{}
	for _, s := range sessions {
		byPeer[s.Peer] = s
	}
	var out []string
	for _, n := range l.Nodes {
		s, ok := byPeer[n.IP()]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s (%s): no session (has the node's BGPPeer been applied, is calico-node running?)", n.Name, n.IP()))
		case s.State != observed.BGPEstablished:
			what := fmt.Sprintf("%s (%s): %s", n.Name, n.IP(), s.State)
			if s.Info != "" {
				what += " (" + s.Info + ")"
			}
			out = append(out, what)
		}
	}
	return out
}
