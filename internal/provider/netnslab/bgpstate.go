package netnslab

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/bgp"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
	"github.com/knetlab/knetlab/verify/source"
)

// The live BGP state of a netns lab. Each node's BGP speaker is BIRD, a lab process, read
// as a person reads calico-node's: birdcl on its control socket (birdDir), `show protocols`
// for the sessions and `show route` for the routes. A route reflector serves GoBGP's API on
// the loopback of its own namespace (reflectorAPI), so a reader dials it from inside that
// namespace, as `gobgp neighbor` run there with knetlab exec would.

// speakerTimeout bounds one read of a speaker's state: a speaker answers in milliseconds, and
// one that is stopped (SIGSTOP) accepts the connection but never answers.
const speakerTimeout = 2 * time.Second

// speakerState reads the sessions and RIB of the GoBGP speaker whose API listens in namespace ns.
func speakerState(ctx context.Context, ns string) (bgp.State, error) {
	ctx, cancel := context.WithTimeout(ctx, speakerTimeout)
	defer cancel()
	return bgp.ReadState(ctx, reflectorAPI, namespaceDialer(ns))
}

// birdcl asks the BIRD whose control socket is in dir one command (e.g. "show protocols") and
// returns its answer.
func birdcl(ctx context.Context, dir string, command ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, speakerTimeout)
	defer cancel()
	sock := filepath.Join(dir, agent.BIRDSocketFile)
	cmd := exec.CommandContext(ctx, agent.BIRDPath("birdcl"), append([]string{"-s", sock}, command...)...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("birdcl -s %s %s: %w", sock, strings.Join(command, " "), err)
	}
	return out, nil
}

// birdSessions reads the BGP sessions of the BIRD whose control socket is in dir.
func birdSessions(ctx context.Context, dir string) ([]observed.BGPSession, error) {
	out, err := birdcl(ctx, dir, "show", "protocols", "all")
	if err != nil {
		return nil, err
	}
	return parse.BirdProtocols(out)
}

// observedSessions are a speaker's sessions as verify reads them; GoBGP names a session by its
// neighbour's address.
func observedSessions(st bgp.State) []observed.BGPSession {
	out := make([]observed.BGPSession, 0, len(st.Sessions))
	for _, s := range st.Sessions {
		out = append(out, observed.BGPSession{Name: s.Peer.String(), Peer: s.Peer, PeerAS: s.PeerAS, State: s.State, Info: s.Info})
	}
	return out
}

// observedRoutes are the paths of a speaker's RIB as verify reads them.
func observedRoutes(st bgp.State) []observed.BGPRoute {
	out := make([]observed.BGPRoute, 0, len(st.RIB))
	for _, r := range st.RIB {
		out = append(out, observed.BGPRoute{Prefix: r.Prefix, NextHop: r.NextHop, Best: r.Best, From: r.From})
	}
	return out
}

// readNodeBGP fills node's BGP tables from its BIRD (birdcl show protocols, show route). A
// BIRD that cannot answer on a live lab is an error: bgp.peers and bgp.rib then fail for the
// node, saying why.
func (s *Source) readNodeBGP(ctx context.Context, rec *journal.Lab, st *observed.Node) error {
	node := st.Name
	// The node's BIRD is a lab process of its own, as on calico-node: it answers whether or
	// not the agent runs (topology.nodes says when the agent does not).
	p, ok := latestProcess(rec, birdProcess+node)
	switch {
	case !ok:
		return fmt.Errorf("%s has no BIRD recorded; knetlab deploy %s starts it", node, s.lab.Name)
	case !p.Alive():
		return fmt.Errorf("the BIRD of %s is not running (pid %d); knetlab fix %s restarts it", node, p.PID, s.lab.Name)
	}
	return s.readBIRD(ctx, st, fmt.Sprintf("pid %d", p.PID))
}

// readBIRD fills node st's BGP tables from its BIRD (who says which process it is).
func (s *Source) readBIRD(ctx context.Context, st *observed.Node, who string) error {
	node := st.Name
	dir := birdDir(s.root, s.lab.Name, node)
	sessions, err := birdSessions(ctx, dir)
	if err != nil {
		return fmt.Errorf("the BIRD of %s (%s) does not answer: %w; knetlab fix %s restarts it", node, who, err, s.lab.Name)
	}
	out, err := birdcl(ctx, dir, "show", "route", "all")
	if err != nil {
		return fmt.Errorf("the BIRD of %s (%s) does not answer: %w; knetlab fix %s restarts it", node, who, err, s.lab.Name)
	}
	routes, err := parse.BirdRoutes(out)
	if err != nil {
		return fmt.Errorf("the routes of the BIRD of %s: %w", node, err)
	}
	st.BGPSpeaker = observed.SpeakerBIRD
	st.BGPSessions = sessions
	st.BGPRoutes = routes
	st.Mark(observed.TableBGPSessions)
	st.Mark(observed.TableBGPRoutes)
	return nil
}

