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

// routesBlocks: every block route as SPEC §2 says, local blocks blackholed, and no route
// inside a pool that no affinity explains. Pod routes belong to routes.pods.
func routesBlocks(_ context.Context, in *Inputs) []*report.Node {
	return perNode(in, []observed.Table{observed.TableRoutes}, judgeBlockRoutes)
}

func judgeBlockRoutes(in *Inputs, e *expect.Node, s *observed.Node, r *report.Node) {
	u := findUnderlay(e, s, r)
	podDsts := make(map[netip.Prefix]bool, len(e.PodRoutes))
	for _, p := range e.PodRoutes {
		podDsts[p.Dst] = true
	}
	// Only routes inside a pool are Calico's; pod /32s are judged by routes.pods. The found
	// routes are indexed by destination once: first[dst] and next[i] chain the (rare) several
	// routes to one destination, so that a node with 1,000 routes costs 1,000 lookups.
	var calicos []*observed.Route // in the node's order, for stable findings
	first := make(map[netip.Prefix]int, len(s.Routes))
	var next []int
	for i := range s.Routes {
		rt := &s.Routes[i]
		if !mainTable(rt) || !rt.Dst.Addr().Is4() || !in.Expect.InPool(rt.Dst) {
			continue
		}
		if rt.Dst.IsSingleIP() && (strings.HasPrefix(rt.Dev, "cali") || podDsts[rt.Dst]) {
			continue
		}
		idx := len(calicos)
		calicos = append(calicos, rt)
		next = append(next, -1)
		if head, ok := first[rt.Dst]; ok {
			for next[head] >= 0 {
				head = next[head]
			}
			next[head] = idx
		} else {
			first[rt.Dst] = idx
		}
	}
	used := make([]bool, len(calicos))

	routes, problems := e.Routes()
	for i := range routes {
		want := &routes[i]
		closest := -1
		var closestDiffs []report.Finding
		head, ok := first[want.Dst]
		for j := head; ok && j >= 0; j = next[j] {
			if used[j] {
				continue
			}
			diffs := diffRoute(want, calicos[j], u.Dev)
			if len(diffs) == 0 {
				closest, closestDiffs = j, nil
				break
			}
			if closest < 0 || len(diffs) < len(closestDiffs) {
				closest, closestDiffs = j, diffs
			}
		}
		if closest < 0 { // no route to this destination, or each one matched an earlier expectation
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: want.Dst.String(),
				Expected: formatExpected(want, u.Dev), Reason: want.Why().Text(u.Dev)})
			continue
		}
		used[closest] = true
		for _, d := range closestDiffs {
			d.Reason = want.Why().Text(u.Dev)
			r.Findings = append(r.Findings, d)
		}
	}

	for _, p := range problems {
		r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: p.Entry, Reason: p.Reason})
	}
	for j, got := range calicos {
		if used[j] {
			continue
		}
		if ok, why := isTolerated(e.ToleratedTo(got.Dst), got, u.Dev); ok {
			continue
		} else if why != "" {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Unexpected, Entry: got.Dst.String(),
				Found: formatRoute(got), Reason: why})
			continue
		}
		r.Findings = append(r.Findings, report.Finding{Kind: report.Unexpected, Entry: got.Dst.String(),
			Found: formatRoute(got), Reason: unexpectedBlockReason(in.Expect, e, got.Dst)})
	}
}

// diffRoute compares a route field by field; mtu and metric are never compared.
func diffRoute(want *expect.Route, got *observed.Route, parent string) []report.Finding {
	var out []report.Finding
	add := func(field, exp, found string) {
		out = append(out, report.Finding{Kind: report.Different, Entry: want.Dst.String(), Field: field, Expected: exp, Found: found})
	}
	if typ := orDefaultType(got.Type); typ != want.Type {
		add("type", want.Type, typ)
	}
	if got.Gateway != want.Gateway {
		add("gateway", addrText(want.Gateway), addrText(got.Gateway))
	}
	if want.Underlay {
		if parent != "" && got.Dev != parent {
			add("dev", parent+" (the interface holding "+want.Why().Self.Address.Addr().String()+")", orNone(got.Dev))
		}
	} else if want.Dev != "" && got.Dev != want.Dev {
		add("dev", want.Dev, orNone(got.Dev))
	}
	if !want.AnyOnlink && got.Onlink != want.Onlink {
		add("onlink", onlinkText(want.Onlink), onlinkText(got.Onlink))
	}
	if !want.AcceptsProtocol(got.Protocol) {
		add("protocol", expectedProtocols(want), protocolText(got.Protocol))
	}
	return out
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
		if len(diffRoute(&forms[i], got, parent)) == 0 {
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
	return fmt.Sprintf("no node owns a confirmed block %s in pool %s: a route inside a pool that no affinity explains is stale (a released block, a deleted node)",
		dst, pool.Name)
}
