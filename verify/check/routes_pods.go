package check

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// routesPods: a /32 per local pod via its host veth, and no /32 via a cali device for a pod
// that is not there any more.
func routesPods(_ context.Context, in *Inputs) []*report.Node {
	return perNode(in, []observed.Table{observed.TableRoutes}, judgePodRoutes)
}

func judgePodRoutes(in *Inputs, e *expect.Node, s *observed.Node, r *report.Node) {
	want := make(map[netip.Prefix]bool, len(e.PodRoutes))
	for i := range e.PodRoutes {
		want[e.PodRoutes[i].Dst] = true
	}
	var candidates []*observed.Route
	for i := range s.Routes {
		rt := &s.Routes[i]
		if !mainTable(rt) || !rt.Dst.IsSingleIP() || !in.Expect.InPool(rt.Dst) {
			continue
		}
		if !want[rt.Dst] && !strings.HasPrefix(rt.Dev, "cali") {
			continue // a /32 that is neither a pod's nor via a pod veth: routes.blocks judges it
		}
		candidates = append(candidates, rt)
	}
	stale := keyedDiff[netip.Prefix, expect.PodRoute, *observed.Route]{
		key:      func(p expect.PodRoute) netip.Prefix { return p.Dst },
		foundKey: func(got *observed.Route) netip.Prefix { return got.Dst },
		entry:    func(p expect.PodRoute) string { return p.Dst.String() },
		missing:  func(p expect.PodRoute) string { return fmt.Sprintf("%s dev %s scope link", p.Dst, p.Dev) },
		why: func(p expect.PodRoute) string {
			return fmt.Sprintf("pod %s/%s runs on %s with IP %s: the host reaches it through its veth %s",
				p.Pod.Namespace, p.Pod.Name, e.Name(), p.Pod.IP, p.Dev)
		},
		// The route via the pod's own veth, else the first: a second route to a pod is stale.
		pick: func(p expect.PodRoute, found []*observed.Route) int {
			for i, c := range found {
				if c.Dev == p.Dev {
					return i
				}
			}
			return 0
		},
		compare: func(p expect.PodRoute, got *observed.Route, f fields) {
			if got.Dev != p.Dev {
				f.differ("dev", p.Dev, orNone(got.Dev))
			}
			if got.Gateway.IsValid() {
				f.differ("gateway", "none", got.Gateway.String())
			}
			if got.Scope != "" && got.Scope != "link" {
				f.differ("scope", "link", got.Scope)
			}
			f.compare("type", expect.TypeUnicast, orDefaultType(got.Type))
		},
	}.run(r, e.PodRoutes, candidates)
	for _, got := range stale {
		reason := fmt.Sprintf("no pod in the facts has %s on %s: a route via a pod veth for a pod that is gone is stale", got.Dst.Addr(), e.Name())
		if want[got.Dst] {
			reason = fmt.Sprintf("%s already has its pod route: a second route to it is stale", got.Dst.Addr())
		}
		unexpectedEntry(r, got.Dst.String(), formatRoute(got), reason)
	}
}
