package ipam_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/storetest"
	"github.com/knetlab/knetlab/internal/ipam"
	"github.com/knetlab/knetlab/internal/ipam/ipamtest"
)

var labNodes = []string{"k01-control-plane", "k01-worker", "k01-worker2", "k01-worker3"}

func startEtcd(t testing.TB) string                          { return storetest.Start(t) }
func dialEtcd(t testing.TB, endpoint string) datastore.Store { return storetest.Dial(t, endpoint) }

func createPool(t testing.TB, store datastore.Store, name, cidr string, blockSize int, mutate ...func(*datastore.IPPoolSpec)) {
	t.Helper()
	p := &datastore.IPPool{
		Metadata: datastore.ObjectMeta{Name: name},
		Spec: datastore.IPPoolSpec{CIDR: netip.MustParsePrefix(cidr), BlockSize: blockSize,
			VXLANMode: calico.EncapCrossSubnet, IPIPMode: calico.EncapNever, NATOutgoing: true, NodeSelector: "all()"},
	}
	for _, m := range mutate {
		m(&p.Spec)
	}
	if err := datastore.IPPools(store).Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// audit is the datastore audit every IPAM test ends with, shared with the kubernetes backend.
var audit = ipamtest.Audit

func TestClaimBlock(t *testing.T) {
	ctx := context.Background()
	store := storetest.Connect(t)
	createPool(t, store, "default-ipv4-ippool", "192.168.0.0/16", 26)
	m := ipam.New(store)

	seen := make(map[netip.Prefix]string)
	for _, node := range labNodes {
		block, err := m.ClaimBlock(ctx, node)
		if err != nil {
			t.Fatalf("ClaimBlock(%s): %v", node, err)
		}
		if block.Bits() != 26 || block.Masked() != block || !netip.MustParsePrefix("192.168.0.0/16").Contains(block.Addr()) {
			t.Fatalf("ClaimBlock(%s) = %s: not an aligned /26 of the pool", node, block)
		}
		if other, dup := seen[block]; dup {
			t.Fatalf("%s and %s both got %s", node, other, block)
		}
		seen[block] = node
		again, err := m.ClaimBlock(ctx, node)
		if err != nil || again != block {
			t.Fatalf("second ClaimBlock(%s) = %s, %v; want the same %s", node, again, err, block)
		}
		aff, err := datastore.BlockAffinities(store).Get(ctx, datastore.BlockAffinityName(node, block))
		if err != nil {
			t.Fatal(err)
		}
		if aff.Spec.State != datastore.AffinityConfirmed || aff.Spec.Node != node || aff.Spec.CIDR != block {
			t.Fatalf("affinity of %s = %+v, want confirmed for %s", node, aff.Spec, block)
		}
	}
	audit(t, store, map[string]netip.Addr{}, nil)
}

// Many nodes racing for a pool with fewer blocks than nodes: every block goes to exactly one
// node, the rest are told the pool is exhausted, and no pending claim is left behind.
func TestClaimBlockRace(t *testing.T) {
	ctx := context.Background()
	endpoint := storetest.Start(t)
	store := storetest.Dial(t, endpoint)
	createPool(t, store, "small", "192.168.0.0/24", 26) // 4 blocks

	const nodes = 8
	var wg sync.WaitGroup
	results := make([]netip.Prefix, nodes)
	errs := make([]error, nodes)
	for i := range nodes {
		m := ipam.New(storetest.Dial(t, endpoint))
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = m.ClaimBlock(ctx, fmt.Sprintf("node-%d", i))
		}()
	}
	wg.Wait()

	won := make(map[netip.Prefix]int)
	exhausted := 0
	for i := range nodes {
		switch {
		case errs[i] == nil:
			if prev, dup := won[results[i]]; dup {
				t.Errorf("node-%d and node-%d both claimed %s", prev, i, results[i])
			}
			won[results[i]] = i
		case errors.Is(errs[i], ipam.ErrPoolExhausted):
			exhausted++
		default:
			t.Errorf("node-%d: %v", i, errs[i])
		}
	}
	if len(won) != 4 || exhausted != nodes-4 {
		t.Fatalf("%d nodes won a block and %d found the pool exhausted; want 4 and %d", len(won), exhausted, nodes-4)
	}
	affs, _, err := datastore.BlockAffinities(store).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range affs {
		if a.Spec.State != datastore.AffinityConfirmed {
			t.Errorf("leftover %s affinity %s: a losing claim was not withdrawn", a.Spec.State, a.Metadata.Name)
		}
	}
	audit(t, store, map[string]netip.Addr{}, nil)
}

