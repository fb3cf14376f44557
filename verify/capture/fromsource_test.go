package capture_test

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
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
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

// A capture written by FromSource from a source is read back by verify --from with the same
// verdicts as the source itself gave, including the failing entries: capture loses nothing
// verify looks at. (The live-lab version of this runs in the netns end-to-end tests.)
func TestCaptureRoundTripKeepsVerdicts(t *testing.T) {
	ctx := context.Background()
	l, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	healthy := "testdata/lesson06"
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
	if err := os.CopyFS(filepath.Join(withSwitch, "switch", "ceos01"), os.DirFS("../parse/eosjson/testdata/ceos01")); err != nil {
		t.Fatal(err)
	}
	nat, err := os.ReadFile("../parse/testdata/nat/calico-iptables-ipset-save.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withSwitch, "nodes", "k01-worker", capture.NATFile), nat, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{"healthy": healthy, "wrong gateway": broken, "cEOS switch and NAT": withSwitch} {
		t.Run(name, func(t *testing.T) {
			src, err := capture.Open(context.Background(), dir)
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
			var nodes []string
			for _, n := range l.Nodes {
				nodes = append(nodes, n.Name)
			}
			if _, err := capture.FromSource(ctx, src, nodes, dir); err != nil {
				t.Fatal(err)
			}
			again, err := capture.Open(context.Background(), dir)
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

// partialSource is a live lab part-way up: its datastore answers, k01-worker2 is gone, there is
// no switch, and only k01-worker is Ready.
type partialSource struct{ fromCapture source.Source }

func (s partialSource) Describe() string { return "partial" }
func (s partialSource) Facts(ctx context.Context) (*facts.Facts, error) {
	return s.fromCapture.Facts(ctx)
}
func (s partialSource) Topology(context.Context) ([]observed.NodeStatus, error) {
	return []observed.NodeStatus{{Name: "k01-worker", Ready: true}, {Name: "k01-worker3"}}, nil
}
func (s partialSource) NodeState(ctx context.Context, node string) (*observed.Node, error) {
	if node == "k01-worker2" {
		return nil, source.ErrAbsent
	}
	return s.fromCapture.NodeState(ctx, node)
}
func (s partialSource) Switch(context.Context) (*observed.Switch, error) {
	return nil, source.ErrAbsent
}

// FromSource leaves out what the source does not have (a node, the switch) and writes the
// Ready condition the live topology reported.
func TestFromSourceLeavesOutWhatIsAbsent(t *testing.T) {
	ctx := context.Background()
	src, err := capture.Open(context.Background(), "testdata/lesson06")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n, err := capture.FromSource(ctx, partialSource{src}, []string{"k01-worker", "k01-worker2", "k01-worker3"}, dir)
	if err != nil || n != 2 {
		t.Fatalf("FromSource = %d, %v; want 2 nodes", n, err)
	}
	for node, want := range map[string]bool{"k01-worker": true, "k01-worker2": false, "k01-worker3": true} {
		if _, err := os.Stat(filepath.Join(dir, "nodes", node)); (err == nil) != want {
			t.Errorf("nodes/%s present: %v, want %v", node, err == nil, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, capture.SwitchDir)); err == nil {
		t.Errorf("a source without a switch gave a %s/ directory", capture.SwitchDir)
	}
	again, err := capture.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := again.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ready := map[string]string{}
	for _, node := range f.Nodes {
		ready[node.Name] = node.Ready
	}
	if ready["k01-worker"] != "True" || ready["k01-worker3"] != "False" {
		t.Errorf("Ready conditions written: %v; want k01-worker True, k01-worker3 False", ready)
	}
}
