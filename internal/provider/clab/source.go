package clab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/knetlab/knetlab/internal/calicoview"
	"github.com/knetlab/knetlab/internal/collect/eos"
	"github.com/knetlab/knetlab/internal/collect/kube"
	"github.com/knetlab/knetlab/internal/collect/nodeexec"
	"github.com/knetlab/knetlab/internal/collect/storefacts"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/render"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
	"github.com/knetlab/knetlab/verify/source"
)

// The switch login the rendered cEOS startup config creates (internal/render/eos.go).
const (
	switchUser     = "admin"
	switchPassword = "admin"
)

// liveSource is the live verify source of a clab lab: kind nodes read by docker exec, facts from the
// API server, the switch over SSH, the connectivity probes sent from the lab's test pods, and in
// a BGP lab calico-node's BIRD (pods/exec) and the route reflectors' gobgp (docker exec).
type liveSource struct {
	lab     *lab.Lab
	h       *host
	workDir string
	docker  dockerAPI
	kube    *kube.Collector
	facts   factsReader // the datastore the lab's CNI keeps its IPAM in (recordedFacts)
	nodes   *nodeexec.Collector
	pods    podExecer // runs the probes' ping and birdcl in calico-node, in pods
	// reflectors reads the lab's route reflectors: docker exec in their containers, which the
	// rendered topology names after the reflectors (containerlab prefix "").
	reflectors *nodeexec.Collector

	mu  sync.Mutex
	cur *nodeRound // the last read of all nodes
}

// nodeRound is one parallel read of every node. The verify engine asks for each node once per
// run (and again on each re-run under --wait); a node asked for a second time starts a new
// round, so a re-run never judges stale tables.
type nodeRound struct {
	states map[string]*observed.Node
	// errs says, per node, what could not be read: the node is absent from states when
	// nothing could, else it names the tables that are left unmarked.
	errs   map[string]error
	served map[string]bool
}

// podExecer runs a command in a pod (kube.PodExec: the pods/exec subresource).
type podExecer = kube.Execer

// factsReader reads the cluster's IPAM facts, and the same data as Calico's objects for knetlab
// get: kube.Collector from Calico's CRDs, storeFacts from the knetlab datastore.
type factsReader interface {
	Facts(ctx context.Context) (*facts.Facts, error)
	Objects(ctx context.Context) (*calicoview.Objects, error)
}

func newSource(l *lab.Lab, h *host, d dockerAPI, k *kubeClients, workDir string) *liveSource {
	collector := &kube.Collector{Dynamic: k.dyn, Core: k.core}
	return &liveSource{
		workDir: workDir,
		lab:     l,
		h:       h,
		docker:  d,
		kube:    collector,
		facts:   recordedFacts(workDir, collector, k),
		// kind node containers are named after their nodes.
		nodes:      nodeexec.New(nodeexec.DockerExecer{Client: d}),
		pods:       &kube.PodExec{REST: k.core.CoreV1().RESTClient(), Config: k.cfg},
		reflectors: nodeexec.New(nodeexec.DockerExecer{Client: d}),
	}
}

var (
	_ source.Prober     = (*liveSource)(nil)
	_ source.ProbeScope = (*liveSource)(nil)
)

func (s *liveSource) Describe() string { return "clab lab " + s.lab.Name }

// Live implements source.Live: what the running lab does not yield, it lacks.
func (s *liveSource) Live() bool { return true }

var _ source.Live = (*liveSource)(nil)

func (s *liveSource) Facts(ctx context.Context) (*facts.Facts, error) { return s.readFacts(ctx) }

// readFacts reads the facts from where the lab's CNI keeps them (a source built by hand in a
// test, without facts, reads Calico's CRDs).
func (s *liveSource) readFacts(ctx context.Context) (*facts.Facts, error) {
	if s.facts == nil {
		return s.kube.Facts(ctx)
	}
	return s.facts.Facts(ctx)
}

