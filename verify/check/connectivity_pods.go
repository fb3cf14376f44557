package check

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// PingCount is how many echo requests connectivity.pods sends per pod pair.
const PingCount = 3

// connectivityPods: every pod in a pool pings every other one. One result per source node.
func connectivityPods(ctx context.Context, in *Inputs) []*report.Node {
	pods := poolPods(in)
	byNode := map[string]*report.Node{}
	var out []*report.Node
	for _, src := range pods {
		r, ok := byNode[src.Node]
		if !ok {
			r = &report.Node{Node: src.Node}
			byNode[src.Node] = r
			out = append(out, r)
		}
		for _, dst := range pods {
			if dst == src {
				continue
			}
			entry := fmt.Sprintf("%s/%s → %s/%s (%s)", src.Namespace, src.Name, dst.Namespace, dst.Name, dst.IP)
			why := pathWhy(in.Expect, src, dst)
			got, err := in.Prober.Ping(ctx, src, dst.IP, PingCount)
			switch {
			case err != nil:
				r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: entry, Expected: "echo replies",
					Found: err.Error(), Reason: why})
			case got == 0:
				r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: entry, Expected: "echo replies",
					Found: fmt.Sprintf("0 of %d answered", PingCount), Layer: failedLayer(in, src, dst), Reason: why})
			}
		}
	}
	return out
}

// poolPods are the facts' pods with an address inside a pool that the prober probes (all of
// them unless it is a source.ProbeScope), in a stable order.
func poolPods(in *Inputs) []facts.Pod {
	scope, scoped := in.Prober.(source.ProbeScope)
	var pods []facts.Pod
	for _, p := range in.Facts.Pods {
		if scoped && !scope.Probes(p) {
			continue
		}
		if p.IP.IsValid() && in.Expect.InPool(netip.PrefixFrom(p.IP, p.IP.BitLen())) {
			pods = append(pods, p)
		}
	}
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Node != pods[j].Node {
			return pods[i].Node < pods[j].Node
		}
		return pods[i].Namespace+"/"+pods[i].Name < pods[j].Namespace+"/"+pods[j].Name
	})
	return pods
}

// pathWhy says which path a pod pair's traffic takes, for the finding: the path it must take,
// not where it failed (the finding's layer says that).
func pathWhy(c *expect.Cluster, src, dst facts.Pod) string {
	if src.Node == dst.Node {
		return fmt.Sprintf("both pods run on %s: the host routes between their veths", src.Node)
	}
	if r := routeTo(c, src.Node, dst.IP); r != nil {
		return "the path: " + r.Why().Text("")
	}
	return fmt.Sprintf("%s has no route to %s in the expectation (no confirmed block holds it)", src.Node, dst.IP)
}

// routeTo is the expected block route on node toward ip.
func routeTo(c *expect.Cluster, node string, ip netip.Addr) *expect.Route {
	e, ok := c.Node(node)
	if !ok {
		return nil
	}
	r, ok := e.RouteTo(ip)
	if !ok {
		return nil
	}
	return &r
}
