package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// liveFake is fakeSource as a running lab yields it: what it lacks, the lab lacks. readErr is
// what NodeState says about a node it read only in part (the tables it could not read).
type liveFake struct {
	*fakeSource
	readErr map[string]error
}

func (l *liveFake) Live() bool { return true }

func (l *liveFake) NodeState(ctx context.Context, node string) (*observed.Node, error) {
	n, err := l.fakeSource.NodeState(ctx, node)
	if l.readErr[node] != nil {
		return n, l.readErr[node]
	}
	return n, err
}

// captureFake is fakeSource saying outright that it is files someone chose to collect.
type captureFake struct{ *fakeSource }

func (captureFake) Live() bool { return false }

func liveLesson06() *liveFake {
	return &liveFake{fakeSource: healthyLesson06(), readErr: map[string]error{}}
}

// failedOn returns the findings of check id on node as "KIND entry: found", failing the test
// when the node is not failed.
func failedOn(t *testing.T, r *report.Report, id, node string) string {
	t.Helper()
	c, ok := r.Check(id)
	if !ok {
		t.Fatalf("no result for %s", id)
	}
	n, ok := c.Node(node)
	if !ok {
		t.Fatalf("%s has no result for %s: %+v", id, node, c)
	}
	if c.Status != report.Failed || n.Status != report.Failed || len(n.Findings) == 0 {
		t.Fatalf("%s on %s: check %s, node %s (%s), want both failed with a finding", id, node, c.Status, n.Status, n.Reason)
	}
	var b strings.Builder
	for _, f := range n.Findings {
		fmt.Fprintf(&b, "%s %s: expected %s, found %s; %s\n", f.Kind, f.Entry, f.Expected, f.Found, f.Reason)
	}
	return b.String()
}

// On a live lab an input that should be there and is not fails the checks that need it (the
// lab is broken or half-built); the same absence in a capture skips them with the reason.
func TestLiveAbsenceFailsCaptureAbsenceSkips(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(l *liveFake)
		check  string
		node   string   // the target that must fail live and be skipped from a capture
		says   []string // what the live failure must name
	}{
		{
			name: "node state absent", check: checkid.RoutesBlocks, node: "k01-worker3",
			break_: func(l *liveFake) { delete(l.nodes, "k01-worker3") },
			says:   []string{"k01-worker3", "no state for k01-worker3"},
		},
		{
			name: "node unreadable", check: checkid.VXLANNeigh, node: "k01-worker2",
			break_: func(l *liveFake) {
				delete(l.nodes, "k01-worker2")
				l.readErr["k01-worker2"] = errors.New("open namespace knl-x-k01-worker2: no such file or directory")
			},
			says: []string{"k01-worker2", "open namespace knl-x-k01-worker2"},
		},
		{
			name: "table the source failed to read", check: checkid.VXLANFDB, node: "k01-worker3",
			break_: func(l *liveFake) {
				delete(l.nodes["k01-worker3"].Tables, observed.TableFDB)
				l.readErr["k01-worker3"] = errors.New("fdb: bridge fdb show: exit status 255")
			},
			says: []string{"k01-worker3", "fdb", "bridge fdb show: exit status 255"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := liveLesson06()
			tt.break_(live)
			r := run(t, live, tt.check)
			got := failedOn(t, r, tt.check, tt.node)
			for _, w := range tt.says {
				if !strings.Contains(got, w) {
					t.Errorf("the failure does not name %q:\n%s", w, got)
				}
			}
			if r.Status() != report.Failed {
				t.Errorf("report %s, want failed", r.Status())
			}

			// The same absence in a capture: not captured, so skipped with the reason.
			capt := captureFake{live.fakeSource}
			if live.readErr[tt.node] != nil {
				delete(capt.nodes, tt.node) // a capture has no partial reads: its file is absent
			}
			r = run(t, capt, tt.check)
			c, _ := r.Check(tt.check)
			n, ok := c.Node(tt.node)
			if !ok || n.Status != report.Skipped || n.Reason == "" {
				t.Fatalf("from a capture %s on %s: %+v, want skipped with the reason", tt.check, tt.node, n)
			}
			if c.Status == report.Failed {
				t.Errorf("from a capture %s failed", tt.check)
			}
		})
	}
}

