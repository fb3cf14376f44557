package check

import (
	"testing"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
	"github.com/knetlab/knetlab/verify/report"
)

// BenchmarkRouteDiff is routes.blocks on one node of a 1,000-node cluster: 1,000 expected block
// routes against a node state of about the same size (docs/benchmarks.md).
func BenchmarkRouteDiff(b *testing.B) {
	c := expect.Compute(expecttest.Synthetic(1000))
	in := &Inputs{Expect: c}
	e := c.Nodes[0]
	s := expecttest.Healthy(c, e.Name())
	b.ReportAllocs()
	b.ReportMetric(float64(len(s.Routes)), "routes")
	for b.Loop() {
		r := &report.Node{Node: e.Name()}
		judgeBlockRoutes(in, e, s, r)
		if len(r.Findings) != 0 {
			b.Fatalf("healthy node has findings: %+v", r.Findings[0])
		}
	}
}
