package kubestore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
)

// The tests below are the etcd backend's behavioural contract (internal/datastore/etcd_test.go)
// run against the kubernetes backend and the in-memory API server.

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

func TestCRUDAndCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	pools := datastore.IPPools(kubestoretest.Start(t).Store(t))

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
	if got.Metadata.Revision == stale.Metadata.Revision {
		t.Fatalf("Update left Revision at %d", got.Metadata.Revision)
	}

	missing := pool("absent", "10.0.0.0/8", 26)
	missing.Metadata.Revision = got.Metadata.Revision
	unread := pool("default-ipv4-ippool", "10.0.0.0/8", 26) // Revision 0: never read
	cases := []struct {
		name string
		op   func() error
		want error
	}{
		{"create over an existing object", func() error { return pools.Create(ctx, pool("default-ipv4-ippool", "10.0.0.0/8", 26)) }, datastore.ErrExists},
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

// Every resource type round-trips through a custom resource unchanged, Calico field names and all.
func TestEveryKindRoundTrips(t *testing.T) {
	ctx := context.Background()
	store := kubestoretest.Start(t).Store(t)
	cidr := netip.MustParsePrefix("192.168.16.0/26")
	zero := 0

	aff := &datastore.BlockAffinity{Metadata: datastore.ObjectMeta{Name: datastore.BlockAffinityName("k01-worker", cidr)},
		Spec: datastore.BlockAffinitySpec{Node: "k01-worker", CIDR: cidr, State: datastore.AffinityConfirmed}}
	if err := datastore.BlockAffinities(store).Create(ctx, aff); err != nil {
		t.Fatal(err)
	}
	gotAff, err := datastore.BlockAffinities(store).Get(ctx, aff.Metadata.Name)
	if err != nil || *gotAff != *aff {
		t.Fatalf("BlockAffinity = %+v, %v; want %+v", gotAff, err, aff)
	}

	block := &datastore.IPAMBlock{Metadata: datastore.ObjectMeta{Name: datastore.BlockName(cidr)},
		Spec: datastore.IPAMBlockSpec{CIDR: cidr, Affinity: datastore.HostAffinity("k01-worker"),
			Allocations: append([]*int{&zero}, make([]*int, 63)...), Unallocated: []int{1, 2, 3},
			Attributes: []datastore.AllocationAttribute{{HandleID: "vxlan-tunnel-addr-k01-worker", Secondary: map[string]string{"node": "k01-worker"}}}}}
	if err := datastore.IPAMBlocks(store).Create(ctx, block); err != nil {
		t.Fatal(err)
	}
	gotBlock, err := datastore.IPAMBlocks(store).Get(ctx, block.Metadata.Name)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%v %d %v %+v", *gotBlock.Spec.Allocations[0], len(gotBlock.Spec.Allocations), gotBlock.Spec.Unallocated, gotBlock.Spec.Attributes) !=
		fmt.Sprintf("%v %d %v %+v", zero, 64, block.Spec.Unallocated, block.Spec.Attributes) || gotBlock.Spec.Allocations[1] != nil {
		t.Fatalf("IPAMBlock = %+v, want %+v", gotBlock.Spec, block.Spec)
	}

	node := &datastore.Node{Metadata: datastore.ObjectMeta{Name: "k01-worker"}, Spec: datastore.NodeSpec{
		BGP:                 datastore.NodeBGPSpec{IPv4Address: netip.MustParsePrefix("10.10.10.11/24")},
		IPv4VXLANTunnelAddr: netip.MustParseAddr("192.168.16.0"), VXLANParentInterface: "eth1"}}
	if err := datastore.Nodes(store).Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	gotNode, err := datastore.Nodes(store).Get(ctx, "k01-worker")
	if err != nil || *gotNode != *node {
		t.Fatalf("Node = %+v, %v; want %+v", gotNode, err, node)
	}
}

func TestObjectKeepsNameAndSpecOnly(t *testing.T) {
	cases := []struct {
		name, value, wantErr string
	}{
		{"spec is carried", `{"metadata":{"name":"p"},"spec":{"cidr":"10.0.0.0/8"}}`, ""},
		{"no spec is an empty object", `{"metadata":{"name":"p"}}`, ""},
		{"other fields would be pruned", `{"metadata":{"name":"p"},"spec":{},"status":{}}`, "[status]"},
		{"not an object", `[1,2]`, "not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := kubestore.Object(datastore.KindIPPool, "p", []byte(tc.value))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if obj.GetAPIVersion() != "datastore.knetlab.dev/v1" || obj.GetKind() != "IPPool" || obj.GetName() != "p" || obj.GetNamespace() != "" {
				t.Fatalf("object = %v", obj.Object)
			}
			if strings.Contains(tc.value, "cidr") && fmt.Sprint(obj.Object["spec"]) != "map[cidr:10.0.0.0/8]" {
				t.Fatalf("spec = %v", obj.Object["spec"])
			}
		})
	}
}