// A table a live source never reads (its read gave no error) is a limit of knetlab's collector,
// not of the lab: the check is skipped, saying so, not failed.
func TestLiveUncollectedTableSkips(t *testing.T) {
	live := liveLesson06()
	for _, n := range live.nodes {
		delete(n.Tables, observed.TableNAT)
	}
	r := run(t, live, checkid.NATOutgoing)
	c, _ := r.Check(checkid.NATOutgoing)
	if c.Status != report.Skipped {
		t.Fatalf("nat.outgoing %s, want skipped: %+v", c.Status, c.Nodes)
	}
}

func TestLiveAbsentFactsFail(t *testing.T) {
	for name, err := range map[string]error{
		"no datastore":          fmt.Errorf("netns lab x has no datastore (its deploy did not finish): %w", source.ErrAbsent),
		"datastore unreachable": errors.New("connect to the datastore of lab x at http://172.18.0.2:2379: connection refused"),
	} {
		t.Run(name, func(t *testing.T) {
			live := liveLesson06()
			live.factsErr = err
			r, runErr := verify.Run(context.Background(), live, verify.Options{Checks: []string{checkid.IPAMPools, checkid.RoutesBlocks}})
			if runErr != nil {
				t.Fatalf("Run: %v; want a report whose checks fail", runErr)
			}
			for _, id := range []string{checkid.IPAMPools, checkid.RoutesBlocks} {
				c, _ := r.Check(id)
				if c.Status != report.Failed {
					t.Errorf("%s: %s (%s), want failed", id, c.Status, c.Reason)
					continue
				}
				var found string
				for _, n := range c.Nodes {
					for _, f := range n.Findings {
						found += f.Found
					}
				}
				if !strings.Contains(found, err.Error()) && !strings.Contains(found, strings.TrimSuffix(err.Error(), ": "+source.ErrAbsent.Error())) {
					t.Errorf("%s does not say why: %q", id, found)
				}
			}
		})
	}
	// Bad input is still bad input.
	live := liveLesson06()
	live.factsErr = exitcode.Usagef("cluster.yaml:3: nonsense")
	if _, err := verify.Run(context.Background(), live, verify.Options{}); exitcode.Code(err) != exitcode.Usage {
		t.Errorf("usage error from a live source: %v", err)
	}
}

