package kubestore_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
	"github.com/knetlab/knetlab/internal/ipam"
)

// internal/ipam's concurrency scenario over the kubernetes backend: several nodes, each with
// its own client as each node's CNI plugin has, allocate at once from blocks of 16 addresses
// (so blocks fill and new ones are claimed mid-run). No address may be handed out twice, and
// the datastore must record exactly what the callers were given, in blocks their node owns.
func TestIPAMNeverDoublesAnAddressOverKubernetes(t *testing.T) {
	ctx := context.Background()
	api := kubestoretest.Start(t)
	store := api.Store(t)
	p := pool("default-ipv4-ippool", "192.168.0.0/16", 28)
	if err := datastore.IPPools(store).Create(ctx, p); err != nil {
		t.Fatal(err)
	}

	const nodes, perNode, goroutinesPerNode = 4, 40, 4
	var mu sync.Mutex
	given := make(map[string]netip.Addr) // handle → address
	owner := make(map[string]string)     // handle → node
	byAddr := make(map[netip.Addr]string)
	var errs []error
	var wg sync.WaitGroup
	for n := range nodes {
		node := fmt.Sprintf("node-%d", n)
		m := ipam.New(api.Store(t))
		for g := range goroutinesPerNode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perNode / goroutinesPerNode {
					h := fmt.Sprintf("%s-g%d-%d", node, g, i)
					addr, err := m.Allocate(ctx, node, h, nil)
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					if other, dup := byAddr[addr]; dup {
						errs = append(errs, fmt.Errorf("%s handed out twice: %s and %s", addr, other, h))
					}
					byAddr[addr], given[h], owner[h] = h, addr, node
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(given) != nodes*perNode {
		t.Fatalf("%d allocations succeeded, want %d", len(given), nodes*perNode)
	}

	blocks, _, err := datastore.IPAMBlocks(store).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	affs, _, err := datastore.BlockAffinities(store).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	confirmed := make(map[netip.Prefix][]string)
	for _, a := range affs {
		if a.Spec.State == datastore.AffinityConfirmed && !a.Spec.Deleted {
			confirmed[a.Spec.CIDR] = append(confirmed[a.Spec.CIDR], a.Spec.Node)
		}
	}
	recorded := make(map[string]netip.Addr)
	for i, b := range blocks {
		if err := ipam.CheckBlock(b); err != nil {
			t.Error(err)
		}
		for _, other := range blocks[:i] {
			if b.Spec.CIDR.Overlaps(other.Spec.CIDR) {
				t.Errorf("blocks %s and %s overlap", b.Spec.CIDR, other.Spec.CIDR)
			}
		}
		if owners := confirmed[b.Spec.CIDR]; len(owners) != 1 || owners[0] != b.Spec.AffineNode() {
			t.Errorf("block %s (affinity %s) has confirmed affinities for %v, want exactly its own node", b.Spec.CIDR, b.Spec.Affinity, owners)
		}
		addr := b.Spec.CIDR.Addr()
		for _, attr := range b.Spec.Allocations {
			if attr != nil {
				h := b.Spec.Attributes[*attr].HandleID
				recorded[h] = addr
				if owner[h] != b.Spec.AffineNode() {
					t.Errorf("handle %s of %s got %s from %s's block", h, owner[h], addr, b.Spec.AffineNode())
				}
			}
			addr = addr.Next()
		}
	}
	for h, addr := range given {
		if recorded[h] != addr {
			t.Errorf("handle %s: caller was given %s, datastore records %s", h, addr, recorded[h])
		}
	}
	if len(recorded) != len(given) {
		t.Errorf("datastore records %d allocations, callers were given %d", len(recorded), len(given))
	}
	t.Logf("%d allocations in %d blocks, %d API requests", len(given), len(blocks), len(api.Requests()))
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
