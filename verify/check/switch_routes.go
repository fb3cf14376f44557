package check

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/knetlab/knetlab/verify/report"
)

// switchRoutes: a connected route for every lab VLAN subnet, so the switch forwards between
// the node subnets.
func switchRoutes(_ context.Context, in *Inputs) []*report.Node {
	r := &report.Node{Node: in.Lab.Switch.Name}
	for _, v := range in.Lab.Switch.VLANs {
		why := fmt.Sprintf("nodes in %s reach the other VLANs through the switch's %s", v.Subnet, v.SVI)
		found := false
		for _, rt := range in.Switch.Routes {
			if rt.Dst != v.Subnet {
				continue
			}
			found = true
			if rt.Type != "" && rt.Type != "connected" {
				r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: v.Subnet.String(), Field: "type",
					Expected: "connected", Found: rt.Type, Reason: why})
			}
			if rt.Iface != "" && rt.Iface != v.SVI {
				r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: v.Subnet.String(), Field: "interface",
					Expected: v.SVI, Found: rt.Iface, Reason: why})
			}
			break
		}
		if !found {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: v.Subnet.String(),
				Expected: fmt.Sprintf("connected %s via %s", v.Subnet, v.SVI), Reason: why})
		}
	}
	return []*report.Node{r}
}

func prefixText(p netip.Prefix) string {
	if !p.IsValid() {
		return "none"
	}
	return p.String()
}
