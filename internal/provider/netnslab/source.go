package netnslab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/calicoview"
	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/collect/storefacts"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/eosview"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
)

// Source implements provider.Provider: the live verify source of a deployed netns lab.
func (p *Provider) Source(_ context.Context, l *lab.Lab) (source.Source, error) {
	if err := requireRoot("verify of a netns lab"); err != nil {
		return nil, err
	}
	rec, err := journal.Read(p.root, l.Name)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, exitcode.NewEnvironment(fmt.Errorf("lab %s is not deployed by the netns provider", l.Name), "knetlab deploy "+l.Name)
	}
	return &Source{lab: l, root: p.root}, nil
}

// Source reads a live netns lab for the verify engine: the facts from the lab's datastore, the
// switch, node and pod tables with netlink from inside their namespaces, the natOutgoing table
// with nftables. It is also the lab's source.Prober (see prober.go).
//
// The lab record is read again on every call, so that a verify --wait sees pods and agents
// that came or went while it waited.
type Source struct {
	lab  *lab.Lab
	root string

	mu    sync.Mutex
	store *datastore.Etcd // opened on the first Facts, for the Source's lifetime
	url   string
}

// Describe implements source.Source.
func (s *Source) Describe() string { return "netns lab " + s.lab.Name }

// Live implements source.Live: what the running lab does not yield, it lacks.
func (s *Source) Live() bool { return true }

var _ source.Live = (*Source)(nil)

// Close releases the datastore connection.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store == nil {
		return nil
	}
	err := s.store.Close()
	s.store = nil
	return err
}

func (s *Source) record() (*journal.Lab, error) {
	rec, err := journal.Read(s.root, s.lab.Name)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, exitcode.NewEnvironment(fmt.Errorf("lab %s is no longer deployed", s.lab.Name), "knetlab deploy "+s.lab.Name)
	}
	return rec, nil
}

// Facts implements source.Source: pools, nodes, affinities and pods from the lab's etcd. A lab
// deployed without the CNI (underlay only) has no datastore: the checks that need facts skip.
func (s *Source) Facts(ctx context.Context) (*facts.Facts, error) {
	return readStore(ctx, s, storefacts.Load)
}

// readStore reads the lab's datastore with read; a lab without one is source.ErrAbsent.
func readStore[T any](ctx context.Context, s *Source, read func(context.Context, datastore.Store) (T, error)) (T, error) {
	var zero T
	rec, err := s.record()
	if err != nil {
		return zero, err
	}
	switch {
	case rec.Datastore == "" && rec.Phase != journal.PhaseDeployed:
		return zero, fmt.Errorf("netns lab %s has no datastore: its deploy did not finish (knetlab deploy %s finishes it): %w", s.lab.Name, s.lab.Name, source.ErrAbsent)
	case rec.Datastore == "":
		return zero, fmt.Errorf("netns lab %s has no datastore (deployed without the CNI): %w", s.lab.Name, source.ErrAbsent)
	}
	store, err := s.datastore(ctx, rec)
	if err != nil {
		return zero, err
	}
	v, err := read(ctx, store)
	if err != nil {
		return zero, fmt.Errorf("%w; is the datastore running? knetlab status %s shows it, knetlab deploy %s restarts it", err, s.lab.Name, s.lab.Name)
	}
	return v, nil
}

// SwitchShow implements provider.SwitchCLI: the switch namespace read as verify reads it,
// printed in EOS's text layout.
func (p *Provider) SwitchShow(ctx context.Context, l *lab.Lab, command string) ([]byte, error) {
	src, err := p.Source(ctx, l)
	if err != nil {
		return nil, err
	}
	sw, err := src.Switch(ctx)
	if err != nil {
		return nil, exitcode.NewEnvironment(err, "knetlab deploy "+l.Name)
	}
	return eosview.Show(sw, command)
}

// ReadIPAM implements provider.IPAMReader: the lab's etcd read as Calico's objects.
func (p *Provider) ReadIPAM(ctx context.Context, l *lab.Lab) (*calicoview.Objects, error) {
	src, err := p.Source(ctx, l)
	if err != nil {
		return nil, err
	}
	s := src.(*Source)
	defer s.Close()
	o, err := readStore(ctx, s, storefacts.Objects)
	if errors.Is(err, source.ErrAbsent) {
		return nil, exitcode.NewEnvironment(err, "knetlab deploy "+l.Name+" (with its CNI)")
	}
	return o, err
}

