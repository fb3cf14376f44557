package netnslab

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

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

// BenchmarkDeployCalicoBGP is the whole calico-bgp lab (issue 14: deploy ≤ 2 s; every BGP
// session Established and every route programmed ≤ 1 s after the last agent starts): underlay
// with the route reflector's namespace, etcd, the reflector (embedded GoBGP on its rendered
// rr.conf), three agents whose speakers peer with it, converged (kernel routes and sessions, as
// deploy checks them), three test pods. converge-ms is the time from the deploy's first look at
// the agents, right after the last one started, to its "registered and programmed" line.
//
//	go test -run '^$' -bench CalicoBGP -benchtime 5x ./internal/provider/netnslab/
func BenchmarkDeployCalicoBGP(b *testing.B) {
	testenv.RequireLab(b)
	p := newTestProvider(b)
	l := uniqueLab(b, "calico-bgp")
	b.Cleanup(func() { removeTestNamespaces(l.Name) })
	ctx := context.Background()
	var converge time.Duration
	for b.Loop() {
		rec := &timedRecorder{}
		if err := p.Deploy(ctx, l, provider.DeployOptions{Progress: rec}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		d, err := rec.between("agents: ", "nodes registered and programmed")
		if err != nil {
			b.Fatal(err)
		}
		converge += d
		if err := p.Destroy(ctx, l.Name, provider.DestroyOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(converge.Microseconds())/1000/float64(b.N), "converge-ms/op")
}

// timedRecorder is a provider.Progress that notes when each line came.
type timedRecorder struct {
	lines []string
	at    []time.Time
}

func (r *timedRecorder) Step(format string, args ...any) { r.add(format, args...) }
func (r *timedRecorder) Done(format string, args ...any) { r.add(format, args...) }
func (r *timedRecorder) add(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	r.at = append(r.at, time.Now())
}

// between is the time from the first line starting with from to the first line after it
// holding to.
func (r *timedRecorder) between(from, to string) (time.Duration, error) {
	start := -1
	for i, l := range r.lines {
		switch {
		case start < 0 && strings.HasPrefix(l, from):
			start = i
		case start >= 0 && strings.Contains(l, to):
			return r.at[i].Sub(r.at[start]), nil
		}
	}
	return 0, fmt.Errorf("no %q line followed by %q in:\n%s", from, to, strings.Join(r.lines, "\n"))
}
