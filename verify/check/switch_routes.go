package check

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/spec"
)

// switchRoutes: a connected route for every lab VLAN subnet, so the switch forwards between
// the node subnets.
func switchRoutes(_ context.Context, in *Inputs) []*report.Node {
	r := &report.Node{Node: in.Lab.Switch.Name}
	keyedDiff[netip.Prefix, spec.VLAN, observed.SwitchRoute]{
		key:      func(v spec.VLAN) netip.Prefix { return v.Subnet },
		foundKey: func(got observed.SwitchRoute) netip.Prefix { return got.Dst },
		entry:    func(v spec.VLAN) string { return v.Subnet.String() },
		missing:  func(v spec.VLAN) string { return fmt.Sprintf("connected %s via %s", v.Subnet, v.SVI) },
		why: func(v spec.VLAN) string {
			return fmt.Sprintf("nodes in %s reach the other VLANs through the switch's %s", v.Subnet, v.SVI)
		},
		pick: first[spec.VLAN, observed.SwitchRoute],
		compare: func(v spec.VLAN, got observed.SwitchRoute, f fields) {
			if got.Type != "" && got.Type != "connected" {
				f.differ("type", "connected", got.Type)
			}
			if got.Iface != "" && got.Iface != v.SVI {
				f.differ("interface", v.SVI, got.Iface)
			}
		},
	}.run(r, in.Lab.Switch.VLANs, in.Switch.Routes) // routes to other subnets are not judged
	return []*report.Node{r}
}

func prefixText(p netip.Prefix) string {
	if !p.IsValid() {
		return "none"
	}
	return p.String()
}