func TestPoolSelection(t *testing.T) {
	cases := []struct {
		name    string
		pools   func(t *testing.T, s datastore.Store)
		opts    []ipam.Option
		want    string // pool CIDR the block must come from; "" means an error
		wantErr error
	}{
		{"no pool", func(*testing.T, datastore.Store) {}, nil, "", ipam.ErrNoPool},
		{"disabled pool skipped", func(t *testing.T, s datastore.Store) {
			createPool(t, s, "a-disabled", "10.244.0.0/16", 26, func(p *datastore.IPPoolSpec) { p.Disabled = true })
			createPool(t, s, "b-default", "192.168.0.0/16", 26)
		}, nil, "192.168.0.0/16", nil},
		{"pool for some nodes skipped", func(t *testing.T, s datastore.Store) {
			createPool(t, s, "a-edge", "10.244.0.0/16", 26, func(p *datastore.IPPoolSpec) { p.NodeSelector = "zone == 'edge'" })
			createPool(t, s, "b-default", "192.168.0.0/16", 26)
		}, nil, "192.168.0.0/16", nil},
		{"named pool", func(t *testing.T, s datastore.Store) {
			createPool(t, s, "a-default", "192.168.0.0/16", 26)
			createPool(t, s, "b-other", "10.244.0.0/16", 24)
		}, []ipam.Option{ipam.WithPool("b-other")}, "10.244.0.0/16", nil},
		{"named pool missing", func(t *testing.T, s datastore.Store) {
			createPool(t, s, "a-default", "192.168.0.0/16", 26)
		}, []ipam.Option{ipam.WithPool("b-other")}, "", ipam.ErrNoPool},
		{"only pool disabled", func(t *testing.T, s datastore.Store) {
			createPool(t, s, "a-default", "192.168.0.0/16", 26, func(p *datastore.IPPoolSpec) { p.Disabled = true })
		}, nil, "", ipam.ErrNoPool},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := storetest.Connect(t)
			tc.pools(t, store)
			block, err := ipam.New(store, tc.opts...).ClaimBlock(context.Background(), "k01-worker")
			if tc.want == "" {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ClaimBlock = %s, %v; want an error wrapping %v", block, err, tc.wantErr)
				}
				return
			}
			if err != nil || !netip.MustParsePrefix(tc.want).Contains(block.Addr()) {
				t.Fatalf("ClaimBlock = %s, %v; want a block of %s", block, err, tc.want)
			}
		})
	}
}

