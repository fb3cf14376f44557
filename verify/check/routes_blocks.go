package check

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
	"github.com/knetlab/knetlab/verify/report"
)

// routesBlocks: every block route as docs/dataplane.md says, local blocks blackholed, and no route
// inside a pool that no affinity explains. Pod routes belong to routes.pods.
func routesBlocks(_ context.Context, in *Inputs) []*report.Node {
	if why := ownershipNotCaptured(in); why != "" {
		return skipAll(in, why)
	}
	return perNode(in, []observed.Table{observed.TableRoutes}, judgeBlockRoutes)
}

// ownershipNotCaptured says why block ownership is unknown: a capture whose cluster.yaml holds
// no BlockAffinity or IPAMBlock object. A live lab has them or is broken.
func ownershipNotCaptured(in *Inputs) string {
	if in.Live || in.Facts.StatesOwnership() {
		return ""
	}
	return "no BlockAffinity or IPAMBlock objects captured: block ownership is unknown (add `kubectl get blockaffinities.crd.projectcalico.org,ipamblocks.crd.projectcalico.org -o yaml` to cluster.yaml)"
}

// skipAll skips every node of the expectation with the reason.
func skipAll(in *Inputs, why string) []*report.Node {
	out := make([]*report.Node, 0, len(in.Expect.Nodes))
	for _, e := range in.Expect.Nodes {
		out = append(out, &report.Node{Node: e.Name(), Status: report.Skipped, Reason: why})
	}
	return out
}

func judgeBlockRoutes(in *Inputs, e *expect.Node, s *observed.Node, r *report.Node) {
	u := findUnderlay(e, s)
	podDsts := make(map[netip.Prefix]bool, len(e.PodRoutes))
	for _, p := range e.PodRoutes {
		podDsts[p.Dst] = true
	}
	// Only routes inside a pool are Calico's; pod /32s are judged by routes.pods.
	var calicos []*observed.Route // in the node's order, for stable findings
	for i := range s.Routes {
		rt := &s.Routes[i]
		if !mainTable(rt) || !rt.Dst.Addr().Is4() || !in.Expect.InPool(rt.Dst) {
			continue
		}
		if rt.Dst.IsSingleIP() && (strings.HasPrefix(rt.Dev, "cali") || podDsts[rt.Dst]) {
			continue
		}
		calicos = append(calicos, rt)
	}

	routes, problems := e.Routes()
	if u.Dev == "" {
		for i := range routes {
			if routes[i].Underlay {
				r.Notes = append(r.Notes, fmt.Sprintf("%s: routes via the underlay accept any device", underlayNotCaptured(e)))
				break
			}
		}
	}
	stale := keyedDiff[netip.Prefix, *expect.Route, *observed.Route]{
		key:      func(want *expect.Route) netip.Prefix { return want.Dst },
		foundKey: func(got *observed.Route) netip.Prefix { return got.Dst },
		entry:    func(want *expect.Route) string { return want.Dst.String() },
		missing:  func(want *expect.Route) string { return formatExpected(want, u.Dev) },
		why:      func(want *expect.Route) string { return want.Why().Text(u.Dev) },
		// Of several routes to one destination, the one that differs in the fewest fields.
		pick: func(want *expect.Route, found []*observed.Route) int {
			if len(found) == 1 {
				return 0
			}
			closest, fewest := 0, -1
			for j, got := range found {
				n := 0
				diffRoute(want, got, u.Dev, func(string, string, string, string) { n++ })
				if n == 0 {
					return j
				}
				if fewest < 0 || n < fewest {
					closest, fewest = j, n
				}
			}
			return closest
		},
		once: true, // a route answers one expectation
		compare: func(want *expect.Route, got *observed.Route, f fields) {
			diffRoute(want, got, u.Dev, func(field, w, g, because string) {
				if because == "" {
					f.differ(field, w, g)
					return
				}
				f.differBecause(field, w, g, because+"; "+f.why())
			})
		},
	}.run(r, pointers(routes), calicos)

	for _, p := range problems {
		r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: p.Entry, Reason: p.Reason})
	}
	for _, got := range stale {
		if b, ok := in.Expect.ContestedBlock(got.Dst); ok {
			r.Notes = append(r.Notes, fmt.Sprintf("%s not judged: the owner of %s is not settled (%s; see ipam.affinities)",
				formatRoute(got), b.CIDR, strings.Join(b.Claims, ", ")))
			continue
		}
		if ok, why := isTolerated(e.ToleratedTo(got.Dst), got, u.Dev); ok {
			continue
		} else if why != "" {
			unexpectedEntry(r, got.Dst.String(), formatRoute(got), why)
			continue
		}
		if got.Dst.IsSingleIP() && judgeHostRoute(in, e, got, u.Dev, r) {
			continue
		}
		unexpectedEntry(r, got.Dst.String(), formatRoute(got), unexpectedBlockReason(in.Expect, e, got.Dst))
	}
}

