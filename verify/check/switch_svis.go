package check

import (
	"context"
	"fmt"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/spec"
)

// switchSVIs: each lab VLAN's SVI is up with the gateway address and the subnet's prefix.
func switchSVIs(_ context.Context, in *Inputs) []*report.Node {
	r := &report.Node{Node: in.Lab.Switch.Name}
	keyedDiff[int, spec.VLAN, observed.SVI]{
		// Both collectors take an SVI's VLAN from its name (Vlan10 is VLAN 10).
		key:      func(v spec.VLAN) int { return v.ID },
		foundKey: func(got observed.SVI) int { return got.VLAN },
		entry:    func(v spec.VLAN) string { return v.SVI },
		missing:  func(v spec.VLAN) string { return fmt.Sprintf("%s up with %s", v.SVI, v.Gateway) },
		why: func(v spec.VLAN) string {
			return fmt.Sprintf("VLAN %d (%s) routes %s through gateway %s", v.ID, v.Name, v.Subnet, v.Gateway.Addr())
		},
		pick: first[spec.VLAN, observed.SVI],
		compare: func(v spec.VLAN, got observed.SVI, f fields) {
			if !got.Up {
				f.differ("status", "up/up", "down")
			}
			if got.Address != v.Gateway {
				f.differ("address", v.Gateway.String(), prefixText(got.Address))
			}
		},
	}.run(r, in.Lab.Switch.VLANs, in.Switch.SVIs) // SVIs of other VLANs are not judged
	return []*report.Node{r}
}
