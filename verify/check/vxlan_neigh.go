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
	var onDevice []*observed.Neigh
	for i := range s.Neighs {
		if s.Neighs[i].Dev == expect.VXLANDevice {
			onDevice = append(onDevice, &s.Neighs[i])
		}
	}
	stale := keyedDiff[netip.Addr, expect.Neigh, *observed.Neigh]{
		key:      func(want expect.Neigh) netip.Addr { return want.Dst },
		foundKey: func(got *observed.Neigh) netip.Addr { return got.Dst },
		entry:    func(want expect.Neigh) string { return want.Dst.String() },
		missing: func(want expect.Neigh) string {
			return fmt.Sprintf("%s dev vxlan.calico lladdr %s PERMANENT", want.Dst, want.LLAddr)
		},
		why: func(want expect.Neigh) string {
			return fmt.Sprintf("%s's tunnel address is %s and its VTEP MAC %s: %s answers ARP for it from this entry (Calico never lets vxlan.calico ARP)",
				want.Peer.Name, want.Dst, want.LLAddr, e.Name())
		},
		compare: func(want expect.Neigh, got *observed.Neigh, f fields) {
			if !strings.EqualFold(got.LLAddr, want.LLAddr) {
				f.differ("lladdr", want.LLAddr, orNone(got.LLAddr))
			}
			if !got.Permanent() {
				f.differ("state", "PERMANENT", orNone(strings.Join(got.State, ",")))
			}
		},
	}.run(r, e.Neighs(), onDevice)
	for _, got := range stale {
		unexpectedEntry(r, got.Dst.String(),
			fmt.Sprintf("%s dev vxlan.calico lladdr %s %s", got.Dst, orNone(got.LLAddr), strings.Join(got.State, ",")),
			fmt.Sprintf("no remote node has tunnel address %s: a neighbour for it on vxlan.calico is stale", got.Dst))
	}
}
