package testbed

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// Background runs run (an agent's or daemon's Run) until the test ends or stop is called,
// whichever comes first; an error it returns fails the test, named by what.
func Background(t testing.TB, what string, run func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// RoutesOf lists the IPv4 routes of one protocol in h's namespace as sorted "dst dev" pairs,
// "blackhole" standing for a route with no device. The protocol is a parameter because the
// dataplane's own tests use this package, so it cannot import the dataplane.
func RoutesOf(t testing.TB, h *netlink.Handle, proto netlink.RouteProtocol) []string {
	t.Helper()
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: proto}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatalf("list proto %d routes: %v", proto, err)
	}
	var out []string
	for _, r := range routes {
		dev := "blackhole"
		if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		out = append(out, fmt.Sprintf("%s %s", r.Dst, dev))
	}
	slices.Sort(out)
	return out
}

// WaitFor polls cond until it holds and returns how long that took, for logs and benchmarks.
// limit only bounds a broken run: it asserts no timing.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
