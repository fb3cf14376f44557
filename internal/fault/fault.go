// Package fault is knetlab's teaching faults for a netns lab: each breaks one thing Calico's
// dataplane needs, the way it breaks in real clusters (an entry lost while the agent was not
// looking, a wrong MTU, a route through the wrong device, a dead agent, a pod's proxy ARP
// off), so that a student runs verify, reads the finding, and repairs it by hand or with
// knetlab fix.
//
// Faults that change what an agent owns pause that agent first (SIGSTOP): a running agent
// restores its tables within seconds, which is the lesson of the agent, not of the fault.
package fault

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/verify/facts"
)

// Fault is one teaching fault.
type Fault struct {
	Name        string
	Description string
	// Check is the verify check that must then fail, naming the node and the entry Apply
	// reports.
	Check string
	apply func(ctx context.Context, t *Target) (journal.Fault, error)
}

// Target is the deployed lab a fault applies to.
type Target struct {
	Lab   *lab.Lab
	Rec   *journal.Lab // the lab's record: namespaces, agents, pods
	Facts *facts.Facts // from the lab's datastore: nodes, blocks
}

// All are the faults, in the order break --list prints them.
func All() []Fault {
	return []Fault{
		{Name: "fdb-missing", Check: "vxlan.fdb", apply: fdbMissing,
			Description: "pause the first worker's agent, then delete its FDB entry toward the node in the other subnet (or another node)"},
		{Name: "vxlan-mtu", Check: "vxlan.device", apply: vxlanMTU,
			Description: "pause the first worker's agent, then set vxlan.calico's MTU to 1400, below the 1450 its pods send"},
		{Name: "worker3-via-eth1", Check: "routes.blocks", apply: viaUnderlay,
			Description: "pause the first worker's agent, then route the other subnet's block through eth1 instead of vxlan.calico"},
		{Name: "agent-stopped", Check: "topology.nodes", apply: agentStopped,
			Description: "kill the second worker's agent: its tables stay, but nothing keeps them any more"},
		{Name: "proxy-arp-off", Check: "pods.wiring", apply: proxyARPOff,
			Description: "turn proxy_arp off on the host end of a pod on the first worker (no answer for 169.254.1.1)"},
	}
}

// Names are the fault names.
func Names() []string {
	var out []string
	for _, f := range All() {
		out = append(out, f.Name)
	}
	return out
}

// Find returns the named fault.
func Find(name string) (Fault, bool) {
	i := slices.IndexFunc(All(), func(f Fault) bool { return f.Name == name })
	if i < 0 {
		return Fault{}, false
	}
	return All()[i], true
}

// Apply breaks the lab and returns what it changed, for the lab's record.
func (f Fault) Apply(ctx context.Context, t *Target) (journal.Fault, error) {
	applied, err := f.apply(ctx, t)
	if err != nil {
		// A fault that paused an agent and then failed leaves nothing broken behind.
		if applied.PID != 0 && netnslab.Paused(applied.PID) {
			_ = unix.Kill(applied.PID, unix.SIGCONT)
		}
		return journal.Fault{}, fmt.Errorf("break %s with %s: %w", t.Lab.Name, f.Name, err)
	}
	applied.Name = f.Name
	return applied, nil
}

// firstWorker is the node most faults break: the first node that is not the control plane
// (k01-worker in calico-overlay).
func firstWorker(l *lab.Lab) (lab.Node, error) {
	return worker(l, 0)
}

func worker(l *lab.Lab, i int) (lab.Node, error) {
	var workers []lab.Node
	for _, n := range l.Nodes {
		if n.Role != lab.ControlPlane {
			workers = append(workers, n)
		}
	}
	if i >= len(workers) {
		return lab.Node{}, fmt.Errorf("lab %s has fewer than %d workers", l.Name, i+1)
	}
	return workers[i], nil
}

// peerAcross is the node whose underlay is in another subnet than node's (k01-worker3 from
// k01-worker): the peer whose traffic goes through vxlan.calico.
func peerAcross(t *Target, node string) (facts.Node, error) {
	self, ok := factNode(t.Facts, node)
	if !ok {
		return facts.Node{}, fmt.Errorf("the datastore has no node %s; is its agent running?", node)
	}
	for _, n := range t.Facts.Nodes {
		if n.Name != node && n.Address.IsValid() && !self.Address.Masked().Contains(n.Address.Addr()) {
			return n, nil
		}
	}
	return facts.Node{}, exitcode.Usagef("no node of lab %s is outside %s's subnet %s; this fault needs two subnets (calico-overlay)", t.Lab.Name, node, self.Address.Masked())
}

// peerOf is the node across subnets when there is one (its traffic is encapsulated whatever
// the pool's mode), else any other node.
func peerOf(t *Target, node string) (facts.Node, error) {
	if p, err := peerAcross(t, node); err == nil {
		return p, nil
	}
	for _, n := range t.Facts.Nodes {
		if n.Name != node && n.Address.IsValid() {
			return n, nil
		}
	}
	return facts.Node{}, exitcode.Usagef("lab %s has no node besides %s", t.Lab.Name, node)
}

func factNode(f *facts.Facts, name string) (facts.Node, bool) {
	for _, n := range f.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return facts.Node{}, false
}

// blockOf is a node's first confirmed block.
func blockOf(f *facts.Facts, node string) (netip.Prefix, bool) {
	for _, a := range f.Affinities {
		if a.Node == node && a.State == "confirmed" && !a.Deleted {
			return a.CIDR, true
		}
	}
	return netip.Prefix{}, false
}
