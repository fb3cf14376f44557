package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/ui"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fdbMissing is the report of a real run: knetlab verify on the netns calico-overlay lab after
// knetlab break fdb-missing (testdata/fdb-missing.json, its JSON output), with durations fixed.
func fdbMissing(t *testing.T) *Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fdb-missing.json"))
	if err != nil {
		t.Fatal(err)
	}
	var j jsonReport
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	r := &Report{Source: j.Source, Lab: j.Lab, Duration: 4160 * time.Millisecond}
	for _, jc := range j.Checks {
		c := &Check{ID: jc.ID, Title: jc.Title, Status: jc.Status, Reason: jc.Reason, Duration: 500 * time.Microsecond}
		if strings.HasPrefix(jc.ID, "connectivity.") {
			c.Duration = 2 * time.Second
		}
		for _, jn := range jc.Nodes {
			n := &Node{Node: jn.Node, Status: jn.Status, Reason: jn.Reason, Notes: jn.Notes}
			for _, f := range jn.Findings {
				n.Findings = append(n.Findings, Finding{Kind: f.Kind, Entry: f.Entry, Field: f.Field, Expected: f.Expected, Found: f.Found, Reason: f.Reason})
			}
			c.Nodes = append(c.Nodes, n)
		}
		r.Checks = append(r.Checks, c)
	}
	return r
}

// The issue: at 100 columns why lines of ~170 characters wrapped to column 0 and split
// addresses, the root finding scrolled away, the summary did not name the failing checks and
// the header named the lab twice. Each width has a golden file; the properties are asserted
// apart, so that an -update cannot bless a regression.
func TestTextFitsTheTerminal(t *testing.T) {
	r := fdbMissing(t)
	for _, width := range []int{80, 100, 160} {
		for _, failedOnly := range []bool{false, true} {
			name := fmt.Sprintf("fdb-missing-%d.txt", width)
			if failedOnly {
				name = fmt.Sprintf("fdb-missing-%d-failed-only.txt", width)
			}
			t.Run(name, func(t *testing.T) {
				var b bytes.Buffer
				WriteTextWith(&ui.Streams{Out: &b, Width: width}, r, TextOptions{FailedOnly: failedOnly})
				out := b.String()
				golden(t, name, out)
				lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
				for i, l := range lines {
					if len([]rune(l)) > width && len(strings.Fields(l)) > 1 {
						t.Errorf("line %d is %d columns, wider than %d, and could have been broken:\n%s", i+1, len([]rune(l)), width, l)
					}
				}
				// No address, MAC or interface name is split: every one of the report's tokens
				// is whole on some line.
				for _, tok := range []string{"66:d2:0c:f0:ef:e5", "10.10.20.20", "192.168.77.192/26", "10.10.10.0/24", "vxlan.calico", "192.168.23.129"} {
					if !strings.Contains(out, tok) {
						t.Errorf("%s does not appear whole", tok)
					}
				}
				root := slicesIndex(lines, func(l string) bool { return strings.Contains(l, "MISSING 66:d2:0c:f0:ef:e5") })
				if root < 0 || root >= 24 {
					t.Errorf("the root finding (vxlan.fdb MISSING) is on line %d, not within the first 24-line screen", root+1)
				}
				t.Logf("%d columns: %d lines, %d lines before the root finding", width, len(lines), root)
				if strings.Count(lines[0], "calico-overlay") != 1 {
					t.Errorf("header names the lab more than once: %s", lines[0])
				}
				summary := strings.Join(lines[slicesIndex(lines, func(l string) bool { return strings.HasPrefix(l, "15 checks") }):], " ")
				for _, id := range []string{"topology.nodes", "vxlan.fdb", "connectivity.pods", "connectivity.encap"} {
					if !strings.Contains(summary, id) {
						t.Errorf("the summary does not name failing check %s:\n%s", id, summary)
					}
				}
				if failedOnly && strings.Contains(out, "PASS ") {
					t.Errorf("--failed-only prints passing checks:\n%s", out)
				}
			})
		}
	}
}

// A continuation line is indented under the text it continues.
func TestTextContinuationIndent(t *testing.T) {
	r := fdbMissing(t)
	var b bytes.Buffer
	WriteTextWith(&ui.Streams{Out: &b, Width: 80}, r, TextOptions{})
	lines := strings.Split(b.String(), "\n")
	var checked int
	for i := 1; i < len(lines); i++ {
		prev := lines[i-1]
		if !strings.HasPrefix(prev, "          why       ") || strings.TrimSpace(lines[i]) == "" {
			continue
		}
		cur := lines[i]
		if strings.HasPrefix(cur, strings.Repeat(" ", 20)) && !strings.HasPrefix(cur, strings.Repeat(" ", 21)) {
			checked++
		}
	}
	if checked == 0 {
		t.Errorf("no why line continues under its value (column 21) at 80 columns:\n%s", b.String())
	}
}

func slicesIndex(lines []string, f func(string) bool) int {
	for i, l := range lines {
		if f(l) {
			return i
		}
	}
	return -1
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./verify/report -update creates it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./verify/report -update after checking the change):\n%s", name, got)
	}
}

// --failed-only on a report where nothing failed prints the header, one blank line and the
// summary: no run of blank lines where the checks would be.
func TestFailedOnlyWithNothingFailed(t *testing.T) {
	r := &Report{Source: "netns lab calico-bgp", Lab: "calico-bgp", Checks: []*Check{{ID: "topology.nodes", Title: "lab nodes exist and run", Status: Passed}}}
	var b bytes.Buffer
	WriteTextWith(&ui.Streams{Out: &b}, r, TextOptions{FailedOnly: true})
	if out := b.String(); strings.Contains(out, "\n\n\n") || !strings.Contains(out, "1 check: 1 passed") {
		t.Errorf("--failed-only with nothing failed:\n%q", out)
	}
}
