package cli

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/verify/capture"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
)

func TestVerifyUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{"nothing to verify", []string{"verify"}, exitcode.Usage, []string{"--from DIR", "calico-overlay"}},
		{"unknown check", []string{"verify", "--from", "x", "--check", "routes.blocks,routes.bogus"}, exitcode.Usage,
			[]string{"unknown check routes.bogus", "valid checks: topology.nodes", "nat.outgoing"}},
		{"unknown output", []string{"verify", "--from", "x", "--output", "yaml"}, exitcode.Usage, []string{`unknown --output "yaml"`, "text, json, junit"}},
		{"unknown lab", []string{"verify", "no-such-lab"}, exitcode.Usage, []string{`no lab "no-such-lab"`}},
		{"unknown provider", []string{"verify", "calico-overlay", "--provider", "bogus"}, exitcode.Usage, []string{`unknown provider "bogus"`}},
		{"bad wait", []string{"verify", "--from", "x", "--wait", "soon"}, exitcode.Usage, []string{"--wait"}},
		{"two labs", []string{"verify", "a", "b"}, exitcode.Usage, []string{"accepts at most 1 arg"}},
		{"--failed-only is for text", []string{"verify", "--from", "x", "--failed-only", "-o", "json"}, exitcode.Usage, []string{"--failed-only", "text report"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			if stdout != "" {
				t.Errorf("a usage error printed a report: %q", stdout)
			}
		})
	}
}

// writeCapture writes the lesson 06 cluster as a capture, every node healthy unless breakNode
// changes it, and returns the directory.
func writeCapture(t *testing.T, breakNode func(map[string]*observed.Node)) string {
	t.Helper()
	return writeCaptureOf(t, nil, breakNode)
}

// writeCaptureOf is writeCapture with the cluster facts changed by breakFacts first.
func writeCaptureOf(t *testing.T, breakFacts func(*facts.Facts), breakNode func(map[string]*observed.Node)) string {
	t.Helper()
	f := expecttest.Lesson06()
	c := expect.Compute(f)
	nodes := map[string]*observed.Node{}
	var list []*observed.Node
	for _, n := range c.Nodes {
		nodes[n.Name()] = expecttest.Healthy(c, n.Name())
		list = append(list, nodes[n.Name()])
	}
	if breakNode != nil {
		breakNode(nodes)
	}
	if breakFacts != nil {
		breakFacts(f)
	}
	dir := t.TempDir()
	if err := capture.Write(dir, f, list); err != nil {
		t.Fatal(err)
	}
	return dir
}

func wrongGateway(nodes map[string]*observed.Node) {
	for i, r := range nodes["k01-worker"].Routes {
		if r.Dst.String() == "192.168.209.64/26" {
			nodes["k01-worker"].Routes[i].Gateway = netip.MustParseAddr("192.168.209.65")
		}
	}
}

