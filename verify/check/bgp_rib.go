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

// bgpRIB: every route reflector's RIB holds every confirmed block once, with its owner's
// underlay address as next hop, and nothing else inside the pools; each node whose learned
// routes were read holds every other node's blocks the same way.
func bgpRIB(_ context.Context, in *Inputs) []*report.Node {
	if why := ownershipNotCaptured(in); why != "" {
		return skipAll(in, why)
	}
	out := perNode(in, []observed.Table{observed.TableBGPRoutes}, func(in *Inputs, e *expect.Node, s *observed.Node, r *report.Node) {
		want, problems := e.LearnedRoutes()
		var learned []observed.BGPRoute
		for _, rt := range s.BGPRoutes {
			if !e.OwnsBlock(rt.Prefix) { // its own announcements are not learned
				learned = append(learned, rt)
			}
		}
		judgeRIB(in, r, e.Name(), want, problems, learned)
	})
	for _, name := range reflectorNames(in) {
		out = append(out, onReflector(in, name, observed.TableBGPRoutes, "gobgp global rib -j", func(st *observed.Reflector, r *report.Node) {
			want, problems := in.Expect.BGPRoutes()
			judgeRIB(in, r, name, want, problems, st.RIB)
		}))
	}
	return out
}

// bgpRIBNotApplicable: a lab that does not use BGP, or without a lab a source with no BGP state.
func bgpRIBNotApplicable(in *Inputs) string {
	if why := noBGPInLab(in); why != "" {
		return why
	}
	if in.Lab == nil && len(in.ReflectorNames) == 0 && !anyNodeHas(in, observed.TableBGPRoutes) {
		return "no BGP state in this source: no route reflector's RIB and no node's learned routes"
	}
	return ""
}

// anyNodeHas reports whether any node's state has table t.
func anyNodeHas(in *Inputs, t observed.Table) bool {
	for _, n := range in.Nodes {
		if n.Has(t) {
			return true
		}
	}
	return false
}

// judgeRIB compares the blocks speaker must hold with the paths it holds inside the pools.
func judgeRIB(in *Inputs, r *report.Node, speaker string, want []expect.BGPRoute, problems []expect.Problem, found []observed.BGPRoute) {
	var inPools []observed.BGPRoute
	for _, rt := range found {
		if rt.Prefix.Addr().Is4() && in.Expect.InPool(rt.Prefix) {
			inPools = append(inPools, rt)
		}
	}
	extra := keyedDiff[netip.Prefix, expect.BGPRoute, observed.BGPRoute]{
		key:      func(w expect.BGPRoute) netip.Prefix { return w.Prefix },
		foundKey: func(g observed.BGPRoute) netip.Prefix { return g.Prefix },
		entry:    func(w expect.BGPRoute) string { return w.Prefix.String() },
		missing:  func(w expect.BGPRoute) string { return fmt.Sprintf("%s next hop %s", w.Prefix, w.NextHop) },
		why: func(w expect.BGPRoute) string {
			return fmt.Sprintf("%s owns %s (confirmed affinity, pool %s) and announces it with itself, %s, as next hop; %s",
				w.Owner.Name, w.Prefix, w.Pool.Name, w.NextHop, ribCost(in, speaker, w))
		},
		// The path via the owner, when there is one.
		pick: func(w expect.BGPRoute, found []observed.BGPRoute) int {
			for i, g := range found {
				if g.NextHop == w.NextHop {
					return i
				}
			}
			return 0
		},
		once: true, // a second path for a block is reported, not absorbed
		compare: func(w expect.BGPRoute, got observed.BGPRoute, f fields) {
			f.compare("next hop", w.NextHop.String(), addrText(got.NextHop))
		},
	}.run(r, want, inPools)
	for _, p := range problems {
		r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: p.Entry, Reason: p.Reason})
	}
	for _, got := range extra {
		if b, ok := in.Expect.ContestedBlock(got.Prefix); ok {
			r.Notes = append(r.Notes, fmt.Sprintf("%s next hop %s not judged: the owner of %s is not settled (%s; see ipam.affinities)",
				got.Prefix, got.NextHop, b.CIDR, strings.Join(b.Claims, ", ")))
			continue
		}
		unexpectedEntry(r, got.Prefix.String(), ribPath(got), unexpectedRIBReason(in.Expect, got))
	}
}

// ribCost says what a missing or wrong path costs on this speaker.
func ribCost(in *Inputs, speaker string, w expect.BGPRoute) string {
	if _, node := in.Expect.Node(speaker); !node {
		return fmt.Sprintf("the route reflector %s reflects it to every other node: without this path none of them routes to %s's pods", speaker, w.Owner.Name)
	}
	return fmt.Sprintf("without this path %s has no route to %s's pods in %s", speaker, w.Owner.Name, w.Prefix)
}

func ribPath(rt observed.BGPRoute) string {
	s := rt.Prefix.String() + " next hop " + addrText(rt.NextHop)
	if rt.From.IsValid() {
		s += " from " + rt.From.String()
	}
	if rt.Best {
		s += " (best)"
	}
	return s
}

// unexpectedRIBReason says why a path inside a pool has no place in the RIB.
func unexpectedRIBReason(c *expect.Cluster, got observed.BGPRoute) string {
	if b, ok := c.Block(got.Prefix); ok {
		return fmt.Sprintf("%s is %s's block, announced once by its owner with next hop %s: a second path (another speaker announcing it, or a stale one) draws its traffic elsewhere",
			got.Prefix, b.Owner.Name, b.Owner.Address.Addr())
	}
	pool, _ := c.PoolOf(got.Prefix)
	return fmt.Sprintf("no node owns a confirmed block %s in pool %s: a path inside a pool that no block owner announces is stale (a released block, a deleted node) or announced by something that is not Calico",
		got.Prefix, pool.Name)
}
