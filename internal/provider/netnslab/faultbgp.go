package netnslab

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// The BGP faults of a lab whose nodes peer with a route reflector (calico-bgp). Two of them
// restart a node's agent with a BGP setting changed, as a wrong BGPPeer or a BGPFilter changes
// what calico-node's BIRD does; fix stops that agent, and the deploy it runs next starts it
// again as the lab says.

// The BGP faults that fix undoes by restarting an agent, and which node each breaks.
const (
	faultRRDown       = "rr-down"
	faultPeerWrongAS  = "peer-wrong-as"
	faultNotExported  = "block-not-exported"
	peerWrongASWorker = 0 // the first worker
	notExportedWorker = 1 // the second worker
)

// bgpRestartFaults are the faults that leave an agent running with BGP settings the lab does
// not declare.
var bgpRestartFaults = []string{faultPeerWrongAS, faultNotExported}

// hasReflector is the need of rr-down: a route reflector to stop.
func hasReflector(l *lab.Lab) error {
	if len(l.RouteReflectors()) == 0 {
		return exitcode.Usagef("lab %s has no BGP route reflector; this fault needs one (calico-bgp)", l.Name)
	}
	return nil
}

// peeredWorker is the need of a fault that changes the BGP of worker i: the lab speaks BGP and
// the worker has a peer.
func peeredWorker(i int) func(*lab.Lab) error {
	return func(l *lab.Lab) error {
		n, err := worker(l, i)
		if err != nil {
			return err
		}
		if l.BGP == nil || len(l.PeersOf(n)) == 0 {
			return exitcode.Usagef("%s of lab %s has no BGP peer; this fault needs one (calico-bgp)", n.Name, l.Name)
		}
		return nil
	}
}

// usesVXLAN is the need of a fault that breaks vxlan.calico or its tables.
func usesVXLAN(l *lab.Lab) error {
	if !labUsesVXLAN(l) {
		return exitcode.Usagef("no pool of lab %s uses VXLAN, so its nodes have no vxlan.calico; this fault needs one", l.Name)
	}
	return nil
}

// both is the need of a fault that needs everything needs says.
func both(needs ...func(*lab.Lab) error) func(*lab.Lab) error {
	return func(l *lab.Lab) error {
		for _, n := range needs {
			if err := n(l); err != nil {
				return err
			}
		}
		return nil
	}
}

// rrDown stops the lab's (first) route reflector: every node's session to it drops, and each
// node withdraws the routes it had learned through it.
func rrDown(_ context.Context, t *faultTarget) (journal.Fault, error) {
	rr := t.lab.RouteReflectors()[0]
	p, ok := latestProcess(t.rec, reflectorProcess+rr.Name)
	if !ok || !p.Alive() {
		return journal.Fault{}, fmt.Errorf("route reflector %s is not running (fix the lab first: knetlab fix %s)", rr.Name, t.lab.Name)
	}
	if err := unix.Kill(p.PID, unix.SIGKILL); err != nil {
		return journal.Fault{}, fmt.Errorf("stop route reflector %s (pid %d): %w", rr.Name, p.PID, err)
	}
	if err := waitFor(func() bool { return !p.Alive() }); err != nil {
		return journal.Fault{}, fmt.Errorf("route reflector %s (pid %d) did not end: %w", rr.Name, p.PID, err)
	}
	return journal.Fault{Node: rr.Name, Entry: fmt.Sprintf("reflector %s at %s stopped (pid %d)", rr.Name, rr.Address.Addr(), p.PID), PID: p.PID}, nil
}

