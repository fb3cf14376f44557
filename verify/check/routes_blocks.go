package check

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/state"
)

// routesBlocks: every block route as SPEC §2 says, local blocks blackholed, and no route
// inside a pool that no affinity explains. Pod routes belong to routes.pods.
func routesBlocks(_ context.Context, in *Inputs) []*report.Node {
	return perNode(in, []state.Table{state.TableRoutes}, judgeBlockRoutes)
}

func judgeBlockRoutes(in *Inputs, e *expect.Node, s *state.Node, r *report.Node) {
	u := findUnderlay(e, s, r)
	podDsts := make(map[netip.Prefix]bool, len(e.PodRoutes))
	for _, p := range e.PodRoutes {
		podDsts[p.Dst] = true
	}
	// Only routes inside a pool are Calico's; pod /32s are judged by routes.pods.
	found := map[netip.Prefix][]*state.Route{}
	var calicos []*state.Route // in the node's order, for stable findings
	for i := range s.Routes {
		rt := &s.Routes[i]
		if !mainTable(rt) || !rt.Dst.Addr().Is4() || !in.Expect.InPool(rt.Dst) {
			continue
		}
		if rt.Dst.IsSingleIP() && (strings.HasPrefix(rt.Dev, "cali") || podDsts[rt.Dst]) {
			continue
		}
		found[rt.Dst] = append(found[rt.Dst], rt)
		calicos = append(calicos, rt)
	}
	used := map[*state.Route]bool{}

	routes, problems := e.Routes()
	for i := range routes {
		want := &routes[i]
		cands := found[want.Dst]
		if len(cands) == 0 {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: want.Dst.String(),
				Expected: formatExpected(want, u.Dev), Reason: want.Why().Text(u.Dev)})
			continue
		}
		var closest *state.Route
		var closestDiffs []report.Finding
		for _, got := range cands {
			if used[got] {
				continue
			}
			diffs := diffRoute(want, got, u.Dev)
			if len(diffs) == 0 {
				closest, closestDiffs = got, nil
				break
			}
			if closest == nil || len(diffs) < len(closestDiffs) {
				closest, closestDiffs = got, diffs
			}
		}
		if closest == nil { // every route to this dst matched an earlier expectation
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
	for _, got := range calicos {
		if used[got] {
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
func diffRoute(want *expect.Route, got *state.Route, parent string) []report.Finding {
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
func isTolerated(forms []expect.Route, got *state.Route, parent string) (ok bool, why string) {
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
