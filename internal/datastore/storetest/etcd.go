package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/knetlab/knetlab/internal/datastore"
)

// Start runs an embedded etcd on 127.0.0.1 with kernel-chosen ports and a temporary data
// directory, stopped when the test ends. It returns the server's client URL.
// Fsync is off unless an option turns it on: nothing here must survive the test.
func Start(tb testing.TB, opts ...func(*datastore.ServeConfig)) string {
	tb.Helper()
	cfg := datastore.ServeConfig{
		DataDir:       filepath.Join(tb.TempDir(), "etcd"),
		ClientURL:     "http://127.0.0.1:0",
		PeerURL:       "http://127.0.0.1:0",
		UnsafeNoFsync: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := datastore.Serve(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start embedded etcd: %v", err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv.ClientURL()
}

// Durable turns fsync on, as in a lab: benchmarks measure what a lab pays.
func Durable(cfg *datastore.ServeConfig) { cfg.UnsafeNoFsync = false }

// Connect starts an embedded etcd and returns a Store connected to it, closed when the test
// ends.
func Connect(tb testing.TB) datastore.Store {
	tb.Helper()
	return Dial(tb, Start(tb))
}

// Dial connects a Store to an already running etcd, closed when the test ends.
func Dial(tb testing.TB, endpoint string) datastore.Store {
	tb.Helper()
	store, err := datastore.NewEtcd(context.Background(), datastore.EtcdConfig{Endpoints: []string{endpoint}})
	if err != nil {
		tb.Fatalf("connect to embedded etcd: %v", err)
	}
	tb.Cleanup(func() { store.Close() })
	return store
}