// datastore connects to the lab's etcd. Its address lives on the lab's management network,
// which exists only inside the lab's namespaces; the host's own namespace has no route to it and
// must never get one, so the client dials from inside the lab (openDatastore).
func (s *Source) datastore(ctx context.Context, rec *journal.Lab) (*datastore.Etcd, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store != nil && s.url == rec.Datastore {
		return s.store, nil
	}
	if s.store != nil {
		s.store.Close()
		s.store = nil
	}
	store, err := openDatastore(ctx, s.root, s.lab.Name, rec.Datastore, 3*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connect to the datastore of lab %s at %s: %w; knetlab deploy %s restarts it", s.lab.Name, rec.Datastore, err, s.lab.Name)
	}
	s.store, s.url = store, rec.Datastore
	return store, nil
}

// agentOf is the recorded agent process of a node (the latest, after restarts).
func agentOf(rec *journal.Lab, node string) (journal.Process, bool) {
	ns, ok := rec.Namespace(node)
	if !ok {
		return journal.Process{}, false
	}
	for i := len(rec.Processes) - 1; i >= 0; i-- { // the latest start wins after a restart
		p := rec.Processes[i]
		if p.Namespace == ns.Name && p.Name == agentProcess+node {
			return p, true
		}
	}
	return journal.Process{}, false
}

// Topology implements source.Source: a node runs when its namespace exists, and is ready when
// its underlay interface is up and, in a lab with the CNI, its agent runs (not stopped, not
// paused): a node whose agent is gone keeps its last tables, and verify must say why they no
// longer follow the datastore.
func (s *Source) Topology(context.Context) ([]observed.NodeStatus, error) {
	rec, err := s.record()
	if err != nil {
		return nil, err
	}
	var out []observed.NodeStatus
	for _, n := range s.lab.Nodes {
		st := memberStatus(s.lab.Name, n.Name, "node", n.Interface)
		if st.Ready && rec.Datastore != "" {
			agentStatus(rec, n.Name, &st)
		}
		out = append(out, st)
	}
	if sw := s.lab.Switch; sw != nil {
		st := memberStatus(s.lab.Name, sw.Name, "switch", "")
		out = append(out, st)
	}
	// A route reflector is a member too: its namespace, and the process that speaks BGP in it.
	for _, rr := range s.lab.RouteReflectors() {
		st := memberStatus(s.lab.Name, rr.Name, "reflector", "")
		if _, why := reflectorProcessState(rec, rr.Name); st.Running && why != "" {
			st.Running, st.Ready, st.Detail = false, false, why
		}
		out = append(out, st)
	}
	out = append(out, memberStatus(s.lab.Name, networkMember, "network", mgmtBridge))
	return out, nil
}

// reflectorStatus says whether route reflector rr's GoBGP runs: the reflector is its process,
// as the gobgp container is its gobgpd.
func agentStatus(rec *journal.Lab, node string, st *observed.NodeStatus) {
	p, ok := agentOf(rec, node)
	switch {
	case !ok:
		st.Ready = false
		st.Detail = fmt.Sprintf("no agent recorded for %s; knetlab deploy %s starts it", node, rec.Lab)
	case !p.Alive():
		st.Ready = false
		st.Detail = fmt.Sprintf("agent not running (pid %d); knetlab fix %s restarts it", p.PID, rec.Lab)
	case paused(p.PID):
		st.Ready = false
		st.Detail = fmt.Sprintf("agent paused (pid %d, stopped by a signal); kill -CONT %d resumes it", p.PID, p.PID)
	}
}

// paused reports whether process pid is stopped by a signal (SIGSTOP): state T in /proc.
func paused(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	letter, _, err := journal.ParseStat(string(b))
	return err == nil && journal.StateOf(letter) == journal.StatePaused
}

