package netnslab

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/verify/facts"
)

// Teaching faults (knetlab break and fix): each breaks one thing Calico's dataplane needs, the
// way it breaks in real clusters (an entry lost while the agent was not looking, a wrong MTU, a
// route through the wrong device, a dead agent, a pod's proxy ARP off), so that a student runs
// verify, reads the finding, and repairs it by hand or with knetlab fix. Only a netns lab can
// be broken: only there knetlab owns the agents and the kernel tables.
//
// Faults that change what an agent owns pause that agent first (SIGSTOP): a running agent
// restores its tables within seconds, which is the lesson of the agent, not of the fault.

// fault is one teaching fault.
type fault struct {
	name        string
	description string
	// check is the verify check that must then fail, naming the node and the entry apply
	// reports.
	check string
	// table is where on the node the fault shows, with the command that shows it (a hint).
	table string
	// needs is nil when lab l has what the fault breaks, else why not: break refuses the fault
	// with it and break --list leaves the fault out.
	needs func(l *lab.Lab) error
	apply func(ctx context.Context, t *faultTarget) (journal.Fault, error)
}

// fits is nil when the fault can be applied to lab l, else why not.
func (f fault) fits(l *lab.Lab) error {
	if f.needs == nil {
		return nil
	}
	return f.needs(l)
}

// faultTarget is the deployed lab a fault applies to.
type faultTarget struct {
	lab   *lab.Lab
	rec   *journal.Lab // the lab's record: namespaces, agents, pods
	facts *facts.Facts // from the lab's datastore: nodes, blocks
	// root and store are the provider's state root and the lab's record under its lock, for
	// faults that start a process.
	root  string
	store *journal.Store
}

// faults are the faults, in the order break --list prints them.
func faults() []fault {
	return []fault{
		{name: "fdb-missing", check: "vxlan.fdb", needs: both(usesVXLAN, workers(1)), apply: fdbMissing,
			table:       "the FDB of vxlan.calico (bridge fdb show dev vxlan.calico), beside its neighbours (ip neigh show dev vxlan.calico)",
			description: "pause the first worker's agent, then delete its FDB entry toward the node in the other subnet (or another node)"},
		{name: "vxlan-mtu", check: "vxlan.device", needs: both(usesVXLAN, workers(1)), apply: vxlanMTU,
			table:       "the vxlan.calico device (ip -d link show vxlan.calico)",
			description: "pause the first worker's agent, then set vxlan.calico's MTU to 1400, below the 1450 its pods send"},
		{name: "worker3-via-eth1", check: "routes.blocks", needs: both(usesVXLAN, twoSubnets), apply: viaUnderlay,
			table:       "the block routes (ip route show proto 80), beside the underlay's neighbours (ip neigh show dev eth1)",
			description: "pause the first worker's agent, then route the other subnet's block through eth1 instead of vxlan.calico"},
		{name: "agent-stopped", check: "topology.nodes", needs: workers(2), apply: agentStopped,
			table:       "the node's agent process (knetlab status shows the lab's processes)",
			description: "kill the second worker's agent: its tables stay, but nothing keeps them any more"},
		{name: "proxy-arp-off", check: "pods.wiring", needs: workers(1), apply: proxyARPOff,
			table:       "the sysctls of the host ends of its pods' veths (grep -H . /proc/sys/net/ipv4/conf/cali*/proxy_arp)",
			description: "pause the first worker's agent, then turn proxy_arp off on the host end of a pod there (no answer for 169.254.1.1)"},
		{name: faultRRDown, check: "bgp.peers", needs: hasReflector, apply: rrDown,
			description: "stop the route reflector: every node's BGP session to it drops, and the routes it reflected are withdrawn"},
		{name: faultPeerWrongAS, check: "bgp.peers", needs: peeredWorker(peerWrongASWorker), apply: peerWrongAS,
			description: "restart the first worker's agent with its BGP peer's AS number wrong: the session never gets established"},
		{name: faultNotExported, check: "bgp.rib", needs: peeredWorker(notExportedWorker), apply: blockNotExported,
			description: "restart the second worker's agent with an export filter on its block: it stops announcing it, so no other node routes it"},
	}
}

// findFault returns the named fault.
func findFault(name string) (fault, bool) {
	all := faults()
	i := slices.IndexFunc(all, func(f fault) bool { return f.name == name })
	if i < 0 {
		return fault{}, false
	}
	return all[i], true
}

// Faults implements provider.Faults: the faults that fit l (every fault when l is nil).
func (p *Provider) Faults(l *lab.Lab) []provider.FaultInfo {
	var out []provider.FaultInfo
	for _, f := range faults() {
		if l != nil && f.fits(l) != nil {
			continue
		}
		out = append(out, provider.FaultInfo{Name: f.name, Description: f.description, Check: f.check, Table: f.table})
	}
	return out
}

