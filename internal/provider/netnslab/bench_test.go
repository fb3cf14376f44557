package netnslab

import (
	"context"
	"fmt"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/lab/labgen"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/testenv"
)

// Performance targets (issue 4): calico-overlay underlay deploy ≤ 1 s, destroy ≤ 0.5 s; a
// 100-node lab over 4 VLANs deploys ≤ 20 s. These measure the underlay alone (WithoutCNI);
// BenchmarkDeployCalicoOverlayWithCNI measures the whole lab. Run with a small -benchtime, e.g.
//
//	go test -run '^$' -bench . -benchtime 5x ./internal/provider/netnslab/
func BenchmarkDeployCalicoOverlay(b *testing.B) {
	testenv.RequireLab(b)
	benchDeploy(b, New(WithStateRoot(b.TempDir()), WithoutCNI()), uniqueLab(b, "calico-overlay"))
}

func BenchmarkDestroyCalicoOverlay(b *testing.B) {
	testenv.RequireLab(b)
	p := New(WithStateRoot(b.TempDir()), WithoutCNI())
	l := uniqueLab(b, "calico-overlay")
	b.Cleanup(func() { removeTestNamespaces(l.Name) })
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		if err := p.Deploy(ctx, l, provider.DeployOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := p.Destroy(ctx, l.Name, provider.DestroyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeployGenerated shows how deploy time grows with the number of nodes.
func BenchmarkDeployGenerated(b *testing.B) {
	testenv.RequireLab(b)
	for _, nodes := range []int{10, 50, 100} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			l, err := labgen.Generate(fmt.Sprintf("%sg%d", testPrefix, nodes), nodes, 4)
			if err != nil {
				b.Fatal(err)
			}
			benchDeploy(b, New(WithStateRoot(b.TempDir()), WithoutCNI()), l)
		})
	}
}

// benchDeploy times deploys of l by p (destroy untimed in between).
func benchDeploy(b *testing.B, p *Provider, l *lab.Lab) {
	b.Cleanup(func() { removeTestNamespaces(l.Name) })
	ctx := context.Background()
	for b.Loop() {
		if err := p.Deploy(ctx, l, provider.DeployOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := p.Destroy(ctx, l.Name, provider.DestroyOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(len(l.Nodes)), "nodes")
}
