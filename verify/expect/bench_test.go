package expect_test

import (
	"fmt"
	"testing"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
)

// BenchmarkClusterTables is every node's expected tables — block routes, neighbours, FDB —
// for a cluster with one block per node, 250 nodes per underlay subnet (docs/benchmarks.md).
func BenchmarkClusterTables(b *testing.B) {
	for _, n := range []int{100, 1000, 2000} {
		f := expecttest.Synthetic(n)
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			entries := 0
			for b.Loop() {
				entries = 0
				c := expect.Compute(f)
				for _, node := range c.Nodes {
					routes, _ := node.Routes()
					entries += len(routes) + len(node.Neighs()) + len(node.FDB()) + len(node.PodRoutes)
				}
			}
			b.ReportMetric(float64(entries), "entries")
		})
	}
}
