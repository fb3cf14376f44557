package agent

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/datastore"
)

func node(name, underlay, tunnel, mac string) *datastore.Node {
	n := &datastore.Node{Metadata: datastore.ObjectMeta{Name: name}}
	if underlay != "" {
		n.Spec.BGP.IPv4Address = netip.MustParsePrefix(underlay)
	}
	if tunnel != "" {
		n.Spec.IPv4VXLANTunnelAddr = netip.MustParseAddr(tunnel)
	}
	n.Spec.VXLANTunnelMACAddr = mac
	n.Spec.VXLANParentInterface = "eth1"
	return n
}

func affinity(node, cidr, state string, deleted bool) *datastore.BlockAffinity {
	return &datastore.BlockAffinity{Spec: datastore.BlockAffinitySpec{Node: node, CIDR: netip.MustParsePrefix(cidr), State: state, Deleted: deleted}}
}

func TestDesiredState(t *testing.T) {
	pools := []*datastore.IPPool{{Spec: datastore.IPPoolSpec{CIDR: netip.MustParsePrefix("192.168.0.0/16"), BlockSize: 26, VXLANMode: "CrossSubnet", NATOutgoing: true}}}
	nodes := []*datastore.Node{
		node("k01-worker", "10.10.10.11/24", "192.168.10.0", ""),
		node("k01-worker3", "10.10.20.20/24", "192.168.30.0", "66:01:02:03:04:05"),
		node("k01-new", "", "", ""), // not registered yet
	}
	affs := []*datastore.BlockAffinity{
		affinity("k01-worker", "192.168.10.0/26", datastore.AffinityConfirmed, false),
		affinity("k01-worker3", "192.168.30.0/26", datastore.AffinityConfirmed, false),
		affinity("k01-worker3", "192.168.31.0/26", datastore.AffinityPending, false),
		affinity("k01-worker3", "192.168.32.0/26", datastore.AffinityConfirmed, true),
	}
	d, err := DesiredState("k01-worker", pools, nodes, affs)
	if err != nil {
		t.Fatal(err)
	}
	if d.Self.Name != "k01-worker" || d.Parent != "eth1" || d.Self.Underlay.String() != "10.10.10.11/24" {
		t.Errorf("self = %+v parent %q", d.Self, d.Parent)
	}
	if len(d.Peers) != 1 || d.Peers[0].VTEPMAC.String() != "66:01:02:03:04:05" {
		t.Errorf("peers = %+v, want only k01-worker3 with its configured MAC", d.Peers)
	}
	if len(d.Blocks) != 2 {
		t.Errorf("blocks = %v, want the two confirmed, not deleted ones", d.Blocks)
	}
	if len(d.Pools) != 1 || d.Pools[0].VXLANMode != calico.EncapCrossSubnet || d.Pools[0].IPIPMode != calico.EncapNever || !d.Pools[0].NATOutgoing {
		t.Errorf("pools = %+v (an absent ipipMode is Never)", d.Pools)
	}

	tests := []struct {
		name  string
		self  string
		nodes []*datastore.Node
		want  string
	}{
		{"unregistered self", "k01-ghost", nodes, "not registered"},
		{"bad MAC", "k01-worker", []*datastore.Node{node("k01-worker", "10.10.10.11/24", "", "not-a-mac")}, "not a MAC"},
	}
	for _, tt := range tests {
		if _, err := DesiredState(tt.self, pools, tt.nodes, affs); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to say %q", tt.name, err, tt.want)
		}
	}
}

func TestLocalWorkloads(t *testing.T) {
	ord := func(i int) *int { return &i }
	pod := func(ns, name, node string) datastore.AllocationAttribute {
		return datastore.AllocationAttribute{HandleID: "k8s-pod-network." + name, Secondary: map[string]string{
			datastore.AttrNamespace: ns, datastore.AttrPod: name, datastore.AttrNode: node}}
	}
	blocks := []*datastore.IPAMBlock{
		{Spec: datastore.IPAMBlockSpec{
			CIDR:        netip.MustParsePrefix("192.168.23.128/26"),
			Allocations: []*int{ord(0), nil, ord(1), ord(2), ord(7)},
			Attributes: []datastore.AllocationAttribute{
				{HandleID: "vxlan-tunnel-addr-k01-worker", Secondary: map[string]string{"node": "k01-worker", "type": "vxlanTunnelAddress"}},
				pod("default", "net-w1", "k01-worker"),
				pod("default", "net-w2", "k01-worker2"), // another node's pod
			},
		}},
		{Spec: datastore.IPAMBlockSpec{ // a deleted block holds no workload
			CIDR: netip.MustParsePrefix("192.168.1.0/26"), Deleted: true,
			Allocations: []*int{ord(0)}, Attributes: []datastore.AllocationAttribute{pod("default", "old", "k01-worker")},
		}},
	}
	got := LocalWorkloads("k01-worker", blocks)
	want := []dataplane.Workload{{Pod: "default/net-w1", IP: netip.MustParseAddr("192.168.23.130"), HostVeth: "cali9b3c98e46e6"}}
	if !slices.Equal(got, want) {
		t.Errorf("LocalWorkloads = %+v, want %+v (the attribute index 7 is out of range and ignored)", got, want)
	}
}
