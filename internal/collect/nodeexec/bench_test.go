package nodeexec

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/testenv"
)

// BenchmarkNodeStatesNetnsLab reads all four nodes of a live netns calico-overlay lab through
// the netns provider's exec: 24 real process executions of iproute2 and their parsing, in
// parallel. It is the nearest this host gets to verify's node reads on a kind lab, where each
// exec is a docker exec instead (issue 6: verify ≤ 3 s on the four-node lab).
func BenchmarkNodeStatesNetnsLab(b *testing.B) {
	testenv.RequireLab(b, "ip")
	l, err := lab.Load("calico-overlay")
	if err != nil {
		b.Fatal(err)
	}
	l.Name = fmt.Sprintf("e6b%d", os.Getpid()%100000)
	p := netnslab.New(netnslab.WithStateRoot(b.TempDir()), netnslab.WithoutCNI())
	ctx := context.Background()
	b.Cleanup(func() {
		if err := p.Destroy(ctx, l.Name, provider.DestroyOptions{Lab: l}); err != nil {
			b.Errorf("destroy: %v", err)
		}
		if left := namespacesOf(l.Name); len(left) > 0 {
			b.Errorf("namespaces left behind: %v", left)
		}
	})
	if err := p.Deploy(ctx, l, provider.DeployOptions{}); err != nil {
		b.Fatalf("deploy: %v", err)
	}
	var names []string
	for _, n := range l.Nodes {
		names = append(names, n.Name)
	}
	c := New(ViaProvider(p, l.Name))
	b.ResetTimer()
	for b.Loop() {
		states, err := c.NodeStates(ctx, names)
		if err != nil || len(states) != len(names) {
			b.Fatalf("%d states: %v", len(states), err)
		}
	}
}
