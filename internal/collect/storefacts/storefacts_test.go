package storefacts_test

import (
	"context"
	"net/netip"
	"reflect"
	"testing"

	"github.com/knetlab/knetlab/internal/collect/storefacts"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
	"github.com/knetlab/knetlab/internal/datastore/storetest"
	"github.com/knetlab/knetlab/internal/ipam"
	"github.com/knetlab/knetlab/verify/facts"
)

func TestFacts(t *testing.T) {
	ctx := context.Background()
	store := storetest.Connect(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(datastore.IPPools(store).Create(ctx, storetest.Pool("default-ipv4-ippool", "192.168.0.0/16", 26)))
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
			Allocations: []*int{ordinal(0), ordinal(1), nil, ordinal(2)},
			Unallocated: []int{2},
			Attributes: []datastore.AllocationAttribute{
				{HandleID: "vxlan-tunnel-addr-k01-worker", Secondary: map[string]string{"node": "k01-worker", "type": "vxlanTunnelAddress"}},
				{HandleID: "k8s-pod-network.c1", Secondary: map[string]string{"namespace": "default", "pod": "multitool", "node": "k01-worker"}},
				{HandleID: "k8s-pod-network.c2", Secondary: map[string]string{"namespace": "kube-system", "pod": "coredns"}},
			},
		},
	}))

	got, err := storefacts.Load(ctx, store)
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
		t.Fatalf("Facts\n got %+v\nwant %+v", got, want)
	}
}

// Facts reads the kubernetes datastore as it reads etcd (both are a datastore.Store): the
// pod the plugin allocated for, and the block affinity behind it.
func TestFactsFromKubernetes(t *testing.T) {
	ctx := context.Background()
	api := kubestoretest.Start(t)
	store := api.Store(t)
	if err := datastore.IPPools(store).Create(ctx, storetest.Pool("default-ipv4-ippool", "192.168.0.0/16", 26)); err != nil {
		t.Fatal(err)
	}
	addr, err := ipam.New(store).Allocate(ctx, "k01-worker", "k8s-pod-network.c1",
		map[string]string{"namespace": "default", "pod": "net-w1", "node": "k01-worker"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := storefacts.Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pools) != 1 || f.Pools[0].Name != "default-ipv4-ippool" {
		t.Errorf("pools = %+v", f.Pools)
	}
	if len(f.Pods) != 1 || f.Pods[0].Namespace != "default" || f.Pods[0].Name != "net-w1" || f.Pods[0].Node != "k01-worker" || f.Pods[0].IP != addr {
		t.Errorf("pods = %+v, want default/net-w1 on k01-worker at %s", f.Pods, addr)
	}
	if len(f.Affinities) != 1 || f.Affinities[0].Node != "k01-worker" || !f.Affinities[0].CIDR.Contains(addr) {
		t.Errorf("affinities = %+v, want k01-worker's block holding %s", f.Affinities, addr)
	}
}

func ordinal(i int) *int { return &i }
