package datastore_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/datastoretest"
)

func pool(name, cidr string, blockSize int) *datastore.IPPool {
	return &datastore.IPPool{
		Metadata: datastore.ObjectMeta{Name: name},
		Spec: datastore.IPPoolSpec{
			CIDR: netip.MustParsePrefix(cidr), BlockSize: blockSize,
			VXLANMode: datastore.EncapCrossSubnet, IPIPMode: datastore.EncapNever, NATOutgoing: true,
			NodeSelector: "all()",
		},
	}
}

func TestEtcdCRUDAndCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	pools := datastore.IPPools(datastoretest.Connect(t))

	created := pool("default-ipv4-ippool", "192.168.0.0/16", 26)
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
	if got.Metadata.Revision <= stale.Metadata.Revision {
		t.Fatalf("Update left Revision at %d, want > %d", got.Metadata.Revision, stale.Metadata.Revision)
	}

	missing := pool("absent", "10.0.0.0/8", 26)
	missing.Metadata.Revision = got.Metadata.Revision
	cases := []struct {
		name string
		op   func() error
		want error
	}{
		{"create over an existing object", func() error { return pools.Create(ctx, pool("default-ipv4-ippool", "10.0.0.0/8", 26)) }, datastore.ErrExists},
		{"update at a stale revision", func() error { s := stale; return pools.Update(ctx, &s) }, datastore.ErrConflict},
		{"delete at a stale revision", func() error { s := stale; return pools.Delete(ctx, &s) }, datastore.ErrConflict},
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

func TestEtcdListIsSortedAndScopedToKind(t *testing.T) {
	ctx := context.Background()
	store := datastoretest.Connect(t)
	for _, name := range []string{"pool-b", "pool-a", "pool-c"} {
		if err := datastore.IPPools(store).Create(ctx, pool(name, "10.0.0.0/8", 26)); err != nil {
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
	if rev < node.Metadata.Revision {
		t.Fatalf("List revision %d is older than the last write %d", rev, node.Metadata.Revision)
	}
}

func TestEtcdRejectsBadNames(t *testing.T) {
	store := datastoretest.Connect(t)
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

func TestEtcdWatchFromListRevision(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	store := datastoretest.Connect(t)
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
	events, err := nodes.Watch(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	// An IPPool write must not show up on the Node watch.
	if err := datastore.IPPools(store).Create(ctx, pool("p", "10.0.0.0/8", 26)); err != nil {
		t.Fatal(err)
	}
	n := &datastore.Node{Metadata: datastore.ObjectMeta{Name: "k01-worker"}}
	n.Spec.BGP.IPv4Address = netip.MustParsePrefix("10.10.10.11/24")
	if err := nodes.Create(ctx, n); err != nil {
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
	for i, w := range want {
		select {
		case ev := <-events:
			if ev.Type != w.typ || ev.Object == nil || ev.Object.Metadata.Name != w.name ||
				ev.Object.Spec.IPv4VXLANTunnelAddr.String() != w.tunnel {
				t.Fatalf("event %d = %v %+v (err %v), want %v %s tunnel %s", i, ev.Type, ev.Object, ev.Err, w.typ, w.name, w.tunnel)
			}
			if w.typ == datastore.EventPut && ev.Object.Spec.BGP.IPv4Address.String() != "10.10.10.11/24" {
				t.Fatalf("event %d lost the underlay address: %+v", i, ev.Object.Spec)
			}
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
func TestEtcdConcurrentCompareAndSwapLosesNoUpdate(t *testing.T) {
	ctx := context.Background()
	endpoint := datastoretest.Start(t)
	const writers, increments = 16, 25

	setup := datastore.IPPools(datastoretest.Dial(t, endpoint))
	if err := setup.Create(ctx, pool("counter", "10.0.0.0/8", 0)); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	errs := make(chan error, writers)
	for w := range writers {
		// Half the writers share a connection, half have their own, as agents and plugins do.
		pools := setup
		if w%2 == 1 {
			pools = datastore.IPPools(datastoretest.Dial(t, endpoint))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range increments {
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
	if final.Spec.BlockSize != writers*increments {
		t.Fatalf("counter = %d after %d increments (%d conflicts retried): updates were lost",
			final.Spec.BlockSize, writers*increments, conflicts)
	}
	t.Logf("%d increments, %d conflicts retried", writers*increments, conflicts)
}
