package clab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"

	"github.com/knetlab/knetlab/internal/collect/eos"
	"github.com/knetlab/knetlab/internal/collect/kube"
	"github.com/knetlab/knetlab/internal/collect/nodeexec"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/render"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
)

// The switch login the rendered cEOS startup config creates (internal/render/eos.go).
const (
	switchUser     = "admin"
	switchPassword = "admin"
)

// liveSource is the live verify source of a clab lab: kind nodes read by docker exec, facts from the
// API server, the switch over SSH.
type liveSource struct {
	lab     *lab.Lab
	h       *host
	workDir string
	docker  dockerAPI
	kube    *kube.Collector
	nodes   *nodeexec.Collector

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
	errs      map[string]error
	served    map[string]bool
	sandboxes map[string][]nodeexec.Sandbox // per node: the pods' network namespaces
}

func newSource(l *lab.Lab, h *host, d dockerAPI, k *kubeClients, workDir string) *liveSource {
	return &liveSource{
		workDir: workDir,
		lab:     l,
		h:       h,
		docker:  d,
		kube:    &kube.Collector{Dynamic: k.dyn, Core: k.core},
		// kind node containers are named after their nodes.
		nodes: nodeexec.New(nodeexec.DockerExecer{Client: d}),
	}
}

var _ source.Prober = (*liveSource)(nil)

func (s *liveSource) Describe() string { return "clab lab " + s.lab.Name }

// Live implements source.Live: what the running lab does not yield, it lacks.
func (s *liveSource) Live() bool { return true }

var _ source.Live = (*liveSource)(nil)

func (s *liveSource) Facts(ctx context.Context) (*facts.Facts, error) { return s.kube.Facts(ctx) }

// NodeState reads every node of the lab on the first call of a round, all nodes and all
// tables in parallel, so that verify's wall time is one round of docker execs, not one per
// node. The pods table comes from the pods' network namespaces on each node, named with the
// cluster's pod facts; without facts it stays unmarked (the checks needing facts fail
// anyway). A node read only in part comes with an error naming what could not be read, so
// that verify fails, not skips, the checks that need it.
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
	r := &nodeRound{states: map[string]*observed.Node{}, errs: map[string]error{}, served: map[string]bool{}, sandboxes: map[string][]nodeexec.Sandbox{}}
	f, factsErr := s.kube.Facts(ctx)
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
				mu.Lock()
				r.sandboxes[name] = boxes
				mu.Unlock()
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

// Ping implements source.Prober: ping runs on the pod's node inside the pod's network namespace.
func (s *liveSource) Ping(ctx context.Context, from facts.Pod, dst netip.Addr, count int) (int, error) {
	ns, err := s.sandboxOf(ctx, from)
	if err != nil {
		return 0, err
	}
	return s.nodes.Ping(ctx, from.Node, ns, dst, count)
}

// PingThrough implements source.Prober: the ping of Ping, counted by an nftables table on the
// pod's node (nodeexec.Collector.PingThrough).
func (s *liveSource) PingThrough(ctx context.Context, from facts.Pod, dst netip.Addr, count int, dev string) (source.Egress, error) {
	ns, err := s.sandboxOf(ctx, from)
	if err != nil {
		return source.Egress{}, err
	}
	return s.nodes.PingThrough(ctx, from.Node, ns, from.IP, dst, count, dev)
}

// sandboxOf names the pod's network namespace on its node.
func (s *liveSource) sandboxOf(ctx context.Context, from facts.Pod) (string, error) {
	s.mu.Lock()
	if s.cur == nil {
		s.cur = s.readRound(ctx)
	}
	boxes := s.cur.sandboxes[from.Node]
	s.mu.Unlock()
	b, ok := nodeexec.SandboxOf(boxes, from.IP)
	if !ok {
		return "", fmt.Errorf("pod %s/%s: no network namespace with %s on node %s", from.Namespace, from.Name, from.IP, from.Node)
	}
	return b.Netns, nil
}

// Topology reports each lab node's container and Ready condition, and the switch's container.
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
		conn := &eos.Scrapli{Host: ip.String(), Username: switchUser, Password: switchPassword}
		defer conn.Close()
		return eos.Collect(ctx, conn, sw.Name)
	}
	return nil, fmt.Errorf("containerlab inspect lists no container for switch %s of lab %s", sw.Name, s.lab.Name)
}