// Break implements provider.Faults: under the lab's lock, it applies the fault and records it
// in the lab's journal, so that Heal undoes it.
func (p *Provider) Break(ctx context.Context, l *lab.Lab, name string) (provider.AppliedFault, error) {
	return p.breakLab(ctx, l, name, false)
}

// BreakUnnamed implements provider.Exercises: Break, recorded as unnamed.
func (p *Provider) BreakUnnamed(ctx context.Context, l *lab.Lab, name string) (provider.AppliedFault, error) {
	return p.breakLab(ctx, l, name, true)
}

func (p *Provider) breakLab(ctx context.Context, l *lab.Lab, name string, unnamed bool) (provider.AppliedFault, error) {
	f, ok := findFault(name)
	if !ok {
		return provider.AppliedFault{}, exitcode.Usagef("unknown fault %q; knetlab break %s --list shows them", name, l.Name)
	}
	if err := f.fits(l); err != nil {
		return provider.AppliedFault{}, err
	}
	if err := requireRoot("break"); err != nil {
		return provider.AppliedFault{}, err
	}
	store, err := p.openFaults(ctx, l)
	if err != nil {
		return provider.AppliedFault{}, err
	}
	defer store.Close()
	facts, err := p.labFacts(ctx, l)
	if err != nil {
		return provider.AppliedFault{}, err
	}
	applied, err := f.run(ctx, &faultTarget{lab: l, rec: store.Lab, facts: facts, root: p.root, store: store})
	if err != nil {
		// A fault finds the lab not as a healthy lab is (an entry or an agent missing): the
		// lab's state, not a knetlab bug.
		return provider.AppliedFault{}, exitcode.FromOutside(err, "knetlab verify "+l.Name+" shows what is wrong; knetlab fix "+l.Name+" heals it")
	}
	applied.Unnamed = unnamed
	store.Lab.Faults = append(store.Lab.Faults, applied)
	out := appliedFault(applied)
	if err := store.Save(); err != nil {
		return out, fmt.Errorf("%s applied, but not recorded: %w; knetlab fix %s still undoes it", f.name, err, l.Name)
	}
	return out, nil
}

// Heal implements provider.Faults: it names each recorded fault, then undoes what no agent
// repairs by itself (see heal). A deploy (repair) restarts agents that are gone.
func (p *Provider) Heal(ctx context.Context, l *lab.Lab) ([]string, error) {
	if err := requireRoot("fix"); err != nil {
		return nil, err
	}
	store, err := p.openFaults(ctx, l)
	if err != nil {
		return nil, err
	}
	defer store.Close() // before the deploy that follows, which takes the lab's lock itself
	var did []string
	for _, applied := range store.Lab.Faults {
		did = append(did, fmt.Sprintf("undoing %s on %s (%s)", applied.Name, applied.Node, applied.Entry))
	}
	healed, err := heal(&faultTarget{lab: l, rec: store.Lab, root: p.root, store: store})
	return append(did, healed...), err
}

// appliedFault is a recorded fault as the provider interface says it.
func appliedFault(j journal.Fault) provider.AppliedFault {
	out := provider.AppliedFault{Name: j.Name, Node: j.Node, Entry: j.Entry, Unnamed: j.Unnamed}
	if f, ok := findFault(j.Name); ok {
		out.Check, out.Table = f.check, f.table
	}
	return out
}

// NextHint implements provider.Exercises: under the lab's lock, it reveals one more step of the
// first fault not wholly revealed (or, when all are, says so again for the last one) and
// records it with the fault, which fix forgets.
func (p *Provider) NextHint(ctx context.Context, l *lab.Lab) (provider.Hint, bool, error) {
	if err := requireRoot("hint"); err != nil {
		return provider.Hint{}, false, err
	}
	store, err := p.openFaults(ctx, l)
	if err != nil {
		return provider.Hint{}, false, err
	}
	defer store.Close()
	faults := store.Lab.Faults
	if len(faults) == 0 {
		return provider.Hint{}, false, nil
	}
	i := slices.IndexFunc(faults, func(f journal.Fault) bool { return f.Hints < provider.HintSteps })
	if i < 0 {
		i = len(faults) - 1
	}
	faults[i].Hints = min(faults[i].Hints+1, provider.HintSteps+1)
	h := provider.Hint{Fault: appliedFault(faults[i]), Step: faults[i].Hints}
	if err := store.Save(); err != nil {
		return h, true, fmt.Errorf("record the hint: %w", err)
	}
	return h, true, nil
}

// ForgetFaults implements provider.Faults.
func (p *Provider) ForgetFaults(ctx context.Context, l *lab.Lab) error {
	if err := requireRoot("fix"); err != nil {
		return err
	}
	lockCtx, cancel := context.WithTimeout(ctx, faultLockTimeout)
	defer cancel()
	store, err := journal.Open(lockCtx, p.root, l.Name)
	if err != nil {
		return err
	}
	defer store.Close()
	if len(store.Lab.Faults) == 0 {
		return nil
	}
	store.Lab.Faults = nil
	return store.Save()
}