func TestListIsSortedAndScopedToKind(t *testing.T) {
	ctx := context.Background()
	store := kubestoretest.Start(t).Store(t)
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
	if rev != node.Metadata.Revision {
		t.Fatalf("List revision %d, want the last write's %d (the API server's current resourceVersion)", rev, node.Metadata.Revision)
	}
}

func TestRejectsBadNames(t *testing.T) {
	api := kubestoretest.Start(t)
	store := api.Store(t)
	for _, tc := range []struct {
		kind datastore.Kind
		name string
	}{
		{datastore.KindIPPool, ""},
		{datastore.KindIPPool, "a/b"},
		{datastore.KindNode, "K01-Worker"}, // not a DNS-1123 subdomain
		{datastore.KindNode, "node_1"},
		{datastore.Kind("pods"), "x"},
	} {
		if _, err := store.Create(context.Background(), tc.kind, tc.name, []byte("{}")); err == nil {
			t.Errorf("Create(%q, %q) succeeded, want an error", tc.kind, tc.name)
		}
	}
	if reqs := api.Requests(); len(reqs) != 0 {
		t.Errorf("bad names reached the API server: %v", reqs)
	}
}

// API failures a retry may cure are ErrUnavailable; the others are not.
func TestErrorsOfTheAPIServer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		code        int
		unavailable bool
		hint        string
	}{
		{http.StatusServiceUnavailable, true, "retry later"},
		{http.StatusTooManyRequests, true, "retry later"},
		{http.StatusInternalServerError, true, "retry later"},
		{http.StatusForbidden, false, "rbac.yaml"},
	} {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			api := kubestoretest.Start(t)
			store := api.Store(t)
			api.FailWith(tc.code)
			_, err := store.Get(ctx, datastore.KindNode, "k01-worker")
			if err == nil {
				t.Fatal("Get succeeded against a failing API server")
			}
			if errors.Is(err, datastore.ErrUnavailable) != tc.unavailable || errors.Is(err, datastore.ErrNotFound) {
				t.Fatalf("err = %v; unavailable = %v, want %v", err, errors.Is(err, datastore.ErrUnavailable), tc.unavailable)
			}
			if !strings.Contains(err.Error(), tc.hint) {
				t.Fatalf("err = %v, want the hint %q", err, tc.hint)
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		api := kubestoretest.Start(t)
		store := api.Store(t)
		api.Close()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, _, err := store.List(ctx, datastore.KindNode); !errors.Is(err, datastore.ErrUnavailable) {
			t.Fatalf("List against a stopped API server: %v, want ErrUnavailable", err)
		}
	})
}

