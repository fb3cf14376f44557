package check

import (
	"context"
	"fmt"

	"github.com/knetlab/knetlab/verify/report"
)

// switchSVIs: each lab VLAN's SVI is up with the gateway address and the subnet's prefix.
func switchSVIs(_ context.Context, in *Inputs) []*report.Node {
	r := &report.Node{Node: in.Lab.Switch.Name}
	for _, v := range in.Lab.Switch.VLANs {
		why := fmt.Sprintf("VLAN %d (%s) routes %s through gateway %s", v.ID, v.Name, v.Subnet, v.Gateway.Addr())
		found := false
		for _, s := range in.Switch.SVIs {
			if s.VLAN != v.ID && s.Name != v.SVI {
				continue
			}
			found = true
			if !s.Up {
				r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: v.SVI, Field: "status",
					Expected: "up/up", Found: "down", Reason: why})
			}
			if s.Address != v.Gateway {
				r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: v.SVI, Field: "address",
					Expected: v.Gateway.String(), Found: prefixText(s.Address), Reason: why})
			}
			break
		}
		if !found {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: v.SVI,
				Expected: fmt.Sprintf("%s up with %s", v.SVI, v.Gateway), Reason: why})
		}
	}
	return []*report.Node{r}
}
