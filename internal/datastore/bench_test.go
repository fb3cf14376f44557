package datastore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/storetest"
)

// BenchmarkServe is the datastore's share of a lab deploy: a fresh embedded etcd from an empty
// data directory until it serves clients (fsync on, as in a lab), then stopped, untimed.
func BenchmarkServe(b *testing.B) {
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		srv, err := datastore.Serve(context.Background(), datastore.ServeConfig{
			DataDir:   filepath.Join(dir, fmt.Sprint(i)),
			ClientURL: "http://127.0.0.1:0",
			PeerURL:   "http://127.0.0.1:0",
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		srv.Close()
		b.StartTimer()
	}
}

// BenchmarkUpdate is one compare-and-swap write of an IPAM-block-sized object (fsync on).
func BenchmarkUpdate(b *testing.B) {
	ctx := context.Background()
	nodes := datastore.Nodes(storetest.Dial(b, storetest.Start(b, storetest.Durable)))
	n := &datastore.Node{Metadata: datastore.ObjectMeta{Name: "k01-worker"}}
	if err := nodes.Create(ctx, n); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n.Spec.VXLANTunnelMACAddr = fmt.Sprint(n.Metadata.Revision)
		if err := nodes.Update(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
}