func TestWatchFromListRevision(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	store := kubestoretest.Start(t).Store(t)
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
	if err := datastore.IPPools(store).Create(ctx, pool("p", "10.0.0.0/8", 26)); err != nil {
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

// Watch(0) means "from now on": objects that exist already are not replayed as ADDED.
func TestWatchFromNowOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	store := kubestoretest.Start(t).Store(t)
	if err := datastore.Nodes(store).Create(ctx, &datastore.Node{Metadata: datastore.ObjectMeta{Name: "old"}}); err != nil {
		t.Fatal(err)
	}
	events, err := store.Watch(ctx, datastore.KindNode, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, datastore.KindNode, "new", []byte(`{"metadata":{"name":"new"},"spec":{}}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Type != datastore.EventPut || ev.Name != "new" {
			t.Fatalf("first event = %v %q (err %v), want put \"new\"", ev.Type, ev.Name, ev.Err)
		}
	case <-ctx.Done():
		t.Fatal("no event for the new node")
	}
}

// A broken watch sends one EventError and closes, whatever broke it.
func TestWatchEndsWithAnError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(api *kubestoretest.APIServer)
		want   string
	}{
		{"revision compacted", func(api *kubestoretest.APIServer) { api.Compact() }, "compacted"},
		{"server closed the watch", func(api *kubestoretest.APIServer) { api.CloseWatches() }, "closed the watch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			api := kubestoretest.Start(t)
			store := api.Store(t)
			rev, err := store.Create(ctx, datastore.KindIPPool, "first", []byte(`{"spec":{}}`))
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"a", "b"} {
				if _, err := store.Create(ctx, datastore.KindNode, name, []byte(`{"spec":{}}`)); err != nil {
					t.Fatal(err)
				}
			}
			var events <-chan datastore.Event
			if tc.name == "revision compacted" {
				tc.break_(api)
				events, err = store.Watch(ctx, datastore.KindNode, rev)
			} else {
				events, err = store.Watch(ctx, datastore.KindNode, rev)
				if err == nil {
					<-events // a's creation
					<-events // b's
					tc.break_(api)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []datastore.Event
			for ev := range events {
				got = append(got, ev)
			}
			if len(got) != 1 || got[0].Type != datastore.EventError || !strings.Contains(got[0].Err.Error(), tc.want) {
				t.Fatalf("events = %+v, want one error naming %q", got, tc.want)
			}
		})
	}
}

// Many writers incrementing one object through Get + Update(CAS) must lose no increment: every
// conflict is retried from a fresh read.
func TestConcurrentCompareAndSwapLosesNoUpdate(t *testing.T) {
	ctx := context.Background()
	api := kubestoretest.Start(t)
	const writers, increments = 8, 20

	setup := datastore.IPPools(api.Store(t))
	if err := setup.Create(ctx, pool("counter", "10.0.0.0/8", 0)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		pools := datastore.IPPools(api.Store(t))
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
		t.Fatalf("counter = %d after %d increments: updates were lost", final.Spec.BlockSize, writers*increments)
	}
}

// Verbs is what RBAC grants (deploy/knetlab/rbac.yaml is checked against it): every request the
// Store makes must be one of them, and each of them must be used.
func TestVerbsAreTheRequestsTheStoreMakes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	api := kubestoretest.Start(t)
	store := api.Store(t)
	rev, err := store.Create(ctx, datastore.KindNode, "n", []byte(`{"spec":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, datastore.KindNode, "n"); err != nil {
		t.Fatal(err)
	}
	events, err := store.Watch(ctx, datastore.KindNode, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rev, err = store.Update(ctx, datastore.KindNode, "n", []byte(`{"spec":{"x":1}}`), rev); err != nil {
		t.Fatal(err)
	}
	<-events
	if err := store.Delete(ctx, datastore.KindNode, "n", rev); err != nil {
		t.Fatal(err)
	}

	used := map[string]bool{}
	for _, r := range api.Requests() {
		method, uri, _ := strings.Cut(r, " ")
		path, query, _ := strings.Cut(uri, "?")
		named := strings.Count(strings.TrimPrefix(path, "/apis/datastore.knetlab.dev/v1/"), "/") == 1
		verb := map[string]string{"POST": "create", "PUT": "update", "DELETE": "delete"}[method]
		switch {
		case method == "GET" && strings.Contains(query, "watch=true"):
			verb = "watch"
		case method == "GET" && named:
			verb = "get"
		case method == "GET":
			verb = "list"
		}
		if !slices.Contains(kubestore.Verbs, verb) {
			t.Errorf("request %s is verb %q, which kubestore.Verbs (and so RBAC) lacks", r, verb)
		}
		used[verb] = true
	}
	for _, v := range kubestore.Verbs {
		if !used[v] {
			t.Errorf("kubestore.Verbs grants %q, which the Store never used", v)
		}
	}
}