// judgeHostRoute judges a /32 no block explains. When the facts say a pod on another node holds
// the address (a Pod object, or the allocation of the IPAMBlock holding it), it is that pod's
// borrowed address, routed to its node as a block of that node would be. When nothing says who
// holds it and the facts are not complete for it (a capture without that block's allocations),
// it is reported unattributed. It reports false when the route is stale, for the caller to say.
func judgeHostRoute(in *Inputs, e *expect.Node, got *observed.Route, parent string, r *report.Node) bool {
	ip := got.Dst.Addr()
	holder, host := "", ""
	for _, p := range in.Facts.Pods {
		if p.IP == ip {
			holder, host = "pod "+podID(p.Namespace, p.Name), p.Node
			break
		}
	}
	b, haveBlock := in.Facts.BlockOf(ip)
	if host == "" && haveBlock {
		if a, ok := b.Allocation(ip); ok && a.IsPod() && a.Node != "" {
			holder, host = a.Holder(), a.Node
		}
	}
	switch {
	case host == "" && (in.Live || haveBlock && b.AllocationsKnown):
		return false // complete facts: nobody holds it
	case host == "":
		r.Notes = append(r.Notes, fmt.Sprintf("UNATTRIBUTED %s: no pod in the facts holds %s and no IPAMBlock allocations for it were captured (not judged stale)",
			formatRoute(got), ip))
		return true
	case host == e.Name():
		return false // a local pod's address is routed through its veth (routes.pods)
	}
	want, problem := e.HostRouteVia(ip, host)
	if problem != "" {
		r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: got.Dst.String(), Reason: problem})
		return true
	}
	why := fmt.Sprintf("%s on %s holds %s: Calico routes a pod's address to the node that hosts it; %s",
		holder, host, ip, want.Why().Text(parent))
	diffRoute(&want, got, parent, func(field, w, g, because string) {
		reason := why
		if because != "" {
			reason = because + "; " + why
		}
		r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: got.Dst.String(), Field: field, Expected: w, Found: g, Reason: reason})
	})
	return true
}

// diffRoute compares a route field by field and calls differ for each field that differs;
// mtu and metric are never compared. because, when set, is why that difference is wrong beyond
// the route's own reason. A multipath route is judged next hop by next hop (diffNexthops).
func diffRoute(want *expect.Route, got *observed.Route, parent string, differ func(field, want, got, because string)) {
	if typ := orDefaultType(got.Type); typ != want.Type {
		differ("type", want.Type, typ, "")
	}
	if hops := got.Hops(); len(hops) > 1 {
		diffNexthops(want, got.Dst, hops, parent, differ)
	} else {
		h := hops[0]
		if h.Gateway != want.Gateway {
			differ("gateway", addrText(want.Gateway), addrText(h.Gateway), "")
		}
		if want.Underlay {
			if parent != "" && h.Dev != parent {
				differ("dev", parent+" (the interface holding "+want.Why().Self.Address.Addr().String()+")", orNone(h.Dev), "")
			}
		} else if want.Dev != "" && h.Dev != want.Dev {
			differ("dev", want.Dev, orNone(h.Dev), "")
		}
		if !want.AnyOnlink && h.Onlink != want.Onlink {
			differ("onlink", onlinkText(want.Onlink), onlinkText(h.Onlink), "")
		}
	}
	if !want.AcceptsProtocol(got.Protocol) {
		differ("protocol", expectedProtocols(want), protocolText(got.Protocol), "")
	}
}

