package kubestore_test

import (
	"context"
	"testing"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
	"github.com/knetlab/knetlab/internal/ipam"
	"github.com/knetlab/knetlab/internal/ipam/ipamtest"
)

// internal/ipam's concurrency scenario and audit (ipamtest) over the kubernetes backend, each
// node with its own client as each node's CNI plugin has.
func TestIPAMNeverDoublesAnAddressOverKubernetes(t *testing.T) {
	api := kubestoretest.Start(t)
	ipamtest.ConcurrentAllocate(t, func(t *testing.T) datastore.Store { return api.Store(t) },
		ipamtest.Scale{Nodes: 4, PerNode: 40, Goroutines: 4})
	t.Logf("%d API requests", len(api.Requests()))
}

// verify reads its facts from the kubernetes datastore as from etcd (a clab lab with
// --cni knetlab): the pod the plugin allocated for, and the block affinity behind it.
func TestFactsFromKubernetes(t *testing.T) {
	ctx := context.Background()
	api := kubestoretest.Start(t)
	store := api.Store(t)
	if err := datastore.IPPools(store).Create(ctx, pool("default-ipv4-ippool", "192.168.0.0/16", 26)); err != nil {
		t.Fatal(err)
	}
	addr, err := ipam.New(store).Allocate(ctx, "k01-worker", "k8s-pod-network.c1",
		map[string]string{"namespace": "default", "pod": "net-w1", "node": "k01-worker"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := datastore.LoadFacts(ctx, store)
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
