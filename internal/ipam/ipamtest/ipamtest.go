// Package ipamtest holds the IPAM scenarios and the datastore audit that every datastore
// backend must pass, so the etcd and Kubernetes backends are held to one standard.
package ipamtest

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/ipam"
)

// Audit checks what the datastore records against what callers were given: every block is
// well formed, no two blocks overlap, each block has exactly one confirmed affinity and it is
// the block's own node, no handle holds two addresses, and the recorded allocations are exactly
// want (handle → address). owner (handle → node), where it names a handle, is the node whose
// block the address must come from.
func Audit(t *testing.T, store datastore.Store, want map[string]netip.Addr, owner map[string]string) {
	t.Helper()
	ctx := context.Background()
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
	got := make(map[string]netip.Addr)
	for i, b := range blocks {
		if err := ipam.CheckBlock(b); err != nil {
			t.Error(err)
		}
		for _, other := range blocks[:i] {
			if b.Spec.CIDR.Overlaps(other.Spec.CIDR) {
				t.Errorf("blocks %s and %s overlap", b.Spec.CIDR, other.Spec.CIDR)
			}
		}
		if nodes := confirmed[b.Spec.CIDR]; len(nodes) != 1 || nodes[0] != b.Spec.AffineNode() {
			t.Errorf("block %s (affinity %s) has confirmed affinities for %v, want exactly its own node", b.Spec.CIDR, b.Spec.Affinity, nodes)
		}
		addr := b.Spec.CIDR.Addr()
		for _, attr := range b.Spec.Allocations {
			if attr != nil {
				h := b.Spec.Attributes[*attr].HandleID
				if prev, dup := got[h]; dup {
					t.Errorf("handle %s holds two addresses: %s and %s", h, prev, addr)
				}
				got[h] = addr
				if node, ok := owner[h]; ok && node != b.Spec.AffineNode() {
					t.Errorf("handle %s of node %s got %s from %s's block %s", h, node, addr, b.Spec.AffineNode(), b.Spec.CIDR)
				}
			}
			addr = addr.Next()
		}
	}
	for h, addr := range want {
		if got[h] != addr {
			t.Errorf("handle %s: caller was given %s, datastore records %s", h, addr, got[h])
		}
	}
	if len(got) != len(want) {
		t.Errorf("datastore records %d allocations, callers were given %d", len(got), len(want))
	}
}

// Scale sizes ConcurrentAllocate: Nodes nodes, each allocating PerNode addresses from
// Goroutines goroutines at once.
type Scale struct {
	Nodes, PerNode, Goroutines int
}

// ConcurrentAllocate is the race the IPAM exists to win: several nodes, each with its own
// connection as each node's CNI plugin has, allocate at once from blocks of 16 addresses, so
// blocks fill and new ones are claimed mid-run. No address may be handed out twice, and the
// datastore must record exactly what the callers were given, in blocks their node owns.
// dial opens a new connection to one empty datastore; the scenario creates the pool.
func ConcurrentAllocate(t *testing.T, dial func(t *testing.T) datastore.Store, s Scale) {
	ctx := context.Background()
	store := dial(t)
	p := &datastore.IPPool{
		Metadata: datastore.ObjectMeta{Name: "default-ipv4-ippool"},
		Spec: datastore.IPPoolSpec{CIDR: netip.MustParsePrefix("192.168.0.0/16"), BlockSize: 28,
			VXLANMode: calico.EncapCrossSubnet, IPIPMode: calico.EncapNever, NATOutgoing: true, NodeSelector: "all()"},
	}
	if err := datastore.IPPools(store).Create(ctx, p); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	given := make(map[string]netip.Addr) // handle → address
	owner := make(map[string]string)     // handle → node
	byAddr := make(map[netip.Addr]string)
	var errs []error
	var wg sync.WaitGroup
	for n := range s.Nodes {
		node := fmt.Sprintf("node-%d", n)
		m := ipam.New(dial(t))
		for g := range s.Goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range s.PerNode / s.Goroutines {
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
	if len(given) != s.Nodes*s.PerNode {
		t.Fatalf("%d allocations succeeded, want %d", len(given), s.Nodes*s.PerNode)
	}
	Audit(t, store, given, owner)
}