// diffNexthops judges the next hops of a multipath route to a block. Calico never installs
// ECMP for a block: one next hop is right (the first that matches want, if any), and every
// other one is a finding "nexthop N" saying which share of the flows it takes elsewhere.
func diffNexthops(want *expect.Route, dst netip.Prefix, hops []observed.Nexthop, parent string, differ func(field, want, got, because string)) {
	right, total := -1, 0
	for i, h := range hops {
		total += max(h.Weight, 1)
		if right < 0 && nexthopMatches(want, h, parent) {
			right = i
		}
	}
	expected := "only " + strings.TrimPrefix(expectedNexthop(want, parent), " ")
	for i, h := range hops {
		if i == right {
			continue
		}
		share := fmt.Sprintf("%d/%d of the flows to %s", max(h.Weight, 1), total, dst)
		var because string
		switch {
		case right >= 0 && nexthopMatches(want, h, parent):
			because = fmt.Sprintf("Calico never installs ECMP for a block: a second next hop the same as nexthop %d, the right one, is not what felix or BIRD program (it takes %s)", right+1, share)
		case right >= 0:
			because = fmt.Sprintf("Calico never installs ECMP for a block: this next hop takes %s away from nexthop %d %s, the right one",
				share, right+1, nexthopText(hops[right]))
		default:
			because = fmt.Sprintf("Calico never installs ECMP for a block, and none of its %d next hops is the right one: this one takes %s", len(hops), share)
		}
		found := strings.TrimPrefix(parse.FormatNexthop(h), "nexthop ")
		differ(fmt.Sprintf("nexthop %d", i+1), expected, found, because)
	}
}

// nexthopMatches reports whether next hop h is the one want routes through.
func nexthopMatches(want *expect.Route, h observed.Nexthop, parent string) bool {
	if h.Gateway != want.Gateway {
		return false
	}
	if want.Underlay && parent != "" && h.Dev != parent || !want.Underlay && want.Dev != "" && h.Dev != want.Dev {
		return false
	}
	return want.AnyOnlink || h.Onlink == want.Onlink
}

// expectedNexthop is want's next hop as `ip route` would show it: " via G dev D [onlink]".
func expectedNexthop(want *expect.Route, parent string) string {
	var b strings.Builder
	if want.Gateway.IsValid() {
		b.WriteString(" via " + want.Gateway.String())
	}
	if dev := expectedDev(want, parent); dev != "" {
		b.WriteString(" dev " + dev)
	}
	if want.Onlink {
		b.WriteString(" onlink")
	}
	return b.String()
}

// nexthopText names a found next hop by its gateway and device.
func nexthopText(h observed.Nexthop) string {
	s := "via " + addrText(h.Gateway)
	if h.Dev != "" {
		s += " dev " + h.Dev
	}
	return s
}

func orDefaultType(t string) string {
	if t == "" {
		return expect.TypeUnicast
	}
	return t
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return "none"
	}
	return a.String()
}

// isTolerated reports whether a found route is one of the tolerated /32 extras. When the
// destination is a tolerated one but the route has another form, why says what is accepted.
func isTolerated(forms []expect.Route, got *observed.Route, parent string) (ok bool, why string) {
	if len(forms) == 0 {
		return false, ""
	}
	accepted := make([]string, 0, len(forms))
	for i := range forms {
		matches := true
		diffRoute(&forms[i], got, parent, func(string, string, string, string) { matches = false })
		if matches {
			return true, ""
		}
		accepted = append(accepted, formatExpected(&forms[i], parent))
	}
	return false, fmt.Sprintf("a /32 to %s's tunnel address is tolerated only as %s", forms[0].Why().Peer.Name, strings.Join(accepted, " or "))
}

// unexpectedBlockReason says why a route inside a pool has no place on this node.
func unexpectedBlockReason(c *expect.Cluster, e *expect.Node, dst netip.Prefix) string {
	pool, _ := c.PoolOf(dst)
	for _, b := range c.Blocks {
		if b.CIDR == dst {
			return fmt.Sprintf("%s is %s's block and already has its route: a second route to it is stale", dst, b.Owner.Name)
		}
	}
	return fmt.Sprintf("no node owns a confirmed block %s in pool %s (no BlockAffinity or IPAMBlock gives it to a known node): a route inside a pool that no block owner explains is stale (a released block, a deleted node)",
		dst, pool.Name)
}
