package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// BenchmarkConvergence measures the lab's control plane on loopback: a running reflector and
// three speakers, each announcing one block.
//
//   - start-to-converged: from starting the speakers (together, as a lab's agents start) until
//     every session is Established and every speaker has learned the other two blocks with
//     their owners as next hops. GoBGP makes its first connection attempt 1.5 to 2 s after a
//     peer is configured (a fixed minimum in its FSM), which this number mostly is.
//   - established-to-converged: from the last session reaching Established until every route
//     is learned: the BGP exchange itself.
//   - announce / withdraw: from Announce of a grown or shrunk set on one speaker until every
//     other speaker has the change.
func BenchmarkConvergence(b *testing.B) {
	lab := &loopbackLab{}
	startLoopbackReflector(b, lab)
	defer lab.rr.Close()
	ctx := context.Background()
	blocks := []netip.Prefix{netip.MustParsePrefix("10.244.128.0/24"), netip.MustParsePrefix("10.244.129.0/24"), netip.MustParsePrefix("10.244.130.0/24")}
	extra := netip.MustParsePrefix("10.244.131.0/24")

	learnedAll := func(sps []*Speaker, addrs []netip.Addr, withExtra bool) bool {
		for i, sp := range sps {
			var want []string
			for j, bl := range blocks {
				if j != i {
					want = append(want, fmt.Sprintf("%s via %s", bl, addrs[j]))
				}
			}
			if withExtra && i != 0 {
				want = append(want, fmt.Sprintf("%s via %s", extra, addrs[0]))
			}
			slices.Sort(want)
			if !slices.Equal(routeStrings(sp.Learned()), want) {
				return false
			}
		}
		return true
	}
	poll := func(cond func() bool) time.Time {
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				b.Fatal("did not converge within 20 s")
			}
			time.Sleep(time.Millisecond)
		}
		return time.Now()
	}

	var startTotal, estTotal, annTotal, wdTotal time.Duration
	for b.Loop() {
		lab.speakers, lab.addrs, lab.apis = nil, nil, nil
		start := time.Now()
		for i := range blocks {
			sp := startLoopbackSpeaker(b, lab, i)
			if err := sp.Announce(ctx, blocks[i:i+1], lab.addrs[i]); err != nil {
				b.Fatal(err)
			}
		}
		// The moment the last session came up, from the reflector's view.
		var lastUp time.Time
		converged := poll(func() bool {
			st, err := lab.rr.State(ctx)
			if err != nil {
				return false
			}
			up := 0
			for _, s := range st.Sessions {
				if s.State == StateEstablished {
					up++
				}
			}
			if up == len(blocks) && lastUp.IsZero() {
				lastUp = time.Now()
			}
			return learnedAll(lab.speakers, lab.addrs, false)
		})
		if lastUp.IsZero() {
			lastUp = converged
		}
		startTotal += converged.Sub(start)
		estTotal += converged.Sub(lastUp)

		t0 := time.Now()
		if err := lab.speakers[0].Announce(ctx, []netip.Prefix{blocks[0], extra}, lab.addrs[0]); err != nil {
			b.Fatal(err)
		}
		annTotal += poll(func() bool { return learnedAll(lab.speakers, lab.addrs, true) }).Sub(t0)
		t0 = time.Now()
		if err := lab.speakers[0].Announce(ctx, blocks[:1], lab.addrs[0]); err != nil {
			b.Fatal(err)
		}
		wdTotal += poll(func() bool { return learnedAll(lab.speakers, lab.addrs, false) }).Sub(t0)

		for _, sp := range lab.speakers {
			sp.Close()
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(startTotal.Milliseconds())/n, "ms-start-to-converged")
	b.ReportMetric(float64(estTotal.Microseconds())/1000/n, "ms-established-to-converged")
	b.ReportMetric(float64(annTotal.Microseconds())/1000/n, "ms-announce")
	b.ReportMetric(float64(wdTotal.Microseconds())/1000/n, "ms-withdraw")
}

// BenchmarkReflectorRestart measures a lab's `fix` of a stopped reflector: two speakers whose
// reflector stopped (routes gone) until, after it starts again, both have relearned every
// route.
func BenchmarkReflectorRestart(b *testing.B) {
	lab := &loopbackLab{}
	defer lab.close()
	startLoopbackReflector(b, lab)
	ctx := context.Background()
	for i, p := range []string{"10.244.128.0/24", "10.244.129.0/24"} {
		sp := startLoopbackSpeaker(b, lab, i)
		if err := sp.Announce(ctx, mustPrefixes(p), lab.addrs[i]); err != nil {
			b.Fatal(err)
		}
	}
	learned := func(n int) bool {
		return len(lab.speakers[0].Learned()) == n && len(lab.speakers[1].Learned()) == n
	}
	waitFor(b, 20*time.Second, "first convergence", func() bool { return learned(1) })
	var total time.Duration
	for b.Loop() {
		lab.rr.Close()
		waitFor(b, 20*time.Second, "routes gone with the reflector", func() bool { return learned(0) })
		start := time.Now()
		startLoopbackReflector(b, lab)
		waitFor(b, 20*time.Second, "routes back", func() bool { return learned(1) })
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-restart-to-relearned")
}
