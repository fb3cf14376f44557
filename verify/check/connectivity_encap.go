package check

import (
	"context"
	"fmt"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/report"
)

// EncapBurst is how many echo requests connectivity.encap sends per pod pair.
const EncapBurst = 10

// connectivityEncap: around a ping burst between pods on different nodes, the source node's
// vxlan.calico TX counter grows by at least the burst when the expected route goes through
// vxlan.calico (across subnets) and by less than the burst when it goes direct. Pairs run one
// after the other, so one pair's packets are not counted for another.
func connectivityEncap(ctx context.Context, in *Inputs) []*report.Node {
	if !in.Expect.VXLAN {
		return []*report.Node{{Node: Cluster, Status: report.Skipped, Reason: "no enabled pool uses VXLAN: nothing is encapsulated"}}
	}
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
			if dst.Node == src.Node {
				continue
			}
			route := routeTo(in.Expect, src.Node, dst.IP)
			if route == nil {
				continue // routes.blocks reports the missing expectation
			}
			encap := route.Dev == expect.VXLANDevice
			entry := fmt.Sprintf("%s/%s → %s/%s (%s)", src.Namespace, src.Name, dst.Namespace, dst.Name, dst.IP)
			fail := func(want, got string) {
				r.Findings = append(r.Findings, report.Finding{Kind: report.Broken, Entry: entry, Field: "vxlan.calico tx",
					Expected: want, Found: got, Reason: route.Why().Text("")})
			}
			before, err := in.Prober.LinkStats(ctx, src.Node, expect.VXLANDevice)
			if err != nil {
				fail("counters of vxlan.calico", err.Error())
				continue
			}
			got, err := in.Prober.Ping(ctx, src, dst.IP, EncapBurst)
			if err != nil || got == 0 {
				fail("echo replies", fmt.Sprintf("%d of %d answered", got, EncapBurst)+errText(err))
				continue
			}
			after, err := in.Prober.LinkStats(ctx, src.Node, expect.VXLANDevice)
			if err != nil {
				fail("counters of vxlan.calico", err.Error())
				continue
			}
			delta := after.TxPackets - before.TxPackets
			switch {
			case encap && delta < EncapBurst:
				fail(fmt.Sprintf("≥ %d packets (encapsulated)", EncapBurst), fmt.Sprintf("%d", delta))
			case !encap && delta >= EncapBurst:
				fail("no packets (direct)", fmt.Sprintf("%d", delta))
			}
		}
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
