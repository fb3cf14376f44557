package verify_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
	"github.com/knetlab/knetlab/verify/spec"
)

// fakeSource is an in-memory source.Source: facts and node states as a test builds them.
type fakeSource struct {
	facts    *facts.Facts
	factsErr error
	nodes    map[string]*observed.Node
	topology []observed.NodeStatus
	sw       *observed.Switch
}

func (f *fakeSource) Describe() string { return "fake" }
func (f *fakeSource) Facts(context.Context) (*facts.Facts, error) {
	if f.factsErr != nil {
		return nil, f.factsErr
	}
	return f.facts, nil
}
func (f *fakeSource) Topology(context.Context) ([]observed.NodeStatus, error) {
	if f.topology == nil {
		return nil, source.ErrAbsent
	}
	return f.topology, nil
}
func (f *fakeSource) NodeState(_ context.Context, node string) (*observed.Node, error) {
	n, ok := f.nodes[node]
	if !ok {
		return nil, source.ErrAbsent
	}
	return n, nil
}
func (f *fakeSource) Switch(context.Context) (*observed.Switch, error) {
	if f.sw == nil {
		return nil, source.ErrAbsent
	}
	return f.sw, nil
}

// healthyLesson06 is the lesson 06 cluster with every node's dataplane as Calico programs it.
func healthyLesson06() *fakeSource {
	f := expecttest.Lesson06()
	c := expect.Compute(f)
	src := &fakeSource{facts: f, nodes: map[string]*observed.Node{}}
	for _, n := range c.Nodes {
		src.nodes[n.Name()] = expecttest.Healthy(c, n.Name())
	}
	return src
}

func routeTo(n *observed.Node, dst string) *observed.Route {
	for i := range n.Routes {
		if n.Routes[i].Dst.String() == dst {
			return &n.Routes[i]
		}
	}
	panic("no route to " + dst)
}

