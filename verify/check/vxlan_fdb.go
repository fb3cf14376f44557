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
	found := map[string]*observed.FDBEntry{}
	var onDevice []*observed.FDBEntry
	for i := range s.FDB {
		f := &s.FDB[i]
		// `bridge fdb show` also lists the multicast addresses every device listens to
		// (01:00:5e:..., 33:33:...), without a dst: they are not VXLAN forwarding entries.
		if f.Dev != expect.VXLANDevice || (!f.Dst.IsValid() && multicastMAC(f.MAC)) {
			continue
		}
		found[strings.ToLower(f.MAC)] = f
		onDevice = append(onDevice, f)
	}
	expected := map[string]bool{}
	for _, want := range e.FDB() {
		mac := strings.ToLower(want.MAC)
		expected[mac] = true
		// Only a finding needs the reason: on a healthy 1,000-node cluster formatting it for
		// every entry would cost more than the comparison.
		why := func() string {
			return fmt.Sprintf("%s's VTEP MAC is %s and its underlay address %s: frames for it are sent to that address",
				want.Peer.Name, want.MAC, want.Dst)
		}
		got, ok := found[mac]
		if !ok {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: want.MAC,
				Expected: fmt.Sprintf("%s dev vxlan.calico dst %s self permanent", want.MAC, want.Dst), Reason: why()})
			continue
		}
		if got.Dst != want.Dst {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: want.MAC, Field: "dst",
				Expected: want.Dst.String(), Found: addrText(got.Dst), Reason: why()})
		}
		if !got.Permanent {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Different, Entry: want.MAC, Field: "state",
				Expected: "permanent", Found: "not permanent", Reason: why()})
		}
	}
	for _, got := range onDevice {
		if expected[strings.ToLower(got.MAC)] {
			continue
		}
		r.Findings = append(r.Findings, report.Finding{Kind: report.Unexpected, Entry: got.MAC,
			Found:  fmt.Sprintf("%s dev vxlan.calico dst %s", got.MAC, addrText(got.Dst)),
			Reason: fmt.Sprintf("no remote node has VTEP MAC %s: an FDB entry for it is stale", got.MAC)})
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
