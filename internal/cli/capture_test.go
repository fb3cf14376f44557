package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/capture"
	"github.com/knetlab/knetlab/verify/report"
)

// verdicts flattens a report to "check node status" lines, the part two runs must agree on.
func verdicts(r *report.Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, fmt.Sprintf("%s * %s", c.ID, c.Status))
		for _, n := range c.Nodes {
			out = append(out, fmt.Sprintf("%s %s %s %d", c.ID, n.Node, n.Status, len(n.Findings)))
		}
	}
	sort.Strings(out)
	return out
}

// A capture written by captureLab from a source is read back by verify --from with the same
// verdicts as the source itself gave, including the failing entries: capture loses nothing
// verify looks at. (The live-lab version of this runs in the netns end-to-end tests.)
func TestCaptureRoundTripKeepsVerdicts(t *testing.T) {
	ctx := context.Background()
	l, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	healthy := "../../verify/capture/testdata/lesson06"
	broken := t.TempDir()
	if err := os.CopyFS(broken, os.DirFS(healthy)); err != nil {
		t.Fatal(err)
	}
	routes := filepath.Join(broken, "nodes", "k01-worker", "ip-route.txt")
	data, err := os.ReadFile(routes)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(string(data), "via 10.10.10.12 ", "via 10.10.10.13 ", 1)
	if wrong == string(data) {
		t.Fatal("fixture has no route via 10.10.10.12 to break")
	}
	if err := os.WriteFile(routes, []byte(wrong), 0o644); err != nil {
		t.Fatal(err)
	}
	// The cEOS fixtures (Ethernet4 notconnect: switch.ports fails) and Calico's iptables NAT
	// paste, so that the switch and nat.outgoing verdicts travel through a capture too.
	withSwitch := t.TempDir()
	if err := os.CopyFS(withSwitch, os.DirFS(healthy)); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(withSwitch, "switch", "ceos01"), os.DirFS("../../verify/parse/eosjson/testdata/ceos01")); err != nil {
		t.Fatal(err)
	}
	nat, err := os.ReadFile("../../verify/parse/testdata/nat/calico-iptables-ipset-save.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withSwitch, "nodes", "k01-worker", capture.NATFile), nat, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{"healthy": healthy, "wrong gateway": broken, "cEOS switch and NAT": withSwitch} {
		t.Run(name, func(t *testing.T) {
			src, err := capture.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			opts := verify.Options{Lab: l.VerifySpec(), Checks: []string{"switch.ports", "switch.svis", "switch.routes",
				"ipam.pools", "ipam.affinities", "routes.blocks", "routes.pods", "vxlan.device", "vxlan.neigh", "vxlan.fdb", "pods.wiring", "nat.outgoing"}}
			before, err := verify.Run(ctx, src, opts)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if _, err := captureLab(ctx, src, l, dir); err != nil {
				t.Fatal(err)
			}
			again, err := capture.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			after, err := verify.Run(ctx, again, opts)
			if err != nil {
				t.Fatal(err)
			}
			b, a := verdicts(before), verdicts(after)
			if fmt.Sprint(b) != fmt.Sprint(a) {
				t.Errorf("verdicts differ after capture:\nsource:  %v\ncapture: %v", b, a)
			}
			if before.Summary().Passed == 0 {
				t.Errorf("nothing passed on the fixture; the comparison proves nothing")
			}
			// A source without a switch gives a capture without a switch directory.
			_, statErr := os.Stat(filepath.Join(dir, capture.SwitchDir))
			if hasSwitch := name == "cEOS switch and NAT"; (statErr == nil) != hasSwitch {
				t.Errorf("capture's %s/ directory: stat %v, want present: %v", capture.SwitchDir, statErr, hasSwitch)
			}
			if wantFail := name != "healthy"; (before.Failed() > 0) != wantFail {
				t.Errorf("fixture %s: %d failed checks, want failures: %v", name, before.Failed(), wantFail)
			}
		})
	}
}
