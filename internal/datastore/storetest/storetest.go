// Package storetest holds the datastore helpers of tests. Run is the behavioural contract of a
// datastore.Store, written once and run against every backend (etcd in internal/datastore, the
// Kubernetes API in kubestore), so the backends cannot drift apart in what callers may rely on:
// typed errors, compare-and-swap writes, sorted lists scoped to a kind, watches that resume
// from a list revision. Start, Connect and Dial give a test a throwaway embedded etcd and
// Stores connected to it.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/datastore"
)

// Backend starts an empty datastore for one test and returns how to open a connection to it.
// Every connection opened must be closed when the test ends.
type Backend func(t *testing.T) (dial func(t *testing.T) datastore.Store)

// Contract says how hard Run drives a backend and which backend-specific promises it checks.
type Contract struct {
	// Writers and Increments size the concurrent compare-and-swap scenario.
	Writers, Increments int
	// RevisionsIncrease: every write returns a revision greater than the one it replaced
	// (etcd's mod revision). Without it, a write only has to change the revision, as a
	// Kubernetes resourceVersion is opaque.
	RevisionsIncrease bool
}

// Pool is an IPPool shaped as the labs create it, for tests that need an object to store.
func Pool(name, cidr string, blockSize int) *datastore.IPPool {
	return &datastore.IPPool{
		Metadata: datastore.ObjectMeta{Name: name},
		Spec: datastore.IPPoolSpec{
			CIDR: netip.MustParsePrefix(cidr), BlockSize: blockSize,
			VXLANMode: calico.EncapCrossSubnet, IPIPMode: calico.EncapNever, NATOutgoing: true,
			NodeSelector: "all()",
		},
	}
}

// Run checks the Store contract, one subtest per behaviour, each on a fresh datastore.
func Run(t *testing.T, start Backend, c Contract) {
	t.Run("CRUDAndCompareAndSwap", func(t *testing.T) { crudAndCompareAndSwap(t, start(t)(t), c) })
	t.Run("ListIsSortedAndScopedToKind", func(t *testing.T) { listIsSortedAndScopedToKind(t, start(t)(t)) })
	t.Run("RejectsBadNames", func(t *testing.T) { rejectsBadNames(t, start(t)(t)) })
	t.Run("WatchFromListRevision", func(t *testing.T) { watchFromListRevision(t, start(t)(t)) })
	t.Run("ConcurrentCompareAndSwapLosesNoUpdate", func(t *testing.T) { concurrentCompareAndSwap(t, start(t), c) })
}

func crudAndCompareAndSwap(t *testing.T, store datastore.Store, c Contract) {
	ctx := context.Background()
	pools := datastore.IPPools(store)

	created := Pool("default-ipv4-ippool", "192.168.0.0/16", 26)
	if err := pools.Create(ctx, created); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if created.Metadata.Revision == 0 {
		t.Fatal("Create left Revision at 0")
	}
	got, err := pools.Get(ctx, "default-ipv4-ippool")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Spec != created.Spec || got.Metadata != created.Metadata {
		t.Fatalf("Get = %+v, want %+v", got, created)
	}

	stale := *got
	got.Spec.BlockSize = 27
	if err := pools.Update(ctx, got); err != nil {
		t.Fatalf("Update at the read revision: %v", err)
	}
	if got.Metadata.Revision == stale.Metadata.Revision {
		t.Fatalf("Update left Revision at %d", got.Metadata.Revision)
	}
	if c.RevisionsIncrease && got.Metadata.Revision < stale.Metadata.Revision {
		t.Fatalf("Update moved Revision back from %d to %d", stale.Metadata.Revision, got.Metadata.Revision)
	}

	missing := Pool("absent", "10.0.0.0/8", 26)
	missing.Metadata.Revision = got.Metadata.Revision
	unread := Pool("default-ipv4-ippool", "10.0.0.0/8", 26) // Revision 0: never read
	cases := []struct {
		name string
		op   func() error
		want error
	}{
		{"create over an existing object", func() error { return pools.Create(ctx, Pool("default-ipv4-ippool", "10.0.0.0/8", 26)) }, datastore.ErrExists},
		{"update at a stale revision", func() error { s := stale; return pools.Update(ctx, &s) }, datastore.ErrConflict},
		{"delete at a stale revision", func() error { s := stale; return pools.Delete(ctx, &s) }, datastore.ErrConflict},
		{"update without a revision is never unconditional", func() error { return pools.Update(ctx, unread) }, datastore.ErrConflict},
		{"delete without a revision is never unconditional", func() error { return pools.Delete(ctx, unread) }, datastore.ErrConflict},
		{"update of a missing object", func() error { return pools.Update(ctx, missing) }, datastore.ErrNotFound},
		{"delete of a missing object", func() error { return pools.Delete(ctx, missing) }, datastore.ErrNotFound},
		{"get of a missing object", func() error { _, err := pools.Get(ctx, "absent"); return err }, datastore.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, tc.want)
			}
		})
	}

	// The failed writes above must not have changed the object.
	after, err := pools.Get(ctx, "default-ipv4-ippool")
	if err != nil {
		t.Fatalf("Get after failed writes: %v", err)
	}
	if after.Spec.BlockSize != 27 || after.Metadata.Revision != got.Metadata.Revision {
		t.Fatalf("object changed by failed writes: %+v", after)
	}
	if err := pools.Delete(ctx, after); err != nil {
		t.Fatalf("Delete at the read revision: %v", err)
	}
	if _, err := pools.Get(ctx, "default-ipv4-ippool"); !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
}

