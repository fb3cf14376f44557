package cni

import (
	"net/netip"
	"testing"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/testenv"
)

// TestPodsPingAcrossNodes builds the calico-overlay underlay in miniature, programs each
// node's dataplane, wires pods through the plugin binary and pings between them: within a
// node, to a node of the same subnet (routed directly) and to a node of the other subnet
// (through vxlan.calico), reading vxlan.calico's counters to tell which path was taken.
func TestPodsPingAcrossNodes(t *testing.T) {
	testenv.RequireLab(t, "ip", "sysctl", "ping")
	u := testbed.NewUnderlay(t)
	type nodeSpec struct{ name, underlay, block string }
	specs := []nodeSpec{
		{"k01-worker", "10.10.10.11/24", "192.168.10.0/26"},
		{"k01-worker2", "10.10.10.12/24", "192.168.20.0/26"},
		{"k01-worker3", "10.10.20.20/24", "192.168.30.0/26"},
	}
	var hosts []dataplane.Host
	var blocks []dataplane.Block
	ipamBlocks := map[string]netip.Prefix{}
	for _, s := range specs {
		u.AddNode(t, s.name, netip.MustParsePrefix(s.underlay))
		block := netip.MustParsePrefix(s.block)
		hosts = append(hosts, dataplane.Host{Name: s.name, Underlay: netip.MustParsePrefix(s.underlay), TunnelIP: block.Addr()})
		blocks = append(blocks, dataplane.Block{CIDR: block, Node: s.name})
		ipamBlocks[s.name] = block
	}
	pools := []dataplane.Pool{{CIDR: netip.MustParsePrefix("192.168.0.0/16"), VXLANMode: calico.EncapCrossSubnet, IPIPMode: calico.EncapNever, NATOutgoing: true}}
	for _, self := range hosts {
		d := dataplane.DesiredState{Self: self, Blocks: blocks, Pools: pools}
		for _, h := range hosts {
			if h.Name != self.Name {
				d.Peers = append(d.Peers, h)
			}
		}
		p, err := dataplane.NewProgrammer(testbed.Path(u.Nodes[self.Name].NS), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Apply(d); err != nil {
			t.Fatalf("dataplane of %s: %v", self.Name, err)
		}
		p.Close()
	}

	// One IPAM state shared by every node's plugin, like the lab's datastore.
	rt := newRuntime(t, "", ipamBlocks)
	pods := map[string]struct {
		node, ns string
		ip       netip.Addr
	}{}
	for _, p := range []struct{ name, node string }{
		{"a", "k01-worker"}, {"b", "k01-worker"}, {"c", "k01-worker2"}, {"d", "k01-worker3"},
	} {
		podNS := testbed.NewNS(t, "kdpp")
		rt.nodeNS = u.Nodes[p.node].NS
		res, err := rt.do("ADD", "ctr-"+p.name, podNS, "pod-"+p.name, netConf(p.node, ""))
		if err != nil {
			t.Fatalf("ADD pod %s on %s: %v", p.name, p.node, err)
		}
		ip, _ := netip.AddrFromSlice(res.IPs[0].Address.IP)
		pods[p.name] = struct {
			node, ns string
			ip       netip.Addr
		}{p.node, podNS, ip.Unmap()}
		nodeNS := u.Nodes[p.node].NS
		t.Cleanup(func() {
			rt.nodeNS = nodeNS
			if _, err := rt.do("DEL", "ctr-"+p.name, podNS, "pod-"+p.name, netConf(p.node, "")); err != nil {
				t.Errorf("DEL pod %s: %v", p.name, err)
			}
		})
	}

	worker := testbed.Handle(t, u.Nodes["k01-worker"].NS)
	vxlanTx := func() uint64 {
		l, err := worker.LinkByName(dataplane.VXLANDeviceName)
		if err != nil {
			t.Fatal(err)
		}
		return l.Attrs().Statistics.TxPackets
	}
	tests := []struct {
		from, to string
		encap    bool
		path     string
	}{
		{"a", "b", false, "same node"},
		{"a", "c", false, "same subnet: routed directly"},
		{"a", "d", true, "other subnet: through vxlan.calico"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			from, to := pods[tt.from], pods[tt.to]
			before := vxlanTx()
			out, err := testbed.Try(from.ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", to.ip.String())
			if err != nil {
				t.Fatalf("pod %s (%s on %s) -> pod %s (%s on %s): %v\n%s", tt.from, from.ip, from.node, tt.to, to.ip, to.node, err, out)
			}
			sent := vxlanTx() - before
			if tt.encap && sent < 3 || !tt.encap && sent != 0 {
				t.Errorf("%s: vxlan.calico on k01-worker sent %d packets during 3 pings", tt.path, sent)
			}
		})
	}
}
