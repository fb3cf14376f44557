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

// vxlanNeigh: a permanent neighbour on vxlan.calico per remote tunnel address with the remote
// VTEP's MAC, and nothing else on vxlan.calico.
func vxlanNeigh(_ context.Context, in *Inputs) []*report.Node {
	return perNode(in, []observed.Table{observed.TableNeigh}, judgeVXLANNeigh)
}

func judgeVXLANNeigh(_ *Inputs, e *expect.Node, s *observed.Node, r *report.Node) {
	found := map[netip.Addr]*observed.Neigh{}
	var onDevice []*observed.Neigh
	for i := range s.Neighs {
		n := &s.Neighs[i]
		if n.Dev != expect.VXLANDevice {
			continue
		}
		found[n.Dst] = n
		onDevice = append(onDevice, n)
	}
	expected := map[netip.Addr]bool{}
	for _, want := range e.Neighs() {
		expected[want.Dst] = true
		why := func() string { // only formatted for a finding, as in vxlan.fdb
			return fmt.Sprintf("%s's tunnel address is %s and its VTEP MAC %s: %s answers ARP for it from this entry (Calico never lets vxlan.calico ARP)",
				want.Peer.Name, want.Dst, want.LLAddr, e.Name())
		}
		got, ok := found[want.Dst]
		if !ok {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: want.Dst.String(),
				Expected: fmt.Sprintf("%s dev vxlan.calico lladdr %s PERMANENT", want.Dst, want.LLAddr), Reason: why()})
			continue
		}
		if !strings.EqualFold(got.LLAddr, want.LLAddr) {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: want.Dst.String(), Field: "lladdr",
				Expected: want.LLAddr, Found: orNone(got.LLAddr), Reason: why()})
		}
		if !got.Permanent() {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: want.Dst.String(), Field: "state",
				Expected: "PERMANENT", Found: orNone(strings.Join(got.State, ",")), Reason: why()})
		}
	}
	for _, got := range onDevice {
		if expected[got.Dst] {
			continue
		}
		r.Findings = append(r.Findings, report.Finding{Kind: report.Unexpected, Entry: got.Dst.String(),
			Found:  fmt.Sprintf("%s dev vxlan.calico lladdr %s %s", got.Dst, orNone(got.LLAddr), strings.Join(got.State, ",")),
			Reason: fmt.Sprintf("no remote node has tunnel address %s: a neighbour for it on vxlan.calico is stale", got.Dst)})
	}
}