func run(t *testing.T, src source.Source, ids ...string) *report.Report {
	t.Helper()
	r, err := verify.Run(context.Background(), src, verify.Options{Checks: ids})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

// finding is the compact form the table states a finding in.
type finding struct {
	node, kind, entry, field, expected, found, reasonHas string
}

func TestChecksOnLesson06(t *testing.T) {
	tests := []struct {
		name   string
		check  string
		break_ func(s *fakeSource)
		// lab runs the check against the calico-overlay lab, whose switch ceos01 is healthy in
		// the source, after breakLab (when set) changed what the lab declares.
		lab      bool
		breakLab func(l *spec.Lab)
		// want are all the findings of the check, in order; none means the check passes.
		want []finding
		// skipped are nodes that must be skipped, with a part of the reason.
		skipped map[string]string
	}{
		{name: "healthy routes", check: checkid.RoutesBlocks},
		{
			name: "tolerated extras of other Calico versions", check: checkid.RoutesBlocks,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker"]
				r := routeTo(n, "192.168.209.64/26")
				r.MTU, r.Metric, r.Protocol = 1450, 1024, "80" // newer felix: proto 80 mtu 1450
				routeTo(n, "192.168.104.0/26").MTU = 1450
				n.Routes = append(n.Routes,
					observed.Route{Type: "unicast", Dst: pfx("192.168.209.64/32"), Dev: "vxlan.calico", Scope: "link"},
					observed.Route{Type: "unicast", Dst: pfx("192.168.104.7/32"), Gateway: addr("10.10.10.12"), Dev: "eth1", Protocol: "80", Onlink: true},
				)
			},
		},
		{
			name: "wrong gateway fails exactly that route", check: checkid.RoutesBlocks,
			break_: func(s *fakeSource) {
				routeTo(s.nodes["k01-worker"], "192.168.209.64/26").Gateway = addr("192.168.209.65")
			},
			want: []finding{{node: "k01-worker", kind: "different", entry: "192.168.209.64/26", field: "gateway",
				expected: "192.168.209.64", found: "192.168.209.65",
				reasonHas: "k01-worker3 is in 10.10.20.0/24, not in k01-worker's 10.10.10.0/24: 192.168.209.64/26 must go via vxlan.calico"}},
		},
		{
			name: "same-subnet block sent through vxlan.calico", check: checkid.RoutesBlocks,
			break_: func(s *fakeSource) {
				r := routeTo(s.nodes["k01-worker"], "192.168.104.0/26")
				r.Gateway, r.Dev, r.Protocol = addr("192.168.104.7"), "vxlan.calico", ""
			},
			want: []finding{
				{node: "k01-worker", kind: "different", entry: "192.168.104.0/26", field: "gateway", expected: "10.10.10.12", found: "192.168.104.7",
					reasonHas: "pool default-ipv4-ippool is VXLAN CrossSubnet and k01-worker2 10.10.10.12 is inside k01-worker's 10.10.10.0/24: 192.168.104.0/26 goes direct via eth1"},
				{node: "k01-worker", kind: "different", entry: "192.168.104.0/26", field: "dev", expected: "eth1 (the interface holding 10.10.10.11)", found: "vxlan.calico"},
				{node: "k01-worker", kind: "different", entry: "192.168.104.0/26", field: "protocol", expected: "80", found: "none (boot)"},
			},
		},
		{
			name: "missing route and stale route of a released block", check: checkid.RoutesBlocks,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker3"]
				for i, r := range n.Routes {
					if r.Dst == pfx("192.168.26.0/26") {
						n.Routes = append(n.Routes[:i], n.Routes[i+1:]...)
						break
					}
				}
				// A block released by worker2 and never re-routed, plus a pending affinity's block.
				s.facts.Affinities = append(s.facts.Affinities, facts.BlockAffinity{Node: "k01-worker2", CIDR: pfx("192.168.7.0/26"), State: "pending"})
				n.Routes = append(n.Routes, observed.Route{Type: "unicast", Dst: pfx("192.168.7.0/26"), Gateway: addr("192.168.104.7"), Dev: "vxlan.calico", Onlink: true})
			},
			want: []finding{
				{node: "k01-worker3", kind: "missing", entry: "192.168.26.0/26", expected: "192.168.26.0/26 via 192.168.26.0 dev vxlan.calico onlink",
					reasonHas: "k01-worker is in 10.10.10.0/24, not in k01-worker3's 10.10.20.0/24"},
				{node: "k01-worker3", kind: "unexpected", entry: "192.168.7.0/26", found: "192.168.7.0/26 via 192.168.104.7 dev vxlan.calico onlink",
					reasonHas: "no node owns a confirmed block 192.168.7.0/26"},
			},
		},
		{
			name: "a /32 to a tunnel address in a form no Calico uses", check: checkid.RoutesBlocks,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker"]
				n.Routes = append(n.Routes, observed.Route{Type: "unicast", Dst: pfx("192.168.209.64/32"), Gateway: addr("10.10.10.1"), Dev: "eth1"})
			},
			want: []finding{{node: "k01-worker", kind: "unexpected", entry: "192.168.209.64/32", found: "192.168.209.64 via 10.10.10.1 dev eth1",
				reasonHas: "tolerated only as 192.168.209.64/32 dev vxlan.calico"}},
		},
		{
			name: "a second route to a block", check: checkid.RoutesBlocks,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker2"]
				// The wrong one first: the right one must still be found behind it.
				n.Routes = append([]observed.Route{{Type: "unicast", Dst: pfx("192.168.209.64/26"), Gateway: addr("10.10.10.1"), Dev: "eth1", Metric: 100}}, n.Routes...)
			},
			want: []finding{{node: "k01-worker2", kind: "unexpected", entry: "192.168.209.64/26", found: "192.168.209.64/26 via 10.10.10.1 dev eth1 metric 100",
				reasonHas: "192.168.209.64/26 is k01-worker3's block and already has its route"}},
		},
		{
			name: "local block not blackholed", check: checkid.RoutesBlocks,
			break_: func(s *fakeSource) {
				r := routeTo(s.nodes["k01-control-plane"], "192.168.52.192/26")
				r.Type = "unreachable"
			},
			want: []finding{{node: "k01-control-plane", kind: "different", entry: "192.168.52.192/26", field: "type", expected: "blackhole", found: "unreachable",
				reasonHas: "k01-control-plane owns 192.168.52.192/26"}},
		},
		{
			name: "no route table: skipped, not passed", check: checkid.RoutesBlocks,
			break_: func(s *fakeSource) {
				delete(s.nodes["k01-worker2"].Tables, observed.TableRoutes)
				delete(s.nodes, "k01-worker3")
			},
			skipped: map[string]string{"k01-worker2": "no routes table", "k01-worker3": "no state for k01-worker3"},
		},
		{
			name: "a block with two owners: no route to it is expected", check: checkid.RoutesBlocks,
			// ipam.affinities reports the second owner. Which node's route is right the facts do
			// not say (issue 10: no verdict rests on an assumption), so routes to the block are
			// noted as not judged, never missing or stale.
			break_: func(s *fakeSource) {
				s.facts.Affinities = append(s.facts.Affinities, facts.BlockAffinity{Node: "k01-worker3", CIDR: pfx("192.168.26.0/26"), State: "confirmed"})
			},
		},
		{name: "healthy fdb", check: checkid.VXLANFDB},
		{
			name: "missing FDB entries name each MAC", check: checkid.VXLANFDB,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker"]
				n.FDB = n.FDB[:1] // keeps k01-control-plane's
				// Multicast entries every device lists are not VXLAN entries.
				n.FDB = append(n.FDB, observed.FDBEntry{MAC: "01:00:5e:00:00:01", Dev: "vxlan.calico", Self: true, Permanent: true})
			},
			want: []finding{
				{node: "k01-worker", kind: "missing", entry: mac("k01-worker2"), expected: mac("k01-worker2") + " dev vxlan.calico dst 10.10.10.12 self permanent"},
				{node: "k01-worker", kind: "missing", entry: mac("k01-worker3"), expected: mac("k01-worker3") + " dev vxlan.calico dst 10.10.20.20 self permanent",
					reasonHas: "k01-worker3's VTEP MAC is " + mac("k01-worker3")},
			},
		},
		{
			name: "no FDB table: skipped", check: checkid.VXLANFDB,
			break_:  func(s *fakeSource) { delete(s.nodes["k01-worker3"].Tables, observed.TableFDB) },
			skipped: map[string]string{"k01-worker3": "no fdb table for k01-worker3"},
		},
		{
			name: "stale and wrong FDB entries", check: checkid.VXLANFDB,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker2"]
				n.FDB[0].Dst = addr("10.10.10.99")
				n.FDB = append(n.FDB, observed.FDBEntry{MAC: "66:00:00:00:00:99", Dev: "vxlan.calico", Dst: addr("10.10.20.99"), Self: true, Permanent: true})
			},
			want: []finding{
				{node: "k01-worker2", kind: "different", entry: mac("k01-control-plane"), field: "dst", expected: "10.10.10.10", found: "10.10.10.99"},
				{node: "k01-worker2", kind: "unexpected", entry: "66:00:00:00:00:99", reasonHas: "stale"},
			},
		},
		{name: "healthy neighbours", check: checkid.VXLANNeigh},
		{
			name: "neighbour at the block base instead of the tunnel address", check: checkid.VXLANNeigh,
			break_: func(s *fakeSource) {
				for i := range s.nodes["k01-worker"].Neighs {
					if nb := &s.nodes["k01-worker"].Neighs[i]; nb.Dst == addr("192.168.104.7") {
						nb.Dst = addr("192.168.104.0")
					}
				}
			},
			want: []finding{
				{node: "k01-worker", kind: "missing", entry: "192.168.104.7", reasonHas: "k01-worker2's tunnel address is 192.168.104.7"},
				{node: "k01-worker", kind: "unexpected", entry: "192.168.104.0", reasonHas: "stale"},
			},
		},
		{
			name: "neighbour not permanent, wrong MAC", check: checkid.VXLANNeigh,
			break_: func(s *fakeSource) {
				nb := &s.nodes["k01-worker3"].Neighs[0]
				nb.State, nb.LLAddr = []string{"STALE"}, "66:00:00:00:00:01"
			},
			want: []finding{
				{node: "k01-worker3", kind: "different", entry: "192.168.52.192", field: "lladdr", expected: mac("k01-control-plane"), found: "66:00:00:00:00:01"},
				{node: "k01-worker3", kind: "different", entry: "192.168.52.192", field: "state", expected: "PERMANENT", found: "STALE"},
			},
		},
		{name: "healthy device", check: checkid.VXLANDevice},
		{
			name: "device MTU, VNI and learning wrong", check: checkid.VXLANDevice,
			break_: func(s *fakeSource) {
				l, _ := s.nodes["k01-worker"].Link("vxlan.calico")
				l.MTU, l.VXLAN.VNI, l.VXLAN.Learning = 1500, 1, true
			},
			want: []finding{
				{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "mtu", expected: "1450", found: "1500"},
				{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "vni", expected: "4096", found: "1"},
				{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "learning", expected: "nolearning", found: "learning"},
			},
		},
		{
			name: "device MTU follows a jumbo underlay", check: checkid.VXLANDevice,
			break_: func(s *fakeSource) {
				eth1, _ := s.nodes["k01-worker"].Link("eth1")
				eth1.MTU = 9000
			},
			want: []finding{{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "mtu", expected: "8950", found: "1450"}},
		},
		{
			name: "device absent", check: checkid.VXLANDevice,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker3"]
				n.Links = n.Links[:2]
			},
			want: []finding{{node: "k01-worker3", kind: "missing", entry: "vxlan.calico",
				expected: "vxlan id 4096 local 10.10.20.20 dev eth1 dstport 4789 nolearning mtu 1450 address " + mac("k01-worker3")}},
		},
		{name: "healthy pod routes", check: checkid.RoutesPods},
		{
			name: "stale pod route and missing pod route", check: checkid.RoutesPods,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker"]
				routeTo(n, "192.168.26.1/32").Dst = pfx("192.168.26.9/32") // the pod moved; its old route stayed
			},
			// The fake source is not live and has no IPAMBlock allocations: the old route is
			// unattributed, not stale (issue 10; verify/check judges it stale on a live lab).
			want: []finding{
				{node: "k01-worker", kind: "missing", entry: "192.168.26.1/32", expected: "192.168.26.1/32 dev " + expect.PodInterface("default", "net-w1") + " scope link"},
			},
		},
		{name: "healthy wiring", check: checkid.PodsWiring},
		{
			name: "host veth with an address and no proxy_arp", check: checkid.PodsWiring,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker2"]
				dev := expect.PodInterface("default", "net-w2")
				l, _ := n.Link(dev)
				l.Addrs = []netip.Prefix{pfx("169.254.1.1/32")}
				n.Sysctls["net.ipv4.conf."+dev+".proxy_arp"] = "0"
			},
			want: []finding{
				{node: "k01-worker2", kind: "unexpected", entry: expect.PodInterface("default", "net-w2"), field: "address", found: "169.254.1.1/32"},
				{node: "k01-worker2", kind: "different", entry: "net.ipv4.conf." + expect.PodInterface("default", "net-w2") + ".proxy_arp", field: "value", expected: "1", found: "0"},
			},
		},
		{
			name: "no pod table: skipped", check: checkid.PodsWiring,
			break_:  func(s *fakeSource) { delete(s.nodes["k01-worker"].Tables, observed.TablePods) },
			skipped: map[string]string{"k01-worker": "no pods table"},
		},
		{name: "healthy nat", check: checkid.NATOutgoing},
		{
			name: "nat missing", check: checkid.NATOutgoing,
			break_: func(s *fakeSource) { s.nodes["k01-worker3"].NATOutgoing = nil },
			want:   []finding{{node: "k01-worker3", kind: "missing", entry: "masquerade 192.168.0.0/16", reasonHas: "natOutgoing"}},
		},
		{name: "sound pool", check: checkid.IPAMPools},
		{
			name: "unsound pool", check: checkid.IPAMPools,
			break_: func(s *fakeSource) {
				s.facts.Pools[0].BlockSize, s.facts.Pools[0].IPIPMode = 8, "Always"
			},
			want: []finding{
				{node: "cluster", kind: "failed", entry: "pool default-ipv4-ippool", field: "blockSize", expected: "between 16 and 32", found: "8"},
				{node: "cluster", kind: "failed", entry: "pool default-ipv4-ippool", field: "encapsulation", found: "both"},
			},
		},
		{name: "healthy affinities", check: checkid.IPAMAffinities},
		{
			name: "node without a block, overlapping and misaligned blocks", check: checkid.IPAMAffinities,
			break_: func(s *fakeSource) {
				for i := range s.facts.Affinities {
					if s.facts.Affinities[i].Node == "k01-worker2" {
						s.facts.Affinities[i].State = "pendingDeletion"
					}
				}
				s.facts.Affinities = append(s.facts.Affinities,
					facts.BlockAffinity{Node: "k01-worker3", CIDR: pfx("192.168.26.0/26"), State: "confirmed"},
					facts.BlockAffinity{Node: "k01-worker3", CIDR: pfx("192.168.30.0/24"), State: "confirmed"},
				)
			},
			want: []finding{
				{node: "k01-worker2", kind: "missing", entry: "block affinity"},
				{node: "cluster", kind: "failed", entry: "192.168.30.0/24", field: "alignment", expected: "a /26 aligned to its size"},
				{node: "cluster", kind: "failed", entry: "192.168.26.0/26", field: "owner", found: "BlockAffinity: k01-worker; BlockAffinity: k01-worker3"},
			},
		},
		{
			name: "FDB entry not permanent", check: checkid.VXLANFDB,
			break_: func(s *fakeSource) { s.nodes["k01-worker3"].FDB[0].Permanent = false },
			want: []finding{{node: "k01-worker3", kind: "different", entry: mac("k01-control-plane"), field: "state",
				expected: "permanent", found: "not permanent", reasonHas: "k01-control-plane's VTEP MAC is " + mac("k01-control-plane")}},
		},
		{
			name: "pod route via another veth, with a gateway, global, not unicast", check: checkid.RoutesPods,
			break_: func(s *fakeSource) {
				r := routeTo(s.nodes["k01-worker"], "192.168.26.1/32")
				r.Dev, r.Gateway, r.Scope, r.Type = "cali00000000000", addr("10.10.10.1"), "global", "unreachable"
			},
			want: []finding{
				{node: "k01-worker", kind: "different", entry: "192.168.26.1/32", field: "dev", expected: expect.PodInterface("default", "net-w1"), found: "cali00000000000",
					reasonHas: "pod default/net-w1 runs on k01-worker with IP 192.168.26.1"},
				{node: "k01-worker", kind: "different", entry: "192.168.26.1/32", field: "gateway", expected: "none", found: "10.10.10.1"},
				{node: "k01-worker", kind: "different", entry: "192.168.26.1/32", field: "scope", expected: "link", found: "global"},
				{node: "k01-worker", kind: "different", entry: "192.168.26.1/32", field: "type", expected: "unicast", found: "unreachable"},
			},
		},
		{
			name: "a second route to a pod", check: checkid.RoutesPods,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker"]
				// The stale one first: the one via the pod's veth must still be the one compared.
				n.Routes = append([]observed.Route{{Type: "unicast", Dst: pfx("192.168.26.1/32"), Dev: "cali00000000000", Scope: "link"}}, n.Routes...)
			},
			want: []finding{{node: "k01-worker", kind: "unexpected", entry: "192.168.26.1/32", found: "192.168.26.1 dev cali00000000000 scope link",
				reasonHas: "192.168.26.1 already has its pod route"}},
		},
		{
			name: "device kind, state, MAC, port, local, parent and address wrong", check: checkid.VXLANDevice,
			break_: func(s *fakeSource) {
				l, _ := s.nodes["k01-worker"].Link("vxlan.calico")
				l.Kind, l.Up, l.MAC = "dummy", false, "66:00:00:00:00:01"
				l.VXLAN.Port, l.VXLAN.Local, l.VXLAN.Dev = 8472, addr("10.10.10.99"), "eth0"
				l.Addrs = []netip.Prefix{pfx("192.168.26.9/32")}
			},
			want: []finding{
				{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "kind", expected: "vxlan", found: "dummy", reasonHas: "pool default-ipv4-ippool (VXLAN CrossSubnet) uses VXLAN"},
				{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "state", expected: "up", found: "down"},
				{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "mac", expected: mac("k01-worker"), found: "66:00:00:00:00:01", reasonHas: "SHA-1"},
				{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "dstport", expected: "4789", found: "8472"},
				{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "local", expected: "10.10.10.11", found: "10.10.10.99"},
				{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "dev", expected: "eth1", found: "eth0"},
				{node: "k01-worker", kind: "different", entry: "vxlan.calico", field: "address", expected: "192.168.26.0/32", found: "192.168.26.9/32"},
			},
		},
		{
			name: "pod eth0, pod routes, host MAC and sysctls wrong", check: checkid.PodsWiring,
			break_: func(s *fakeSource) {
				n := s.nodes["k01-worker"]
				dev := expect.PodInterface("default", "net-w1")
				p := &n.Pods[0]
				p.HostIface, p.Eth0.Addrs, p.Eth0.MTU, p.Routes = "cali00000000000", []netip.Prefix{pfx("192.168.26.9/32")}, 1500, nil
				l, _ := n.Link(dev)
				l.MAC = "aa:bb:cc:dd:ee:ff"
				delete(n.Sysctls, "net.ipv4.neigh."+dev+".proxy_delay")
				n.Sysctls["net.ipv4.conf."+dev+".forwarding"] = "0"
			},
			want: []finding{
				{node: "k01-worker", kind: "different", entry: "pod default/net-w1", field: "host interface", expected: expect.PodInterface("default", "net-w1"), found: "cali00000000000", reasonHas: "SHA-1"},
				{node: "k01-worker", kind: "different", entry: "pod default/net-w1 eth0", field: "address", expected: "192.168.26.1/32", found: "192.168.26.9/32"},
				{node: "k01-worker", kind: "different", entry: "pod default/net-w1 eth0", field: "mtu", expected: "1450", found: "1500"},
				{node: "k01-worker", kind: "missing", entry: "pod default/net-w1 route", expected: "169.254.1.1 dev eth0 scope link"},
				{node: "k01-worker", kind: "missing", entry: "pod default/net-w1 route", expected: "default via 169.254.1.1 dev eth0"},
				{node: "k01-worker", kind: "different", entry: expect.PodInterface("default", "net-w1"), field: "mac", expected: expect.PodHostMAC, found: "aa:bb:cc:dd:ee:ff"},
				{node: "k01-worker", kind: "missing", entry: "net.ipv4.neigh." + expect.PodInterface("default", "net-w1") + ".proxy_delay", expected: "0"},
				{node: "k01-worker", kind: "different", entry: "net.ipv4.conf." + expect.PodInterface("default", "net-w1") + ".forwarding", field: "value", expected: "1", found: "0"},
			},
		},
		{
			name: "pod without its namespace, host end without its veth", check: checkid.PodsWiring,
			break_: func(s *fakeSource) {
				s.nodes["k01-worker2"].Pods = nil
				n := s.nodes["k01-worker3"]
				n.Links = n.Links[:3] // lo, eth1, vxlan.calico
			},
			// The fake source is not live: a pod whose namespace it lacks was not collected, and is
			// not judged (issue 10; verify/check reports it missing on a live lab).
			want: []finding{
				{node: "k01-worker3", kind: "missing", entry: expect.PodInterface("default", "net-w3"),
					expected: "veth " + expect.PodInterface("default", "net-w3") + " (host end of pod default/net-w3)"},
			},
		},
		{
			name: "nat for a pool without natOutgoing", check: checkid.NATOutgoing,
			break_: func(s *fakeSource) { s.facts.Pools[0].NATOutgoing = false },
			want: []finding{
				{node: "k01-control-plane", kind: "unexpected", entry: "masquerade 192.168.0.0/16", reasonHas: "natOutgoing false"},
				{node: "k01-worker", kind: "unexpected", entry: "masquerade 192.168.0.0/16"},
				{node: "k01-worker2", kind: "unexpected", entry: "masquerade 192.168.0.0/16"},
				{node: "k01-worker3", kind: "unexpected", entry: "masquerade 192.168.0.0/16"},
			},
		},
		{name: "pools as the lab declares them", check: checkid.IPAMPools, lab: true},
		{
			name: "pools unlike the lab's", check: checkid.IPAMPools, lab: true,
			break_: func(s *fakeSource) {
				p := &s.facts.Pools[0]
				p.CIDR, p.BlockSize, p.VXLANMode, p.IPIPMode, p.NATOutgoing, p.Disabled = pfx("192.168.0.0/17"), 28, "Never", "Always", false, true
				s.facts.Pools = append(s.facts.Pools, facts.Pool{Name: "extra-ippool", CIDR: pfx("10.244.0.0/16"), BlockSize: 26})
			},
			breakLab: func(l *spec.Lab) {
				l.Pools = append(l.Pools, spec.Pool{Name: "second-ippool", CIDR: pfx("172.16.0.0/16"), BlockSize: 26, VXLANMode: "Always", IPIPMode: "Never"})
			},
			want: []finding{
				{node: "cluster", kind: "different", entry: "pool default-ipv4-ippool", field: "cidr", expected: "192.168.0.0/16", found: "192.168.0.0/17",
					reasonHas: "lab calico-overlay declares pool default-ipv4-ippool"},
				{node: "cluster", kind: "different", entry: "pool default-ipv4-ippool", field: "blockSize", expected: "26", found: "28"},
				{node: "cluster", kind: "different", entry: "pool default-ipv4-ippool", field: "vxlanMode", expected: "CrossSubnet", found: "Never"},
				{node: "cluster", kind: "different", entry: "pool default-ipv4-ippool", field: "ipipMode", expected: "Never", found: "Always"},
				{node: "cluster", kind: "different", entry: "pool default-ipv4-ippool", field: "natOutgoing", expected: "true", found: "false"},
				{node: "cluster", kind: "different", entry: "pool default-ipv4-ippool", field: "disabled", expected: "false", found: "true"},
				{node: "cluster", kind: "missing", entry: "pool second-ippool", expected: "172.16.0.0/16 blockSize 26 vxlanMode Always ipipMode Never"},
				{node: "cluster", kind: "unexpected", entry: "pool extra-ippool", found: "10.244.0.0/16", reasonHas: "lab calico-overlay declares no pool extra-ippool"},
			},
		},
		{name: "switch as the lab declares it", check: checkid.SwitchPorts, lab: true},
		{
			name: "switch ports down, trunked, undescribed, absent", check: checkid.SwitchPorts, lab: true,
			break_: func(s *fakeSource) {
				s.sw.Ports[0].Up, s.sw.Ports[0].Status = false, "notconnect"
				s.sw.Ports[1].Mode = "trunk"
				s.sw.Ports[2].Description = ""
				s.sw.Ports = s.sw.Ports[:3]
			},
			want: []finding{
				{node: "k01-control-plane", kind: "different", entry: "ceos01 eth1", field: "status", expected: "connected (up)", found: "notconnect",
					reasonHas: "the lab connects ceos01:eth1 to k01-control-plane in VLAN 10"},
				{node: "k01-worker", kind: "different", entry: "ceos01 eth2", field: "mode", expected: "access", found: "trunk"},
				{node: "k01-worker2", kind: "different", entry: "ceos01 eth3", field: "description", expected: "Connection to k01-worker2", found: "none"},
				{node: "k01-worker3", kind: "missing", entry: "ceos01 eth4", expected: "port eth4"},
			},
		},
		{
			name: "SVI with another address, SVI absent", check: checkid.SwitchSVIs, lab: true,
			break_: func(s *fakeSource) {
				s.sw.SVIs[0].Address = pfx("10.10.10.254/24")
				s.sw.SVIs = s.sw.SVIs[:1]
			},
			want: []finding{
				{node: "ceos01", kind: "different", entry: "Vlan10", field: "address", expected: "10.10.10.1/24", found: "10.10.10.254/24",
					reasonHas: "VLAN 10 (Calico-Network) routes 10.10.10.0/24 through gateway 10.10.10.1"},
				{node: "ceos01", kind: "missing", entry: "Vlan20", expected: "Vlan20 up with 10.10.20.1/24"},
			},
		},
		{
			name: "switch route static, via another interface", check: checkid.SwitchRoutes, lab: true,
			break_: func(s *fakeSource) {
				s.sw.Routes[0].Type = "static"
				s.sw.Routes[1].Iface = "Vlan10"
			},
			want: []finding{
				{node: "ceos01", kind: "different", entry: "10.10.10.0/24", field: "type", expected: "connected", found: "static",
					reasonHas: "nodes in 10.10.10.0/24 reach the other VLANs through the switch's Vlan10"},
				{node: "ceos01", kind: "different", entry: "10.10.20.0/24", field: "interface", expected: "Vlan20", found: "Vlan10"},
			},
		},
		{
			name: "lab node absent", check: checkid.TopologyNodes, lab: true,
			break_: func(s *fakeSource) { s.topology = s.topology[1:] },
			want:   []finding{{node: "k01-control-plane", kind: "missing", entry: "k01-control-plane", expected: "running", found: "absent"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := healthyLesson06()
			opts := verify.Options{Checks: []string{tt.check}}
			if tt.lab {
				opts.Lab = calicoOverlay(t).VerifySpec()
				src.sw = ceos01()
				for _, n := range opts.Lab.Nodes {
					src.topology = append(src.topology, observed.NodeStatus{Name: n, Kind: "node", Running: true, Ready: true})
				}
				src.topology = append(src.topology, observed.NodeStatus{Name: "ceos01", Kind: "switch", Running: true})
				if tt.breakLab != nil {
					tt.breakLab(opts.Lab)
				}
			}
			if tt.break_ != nil {
				tt.break_(src)
			}
			r, err := verify.Run(context.Background(), src, opts)
			if err != nil {
				t.Fatal(err)
			}
			c, ok := r.Check(tt.check)
			if !ok {
				t.Fatalf("no result for %s", tt.check)
			}
			var got []finding
			for _, n := range c.Nodes {
				if want, ok := tt.skipped[n.Node]; ok {
					if n.Status != report.Skipped || !strings.Contains(n.Reason, want) {
						t.Errorf("%s: status %s reason %q, want skipped with %q", n.Node, n.Status, n.Reason, want)
					}
					continue
				}
				if n.Status == report.Skipped {
					t.Errorf("%s skipped: %s", n.Node, n.Reason)
				}
				for _, f := range n.Findings {
					got = append(got, finding{node: n.Node, kind: string(f.Kind), entry: f.Entry, field: f.Field, expected: f.Expected, found: f.Found, reasonHas: f.Reason})
				}
			}
			wantFindings(t, got, tt.want)
			wantStatus := report.Passed
			if len(tt.want) > 0 {
				wantStatus = report.Failed
			}
			if c.Status != wantStatus {
				t.Errorf("check status %s, want %s", c.Status, wantStatus)
			}
		})
	}
}

func dump(fs []finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %+v\n", f)
	}
	return b.String()
}

func mac(node string) string { return expect.VTEPMAC(facts.Node{Name: node}) }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

// wantFindings holds got to want in order: node, kind, entry and field exactly; expected and
// found when want names them; a reason that contains want's.
func wantFindings(t *testing.T, got, want []finding) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d findings, want %d:\n%s", len(got), len(want), dump(got))
	}
	for i, w := range want {
		g := got[i]
		if g.node != w.node || g.kind != w.kind || g.entry != w.entry || g.field != w.field ||
			(w.expected != "" && g.expected != w.expected) || (w.found != "" && g.found != w.found) ||
			!strings.Contains(g.reasonHas, w.reasonHas) {
			t.Errorf("finding %d:\n got  %+v\n want %+v", i, g, w)
		}
	}
}
