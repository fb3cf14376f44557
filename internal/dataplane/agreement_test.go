package dataplane_test

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/facts"
)

// TestPlanAgreesWithVerify holds the agent's reading of docs/dataplane.md against verify's, which was
// written independently: for every pool mode, every node's planned routes, neighbours, FDB
// entries and device must be what verify expects, field by field. If they ever disagree,
// one of the two has misread the spec, and a lab programmed by knetlab would fail its own
// verify.
func TestPlanAgreesWithVerify(t *testing.T) {
	type nodeSpec struct{ name, underlay, tunnel, block, mac string }
	nodes := []nodeSpec{
		{"k01-control-plane", "10.10.10.10/24", "192.168.0.0", "192.168.0.0/26", ""},
		{"k01-worker", "10.10.10.11/24", "192.168.10.0", "192.168.10.0/26", ""},
		{"k01-worker2", "10.10.10.12/24", "192.168.20.7", "192.168.20.0/26", "66:01:02:03:04:05"}, // tunnel IP off the block base, configured MAC
		{"k01-worker3", "10.10.20.20/24", "192.168.30.0", "192.168.30.0/26", ""},
	}
	modes := []struct{ vxlan, ipip calico.EncapMode }{
		{calico.EncapCrossSubnet, calico.EncapNever}, {calico.EncapAlways, calico.EncapNever}, {calico.EncapNever, calico.EncapNever},
		{calico.EncapNever, calico.EncapAlways}, {calico.EncapNever, calico.EncapCrossSubnet},
	}
	for _, mode := range modes {
		t.Run("vxlan "+string(mode.vxlan)+" ipip "+string(mode.ipip), func(t *testing.T) {
			f := &facts.Facts{Pools: []facts.Pool{{Name: "default-ipv4-ippool", CIDR: netip.MustParsePrefix("192.168.0.0/16"), BlockSize: 26,
				VXLANMode: mode.vxlan, IPIPMode: mode.ipip, NATOutgoing: true}}}
			var hosts []dataplane.Host
			var blocks []dataplane.Block
			for _, n := range nodes {
				f.Nodes = append(f.Nodes, facts.Node{Name: n.name, Address: netip.MustParsePrefix(n.underlay), VXLANTunnelAddr: netip.MustParseAddr(n.tunnel), VXLANTunnelMAC: n.mac})
				f.Affinities = append(f.Affinities, facts.BlockAffinity{Node: n.name, CIDR: netip.MustParsePrefix(n.block), State: "confirmed"})
				h := dataplane.Host{Name: n.name, Underlay: netip.MustParsePrefix(n.underlay), TunnelIP: netip.MustParseAddr(n.tunnel)}
				if n.mac != "" {
					h.VTEPMAC = mustMAC(t, n.mac)
				}
				hosts = append(hosts, h)
				blocks = append(blocks, dataplane.Block{CIDR: netip.MustParsePrefix(n.block), Node: n.name})
			}
			pools := []dataplane.Pool{{CIDR: f.Pools[0].CIDR, VXLANMode: mode.vxlan, IPIPMode: mode.ipip, NATOutgoing: true}}
			cluster := expect.Compute(f)

			for _, self := range hosts {
				d := dataplane.DesiredState{Self: self, Parent: "eth1", Blocks: blocks, Pools: pools}
				for _, h := range hosts {
					if h.Name != self.Name {
						d.Peers = append(d.Peers, h)
					}
				}
				plan := dataplane.ComputePlan(d)
				want, _ := cluster.Node(self.Name)
				plainBGP := mode.vxlan == calico.EncapNever && mode.ipip == calico.EncapNever
				compareRoutes(t, self.Name, plan.Routes, want, plainBGP)
				compareVTEPs(t, self.Name, plan, want)
			}
		})
	}
}

