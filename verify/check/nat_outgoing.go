package check

import (
	"context"
	"fmt"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// natOutgoing: every node masquerades traffic from each natOutgoing pool to outside all
// pools, and only from those pools. Skipped on nodes whose source does not read NAT state.
func natOutgoing(_ context.Context, in *Inputs) []*report.Node {
	return perNode(in, []observed.Table{observed.TableNAT}, judgeNATOutgoing)
}

func judgeNATOutgoing(in *Inputs, e *expect.Node, s *observed.Node, r *report.Node) {
	masq := map[string]bool{}
	for _, p := range s.NATOutgoing {
		masq[p.Masked().String()] = true
	}
	for _, p := range in.Expect.Pools {
		cidr := p.CIDR.Masked().String()
		switch {
		case p.NATOutgoing && !p.Disabled && !masq[cidr]:
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: "masquerade " + cidr,
				Expected: "traffic from " + cidr + " to outside all pools masqueraded",
				Reason:   fmt.Sprintf("pool %s has natOutgoing: pods reach the outside world with %s's address", p.Name, e.Name())})
		case !p.NATOutgoing && masq[cidr]:
			r.Findings = append(r.Findings, report.Finding{Kind: report.Unexpected, Entry: "masquerade " + cidr,
				Found:  "traffic from " + cidr + " masqueraded",
				Reason: fmt.Sprintf("pool %s has natOutgoing false: its pods' addresses must be seen unchanged", p.Name)})
		}
	}
}