func memberStatus(labName, member, kind, iface string) observed.NodeStatus {
	ns := NamespaceName(labName, member)
	st := observed.NodeStatus{Name: member, Kind: kind}
	if inspectNamespace(ns) != nsPresent {
		st.Detail = fmt.Sprintf("namespace %s is missing; knetlab deploy %s repairs it", ns, labName)
		return st
	}
	st.Running = true
	if iface == "" {
		st.Ready = true
		return st
	}
	h, err := openNamespace(ns)
	if err != nil {
		st.Detail = err.Error()
		return st
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		st.Detail = err.Error()
		return st
	}
	defer nl.Close()
	link, err := nl.LinkByName(iface)
	switch {
	case err != nil:
		st.Detail = fmt.Sprintf("%s has no %s; knetlab deploy %s repairs it", member, iface, labName)
	case link.Attrs().RawFlags&unix.IFF_LOWER_UP == 0 || link.Attrs().Flags&net.FlagUp == 0:
		// Carrier, not operstate: operstate trails carrier by up to a second (linkwatch).
		st.Detail = fmt.Sprintf("%s %s is down (no carrier)", member, iface)
	default:
		st.Ready = true
	}
	return st
}

// NodeState implements source.Source: the node's kernel tables, and in a lab with the CNI the
// wiring of each pod the lab placed on it, the natOutgoing table and, in a BGP lab, its BGP
// speaker's sessions and routes (bgpstate.go).
func (s *Source) NodeState(ctx context.Context, node string) (*observed.Node, error) {
	if _, ok := s.lab.Node(node); !ok {
		return nil, fmt.Errorf("lab %s has no node %q", s.lab.Name, node)
	}
	rec, err := s.record()
	if err != nil {
		return nil, err
	}
	nsName := NamespaceName(s.lab.Name, node)
	h, err := openNamespace(nsName)
	if err != nil {
		return nil, fmt.Errorf("%w; knetlab deploy %s repairs it", err, s.lab.Name)
	}
	defer h.Close()
	st, err := kernel.ReadNode(h, node)
	if err != nil {
		return nil, err
	}
	if rec.Datastore == "" {
		return st, nil // no CNI: no pods, no natOutgoing to judge
	}
	for _, p := range rec.Pods {
		if p.Node != node {
			continue
		}
		if inspectNamespace(p.NetNS) != nsPresent {
			continue // pods.wiring reports the pod's namespace as missing
		}
		w, err := readPod(p)
		if err != nil {
			return nil, err
		}
		st.Pods = append(st.Pods, w)
	}
	st.Mark(observed.TablePods)
	nat, err := dataplane.ReadNAT(namespacePath(nsName))
	if err != nil {
		return nil, fmt.Errorf("read %s natOutgoing: %w", node, err)
	}
	st.NATOutgoing = nat.Masquerade
	st.Mark(observed.TableNAT)
	if s.lab.BGP != nil {
		if err := s.readNodeBGP(ctx, rec, st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// readPod reads a recorded pod's side of its wiring from the pod's namespace.
func readPod(p journal.Pod) (observed.PodWiring, error) {
	h, err := openNamespace(p.NetNS)
	if err != nil {
		return observed.PodWiring{}, err
	}
	defer h.Close()
	return kernel.ReadPod(h, p.Namespace, p.Name, p.HostIface)
}

// Switch implements source.Source.
func (s *Source) Switch(context.Context) (*observed.Switch, error) {
	if s.lab.Switch == nil {
		return nil, fmt.Errorf("lab %s has no switch: %w", s.lab.Name, source.ErrAbsent)
	}
	h, err := openNamespace(NamespaceName(s.lab.Name, s.lab.Switch.Name))
	if err != nil {
		return nil, fmt.Errorf("%w; knetlab deploy %s repairs it", err, s.lab.Name)
	}
	defer h.Close()
	return kernel.ReadSwitch(h, s.lab.Switch.Name)
}

// RouteGet implements source.Router: the route the kernel of a node, of the switch or of the
// management network's gateway matches for dst (ip route get fibmatch), for knetlab trace.
func (s *Source) RouteGet(_ context.Context, member string, dst netip.Addr) (observed.Route, error) {
	_, isNode := s.lab.Node(member)
	if !isNode && member != networkMember && (s.lab.Switch == nil || s.lab.Switch.Name != member) {
		return observed.Route{}, fmt.Errorf("lab %s has no node or switch %q", s.lab.Name, member)
	}
	h, err := openNamespace(NamespaceName(s.lab.Name, member))
	if err != nil {
		return observed.Route{}, fmt.Errorf("%w; knetlab deploy %s repairs it", err, s.lab.Name)
	}
	defer h.Close()
	r, err := kernel.RouteGet(h, dst)
	if err != nil {
		return observed.Route{}, fmt.Errorf("%s: %w", member, err)
	}
	return r, nil
}

var _ source.Router = (*Source)(nil)