func listIsSortedAndScopedToKind(t *testing.T, store datastore.Store) {
	ctx := context.Background()
	for _, name := range []string{"pool-b", "pool-a", "pool-c"} {
		if err := datastore.IPPools(store).Create(ctx, Pool(name, "10.0.0.0/8", 26)); err != nil {
			t.Fatal(err)
		}
	}
	node := &datastore.Node{Metadata: datastore.ObjectMeta{Name: "k01-worker"}}
	if err := datastore.Nodes(store).Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	list, rev, err := datastore.IPPools(store).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list {
		names = append(names, p.Metadata.Name)
	}
	if fmt.Sprint(names) != "[pool-a pool-b pool-c]" {
		t.Fatalf("List names = %v, want [pool-a pool-b pool-c]", names)
	}
	// The list revision is the store's, not the newest listed object's: a watch from it must
	// not replay the Node write, which came after every pool.
	if rev != node.Metadata.Revision {
		t.Fatalf("List revision %d, want the last write's %d (the store's current revision)", rev, node.Metadata.Revision)
	}
}

func rejectsBadNames(t *testing.T, store datastore.Store) {
	for _, tc := range []struct {
		kind datastore.Kind
		name string
	}{
		{datastore.KindIPPool, ""},
		{datastore.KindIPPool, "a/b"},
		{datastore.Kind("pods"), "x"},
	} {
		if _, err := store.Create(context.Background(), tc.kind, tc.name, []byte("{}")); err == nil {
			t.Errorf("Create(%q, %q) succeeded, want an error", tc.kind, tc.name)
		}
	}
}

func watchFromListRevision(t *testing.T, store datastore.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes := datastore.Nodes(store)

	// A change before the list must not be replayed by a watch from the list revision.
	before := &datastore.Node{Metadata: datastore.ObjectMeta{Name: "k01-control-plane"}}
	if err := nodes.Create(ctx, before); err != nil {
		t.Fatal(err)
	}
	_, rev, err := nodes.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Changes between the list and the watch must be delivered: the watch starts at rev.
	n := &datastore.Node{Metadata: datastore.ObjectMeta{Name: "k01-worker"}}
	n.Spec.BGP.IPv4Address = netip.MustParsePrefix("10.10.10.11/24")
	if err := nodes.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	events, err := nodes.Watch(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	// An IPPool write must not show up on the Node watch.
	if err := datastore.IPPools(store).Create(ctx, Pool("p", "10.0.0.0/8", 26)); err != nil {
		t.Fatal(err)
	}
	n.Spec.IPv4VXLANTunnelAddr = netip.MustParseAddr("192.168.16.0")
	if err := nodes.Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := nodes.Delete(ctx, n); err != nil {
		t.Fatal(err)
	}

	want := []struct {
		typ    datastore.EventType
		name   string
		tunnel string
	}{
		{datastore.EventPut, "k01-worker", "invalid IP"},
		{datastore.EventPut, "k01-worker", "192.168.16.0"},
		{datastore.EventDelete, "k01-worker", "192.168.16.0"}, // a delete carries the last value
	}
	lastRev := rev
	for i, w := range want {
		select {
		case ev := <-events:
			if ev.Type != w.typ || ev.Object == nil || ev.Object.Metadata.Name != w.name ||
				ev.Object.Spec.IPv4VXLANTunnelAddr.String() != w.tunnel {
				t.Fatalf("event %d = %v %+v (err %v), want %v %s tunnel %s", i, ev.Type, ev.Object, ev.Err, w.typ, w.name, w.tunnel)
			}
			if ev.Object.Spec.BGP.IPv4Address.String() != "10.10.10.11/24" {
				t.Fatalf("event %d lost the underlay address: %+v", i, ev.Object.Spec)
			}
			if ev.Object.Metadata.Revision == lastRev {
				t.Fatalf("event %d repeats revision %d", i, lastRev)
			}
			lastRev = ev.Object.Metadata.Revision
		case <-ctx.Done():
			t.Fatalf("event %d (%v %s) never arrived", i, w.typ, w.name)
		}
	}

	cancel()
	for ev := range events {
		if ev.Type != datastore.EventError {
			t.Fatalf("unexpected event after the last change: %v %+v", ev.Type, ev.Object)
		}
	}
}

// Many writers incrementing one object through Get + Update(CAS) must lose no increment: every
// conflict is retried from a fresh read.
func concurrentCompareAndSwap(t *testing.T, dial func(t *testing.T) datastore.Store, c Contract) {
	ctx := context.Background()
	setup := datastore.IPPools(dial(t))
	if err := setup.Create(ctx, Pool("counter", "10.0.0.0/8", 0)); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	errs := make(chan error, c.Writers)
	for w := range c.Writers {
		// Half the writers share a connection, half have their own, as agents and plugins do.
		pools := setup
		if w%2 == 1 {
			pools = datastore.IPPools(dial(t))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range c.Increments {
				for {
					p, err := pools.Get(ctx, "counter")
					if err != nil {
						errs <- err
						return
					}
					p.Spec.BlockSize++
					err = pools.Update(ctx, p)
					if err == nil {
						break
					}
					if !errors.Is(err, datastore.ErrConflict) {
						errs <- err
						return
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	final, err := setup.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if final.Spec.BlockSize != c.Writers*c.Increments {
		t.Fatalf("counter = %d after %d increments (%d conflicts retried): updates were lost",
			final.Spec.BlockSize, c.Writers*c.Increments, conflicts)
	}
	t.Logf("%d increments, %d conflicts retried", c.Writers*c.Increments, conflicts)
}
