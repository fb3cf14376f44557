package nodeexec_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"syscall"
	"testing"

	"github.com/knetlab/knetlab/internal/collect/nodeexec"
	"github.com/knetlab/knetlab/internal/collect/nodeexec/kindnode"
	"github.com/knetlab/knetlab/verify/source"
)

// The answers are iproute2's on a calico-overlay node (k01-worker, k01-worker3), as printed
// by `ip -j route get fibmatch` there.
func TestRouteGet(t *testing.T) {
	answers := map[string]struct {
		out  string
		code int
		err  string
	}{
		"192.168.77.193": {out: `[{"dst":"192.168.77.192/26","gateway":"192.168.77.192","dev":"vxlan.calico","protocol":"80","flags":["onlink"]}]`},
		"192.168.77.200": {code: 2, err: "RTNETLINK answers: Invalid argument"},
		"8.8.8.8":        {code: 2, err: "RTNETLINK answers: Network is unreachable"},
	}
	c := nodeexec.New(kindnode.Node{Next: nodeexec.ExecFunc(func(_ context.Context, node string, argv []string) ([]byte, error) {
		if !slices.Equal(argv[:5], []string{"ip", "-j", "route", "get", "fibmatch"}) {
			t.Fatalf("ran %q", argv)
		}
		a := answers[argv[5]]
		if a.code != 0 {
			return nil, &kindnode.ExitError{Node: node, Code: a.code, Stderr: a.err}
		}
		return []byte(a.out), nil
	})})
	ctx := context.Background()
	r, err := c.RouteGet(ctx, "k01-worker", netip.MustParseAddr("192.168.77.193"))
	if err != nil || r.Dst.String() != "192.168.77.192/26" || r.Dev != "vxlan.calico" || !r.Onlink || r.Protocol != "80" || r.Gateway.String() != "192.168.77.192" {
		t.Errorf("route %+v, %v", r, err)
	}
	if _, err := c.RouteGet(ctx, "k01-worker3", netip.MustParseAddr("192.168.77.200")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("a blackhole's lookup: %v, want EINVAL", err)
	}
	if _, err := c.RouteGet(ctx, "k01-worker", netip.MustParseAddr("8.8.8.8")); !errors.Is(err, source.ErrNoRoute) {
		t.Errorf("no route: %v, want ErrNoRoute", err)
	}
}