func TestVerifyCapture(t *testing.T) {
	healthy := writeCapture(t, nil)
	broken := writeCapture(t, wrongGateway)
	noFDB := writeCapture(t, func(nodes map[string]*observed.Node) { delete(nodes["k01-worker3"].Tables, observed.TableFDB) })
	malformed := writeCapture(t, nil)
	if err := os.WriteFile(filepath.Join(malformed, "cluster.yaml"), []byte("apiVersion: v1\nkind: List\nitems:\n  - kind: IPPool\n    spec: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nodesOnly := writeCapture(t, nil)
	if err := os.Remove(filepath.Join(nodesOnly, "cluster.yaml")); err != nil {
		t.Fatal(err)
	}
	noPools := writeCaptureOf(t, func(f *facts.Facts) { f.Pools = nil }, nil)
	noNodes := writeCaptureOf(t, func(f *facts.Facts) { f.Nodes = nil }, nil)

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string
		notOut     []string
		wantStderr []string
	}{
		{"healthy capture passes", []string{"verify", "--from", healthy}, exitcode.OK,
			[]string{"PASS  routes.blocks", "PASS  vxlan.fdb", "SKIP  switch.ports", "no lab definition (offline capture)"}, []string{"FAIL"}, nil},
		{"wrong gateway fails that route", []string{"verify", "--from", broken}, exitcode.CheckFailed,
			[]string{"FAIL  routes.blocks", "k01-worker:", "DIFFERENT 192.168.209.64/26 (gateway)", "expected  192.168.209.64", "found     192.168.209.65",
				"k01-worker3 is in 10.10.20.0/24, not in k01-worker's 10.10.10.0/24"}, nil, nil},
		{"--failed-only shows only the failed checks, and the summary names them", []string{"verify", "--from", broken, "--failed-only"}, exitcode.CheckFailed,
			[]string{"FAIL  routes.blocks", "DIFFERENT 192.168.209.64/26 (gateway)", "1 failed (routes.blocks)", "not shown (--failed-only)"}, []string{"PASS", "SKIP"}, nil},
		{"--check limits the checks", []string{"verify", "--from", broken, "--check", "vxlan.fdb,vxlan.neigh"}, exitcode.OK,
			[]string{"PASS  vxlan.neigh", "PASS  vxlan.fdb", "2 checks: 2 passed"}, []string{"routes.blocks"}, nil},
		{"node without FDB file is skipped", []string{"verify", "--from", noFDB, "--check", "vxlan.fdb"}, exitcode.OK,
			[]string{"k01-worker3 skipped: no fdb table"}, nil, nil},
		{"--strict turns a skipped node into exit 1", []string{"verify", "--from", noFDB, "--check", "vxlan.fdb", "--strict"}, exitcode.CheckFailed,
			[]string{"k01-worker3 skipped: no fdb table"}, nil, []string{"--strict", "1 node skipped"}},
		{"--strict turns a skipped check into exit 1", []string{"verify", "--from", healthy, "--check", "routes.blocks,switch.ports", "--strict"}, exitcode.CheckFailed,
			[]string{"PASS  routes.blocks", "SKIP  switch.ports"}, nil, []string{"--strict", "1 check skipped"}},
		{"--strict passes when nothing is skipped", []string{"verify", "--from", healthy, "--check", "routes.blocks,vxlan.fdb", "--strict"}, exitcode.OK,
			[]string{"PASS  routes.blocks", "PASS  vxlan.fdb"}, nil, nil},
		{"capture without cluster.yaml exits 2", []string{"verify", "--from", nodesOnly}, exitcode.Usage,
			nil, nil, []string{"no cluster.yaml", "nothing to judge"}},
		{"cluster.yaml without pools exits 2", []string{"verify", "--from", noPools}, exitcode.Usage,
			nil, nil, []string{"no IP pool", "nothing to judge"}},
		{"cluster.yaml without nodes exits 2", []string{"verify", "--from", noNodes}, exitcode.Usage,
			nil, nil, []string{"no node", "nothing to judge"}},
		{"malformed cluster.yaml exits 2 naming file and line", []string{"verify", "--from", malformed}, exitcode.Usage,
			nil, nil, []string{"cluster.yaml", ":5"}},
		{"missing capture dir", []string{"verify", "--from", filepath.Join(healthy, "nope")}, exitcode.Usage, nil, nil, []string{"does not exist"}},
		{"lab with a capture checks the pools against the lab", []string{"verify", "calico-overlay", "--from", healthy, "--check", "ipam.pools,switch.ports"},
			exitcode.OK, []string{"(lab calico-overlay)", "PASS  ipam.pools", "SKIP  switch.ports", "not available from this source"}, []string{"soundness only"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.notOut {
				if strings.Contains(stdout, w) {
					t.Errorf("stdout has %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stdout, "\x1b[") {
				t.Error("colour codes on a pipe")
			}
		})
	}
}

func TestVerifyOutputs(t *testing.T) {
	dir := writeCapture(t, wrongGateway)
	junit := filepath.Join(t.TempDir(), "verify.xml")

	code, stdout, _ := run(t, "verify", "--from", dir, "--output", "json", "--junit-file", junit)
	if code != exitcode.CheckFailed {
		t.Fatalf("exit %d, want 1", code)
	}
	var doc struct {
		SchemaVersion int    `json:"schemaVersion"`
		Status        string `json:"status"`
		Checks        []struct {
			ID    string `json:"id"`
			Nodes []struct {
				Node     string `json:"node"`
				Findings []struct {
					Kind, Field, Expected, Found string
				} `json:"findings"`
			} `json:"nodes"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("--output json is not JSON: %v\n%s", err, stdout)
	}
	var failed []string
	for _, c := range doc.Checks {
		for _, n := range c.Nodes {
			for _, f := range n.Findings {
				failed = append(failed, fmt.Sprintf("%s %s %s %s %s→%s", c.ID, n.Node, f.Kind, f.Field, f.Expected, f.Found))
			}
		}
	}
	if doc.SchemaVersion != 1 || doc.Status != "failed" || len(failed) != 1 ||
		failed[0] != "routes.blocks k01-worker different gateway 192.168.209.64→192.168.209.65" {
		t.Errorf("schema %d status %s findings %q", doc.SchemaVersion, doc.Status, failed)
	}
	data, err := os.ReadFile(junit)
	if err != nil || !strings.Contains(string(data), `<testcase classname="routes.blocks" name="k01-worker"`) {
		t.Errorf("--junit-file: %v\n%s", err, data)
	}

	code, stdout, _ = run(t, "verify", "--from", dir, "--output", "junit")
	if code != exitcode.CheckFailed || !strings.HasPrefix(stdout, "<?xml") || !strings.Contains(stdout, "<failure") {
		t.Errorf("--output junit: exit %d\n%s", code, stdout)
	}
}
