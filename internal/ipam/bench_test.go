package ipam_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/storetest"
	"github.com/knetlab/knetlab/internal/ipam"
)

// labOfNodes is a datastore holding a 50-node lab: one pool, each node with its block and
// tunnel address, so each benchmark reads what a real CNI ADD would read.
func labOfNodes(b *testing.B, durable bool) *ipam.IPAM {
	b.Helper()
	var opts []func(*datastore.ServeConfig)
	if durable {
		opts = append(opts, storetest.Durable)
	}
	store := storetest.Dial(b, storetest.Start(b, opts...))
	createPool(b, store, "default-ipv4-ippool", "192.168.0.0/16", 26)
	m := ipam.New(store)
	for i := range 50 {
		if _, err := m.AllocateTunnelAddress(context.Background(), fmt.Sprintf("node-%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

// reportLatency adds the median and 90th percentile of the timed operations; the mean that
// ns/op shows hides the tail a CNI ADD waits on.
func reportLatency(b *testing.B, samples []time.Duration) {
	slices.Sort(samples)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(samples[len(samples)/2]), "ms-median")
	b.ReportMetric(ms(samples[len(samples)*9/10]), "ms-p90")
}

// BenchmarkAllocate is the IPAM share of a CNI ADD: one address for a new handle on a node
// that already has its block. Each address is released again, untimed, as a CNI DEL would.
func BenchmarkAllocate(b *testing.B) {
	for _, durable := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", durable), func(b *testing.B) {
			ctx := context.Background()
			m := labOfNodes(b, durable)
			samples := make([]time.Duration, 0, 1024)
			for i := 0; b.Loop(); i++ {
				h := fmt.Sprintf("pod-%d", i)
				start := time.Now()
				if _, err := m.Allocate(ctx, "node-7", h, nil); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(start))
				b.StopTimer()
				if err := m.Release(ctx, h); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			reportLatency(b, samples)
		})
	}
}

// BenchmarkClaimBlock is a new node joining the 50-node lab: pending affinity, block create,
// confirm. The block is released again, untimed, so the lab stays at 50 nodes.
func BenchmarkClaimBlock(b *testing.B) {
	for _, durable := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", durable), func(b *testing.B) {
			ctx := context.Background()
			m := labOfNodes(b, durable)
			samples := make([]time.Duration, 0, 1024)
			for i := 0; b.Loop(); i++ {
				node := fmt.Sprintf("joining-%d", i)
				start := time.Now()
				block, err := m.ClaimBlock(ctx, node)
				if err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(start))
				b.StopTimer()
				if err := m.ReleaseBlock(ctx, node, block); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			reportLatency(b, samples)
		})
	}
}

// BenchmarkConnectAndAllocate is what a CNI plugin process pays for IPAM on each ADD: it starts
// with no connection, so it dials etcd, checks it answers, allocates and hangs up.
func BenchmarkConnectAndAllocate(b *testing.B) {
	ctx := context.Background()
	endpoint := storetest.Start(b, storetest.Durable)
	{
		store := storetest.Dial(b, endpoint)
		createPool(b, store, "default-ipv4-ippool", "192.168.0.0/16", 26)
		m := ipam.New(store)
		for i := range 50 {
			if _, err := m.AllocateTunnelAddress(ctx, fmt.Sprintf("node-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	cleanup := ipam.New(storetest.Dial(b, endpoint))
	samples := make([]time.Duration, 0, 1024)
	for i := 0; b.Loop(); i++ {
		h := fmt.Sprintf("pod-%d", i)
		start := time.Now()
		store, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{endpoint}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ipam.New(store).Allocate(ctx, "node-7", h, nil); err != nil {
			b.Fatal(err)
		}
		store.Close()
		samples = append(samples, time.Since(start))
		b.StopTimer()
		if err := cleanup.Release(ctx, h); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	reportLatency(b, samples)
}