func compareRoutes(t *testing.T, node string, got []dataplane.Route, want *expect.Node, plainBGP bool) {
	t.Helper()
	wantRoutes, problems := want.Routes()
	if len(problems) > 0 {
		t.Fatalf("%s: verify cannot compute routes: %v", node, problems)
	}
	// Host routes to tunnel addresses are extras verify tolerates; each must take one of the
	// forms it accepts.
	var blocks []dataplane.Route
	for _, g := range got {
		forms := want.ToleratedTo(g.Dst)
		if len(forms) == 0 {
			blocks = append(blocks, g)
			continue
		}
		if !slices.ContainsFunc(forms, func(w expect.Route) bool { return sameShape(g, w) && w.AcceptsProtocol(protoName(g.Protocol)) }) {
			t.Errorf("%s: planned %s, a tunnel-address route in no form verify tolerates", node, g)
		}
	}
	if len(blocks) != len(wantRoutes) {
		t.Errorf("%s: %d block routes planned, verify expects %d", node, len(blocks), len(wantRoutes))
	}
	for _, w := range wantRoutes {
		i := slices.IndexFunc(blocks, func(r dataplane.Route) bool { return r.Dst == w.Dst })
		if i < 0 {
			t.Errorf("%s: no route planned for %s", node, w.Dst)
			continue
		}
		g := blocks[i]
		if !sameShape(g, w) {
			t.Errorf("%s: planned %s; verify expects type %s via %s dev %s onlink %v", node, g, w.Type, w.Gateway, w.Dev, w.Onlink)
		}
		if !w.AcceptsProtocol(protoName(g.Protocol)) {
			// For plain BGP pools (no encapsulation at all) Calico's routes are BIRD's, and
			// verify expects "bird"; the agent's are proto 80 until it speaks BGP itself.
			if plainBGP {
				t.Logf("%s: %s is %q here, verify expects %v (BIRD's)", node, w.Dst, protoName(g.Protocol), w.Protocols.List())
				continue
			}
			t.Errorf("%s: %s is proto %q here, verify expects %v", node, w.Dst, protoName(g.Protocol), w.Protocols.List())
		}
	}
}

// sameShape compares a planned route with one of verify's expected forms field by field,
// all but the protocol.
func sameShape(g dataplane.Route, w expect.Route) bool {
	dev := w.Dev
	if w.Underlay {
		dev = "eth1"
	}
	gotType := expect.TypeUnicast
	if g.Blackhole {
		gotType = expect.TypeBlackhole
	}
	return gotType == w.Type && g.Via == w.Gateway && (g.Blackhole || g.Dev == dev) &&
		(w.AnyOnlink || g.OnLink == w.Onlink)
}

// protoName is a protocol as verify reads it from `ip route` ("" when none is shown).
func protoName(p int) string {
	switch p {
	case dataplane.ProtoNone:
		return ""
	case dataplane.ProtoBird:
		return "bird"
	}
	return strconv.Itoa(p)
}

func compareVTEPs(t *testing.T, node string, plan dataplane.Plan, want *expect.Node) {
	t.Helper()
	if (plan.VXLAN != nil) != (want.Device != nil) {
		t.Fatalf("%s: vxlan.calico planned %v, verify expects %v", node, plan.VXLAN != nil, want.Device != nil)
	}
	if plan.VXLAN == nil {
		if len(plan.Neighbours)+len(plan.FDB) != 0 {
			t.Errorf("%s: VTEP entries without a VXLAN pool", node)
		}
		return
	}
	if plan.VXLAN.MAC.String() != want.Device.MAC || plan.VXLAN.Local != want.Device.Local || netip.PrefixFrom(plan.VXLAN.Address, 32) != want.Device.Addr {
		t.Errorf("%s: device planned %+v, verify expects %+v", node, *plan.VXLAN, *want.Device)
	}
	var gotNeigh, wantNeigh, gotFDB, wantFDB []string
	for _, n := range plan.Neighbours {
		gotNeigh = append(gotNeigh, n.IP.String()+" "+n.MAC.String())
	}
	for _, n := range want.Neighs() {
		wantNeigh = append(wantNeigh, n.Dst.String()+" "+n.LLAddr)
	}
	for _, f := range plan.FDB {
		gotFDB = append(gotFDB, f.MAC.String()+" "+f.Dst.String())
	}
	for _, f := range want.FDB() {
		wantFDB = append(wantFDB, f.MAC+" "+f.Dst.String())
	}
	for _, s := range [][]string{gotNeigh, wantNeigh, gotFDB, wantFDB} {
		slices.Sort(s)
	}
	if !slices.Equal(gotNeigh, wantNeigh) {
		t.Errorf("%s: neighbours planned %q, verify expects %q", node, gotNeigh, wantNeigh)
	}
	if !slices.Equal(gotFDB, wantFDB) {
		t.Errorf("%s: FDB planned %q, verify expects %q", node, gotFDB, wantFDB)
	}
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
