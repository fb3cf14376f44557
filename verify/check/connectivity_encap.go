package check

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// EncapBurst is how many echo requests connectivity.encap sends per pod pair.
const EncapBurst = 10

// connectivityEncap: a ping burst between pods on different nodes, counted in the source node's
// forward path, goes out through vxlan.calico when the expected route does (across subnets)
// and never when it goes direct. Only the burst's own echo requests are counted (the prober
// matches them by addresses and ICMP identifier), not the device's packet counters: those also
// count other traffic — another verify probing the same lab at the same time, a pod's own
// chatter — and made a direct pair look encapsulated.
func connectivityEncap(ctx context.Context, in *Inputs) []*report.Node {
	if !in.Expect.VXLAN {
		return []*report.Node{{Node: Cluster, Status: report.Skipped, Reason: "no enabled pool uses VXLAN: nothing is encapsulated"}}
	}
	pods := poolPods(in)
	byNode := map[string]*report.Node{}
	unjudged := map[string][]string{} // node → the pairs it could not judge, with the reason
	var out []*report.Node
	for _, src := range pods {
		r, ok := byNode[src.Node]
		if !ok {
			r = &report.Node{Node: src.Node}
			byNode[src.Node] = r
			out = append(out, r)
		}
		for _, dst := range pods {
			if dst.Node == src.Node {
				continue
			}
			route := routeTo(in.Expect, src.Node, dst.IP)
			if route == nil {
				continue // routes.blocks reports the missing expectation
			}
			entry := fmt.Sprintf("%s/%s → %s/%s (%s)", src.Namespace, src.Name, dst.Namespace, dst.Name, dst.IP)
			fail := func(field, want, got string) {
				r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: entry, Field: field,
					Expected: want, Found: got, Reason: "the path: " + route.Why().Text("")})
			}
			got, err := in.Prober.PingThrough(ctx, src, dst.IP, EncapBurst, expect.VXLANDevice)
			if f, why := judgeEgress(route.Dev == expect.VXLANDevice, got, err); why != "" {
				unjudged[src.Node] = append(unjudged[src.Node], entry+": "+why)
			} else if f != nil {
				fail(f.Field, f.Expected, f.Found)
				if err == nil && got.Answered == 0 {
					r.Findings[len(r.Findings)-1].Layer = failedLayer(in, src, dst)
				}
			}
		}
	}
	for _, r := range out {
		why := unjudged[r.Node]
		switch {
		case len(why) == 0:
		case len(r.Findings) > 0:
			for _, w := range why {
				r.Notes = append(r.Notes, "cannot judge "+w)
			}
		default:
			r.Status, r.Reason = report.Skipped, "cannot judge "+strings.Join(why, "; ")
		}
	}
	return out
}

// judgeEgress judges one burst: a finding when the echo requests took the wrong way (or none
// came back), or the reason it cannot be judged. encap is whether the expected route goes
// through vxlan.calico.
func judgeEgress(encap bool, got source.Egress, err error) (f *report.Finding, cannotJudge string) {
	through := func() string {
		return fmt.Sprintf("%d of %d forwarded echo requests through %s", got.Through, got.Forwarded, expect.VXLANDevice)
	}
	switch {
	case errors.Is(err, source.ErrAbsent):
		return nil, err.Error()
	case err != nil:
		return &report.Finding{Field: "echo requests", Expected: fmt.Sprintf("%d sent and counted", EncapBurst), Found: err.Error()}, ""
	case got.Answered == 0:
		return &report.Finding{Field: "echo replies", Expected: "echo replies", Found: fmt.Sprintf("0 of %d answered", EncapBurst)}, ""
	case got.Forwarded == 0:
		// Answered, yet never seen forwarded: the node forwards outside netfilter's view (an
		// eBPF dataplane, a fast path), so the way the packets took is not known.
		return nil, fmt.Sprintf("%d of %d answered, but none of the echo requests passed the node's netfilter forward hook", got.Answered, EncapBurst)
	case encap && got.Through < got.Forwarded:
		return &report.Finding{Field: expect.VXLANDevice, Expected: "every echo request through " + expect.VXLANDevice + " (encapsulated)", Found: through()}, ""
	case !encap && got.Through > 0:
		return &report.Finding{Field: expect.VXLANDevice, Expected: "no echo request through " + expect.VXLANDevice + " (direct)", Found: through()}, ""
	}
	return nil, ""
}
