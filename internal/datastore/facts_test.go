package datastore_test

import (
	"context"
	"net/netip"
	"reflect"
	"testing"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/storetest"
	"github.com/knetlab/knetlab/verify/facts"
)

func TestLoadFacts(t *testing.T) {
	ctx := context.Background()
	store := storetest.Connect(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(datastore.IPPools(store).Create(ctx, pool("default-ipv4-ippool", "192.168.0.0/16", 26)))
	worker := &datastore.Node{Metadata: datastore.ObjectMeta{Name: "k01-worker"}}
	worker.Spec.BGP.IPv4Address = netip.MustParsePrefix("10.10.10.11/24")
	worker.Spec.IPv4VXLANTunnelAddr = netip.MustParseAddr("192.168.16.64")
	must(datastore.Nodes(store).Create(ctx, worker))
	block := netip.MustParsePrefix("192.168.16.64/30")
	for _, a := range []datastore.BlockAffinitySpec{
		{Node: "k01-worker", CIDR: block, State: datastore.AffinityConfirmed},
		{Node: "k01-worker3", CIDR: netip.MustParsePrefix("192.168.209.64/26"), State: datastore.AffinityPending},
	} {
		must(datastore.BlockAffinities(store).Create(ctx, &datastore.BlockAffinity{
			Metadata: datastore.ObjectMeta{Name: datastore.BlockAffinityName(a.Node, a.CIDR)}, Spec: a}))
	}
	// Ordinal 0 is the tunnel address (no pod), 1 a pod that names its node, 3 one that does not.
	must(datastore.IPAMBlocks(store).Create(ctx, &datastore.IPAMBlock{
		Metadata: datastore.ObjectMeta{Name: datastore.BlockName(block)},
		Spec: datastore.IPAMBlockSpec{
			CIDR: block, Affinity: datastore.HostAffinity("k01-worker"),
			Allocations: []*int{intp(0), intp(1), nil, intp(2)},
			Unallocated: []int{2},
			Attributes: []datastore.AllocationAttribute{
				{HandleID: "vxlan-tunnel-addr-k01-worker", Secondary: map[string]string{"node": "k01-worker", "type": "vxlanTunnelAddress"}},
				{HandleID: "k8s-pod-network.c1", Secondary: map[string]string{"namespace": "default", "pod": "multitool", "node": "k01-worker"}},
				{HandleID: "k8s-pod-network.c2", Secondary: map[string]string{"namespace": "kube-system", "pod": "coredns"}},
			},
		},
	}))

	got, err := datastore.LoadFacts(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	want := &facts.Facts{
		Pools: []facts.Pool{{Name: "default-ipv4-ippool", CIDR: netip.MustParsePrefix("192.168.0.0/16"), BlockSize: 26,
			VXLANMode: "CrossSubnet", IPIPMode: "Never", NATOutgoing: true}},
		Nodes: []facts.Node{{Name: "k01-worker", Address: netip.MustParsePrefix("10.10.10.11/24"),
			VXLANTunnelAddr: netip.MustParseAddr("192.168.16.64")}},
		Affinities: []facts.BlockAffinity{
			{Node: "k01-worker", CIDR: block, State: "confirmed"},
			{Node: "k01-worker3", CIDR: netip.MustParsePrefix("192.168.209.64/26"), State: "pending"},
		},
		Pods: []facts.Pod{
			{Namespace: "default", Name: "multitool", Node: "k01-worker", IP: netip.MustParseAddr("192.168.16.65")},
			{Namespace: "kube-system", Name: "coredns", Node: "k01-worker", IP: netip.MustParseAddr("192.168.16.67")},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadFacts\n got %+v\nwant %+v", got, want)
	}
}
