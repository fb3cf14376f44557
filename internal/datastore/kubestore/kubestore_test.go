package kubestore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
	"github.com/knetlab/knetlab/internal/datastore/storetest"
)

var pool = storetest.Pool

// The Store contract shared with the etcd backend, over the in-memory API server. The tests
// after it are what only this backend has: API error mapping, Watch(0), RBAC verbs, object shape.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(t *testing.T) datastore.Store {
		api := kubestoretest.Start(t)
		return func(t *testing.T) datastore.Store { return api.Store(t) }
	}, storetest.Contract{Writers: 8, Increments: 20})
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

// Names the API server would refuse never leave the client: on top of the contract's bad
// names, Kubernetes names must be DNS-1123 subdomains.
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

// Verbs is what RBAC grants (deploy/manifests/rbac.yaml is checked against it): every request the
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
