package nodeexec

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
	"github.com/knetlab/knetlab/verify/source"
)

// RouteGetCmd asks a node's kernel which route of its table matches dst: the entry itself.
func RouteGetCmd(dst netip.Addr) []string {
	return []string{"ip", "-j", "route", "get", "fibmatch", dst.String()}
}

// RouteGet runs RouteGetCmd in the node. iproute2 exits 2 with the kernel's answer on stderr
// when the lookup fails: "Network is unreachable" (no route: source.ErrNoRoute) or "Invalid
// argument" (the match is a blackhole, unreachable or prohibit route: syscall.EINVAL).
func (c *Collector) RouteGet(ctx context.Context, node string, dst netip.Addr) (observed.Route, error) {
	out, err := c.Exec.Exec(ctx, node, RouteGetCmd(dst))
	switch {
	case err != nil && strings.Contains(err.Error(), "Network is unreachable"):
		return observed.Route{}, fmt.Errorf("%s: %w", node, source.ErrNoRoute)
	case err != nil && strings.Contains(err.Error(), "Invalid argument"):
		return observed.Route{}, fmt.Errorf("%s: route get %s: %w", node, dst, syscall.EINVAL)
	case err != nil:
		return observed.Route{}, fmt.Errorf("%s: %s: %w", node, strings.Join(RouteGetCmd(dst), " "), err)
	}
	routes, err := parse.Routes(out)
	if err != nil {
		return observed.Route{}, fmt.Errorf("%s: parse %s: %w", node, strings.Join(RouteGetCmd(dst), " "), err)
	}
	if len(routes) == 0 {
		return observed.Route{}, fmt.Errorf("%s: %s printed no route: %w", node, strings.Join(RouteGetCmd(dst), " "), source.ErrNoRoute)
	}
	return routes[0], nil
}
