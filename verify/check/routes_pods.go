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
		if want[got.Dst] {
			unexpectedEntry(r, got.Dst.String(), formatRoute(got), fmt.Sprintf("%s already has its pod route: a second route to it is stale", got.Dst.Addr()))
			continue
		}
		judgeUnknownPodRoute(in, e, got, r)
	}
}

// judgeUnknownPodRoute judges a pod route to an address no pod in the facts holds on this node.
// It is stale only when the facts are complete for it: a live lab, or the allocations of the
// IPAMBlock that holds the address. Otherwise nothing says its pod is gone: the route is
// reported unattributed, and does not fail the check.
func judgeUnknownPodRoute(in *Inputs, e *expect.Node, got *observed.Route, r *report.Node) {
	ip := got.Dst.Addr()
	stale := func(why string) { unexpectedEntry(r, got.Dst.String(), formatRoute(got), why) }
	for _, p := range in.Facts.Pods {
		if p.IP == ip && p.Node != e.Name() {
			stale(fmt.Sprintf("the facts place pod %s with IP %s on %s, not on %s: a route via a local pod veth to it is stale",
				podID(p.Namespace, p.Name), ip, p.Node, e.Name()))
			return
		}
	}
	if b, ok := in.Facts.BlockOf(ip); ok && b.AllocationsKnown {
		a, held := b.Allocation(ip)
		switch {
		case !held:
			stale(fmt.Sprintf("IPAMBlock %s allocates no %s: a route via a pod veth to a free address is stale", b.CIDR, ip))
		case !a.IsPod():
			stale(fmt.Sprintf("IPAMBlock %s allocates %s to the %s, not to a pod: a route via a pod veth to it is stale", b.CIDR, ip, a.Holder()))
		case a.Node != "" && a.Node != e.Name():
			stale(fmt.Sprintf("IPAMBlock %s allocates %s to %s on %s, not on %s: a route via a local pod veth to it is stale", b.CIDR, ip, a.Holder(), a.Node, e.Name()))
		case got.Dev != expect.PodInterface(a.Namespace, a.Pod):
			stale(fmt.Sprintf("IPAMBlock %s allocates %s to %s, whose host veth is %s: a route via %s is stale",
				b.CIDR, ip, a.Holder(), expect.PodInterface(a.Namespace, a.Pod), orNone(got.Dev)))
		default:
			r.Notes = append(r.Notes, fmt.Sprintf("%s is %s's (IPAMBlock %s allocation; no Pod object for it in the facts): its route via %s is accounted for",
				ip, a.Holder(), b.CIDR, got.Dev))
		}
		return
	}
	if in.Live {
		stale(fmt.Sprintf("no pod in the facts has %s on %s: a route via a pod veth for a pod that is gone is stale", ip, e.Name()))
		return
	}
	r.Notes = append(r.Notes, fmt.Sprintf("UNATTRIBUTED %s: no pod in the facts holds %s and no IPAMBlock allocations for it were captured, so nothing says its pod is gone (not judged stale)",
		formatRoute(got), ip))
}