// peerWrongAS restarts the first worker's agent with its first peer's AS number wrong: the
// node expects the peer's OPEN to carry that AS, the peer sends its real one, and the node
// closes the session with a NOTIFICATION (bad peer AS) every time it comes up.
func peerWrongAS(_ context.Context, t *faultTarget) (journal.Fault, error) {
	n, err := worker(t.lab, peerWrongASWorker)
	if err != nil {
		return journal.Fault{}, err
	}
	peer := t.lab.PeersOf(n)[0]
	wrong := peer.ASNumber + 1
	pid, err := t.restartAgent(n, func(o *agent.Options) error { return setPeerAS(o, peer.Address(t.lab), wrong) })
	entry := fmt.Sprintf("peer %s AS %d (the peer's AS is %d)", peer.Address(t.lab), wrong, peer.ASNumber)
	return journal.Fault{Node: n.Name, Entry: entry, PID: pid}, err
}

// blockNotExported restarts the second worker's agent with its first block left out of what
// its speaker announces, as a Calico BGPFilter with an export Reject rule for the CIDR would:
// the node still blackholes its block, but no other node learns a route to it.
func blockNotExported(_ context.Context, t *faultTarget) (journal.Fault, error) {
	n, err := worker(t.lab, notExportedWorker)
	if err != nil {
		return journal.Fault{}, err
	}
	block, ok := blockOf(t.facts, n.Name)
	if !ok {
		return journal.Fault{}, fmt.Errorf("%s owns no confirmed block; is its agent running?", n.Name)
	}
	pid, err := t.restartAgent(n, func(o *agent.Options) error { return withholdBlock(o, block) })
	return journal.Fault{Node: n.Name, Entry: block.String(), PID: pid}, err
}

// restartAgent stops node n's agent and starts it again with its options changed by tweak; it
// returns the new agent's PID.
func (t *faultTarget) restartAgent(n lab.Node, tweak func(*agent.Options) error) (int, error) {
	old, err := liveAgent(t.rec, n.Name)
	if err != nil {
		return 0, err
	}
	o := agentOptions(t.root, t.lab, n, t.rec.Datastore, labPKI(journal.Dir(t.root, t.lab.Name)))
	if err := tweak(&o); err != nil {
		return 0, err
	}
	stopProcesses([]journal.Process{old})
	if err := t.store.RemoveProcess(old.PID); err != nil {
		return 0, err
	}
	d := &deployer{root: t.root, store: t.store, topo: &topology{lab: t.lab}}
	if err := d.startAgent(o); err != nil {
		return 0, err
	}
	p, ok := agentOf(t.store.Lab, n.Name)
	if !ok {
		return 0, fmt.Errorf("the agent of %s was started but not recorded", n.Name)
	}
	return p.PID, nil
}

// stopFaultyAgents stops every agent a BGP fault restarted with settings of its own, so that
// the deploy fix runs next starts it again as the lab declares it.
func stopFaultyAgents(t *faultTarget) ([]string, error) {
	var did []string
	for _, f := range t.rec.Faults {
		if !slices.Contains(bgpRestartFaults, f.Name) {
			continue
		}
		p, ok := agentOf(t.rec, f.Node)
		if !ok || p.PID != f.PID {
			continue // already replaced
		}
		if p.Alive() {
			stopProcesses([]journal.Process{p})
			did = append(did, "stopped the agent of "+f.Node+" (pid "+strconv.Itoa(p.PID)+"), started with "+f.Name)
		}
		if t.store != nil {
			if err := t.store.RemoveProcess(p.PID); err != nil {
				return did, err
			}
		}
	}
	return did, nil
}

// latestProcess is the latest recorded process named name.
func latestProcess(rec *journal.Lab, name string) (journal.Process, bool) {
	for i := len(rec.Processes) - 1; i >= 0; i-- {
		if rec.Processes[i].Name == name {
			return rec.Processes[i], true
		}
	}
	return journal.Process{}, false
}

// labUsesVXLAN says whether a pool of l encapsulates with VXLAN: only then do its nodes have a
// vxlan.calico and a tunnel address.
func labUsesVXLAN(l *lab.Lab) bool {
	for _, p := range l.CNI.Pools {
		if p.VXLANMode.OrNever() != calico.EncapNever {
			return true
		}
	}
	return false
}