// faultLockTimeout bounds the wait for the lab's lock (a deploy may hold it).
const faultLockTimeout = 30 * time.Second

// openFaults opens a lab's record, under its lock, for break and fix.
func (p *Provider) openFaults(ctx context.Context, l *lab.Lab) (*journal.Store, error) {
	rec, err := journal.Read(p.root, l.Name)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, exitcode.NewEnvironment(fmt.Errorf("lab %s is not deployed by the netns provider (break and fix work on netns labs)", l.Name),
			"sudo knetlab deploy "+l.Name)
	}
	lockCtx, cancel := context.WithTimeout(ctx, faultLockTimeout)
	defer cancel()
	return journal.Open(lockCtx, p.root, l.Name)
}

// labFacts reads the facts a fault needs (nodes, blocks) through the lab's verify source.
func (p *Provider) labFacts(ctx context.Context, l *lab.Lab) (*facts.Facts, error) {
	src, err := p.Source(ctx, l)
	if err != nil {
		return nil, err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	f, err := src.Facts(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the facts of %s: %w", l.Name, err)
	}
	return f, nil
}

// run breaks the lab and returns what it changed, for the lab's record.
func (f fault) run(ctx context.Context, t *faultTarget) (journal.Fault, error) {
	applied, err := f.apply(ctx, t)
	if err != nil {
		// A fault that paused an agent and then failed leaves nothing broken behind.
		if applied.PID != 0 && paused(applied.PID) {
			_ = unix.Kill(applied.PID, unix.SIGCONT)
		}
		return journal.Fault{}, fmt.Errorf("break %s with %s: %w", t.lab.Name, f.name, err)
	}
	applied.Name = f.name
	return applied, nil
}

// firstWorker is the node most faults break: the first node that is not the control plane
// (k01-worker in calico-overlay).
func firstWorker(l *lab.Lab) (lab.Node, error) {
	return worker(l, 0)
}

// workers is the need of a fault that breaks the first n workers' tables or agents.
func workers(n int) func(*lab.Lab) error {
	return func(l *lab.Lab) error {
		_, err := worker(l, n-1)
		return err
	}
}

// twoSubnets is the need of a fault that breaks the path to the node across subnets: a node
// outside the first worker's subnet, as peerAcross finds it in the datastore.
func twoSubnets(l *lab.Lab) error {
	node, err := firstWorker(l)
	if err != nil {
		return err
	}
	for _, n := range l.Nodes {
		if n.Name != node.Name && acrossSubnets(node.Address, n.Address) {
			return nil
		}
	}
	return errOneSubnet(l.Name, node.Name, node.Address)
}

// acrossSubnets says whether other lies outside self's subnet: traffic between them is routed
// (and CrossSubnet encapsulates it).
func acrossSubnets(self, other netip.Prefix) bool {
	return other.IsValid() && !self.Masked().Contains(other.Addr())
}

func errOneSubnet(labName, node string, subnet netip.Prefix) error {
	return exitcode.Usagef("no node of lab %s is outside %s's subnet %s; this fault needs two subnets (calico-overlay)", labName, node, subnet.Masked())
}

func worker(l *lab.Lab, i int) (lab.Node, error) {
	var workers []lab.Node
	for _, n := range l.Nodes {
		if n.Role != lab.ControlPlane {
			workers = append(workers, n)
		}
	}
	if i >= len(workers) {
		return lab.Node{}, exitcode.Usagef("lab %s has fewer than %d workers; this fault needs %d", l.Name, i+1, i+1)
	}
	return workers[i], nil
}

// peerAcross is the node whose underlay is in another subnet than node's (k01-worker3 from
// k01-worker): the peer whose traffic goes through vxlan.calico.
func peerAcross(t *faultTarget, node string) (facts.Node, error) {
	self, ok := factNode(t.facts, node)
	if !ok {
		return facts.Node{}, fmt.Errorf("the datastore has no node %s; is its agent running?", node)
	}
	for _, n := range t.facts.Nodes {
		if n.Name != node && acrossSubnets(self.Address, n.Address) {
			return n, nil
		}
	}
	return facts.Node{}, errOneSubnet(t.lab.Name, node, self.Address)
}

// peerOf is the node across subnets when there is one (its traffic is encapsulated whatever
// the pool's mode), else any other node.
func peerOf(t *faultTarget, node string) (facts.Node, error) {
	if p, err := peerAcross(t, node); err == nil {
		return p, nil
	}
	for _, n := range t.facts.Nodes {
		if n.Name != node && n.Address.IsValid() {
			return n, nil
		}
	}
	return facts.Node{}, exitcode.Usagef("lab %s has no node besides %s", t.lab.Name, node)
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
