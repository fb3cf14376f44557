package datastore_test

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/knetlab/knetlab/internal/datastore"
)

func intp(i int) *int { return &i }

// The stored JSON must keep Calico's field names: people read it with etcdctl, and a CRD
// backend maps it onto Calico's CRDs.
func TestResourcesUseCalicoFieldNames(t *testing.T) {
	node := &datastore.Node{Metadata: datastore.ObjectMeta{Name: "k01-worker", Revision: 42}}
	node.Spec.BGP.IPv4Address = netip.MustParsePrefix("10.10.10.11/24")
	node.Spec.IPv4VXLANTunnelAddr = netip.MustParseAddr("192.168.16.0")
	node.Spec.VXLANTunnelMACAddr = "66:fb:ad:98:aa:13"
	node.Spec.VXLANParentInterface = "eth1"

	cases := []struct {
		name string
		obj  datastore.Resource
		want string
	}{
		{"IPPool", pool("default-ipv4-ippool", "192.168.0.0/16", 26),
			`{"metadata":{"name":"default-ipv4-ippool"},"spec":{"cidr":"192.168.0.0/16","blockSize":26,"vxlanMode":"CrossSubnet","ipipMode":"Never","natOutgoing":true,"nodeSelector":"all()"}}`},
		{"BlockAffinity", &datastore.BlockAffinity{
			Metadata: datastore.ObjectMeta{Name: "k01-worker-192-168-16-0-26"},
			Spec:     datastore.BlockAffinitySpec{Node: "k01-worker", CIDR: netip.MustParsePrefix("192.168.16.0/26"), State: datastore.AffinityConfirmed},
		}, `{"metadata":{"name":"k01-worker-192-168-16-0-26"},"spec":{"node":"k01-worker","cidr":"192.168.16.0/26","state":"confirmed","deleted":false}}`},
		{"IPAMBlock", &datastore.IPAMBlock{
			Metadata: datastore.ObjectMeta{Name: "192-168-16-0-30"},
			Spec: datastore.IPAMBlockSpec{
				CIDR: netip.MustParsePrefix("192.168.16.0/30"), Affinity: datastore.HostAffinity("k01-worker"),
				Allocations: []*int{intp(0), nil, intp(1), nil},
				Unallocated: []int{3, 1},
				Attributes: []datastore.AllocationAttribute{
					{HandleID: "vxlan-tunnel-addr-k01-worker", Secondary: map[string]string{"node": "k01-worker", "type": "vxlanTunnelAddress"}},
					{HandleID: "k8s-pod-network.abc"},
				},
			},
		}, `{"metadata":{"name":"192-168-16-0-30"},"spec":{"cidr":"192.168.16.0/30","affinity":"host:k01-worker","allocations":[0,null,1,null],"unallocated":[3,1],"attributes":[{"handle_id":"vxlan-tunnel-addr-k01-worker","secondary":{"node":"k01-worker","type":"vxlanTunnelAddress"}},{"handle_id":"k8s-pod-network.abc"}],"deleted":false}}`},
		{"Node", node,
			`{"metadata":{"name":"k01-worker"},"spec":{"bgp":{"ipv4Address":"10.10.10.11/24"},"ipv4VXLANTunnelAddr":"192.168.16.0","vxlanTunnelMACAddr":"66:fb:ad:98:aa:13","vxlanParentInterface":"eth1"}}`},
		{"Node without tunnel", &datastore.Node{Metadata: datastore.ObjectMeta{Name: "k01-worker3"}},
			`{"metadata":{"name":"k01-worker3"},"spec":{"bgp":{}}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("JSON\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestObjectNamesFollowCalico(t *testing.T) {
	cidr := netip.MustParsePrefix("192.168.209.64/26")
	if got := datastore.BlockName(cidr); got != "192-168-209-64-26" {
		t.Errorf("BlockName = %q", got)
	}
	if got := datastore.BlockAffinityName("k01-worker3", cidr); got != "k01-worker3-192-168-209-64-26" {
		t.Errorf("BlockAffinityName = %q", got)
	}
	for affinity, want := range map[string]string{"host:k01-worker": "k01-worker", "virtual:x": "", "": ""} {
		spec := datastore.IPAMBlockSpec{Affinity: affinity}
		if got := spec.AffineNode(); got != want {
			t.Errorf("AffineNode(%q) = %q, want %q", affinity, got, want)
		}
	}
}
