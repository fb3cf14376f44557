package netnslab

import (
	"context"
	"testing"

	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/report"
)

// Performance targets (issue 7): verify of calico-overlay without connectivity ≤ 300 ms, the
// connectivity checks ≤ 2 s. Each iteration is one verify through the live source, as
// `knetlab verify` runs it (the datastore connection is made once per source, as per command).
//
//	go test -run '^$' -bench Verify -benchtime 10x ./internal/provider/netnslab/
func BenchmarkVerifyWithoutConnectivity(b *testing.B) {
	benchVerify(b, []string{"topology.nodes", "switch.ports", "switch.svis", "switch.routes", "ipam.pools", "ipam.affinities",
		"routes.blocks", "routes.pods", "vxlan.device", "vxlan.neigh", "vxlan.fdb", "pods.wiring", "nat.outgoing"})
}

func BenchmarkVerifyConnectivity(b *testing.B) {
	benchVerify(b, []string{"connectivity.pods", "connectivity.encap"})
}

func benchVerify(b *testing.B, checks []string) {
	testenv.RequireLab(b)
	p := newTestProvider(b)
	l := uniqueLab(b, "calico-overlay")
	deployed(b, p, l)
	ctx := context.Background()
	for b.Loop() {
		src, err := p.Source(ctx, l)
		if err != nil {
			b.Fatal(err)
		}
		r, err := verify.Run(ctx, src, verify.Options{Checks: checks, Lab: l.VerifySpec()})
		if err != nil {
			b.Fatal(err)
		}
		src.(*Source).Close()
		if r.Status() != report.Passed {
			b.Fatalf("verify: %s (%d failed)", r.Status(), r.Failed())
		}
	}
}