func TestAllocateAndRelease(t *testing.T) {
	ctx := context.Background()
	store := storetest.Connect(t)
	createPool(t, store, "default-ipv4-ippool", "192.168.0.0/16", 26)
	m := ipam.New(store)
	const node = "k01-worker"

	tunnel, err := m.AllocateTunnelAddress(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	block, err := m.ClaimBlock(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	if tunnel != block.Addr() {
		t.Fatalf("tunnel address %s is not the first address of the node's block %s", tunnel, block)
	}
	if again, err := m.AllocateTunnelAddress(ctx, node); err != nil || again != tunnel {
		t.Fatalf("second AllocateTunnelAddress = %s, %v; want %s", again, err, tunnel)
	}

	pod, err := m.Allocate(ctx, node, "k8s-pod-network.pod-a", map[string]string{"namespace": "default", "pod": "a"})
	if err != nil {
		t.Fatal(err)
	}
	if pod != tunnel.Next() || !block.Contains(pod) {
		t.Fatalf("pod address %s, want %s (next in the node's block)", pod, tunnel.Next())
	}
	if again, err := m.Allocate(ctx, node, "k8s-pod-network.pod-a", nil); err != nil || again != pod {
		t.Fatalf("repeated Allocate for the same handle = %s, %v; want %s", again, err, pod)
	}
	audit(t, store, map[string]netip.Addr{ipam.TunnelHandle(node): tunnel, "k8s-pod-network.pod-a": pod}, nil)

	blk, err := datastore.IPAMBlocks(store).Get(ctx, datastore.BlockName(block))
	if err != nil {
		t.Fatal(err)
	}
	if attrs := blk.Spec.Attributes[*blk.Spec.Allocations[1]]; attrs.HandleID != "k8s-pod-network.pod-a" || attrs.Secondary["pod"] != "a" {
		t.Fatalf("recorded attributes %+v, want handle and pod name", attrs)
	}

	for range 2 { // the second release must be a no-op, as a repeated CNI DEL
		if err := m.Release(ctx, "k8s-pod-network.pod-a"); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
	if err := m.Release(ctx, "never-allocated"); err != nil {
		t.Fatalf("Release of an unknown handle: %v", err)
	}
	audit(t, store, map[string]netip.Addr{ipam.TunnelHandle(node): tunnel}, nil)

	// The block still holds the tunnel address: it cannot be released, and stays confirmed.
	if err := m.ReleaseBlock(ctx, node, block); !errors.Is(err, ipam.ErrBlockInUse) {
		t.Fatalf("ReleaseBlock of a block in use: %v, want ErrBlockInUse", err)
	}
	if blocks, err := m.NodeBlocks(ctx, node); err != nil || len(blocks) != 1 || blocks[0] != block {
		t.Fatalf("after a refused release the node's blocks are %v, %v; want [%s]", blocks, err, block)
	}

	if err := m.Release(ctx, ipam.TunnelHandle(node)); err != nil {
		t.Fatal(err)
	}
	if err := m.ReleaseBlock(ctx, node, block); err != nil {
		t.Fatalf("ReleaseBlock of an empty block: %v", err)
	}
	if err := m.ReleaseBlock(ctx, node, block); err != nil {
		t.Fatalf("ReleaseBlock of a released block: %v, want success", err)
	}
	if _, err := datastore.IPAMBlocks(store).Get(ctx, datastore.BlockName(block)); !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("block after release: %v, want ErrNotFound", err)
	}
	if _, err := datastore.BlockAffinities(store).Get(ctx, datastore.BlockAffinityName(node, block)); !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("affinity after release: %v, want ErrNotFound", err)
	}
}

func TestAllocateClaimsAnotherBlockWhenFull(t *testing.T) {
	ctx := context.Background()
	store := storetest.Connect(t)
	createPool(t, store, "tiny-blocks", "192.168.0.0/24", 30) // 4 addresses per block
	m := ipam.New(store)

	want := make(map[string]netip.Addr)
	for i := range 10 {
		h := fmt.Sprintf("pod-%d", i)
		addr, err := m.Allocate(ctx, "k01-worker", h, nil)
		if err != nil {
			t.Fatalf("Allocate %d: %v", i, err)
		}
		want[h] = addr
	}
	blocks, err := m.NodeBlocks(ctx, "k01-worker")
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 {
		t.Fatalf("10 addresses in /30 blocks took %d blocks (%v), want 3", len(blocks), blocks)
	}
	audit(t, store, want, nil)

	// A freed address is handed out again before another block is claimed.
	if err := m.Release(ctx, "pod-4"); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 12; i++ {
		h := fmt.Sprintf("pod-%d", i)
		addr, err := m.Allocate(ctx, "k01-worker", h, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[h] = addr
	}
	delete(want, "pod-4")
	if blocks, _ := m.NodeBlocks(ctx, "k01-worker"); len(blocks) != 3 {
		t.Fatalf("node claimed a fourth block while its blocks had free addresses: %v", blocks)
	}
	audit(t, store, want, nil)
}

func TestReleaseNode(t *testing.T) {
	ctx := context.Background()
	store := storetest.Connect(t)
	createPool(t, store, "tiny-blocks", "192.168.0.0/24", 30)
	m := ipam.New(store)

	want := make(map[string]netip.Addr)
	for _, node := range []string{"k01-worker", "k01-worker2"} {
		for i := range 6 {
			h := fmt.Sprintf("%s-pod-%d", node, i)
			addr, err := m.Allocate(ctx, node, h, nil)
			if err != nil {
				t.Fatal(err)
			}
			if node == "k01-worker2" {
				want[h] = addr
			}
		}
	}
	// A stale pending claim of the removed node must go too.
	stale := &datastore.BlockAffinity{
		Metadata: datastore.ObjectMeta{Name: datastore.BlockAffinityName("k01-worker", netip.MustParsePrefix("192.168.0.252/30"))},
		Spec:     datastore.BlockAffinitySpec{Node: "k01-worker", CIDR: netip.MustParsePrefix("192.168.0.252/30"), State: datastore.AffinityPending},
	}
	if err := datastore.BlockAffinities(store).Create(ctx, stale); err != nil {
		t.Fatal(err)
	}

	if err := m.ReleaseNode(ctx, "k01-worker"); err != nil {
		t.Fatal(err)
	}
	if err := m.ReleaseNode(ctx, "k01-worker"); err != nil {
		t.Fatalf("second ReleaseNode: %v, want success", err)
	}
	affs, _, err := datastore.BlockAffinities(store).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range affs {
		if a.Spec.Node == "k01-worker" {
			t.Errorf("affinity %s (%s) of the released node remains", a.Metadata.Name, a.Spec.State)
		}
	}
	audit(t, store, want, nil)
}

// Eight nodes allocate fifty addresses each, all at once, from small blocks so that nodes also
// race to claim new blocks. Nothing may be handed out twice, and the datastore must record
// exactly what the callers were told.
func TestConcurrentAllocateNeverDoublesAnAddress(t *testing.T) {
	endpoint := storetest.Start(t)
	ipamtest.ConcurrentAllocate(t, func(t *testing.T) datastore.Store { return storetest.Dial(t, endpoint) },
		ipamtest.Scale{Nodes: 8, PerNode: 50, Goroutines: 10})
}

// A runtime that retries an ADD while the first is still running sends the same handle twice at
// once: both must get the one address.
func TestConcurrentAllocateOfOneHandleGivesOneAddress(t *testing.T) {
	ctx := context.Background()
	endpoint := storetest.Start(t)
	store := storetest.Dial(t, endpoint)
	createPool(t, store, "default-ipv4-ippool", "192.168.0.0/16", 26)
	if _, err := ipam.New(store).ClaimBlock(ctx, "k01-worker"); err != nil {
		t.Fatal(err)
	}

	const callers = 8
	addrs := make([]netip.Addr, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		m := ipam.New(storetest.Dial(t, endpoint))
		wg.Add(1)
		go func() {
			defer wg.Done()
			addrs[i], errs[i] = m.Allocate(ctx, "k01-worker", "k8s-pod-network.retried", nil)
		}()
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if addrs[i] != addrs[0] {
			t.Fatalf("caller %d got %s, caller 0 got %s: one handle, two addresses", i, addrs[i], addrs[0])
		}
	}
	audit(t, store, map[string]netip.Addr{"k8s-pod-network.retried": addrs[0]}, nil)
}

// A claim interrupted after the block was created (the claimant crashed before confirming)
// is finished by the node's next claim instead of leaking the block.
func TestClaimBlockFinishesAnInterruptedClaim(t *testing.T) {
	ctx := context.Background()
	store := storetest.Connect(t)
	createPool(t, store, "default-ipv4-ippool", "192.168.0.0/16", 26)
	block := netip.MustParsePrefix("192.168.42.0/26")
	if err := datastore.BlockAffinities(store).Create(ctx, &datastore.BlockAffinity{
		Metadata: datastore.ObjectMeta{Name: datastore.BlockAffinityName("k01-worker", block)},
		Spec:     datastore.BlockAffinitySpec{Node: "k01-worker", CIDR: block, State: datastore.AffinityPending},
	}); err != nil {
		t.Fatal(err)
	}
	empty := &datastore.IPAMBlock{
		Metadata: datastore.ObjectMeta{Name: datastore.BlockName(block)},
		Spec: datastore.IPAMBlockSpec{CIDR: block, Affinity: datastore.HostAffinity("k01-worker"),
			Allocations: make([]*int, 64), Attributes: []datastore.AllocationAttribute{}},
	}
	for i := range 64 {
		empty.Spec.Unallocated = append(empty.Spec.Unallocated, i)
	}
	if err := datastore.IPAMBlocks(store).Create(ctx, empty); err != nil {
		t.Fatal(err)
	}

	got, err := ipam.New(store).ClaimBlock(ctx, "k01-worker")
	if err != nil || got != block {
		t.Fatalf("ClaimBlock = %s, %v; want the interrupted claim %s finished", got, err, block)
	}
	aff, err := datastore.BlockAffinities(store).Get(ctx, datastore.BlockAffinityName("k01-worker", block))
	if err != nil || aff.Spec.State != datastore.AffinityConfirmed {
		t.Fatalf("affinity after ClaimBlock: %+v, %v; want confirmed", aff, err)
	}
	audit(t, store, map[string]netip.Addr{}, nil)
}

// Releasing a node's empty block while a pod is being given an address from it: either the
// release wins and the allocation moves to a new block, or the allocation wins and the release
// is refused. An address must never be handed out from a block that is then deleted.
func TestReleaseBlockRacingAllocate(t *testing.T) {
	ctx := context.Background()
	endpoint := storetest.Start(t)
	store := storetest.Dial(t, endpoint)
	createPool(t, store, "default-ipv4-ippool", "192.168.0.0/16", 26)
	allocator := ipam.New(storetest.Dial(t, endpoint))
	releaser := ipam.New(storetest.Dial(t, endpoint))

	want := make(map[string]netip.Addr)
	released := 0
	for round := range 15 {
		node := fmt.Sprintf("node-%d", round)
		block, err := releaser.ClaimBlock(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		var addr netip.Addr
		var allocErr, releaseErr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); addr, allocErr = allocator.Allocate(ctx, node, node+"-pod", nil) }()
		go func() { defer wg.Done(); releaseErr = releaser.ReleaseBlock(ctx, node, block) }()
		wg.Wait()
		if allocErr != nil {
			t.Fatalf("round %d: Allocate: %v", round, allocErr)
		}
		switch {
		case releaseErr == nil:
			released++
		case !errors.Is(releaseErr, ipam.ErrBlockInUse):
			t.Fatalf("round %d: ReleaseBlock: %v", round, releaseErr)
		}
		want[node+"-pod"] = addr
	}
	t.Logf("release won %d of 15 rounds", released)
	audit(t, store, want, nil)
}