var _ source.Reflectors = (*Source)(nil)

// ReflectorNames implements source.Reflectors: the lab's route reflectors.
func (s *Source) ReflectorNames() []string { return s.lab.ReflectorNames() }

// Reflector implements source.Reflectors: the reflector's sessions and RIB over its GoBGP API.
// A reflector that is not running, or does not answer, is an error (the lab is broken), with
// an empty state.
func (s *Source) Reflector(ctx context.Context, name string) (*observed.Reflector, error) {
	if _, ok := s.lab.RouteReflector(name); !ok {
		return nil, fmt.Errorf("lab %s has no route reflector %q: %w", s.lab.Name, name, source.ErrAbsent)
	}
	out := &observed.Reflector{Name: name}
	rec, err := s.record()
	if err != nil {
		return out, err
	}
	ns := NamespaceName(s.lab.Name, name)
	if inspectNamespace(ns) != nsPresent {
		return out, fmt.Errorf("the namespace %s of route reflector %s is missing; knetlab deploy %s repairs it", ns, name, s.lab.Name)
	}
	p, why := reflectorProcessState(rec, name)
	if why != "" {
		return out, errors.New(why)
	}
	state, err := speakerState(ctx, ns)
	if err != nil {
		return out, fmt.Errorf("route reflector %s (pid %d) does not answer on %s in %s: %w; knetlab fix %s restarts it", name, p.PID, reflectorAPI, ns, err, s.lab.Name)
	}
	out.Sessions = observedSessions(state)
	out.RIB = observedRoutes(state)
	out.Mark(observed.TableBGPSessions)
	out.Mark(observed.TableBGPRoutes)
	return out, nil
}

// bgpPending says what keeps a BGP lab from having converged: a node whose session to one of
// its peers is not Established, a reflector that does not see every node.
func bgpPending(ctx context.Context, root string, l *lab.Lab) []string {
	var pending []string
	for _, n := range l.Nodes {
		sessions, err := birdSessions(ctx, birdDir(root, l.Name, n.Name))
		if err != nil {
			pending = append(pending, fmt.Sprintf("%s: BIRD: %v", n.Name, err))
			continue
		}
		for _, p := range l.PeersOf(n) {
			addr := p.Address(l)
			i := slices.IndexFunc(sessions, func(s observed.BGPSession) bool { return s.Peer == addr })
			switch {
			case i < 0:
				pending = append(pending, fmt.Sprintf("%s has no BGP session to %s", n.Name, addr))
			case sessions[i].State != observed.BGPEstablished:
				pending = append(pending, fmt.Sprintf("%s: BGP session to %s %s", n.Name, addr, sessions[i].State))
			}
		}
	}
	for _, rr := range l.RouteReflectors() {
		st, err := speakerState(ctx, NamespaceName(l.Name, rr.Name))
		if err != nil {
			pending = append(pending, fmt.Sprintf("route reflector %s: %v", rr.Name, err))
			continue
		}
		up := 0
		for _, s := range st.Sessions {
			if s.State == bgp.StateEstablished {
				up++
			}
		}
		if want := clientsOf(l, rr); up < want {
			pending = append(pending, fmt.Sprintf("route reflector %s: %d of %d sessions Established", rr.Name, up, want))
		}
	}
	return pending
}

// clientsOf counts the nodes that peer with reflector rr.
func clientsOf(l *lab.Lab, rr lab.RouteReflector) int {
	n := 0
	for _, node := range l.Nodes {
		if slices.ContainsFunc(l.PeersOf(node), func(p lab.BGPPeer) bool { return p.Address(l) == rr.Address.Addr() }) {
			n++
		}
	}
	return n
}

// reflectorProcessState is the recorded process of route reflector name and, when it does not
// run, why: never started, exited or paused.
func reflectorProcessState(rec *journal.Lab, name string) (journal.Process, string) {
	p, ok := latestProcess(rec, reflectorProcess+name)
	switch {
	case !ok:
		return p, fmt.Sprintf("route reflector %s was never started; knetlab deploy %s starts it", name, rec.Lab)
	case !p.Alive():
		return p, fmt.Sprintf("route reflector %s is not running (pid %d exited): no node can learn a route through it; knetlab fix %s restarts it", name, p.PID, rec.Lab)
	case paused(p.PID):
		return p, fmt.Sprintf("route reflector %s is paused (pid %d, stopped by a signal); kill -CONT %d resumes it", name, p.PID, p.PID)
	}
	return p, ""
}
