package agent

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/knetlab/knetlab/internal/agent/agenttest"
	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// testSource is the smallest live verify source over agents in test namespaces: facts from
// the datastore, node tables from netlink (kernel) plus the agent's nftables NAT table.
type testSource struct {
	store datastore.Store
	ns    map[string]string // node → namespace name
}

func (s *testSource) Describe() string { return "agent test lab" }

func (s *testSource) Facts(ctx context.Context) (*facts.Facts, error) {
	f := &facts.Facts{}
	pools, _, err := datastore.IPPools(s.store).List(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range pools {
		f.Pools = append(f.Pools, facts.Pool{Name: p.Metadata.Name, CIDR: p.Spec.CIDR, BlockSize: p.Spec.BlockSize,
			VXLANMode: p.Spec.VXLANMode, IPIPMode: p.Spec.IPIPMode, NATOutgoing: p.Spec.NATOutgoing, Disabled: p.Spec.Disabled})
	}
	nodes, _, err := datastore.Nodes(s.store).List(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		f.Nodes = append(f.Nodes, facts.Node{Name: n.Metadata.Name, Address: n.Spec.BGP.IPv4Address,
			VXLANTunnelAddr: n.Spec.IPv4VXLANTunnelAddr, VXLANTunnelMAC: n.Spec.VXLANTunnelMACAddr})
	}
	affs, _, err := datastore.BlockAffinities(s.store).List(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range affs {
		f.Affinities = append(f.Affinities, facts.BlockAffinity{Node: a.Spec.Node, CIDR: a.Spec.CIDR, State: a.Spec.State, Deleted: a.Spec.Deleted})
	}
	return f, nil
}

func (s *testSource) Topology(context.Context) ([]observed.NodeStatus, error) {
	return nil, source.ErrAbsent
}

func (s *testSource) NodeState(_ context.Context, node string) (*observed.Node, error) {
	name, ok := s.ns[node]
	if !ok {
		return nil, source.ErrAbsent
	}
	h, err := netns.GetFromName(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	st, err := kernel.ReadNode(h, node)
	if err != nil {
		return nil, err
	}
	nat, err := dataplane.ReadNAT(testbed.Path(name))
	if err != nil {
		return nil, err
	}
	st.NATOutgoing = nat.Masquerade
	st.Mark(observed.TableNAT)
	return st, nil
}

func (s *testSource) Switch(context.Context) (*observed.Switch, error) { return nil, source.ErrAbsent }

// TestVerifyPassesOnAgentProgrammedNodes is the point of the whole exercise: nodes programmed
// by knetlab's agent pass knetlab's verify, which was written from docs/dataplane.md independently.
func TestVerifyPassesOnAgentProgrammedNodes(t *testing.T) {
	store, u := overlayLab(t)
	ctx := context.Background()
	src := &testSource{store: store, ns: map[string]string{}}
	for _, n := range agenttest.Names() {
		src.ns[n] = u.Nodes[n].NS
		startAgent(t, store, n, u.Nodes[n].NS)
	}

	// Verify judges what the datastore says; wait until it knows every node.
	deadline := time.Now().Add(10 * time.Second)
	for {
		nodes, _, err := datastore.Nodes(store).List(ctx)
		if err == nil && len(nodes) == len(src.ns) && !slices.ContainsFunc(nodes, func(n *datastore.Node) bool { return !n.Spec.IPv4VXLANTunnelAddr.IsValid() }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes registered: %d of %d (%v)", len(nodes), len(src.ns), err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	checks := []string{"routes.blocks", "vxlan.device", "vxlan.neigh", "vxlan.fdb", "nat.outgoing"}
	r, err := verify.Run(ctx, src, verify.Options{Checks: checks, Wait: 10 * time.Second, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status() != report.Passed {
		var out bytes.Buffer
		report.WriteText(&ui.Streams{Out: &out, Err: &out}, r)
		t.Errorf("verify on agent-programmed nodes: %s\n%s", r.Status(), out.String())
	}
	for _, c := range r.Checks {
		if c.Status != report.Passed {
			t.Errorf("%s: %s %s", c.ID, c.Status, c.Reason)
		}
	}
}