func TestLiveAbsentTopologyAndSwitchFail(t *testing.T) {
	live := liveLesson06() // no topology, no switch: both ErrAbsent
	l := calicoOverlay(t).VerifySpec()
	r, err := verify.Run(context.Background(), live, verify.Options{Lab: l,
		Checks: []string{checkid.TopologyNodes, checkid.SwitchPorts}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{checkid.TopologyNodes, checkid.SwitchPorts} {
		if c, _ := r.Check(id); c.Status != report.Failed || len(c.Nodes) == 0 {
			t.Errorf("%s: %s (%s), want failed with a target", id, c.Status, c.Reason)
		}
	}
}

// A lab node the live cluster facts do not name (its agent never registered it) fails the
// node checks: it is a node of the lab that is not there.
func TestLiveLabNodeAbsentFromFacts(t *testing.T) {
	live := liveLesson06()
	var kept []facts.Node
	for _, n := range live.facts.Nodes {
		if n.Name != "k01-worker3" {
			kept = append(kept, n)
		}
	}
	live.facts.Nodes = kept
	r, err := verify.Run(context.Background(), live, verify.Options{Lab: calicoOverlay(t).VerifySpec(),
		Checks: []string{checkid.VXLANFDB}})
	if err != nil {
		t.Fatal(err)
	}
	got := failedOn(t, r, checkid.VXLANFDB, "k01-worker3")
	if !strings.Contains(got, "k01-worker3") {
		t.Errorf("the failure does not name the node:\n%s", got)
	}
}

// A check that judged some nodes and skipped others says so: in the status line, in JSON
// (per-check node counts, partial) and in JUnit; the summary counts skipped nodes.
func TestPartialChecksAreVisible(t *testing.T) {
	src := healthyLesson06()
	delete(src.nodes["k01-worker3"].Tables, observed.TableFDB)
	r := run(t, src, checkid.VXLANFDB, checkid.VXLANNeigh)

	var text bytes.Buffer
	report.WriteText(&ui.Streams{Out: &text}, r)
	lines := strings.Split(text.String(), "\n")
	var fdbLine string
	for _, l := range lines {
		if strings.Contains(l, "vxlan.fdb ") {
			fdbLine = l
			break
		}
	}
	if strings.HasPrefix(fdbLine, "PASS") || !strings.Contains(fdbLine, "partial") || !strings.Contains(fdbLine, "3 passed, 1 skipped") {
		t.Errorf("status line of a partial check: %q", fdbLine)
	}
	if last := lines[len(lines)-2]; !strings.Contains(last, "1 partial") || !strings.Contains(last, "nodes: 7 passed, 0 failed, 1 skipped") {
		t.Errorf("summary line does not count the partial check and the skipped node: %q", last)
	}

	var js bytes.Buffer
	if err := report.WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Summary struct {
			Passed, Failed, Skipped, Partial int
			Nodes                            struct{ Passed, Failed, Skipped int }
		}
		Checks []struct {
			ID                      string
			Status                  string
			Passed, Failed, Skipped int
			Partial                 *bool
		}
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if s := doc.Summary; s.Passed != 2 || s.Partial != 1 || s.Nodes.Passed != 7 || s.Nodes.Skipped != 1 {
		t.Errorf("JSON summary %+v", s)
	}
	for _, c := range doc.Checks {
		partial := c.ID == checkid.VXLANFDB
		wantPassed, wantSkipped := 4, 0
		if partial {
			wantPassed, wantSkipped = 3, 1
		}
		if c.Status != "passed" || c.Partial == nil || *c.Partial != partial || c.Passed != wantPassed || c.Skipped != wantSkipped || c.Failed != 0 {
			t.Errorf("JSON check %s: status %s partial %v counts %d/%d/%d", c.ID, c.Status, c.Partial, c.Passed, c.Failed, c.Skipped)
		}
	}

	var xb bytes.Buffer
	if err := report.WriteJUnit(&xb, r); err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Name       string `xml:"name,attr"`
			Skipped    int    `xml:"skipped,attr"`
			Properties []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(xb.Bytes(), &suites); err != nil {
		t.Fatal(err)
	}
	for _, s := range suites.Suites {
		partial := ""
		for _, p := range s.Properties {
			if p.Name == "partial" {
				partial = p.Value
			}
		}
		want := "false"
		if s.Name == checkid.VXLANFDB {
			want = "true"
		}
		if partial != want {
			t.Errorf("JUnit suite %s: partial property %q, want %q", s.Name, partial, want)
		}
	}
}

// A capture with nothing to judge against is bad input (exit 2) naming what is missing.
func TestCaptureWithNothingToJudgeAgainst(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(s *fakeSource)
		says   string
	}{
		{"no cluster facts", func(s *fakeSource) { s.factsErr = fmt.Errorf("cap has no cluster.yaml: %w", source.ErrAbsent) }, "cluster.yaml"},
		{"no pools", func(s *fakeSource) { s.facts.Pools = nil }, "IP pool"},
		{"no nodes", func(s *fakeSource) { s.facts.Nodes = nil }, "node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := healthyLesson06()
			tt.break_(src)
			_, err := verify.Run(context.Background(), captureFake{src}, verify.Options{})
			if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "nothing to judge") {
				t.Errorf("err %v (exit %d), want exit 2 naming %q", err, exitcode.Code(err), tt.says)
			}
		})
	}
}

// The engine tells the checks that its source is live: a pod route no known pod holds is then
// stale (the facts of a running lab are complete), while the same route in a capture is only
// unattributed.
func TestLiveSourceJudgesStalePodRoutes(t *testing.T) {
	moved := func(s *fakeSource) {
		routeTo(s.nodes["k01-worker"], "192.168.26.1/32").Dst = pfx("192.168.26.9/32")
	}
	live := liveLesson06()
	moved(live.fakeSource)
	rep, err := verify.Run(context.Background(), live, verify.Options{Checks: []string{checkid.RoutesPods}})
	if err != nil {
		t.Fatal(err)
	}
	if got := failedOn(t, rep, checkid.RoutesPods, "k01-worker"); !strings.Contains(got, "unexpected 192.168.26.9/32") {
		t.Errorf("live lab: the route to 192.168.26.9 no pod holds is not reported stale:\n%s", got)
	}

	capt := captureFake{healthyLesson06()}
	moved(capt.fakeSource)
	rep, err = verify.Run(context.Background(), capt, verify.Options{Checks: []string{checkid.RoutesPods}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := rep.Check(checkid.RoutesPods)
	n, _ := c.Node("k01-worker")
	for _, f := range n.Findings {
		if f.Entry == "192.168.26.9/32" {
			t.Errorf("capture: the unattributed route is a finding %+v, want a note", f)
		}
	}
	if !strings.Contains(strings.Join(n.Notes, "\n"), "UNATTRIBUTED") {
		t.Errorf("capture: no UNATTRIBUTED note on k01-worker: %q", n.Notes)
	}
}