// recordedFacts is where a lab's facts live, by the CNI its deploy recorded in the work
// directory: upstream Calico keeps them in its CRDs (crd.projectcalico.org), knetlab's agent
// in the kubernetes datastore (datastore.knetlab.dev), and neither has the other's. A lab
// without that record is not judged on a guess.
func recordedFacts(workDir string, calicoCRDs *kube.Collector, k *kubeClients) factsReader {
	path := filepath.Join(workDir, recordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return unknownFacts{fmt.Errorf("which CNI the lab runs is unknown: %w; knetlab deploy records it (deploying an up lab again changes nothing else)", err)}
	}
	var rec labRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return unknownFacts{fmt.Errorf("which CNI the lab runs is unknown: %s: %w", path, err)}
	}
	switch rec.CNI {
	case CNICalico:
		return calicoCRDs
	case CNIKnetlab:
		return storeFacts{kubestore.New(k.dyn)}
	}
	return unknownFacts{fmt.Errorf("%s records CNI %q: knetlab reads the facts of calico or knetlab only", path, rec.CNI)}
}

// storeFacts reads the facts of a --cni knetlab lab from its kubernetes datastore.
type storeFacts struct{ store datastore.Store }

func (f storeFacts) Facts(ctx context.Context) (*facts.Facts, error) {
	out, err := storefacts.Load(ctx, f.store)
	if err != nil {
		return nil, fmt.Errorf("%w (is the knetlab agent's CRD installed? kubectl get crd ippools.datastore.knetlab.dev)", err)
	}
	return out, nil
}

// Objects reads the knetlab datastore as Calico's objects.
func (f storeFacts) Objects(ctx context.Context) (*calicoview.Objects, error) {
	out, err := storefacts.Objects(ctx, f.store)
	if err != nil {
		return nil, fmt.Errorf("%w (is the knetlab agent's CRD installed? kubectl get crd ippools.datastore.knetlab.dev)", err)
	}
	return out, nil
}

// unknownFacts are the facts of a lab whose CNI is not known: an error saying why.
type unknownFacts struct{ err error }

func (f unknownFacts) Facts(context.Context) (*facts.Facts, error) { return nil, f.err }

func (f unknownFacts) Objects(context.Context) (*calicoview.Objects, error) { return nil, f.err }

// ReadIPAM implements provider.IPAMReader: the cluster's IPAM data from where the lab's CNI
// keeps it (Calico's CRDs, or the knetlab datastore), through the Kubernetes API.
func (p *Provider) ReadIPAM(ctx context.Context, l *lab.Lab) (*calicoview.Objects, error) {
	src, err := p.Source(ctx, l)
	if err != nil {
		return nil, err
	}
	return src.(*liveSource).objects(ctx)
}

func (s *liveSource) objects(ctx context.Context) (*calicoview.Objects, error) {
	reader := s.facts
	if reader == nil {
		reader = s.kube
	}
	o, err := reader.Objects(ctx)
	if err != nil {
		return nil, exitcode.NewEnvironment(err, "knetlab status "+s.lab.Name+" shows whether the cluster is up")
	}
	return o, nil
}

