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
	want := make(map[netip.Prefix]*expect.PodRoute, len(e.PodRoutes))
	for i := range e.PodRoutes {
		want[e.PodRoutes[i].Dst] = &e.PodRoutes[i]
	}
	found := map[netip.Prefix][]*observed.Route{}
	var candidates []*observed.Route
	for i := range s.Routes {
		rt := &s.Routes[i]
		if !mainTable(rt) || !rt.Dst.IsSingleIP() || !in.Expect.InPool(rt.Dst) {
			continue
		}
		if want[rt.Dst] == nil && !strings.HasPrefix(rt.Dev, "cali") {
			continue // a /32 that is neither a pod's nor via a pod veth: routes.blocks judges it
		}
		found[rt.Dst] = append(found[rt.Dst], rt)
		candidates = append(candidates, rt)
	}
	used := map[*observed.Route]bool{}
	for i := range e.PodRoutes {
		p := &e.PodRoutes[i]
		why := fmt.Sprintf("pod %s/%s runs on %s with IP %s: the host reaches it through its veth %s",
			p.Pod.Namespace, p.Pod.Name, e.Name(), p.Pod.IP, p.Dev)
		expected := fmt.Sprintf("%s dev %s scope link", p.Dst, p.Dev)
		cands := found[p.Dst]
		if len(cands) == 0 {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: p.Dst.String(), Expected: expected, Reason: why})
			continue
		}
		got := cands[0]
		for _, c := range cands {
			if c.Dev == p.Dev {
				got = c
				break
			}
		}
		used[got] = true
		if got.Dev != p.Dev {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: p.Dst.String(), Field: "dev",
				Expected: p.Dev, Found: orNone(got.Dev), Reason: why})
		}
		if got.Gateway.IsValid() {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: p.Dst.String(), Field: "gateway",
				Expected: "none", Found: got.Gateway.String(), Reason: why})
		}
		if got.Scope != "" && got.Scope != "link" {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: p.Dst.String(), Field: "scope",
				Expected: "link", Found: got.Scope, Reason: why})
		}
		if t := orDefaultType(got.Type); t != expect.TypeUnicast {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: p.Dst.String(), Field: "type",
				Expected: expect.TypeUnicast, Found: t, Reason: why})
		}
	}
	for _, got := range candidates {
		if used[got] {
			continue
		}
		reason := fmt.Sprintf("no pod in the facts has %s on %s: a route via a pod veth for a pod that is gone is stale", got.Dst.Addr(), e.Name())
		if want[got.Dst] != nil {
			reason = fmt.Sprintf("%s already has its pod route: a second route to it is stale", got.Dst.Addr())
		}
		r.Findings = append(r.Findings, report.Finding{Kind: report.Unexpected, Entry: got.Dst.String(), Found: formatRoute(got), Reason: reason})
	}
}
