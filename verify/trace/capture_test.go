package trace

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/capture"
)

// A capture of lesson 06 from k01-worker (every table, two pods) and k01-worker3 (its routes
// only), without the switch: the walk goes as far as the files allow and says what stops it.
func TestOfflineLesson06Capture(t *testing.T) {
	ctx := context.Background()
	src, err := capture.Open(ctx, "../capture/testdata/lesson06")
	if err != nil {
		t.Fatal(err)
	}
	w, err := FromSource(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := w.Trace(ctx, mustResolve(t, w, "web-0"), mustResolve(t, w, "default/web-2"))
	want := []string{"default/web-0 route", "k01-worker proxy-arp", "k01-worker route", "k01-worker neigh", "k01-worker fdb", "k01-worker encap", "k01-worker route"}
	if got := steps(r); !slices.Equal(got, want) {
		t.Fatalf("steps %q, want %q\n%s", got, want, hopText(r))
	}
	if r.Verdict != VerdictUnknown || !strings.Contains(r.End.Detail, "the switch was not captured") {
		t.Errorf("verdict %s, end %+v: want unknown, the switch not captured", r.Verdict, r.End)
	}
	if got := r.Hops[5].Entry; got != "10.10.10.11 → 10.10.20.20 udp/4789 vni 4096" {
		t.Errorf("outer header %q", got)
	}
	if got := r.Hops[2].Entry; got != "192.168.209.64/26 via 192.168.209.64 dev vxlan.calico onlink" {
		t.Errorf("route %q", got)
	}

	// Within the subnet the capture has all it needs up to k01-worker2, whose tables it lacks.
	r = w.Trace(ctx, mustResolve(t, w, "web-0"), mustResolve(t, w, "10.10.10.12"))
	if r.Verdict != VerdictUnknown || !strings.Contains(r.End.Detail, "k01-worker2") || r.Kind != "direct" {
		t.Errorf("verdict %s kind %s end %+v\n%s", r.Verdict, r.Kind, r.End, hopText(r))
	}
	// A pod whose tables were not captured: unknown from the start, never a pass.
	r = w.Trace(ctx, mustResolve(t, w, "web-2"), mustResolve(t, w, "web-0"))
	if r.Verdict != VerdictUnknown || len(r.Hops) != 0 || !strings.Contains(r.End.Detail, "trace from its node k01-worker3") {
		t.Errorf("verdict %s end %+v\n%s", r.Verdict, r.End, hopText(r))
	}
}