// NodeState reads every node of the lab on the first call of a round, all nodes and all
// tables in parallel, so that verify's wall time is one round of docker execs, not one per
// node. The pods table comes from the pods' network namespaces on each node, named with the
// cluster's pod facts; without facts it stays unmarked (the checks needing facts fail
// anyway). In a lab that speaks BGP the node's BGP sessions and learned routes come from
// calico-node's BIRD on it (birdcl show protocols and show route, through pods/exec). A node read only in part comes with an error naming what could
// not be read, so that verify fails, not skips, the checks that need it.
func (s *liveSource) NodeState(ctx context.Context, node string) (*observed.Node, error) {
	if _, ok := s.lab.Node(node); !ok {
		return nil, fmt.Errorf("lab %s has no node %s", s.lab.Name, node)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.cur.served[node] {
		s.cur = s.readRound(ctx)
	}
	s.cur.served[node] = true
	return s.cur.states[node], s.cur.errs[node]
}

func (s *liveSource) readRound(ctx context.Context) *nodeRound {
	var names []string
	for _, n := range s.lab.Nodes {
		names = append(names, n.Name)
	}
	r := &nodeRound{states: map[string]*observed.Node{}, errs: map[string]error{}, served: map[string]bool{}}
	f, factsErr := s.readFacts(ctx)
	bird := s.birdPods(ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.nodes.NodeState(ctx, name) // a partly read node comes with its error
			if n != nil && factsErr == nil {
				boxes, boxErr := s.nodes.Sandboxes(ctx, name)
				if boxErr == nil {
					n.Pods = nodeexec.PodWirings(n, f.Pods, boxes)
					n.Mark(observed.TablePods)
				} else {
					err = errors.Join(err, fmt.Errorf("node %s: pods: %w", name, boxErr))
				}
			}
			if n != nil && bird != nil {
				if bgpErr := bird.read(ctx, n); bgpErr != nil {
					err = errors.Join(err, fmt.Errorf("node %s: %w", name, bgpErr))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if n != nil {
				r.states[name] = n
			}
			if err != nil {
				r.errs[name] = err
			}
		}()
	}
	wg.Wait()
	return r
}

// Probes implements source.ProbeScope: the connectivity checks pair the lab's declared test
// pods only. They run praqma/network-multitool, which has ping; the cluster's own pods
// (coredns, Calico's) may have none, and an operator's NetworkPolicy may drop ICMP to them.
func (s *liveSource) Probes(p facts.Pod) bool {
	for _, tp := range s.lab.Pods {
		if tp.Namespace == p.Namespace && tp.Name == p.Name {
			return true
		}
	}
	return false
}

// Ping implements source.Prober: ping runs inside the source pod, through the pods/exec
// subresource (kind's node image has no ping).
func (s *liveSource) Ping(ctx context.Context, from facts.Pod, dst netip.Addr, count int) (int, error) {
	out, err := s.pingFrom(ctx, from, dst, count)
	if err != nil {
		return 0, err
	}
	n, err := parse.PingReceived(out)
	if err != nil {
		return 0, fmt.Errorf("ping %s from pod %s/%s: %w", dst, from.Namespace, from.Name, err)
	}
	return n, nil
}

// PingThrough implements source.Prober: the ping of Ping, counted by an nftables table on the
// pod's node (nodeexec.Collector.PingThrough).
func (s *liveSource) PingThrough(ctx context.Context, from facts.Pod, dst netip.Addr, count int, dev string) (source.Egress, error) {
	if !s.Probes(from) {
		return source.Egress{}, notTestPod(s.lab, from)
	}
	return s.nodes.PingThrough(ctx, from.Node, from.IP, dst, dev, func(ctx context.Context) ([]byte, error) {
		return s.pingFrom(ctx, from, dst, count)
	})
}

// pingFrom runs nodeexec.PingCmd in a test pod.
func (s *liveSource) pingFrom(ctx context.Context, from facts.Pod, dst netip.Addr, count int) ([]byte, error) {
	if !s.Probes(from) {
		return nil, notTestPod(s.lab, from)
	}
	return s.pods.Exec(ctx, from.Namespace, from.Name, "", nodeexec.PingCmd(dst, count))
}

func notTestPod(l *lab.Lab, p facts.Pod) error {
	return fmt.Errorf("pod %s/%s is not one of lab %s's test pods: knetlab sends no traffic from it", p.Namespace, p.Name, l.Name)
}

// Topology reports each lab node's container and Ready condition, the switch's container and
// each route reflector's (named after the reflector, containerlab's prefix being empty).
func (s *liveSource) Topology(ctx context.Context) ([]observed.NodeStatus, error) {
	containers, err := labNodeContainers(ctx, s.docker, s.lab.Name, s.lab.Cluster.Name)
	if err != nil {
		return nil, err
	}
	byNode := map[string]nodeContainer{}
	for _, c := range containers {
		byNode[c.node] = c
	}
	ready := map[string]observed.NodeStatus{}
	kubeStatuses, kubeErr := s.kube.NodeStatuses(ctx)
	for _, st := range kubeStatuses {
		ready[st.Name] = st
	}
	var out []observed.NodeStatus
	if sw := s.lab.Switch; sw != nil {
		c, ok := byNode[sw.Name]
		st := observed.NodeStatus{Name: sw.Name, Kind: "switch", Running: ok && c.state == "running"}
		st.Ready = st.Running
		st.Detail = containerDetail(c, ok, "clab-"+s.lab.Name+"-"+sw.Name)
		out = append(out, st)
	}
	for _, n := range s.lab.Nodes {
		c, ok := byNode[n.Name]
		st := observed.NodeStatus{Name: n.Name, Kind: "node", Running: ok && c.state == "running"}
		st.Detail = containerDetail(c, ok, n.Name)
		switch k, known := ready[n.Name]; {
		case kubeErr != nil:
			st.Detail += fmt.Sprintf("; readiness unknown: %v", kubeErr)
		case !known:
			st.Detail += "; not registered with the API server"
		default:
			st.Ready = k.Ready
			st.Detail += "; " + k.Detail
		}
		out = append(out, st)
	}
	for _, rr := range s.lab.RouteReflectors() {
		c, ok := byNode[rr.Name]
		st := observed.NodeStatus{Name: rr.Name, Kind: "reflector", Running: ok && c.state == "running"}
		st.Ready = st.Running
		st.Detail = containerDetail(c, ok, rr.Name)
		out = append(out, st)
	}
	return out, nil
}

func containerDetail(c nodeContainer, found bool, name string) string {
	if !found {
		return "no container " + name
	}
	if c.status != "" {
		return "container " + c.state + " (" + c.status + ")"
	}
	return "container " + c.state
}

// Switch reads the cEOS switch over SSH at its management address from `containerlab inspect`.
func (s *liveSource) Switch(ctx context.Context) (*observed.Switch, error) {
	conn, err := s.switchConn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return eos.Collect(ctx, conn, s.lab.Switch.Name)
}

// switchConn is an SSH session to the lab's cEOS switch at its management address from
// `containerlab inspect`; the caller closes it.
func (s *liveSource) switchConn(ctx context.Context) (*eos.Scrapli, error) {
	sw := s.lab.Switch
	if sw == nil {
		return nil, source.ErrAbsent
	}
	topology := filepath.Join(s.workDir, filepath.FromSlash(render.TopologyPath(s.lab.Name)))
	out, err := s.h.output(ctx, s.workDir, []string{"containerlab", "inspect", "-t", topology, "--format", "json"})
	if err != nil {
		return nil, err
	}
	containers, err := ParseInspect(out)
	if err != nil {
		return nil, err
	}
	for _, c := range containers {
		if c.NodeName(s.lab.Name) != sw.Name {
			continue
		}
		ip, ok := c.MgmtIPv4()
		if !ok {
			return nil, fmt.Errorf("switch %s has no management address in containerlab inspect (state %s)", sw.Name, c.State)
		}
		return &eos.Scrapli{Host: ip.String(), Username: switchUser, Password: switchPassword}, nil
	}
	return nil, fmt.Errorf("containerlab inspect lists no container for switch %s of lab %s", sw.Name, s.lab.Name)
}

// RouteGet implements source.Router for knetlab trace: a kind node's kernel is asked through
// docker exec (ip -j route get fibmatch). The cEOS switch is not asked (ErrAbsent): trace
// matches its routes, read with show ip route, itself.
func (s *liveSource) RouteGet(ctx context.Context, member string, dst netip.Addr) (observed.Route, error) {
	if _, ok := s.lab.Node(member); !ok {
		return observed.Route{}, fmt.Errorf("route lookups on %s are not asked of the switch: %w", member, source.ErrAbsent)
	}
	return s.nodes.RouteGet(ctx, member, dst)
}

var _ source.Router = (*liveSource)(nil)

// SwitchShow implements provider.SwitchCLI: the command goes to cEOS as typed, and its text
// answer comes back unchanged.
func (p *Provider) SwitchShow(ctx context.Context, l *lab.Lab, command string) ([]byte, error) {
	src, err := p.Source(ctx, l)
	if err != nil {
		return nil, err
	}
	conn, err := src.(*liveSource).switchConn(ctx)
	if err != nil {
		return nil, exitcode.NewEnvironment(err, "knetlab status "+l.Name+" shows whether the switch runs")
	}
	defer conn.Close()
	out, err := conn.Command(ctx, command)
	if err != nil {
		return nil, exitcode.NewEnvironment(fmt.Errorf("%s on switch %s: %w", command, l.Switch.Name, err), "knetlab status "+l.Name+" shows whether the switch runs")
	}
	return out, nil
}
