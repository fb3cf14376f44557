package netnslab

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/collect/nodeexec"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// TestConcurrentEncapVerifiesAgree: ten verifies of connectivity.encap at once on one lab,
// each through a source of its own as ten `knetlab verify` processes would, judge the lab as a
// lone run does. Their probes cross on the same nodes' vxlan.calico at the same time, so a
// check that counted the device's packets counted the other runs' echoes too and failed
// direct pairs that it saw "encapsulated".
func TestConcurrentEncapVerifiesAgree(t *testing.T) {
	c, _ := deployCNILab(t, "calico-overlay")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func() (string, error) {
		vs, err := c.p.Source(ctx, c.lab)
		if err != nil {
			return "", err
		}
		defer vs.(*Source).Close()
		r, err := verify.Run(ctx, vs, verify.Options{Checks: []string{"connectivity.encap"}, Lab: c.lab.VerifySpec()})
		if err != nil {
			return "", err
		}
		return encapVerdict(r), nil
	}

	lone, err := run()
	if err != nil {
		t.Fatal(err)
	}
	if lone != string(report.Passed) {
		t.Fatalf("a lone verify of a healthy lab: %s", lone)
	}

	const runs = 10
	verdicts, errs := atOnce(runs, run)
	disagree := 0
	for i := range runs {
		switch {
		case errs[i] != nil:
			t.Errorf("run %d: %v", i, errs[i])
		case verdicts[i] != lone:
			disagree++
			t.Errorf("run %d: %s", i, verdicts[i])
		}
	}
	if disagree > 0 {
		t.Errorf("%d of %d concurrent verifies disagree with a lone one (%s)", disagree, runs, lone)
	}
}

// atOnce runs f n times at once and returns what each returned.
func atOnce[T any](n int, f func() (T, error)) ([]T, []error) {
	got := make([]T, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = f()
		}()
	}
	wg.Wait()
	return got, errs
}

// encapVerdict is connectivity.encap's status, with its findings and skip reasons when it did
// not pass.
func encapVerdict(r *report.Report) string {
	c, ok := r.Check("connectivity.encap")
	if !ok {
		return "connectivity.encap not in the report"
	}
	if c.Status == report.Passed {
		return string(c.Status)
	}
	var b strings.Builder
	b.WriteString(string(c.Status) + " " + c.Reason)
	for _, n := range c.Nodes {
		if n.Reason != "" {
			fmt.Fprintf(&b, "\n  %s: %s", n.Node, n.Reason)
		}
		for _, f := range n.Findings {
			fmt.Fprintf(&b, "\n  %s: %s | %s | %s", n.Node, f.Entry, f.Expected, f.Found)
		}
	}
	return b.String()
}

// TestKindProbeScriptOnANetnsLab runs the probe of the clab path
// (nodeexec.Collector.PingThrough: nft on the node, ping in the pod) — real nft, real ping — on this
// lab through the provider's exec, ten bursts of each pair at once as ten verifies would. The
// script cannot tell one burst's echo requests from another's (ping picks its identifier), yet
// a direct pair never counts one through vxlan.calico and an encapsulated one counts all of
// them there. No probe table is left behind.
func TestKindProbeScriptOnANetnsLab(t *testing.T) {
	testenv.RequireLab(t, "ip", "nft", "ping", "sh")
	c, _ := deployCNILab(t, "calico-overlay")
	ctx := context.Background()
	w1 := c.pod("net-w1")
	nodes := nodeexec.ViaProvider(c.p, c.lab.Name)
	probe := nodeexec.New(nodes)
	const count, runs = 3, 10
	for _, tc := range []struct {
		dst   string
		encap bool
	}{{"net-w2", false}, {"net-w3", true}} {
		t.Run(tc.dst, func(t *testing.T) {
			dst := netip.MustParseAddr(c.pod(tc.dst).IP)
			got, errs := atOnce(runs, func() (source.Egress, error) {
				// The ping runs in the pod (on a kind lab through pods/exec), the counting on the node.
				ping := append([]string{"ip", "netns", "exec", w1.NetNS}, nodeexec.PingCmd(dst, count)...)
				return probe.PingThrough(ctx, w1.Node, netip.MustParseAddr(w1.IP), dst, dataplane.VXLANDeviceName,
					func(ctx context.Context) ([]byte, error) { return nodes.Exec(ctx, w1.Node, ping) })
			})
			for i, eg := range got {
				switch {
				case errs[i] != nil:
					t.Errorf("burst %d: %v", i, errs[i])
				case eg.Answered != count || eg.Forwarded < count:
					t.Errorf("burst %d: %+v, want %d answered and at least as many forwarded", i, eg, count)
				case tc.encap && eg.Through != eg.Forwarded, !tc.encap && eg.Through != 0:
					t.Errorf("burst %d: %d of %d forwarded echo requests through vxlan.calico; encapsulated: %v", i, eg.Through, eg.Forwarded, tc.encap)
				}
			}
		})
	}
	if tables := c.nft(w1.Node, "list", "tables"); strings.Contains(tables, probeTablePrefix) {
		t.Errorf("probe tables left on %s:\n%s", w1.Node, tables)
	}
}
