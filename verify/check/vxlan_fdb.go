package check

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// vxlanFDB: a permanent FDB entry on vxlan.calico per remote VTEP MAC pointing at the remote
// underlay address, and no other unicast entry on vxlan.calico.
func vxlanFDB(_ context.Context, in *Inputs) []*report.Node {
	return perNode(in, []observed.Table{observed.TableFDB}, judgeVXLANFDB)
}

func judgeVXLANFDB(_ *Inputs, e *expect.Node, s *observed.Node, r *report.Node) {
	var onDevice []*observed.FDBEntry
	for i := range s.FDB {
		f := &s.FDB[i]
		// `bridge fdb show` also lists the multicast addresses every device listens to
		// (01:00:5e:..., 33:33:...), without a dst: they are not VXLAN forwarding entries.
		if f.Dev != expect.VXLANDevice || (!f.Dst.IsValid() && multicastMAC(f.MAC)) {
			continue
		}
		onDevice = append(onDevice, f)
	}
	stale := keyedDiff[string, expect.FDBEntry, *observed.FDBEntry]{
		key:      func(want expect.FDBEntry) string { return strings.ToLower(want.MAC) },
		foundKey: func(got *observed.FDBEntry) string { return strings.ToLower(got.MAC) },
		entry:    func(want expect.FDBEntry) string { return want.MAC },
		missing: func(want expect.FDBEntry) string {
			return fmt.Sprintf("%s dev vxlan.calico dst %s self permanent", want.MAC, want.Dst)
		},
		why: func(want expect.FDBEntry) string {
			return fmt.Sprintf("%s's VTEP MAC is %s and its underlay address %s: frames for it are sent to that address",
				want.Peer.Name, want.MAC, want.Dst)
		},
		compare: func(want expect.FDBEntry, got *observed.FDBEntry, f fields) {
			if got.Dst != want.Dst {
				f.differ("dst", want.Dst.String(), addrText(got.Dst))
			}
			if !got.Permanent {
				f.differ("state", "permanent", "not permanent")
			}
		},
	}.run(r, e.FDB(), onDevice)
	for _, got := range stale {
		unexpectedEntry(r, got.MAC, fmt.Sprintf("%s dev vxlan.calico dst %s", got.MAC, addrText(got.Dst)),
			fmt.Sprintf("no remote node has VTEP MAC %s: an FDB entry for it is stale", got.MAC))
	}
}

// multicastMAC reports whether the group bit of the first octet is set.
func multicastMAC(mac string) bool {
	if len(mac) < 2 {
		return false
	}
	b, err := strconv.ParseUint(mac[:2], 16, 8)
	return err == nil && b&1 == 1
}
