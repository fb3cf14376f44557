package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/testenv"
)

// labVerdicts is the part of the JSON report the break/fix tests judge.
type labVerdicts struct {
	Checks []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Reason string `json:"reason"`
		Nodes  []struct {
			Node     string `json:"node"`
			Findings []struct {
				Kind     string `json:"kind"`
				Entry    string `json:"entry"`
				Field    string `json:"field"`
				Expected string `json:"expected"`
				Found    string `json:"found"`
			} `json:"findings"`
		} `json:"nodes"`
	} `json:"checks"`
}

// finding is one finding flattened with its check and node.
type finding struct {
	Check, Node, Kind, Entry, Field, Expected, Found string
}

func (v labVerdicts) status(id string) string {
	for _, c := range v.Checks {
		if c.ID == id {
			return c.Status
		}
	}
	return ""
}

func (v labVerdicts) findings() []finding {
	var out []finding
	for _, c := range v.Checks {
		for _, n := range c.Nodes {
			for _, f := range n.Findings {
				out = append(out, finding{c.ID, n.Node, f.Kind, f.Entry, f.Field, f.Expected, f.Found})
			}
		}
	}
	return out
}

// verifyJSON runs verify with args and returns its exit code and parsed report.
func verifyJSON(t *testing.T, args ...string) (int, labVerdicts) {
	t.Helper()
	code, out, stderr := run(t, append([]string{"verify", "--output", "json"}, args...)...)
	var v labVerdicts
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("verify %s: exit %d, no JSON report (%v)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, err, out, stderr)
	}
	return code, v
}

// deployCNILab deploys calico-overlay (datastore, agents, test pods) under a name of this
// test run, and destroys it at the end, checking that no namespace is left.
func deployCNILab(t *testing.T) (file, name string) {
	t.Helper()
	testenv.RequireLab(t, "ip")
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	file, name = renamedLab(t, "calico-overlay")
	destroyAtEnd(t, file, name)
	if code, _, stderr := run(t, "deploy", "--lab-file", file); code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, stderr)
	}
	return file, name
}

// destroyAtEnd destroys the lab of file when the test ends, and checks that no namespace of it
// is left.
func destroyAtEnd(t *testing.T, file, name string) {
	t.Cleanup(func() {
		if code, _, stderr := run(t, "destroy", "--lab-file", file); code != 0 {
			t.Errorf("destroy: exit %d\n%s", code, stderr)
		}
		out, _ := exec.Command("ip", "netns", "list").Output()
		if strings.Contains(string(out), name) {
			t.Errorf("namespaces of %s left behind:\n%s", name, out)
		}
	})
}

// appliedRE is what break --explain prints: "<fault> on <node>: <entry>".
var appliedRE = regexp.MustCompile(`(?m)^(\S+) on (\S+): (.+)$`)

// Every fault makes verify exit 1 with a finding that names the node, the entry the fault
// changed, what was expected and what was found; fix restores a lab that passes every check,
// connectivity included.
func TestBreakFix(t *testing.T) {
	file, name := deployCNILab(t)
	if code, v := verifyJSON(t, "--lab-file", file); code != exitcode.OK {
		t.Fatalf("the deployed lab does not pass verify (exit %d): %+v", code, v.findings())
	}

	// want says, from what break reported (node, entry), which finding verify must make.
	tests := []struct {
		fault string
		want  func(node, entry string) finding
	}{
		{"fdb-missing", func(node, entry string) finding {
			mac := strings.Fields(entry)[0]
			return finding{Check: "vxlan.fdb", Node: node, Kind: "missing", Entry: mac,
				Expected: mac + " dev vxlan.calico dst 10.10.20.20 self permanent"}
		}},
		{"vxlan-mtu", func(node, _ string) finding {
			return finding{Check: "vxlan.device", Node: node, Kind: "different", Entry: "vxlan.calico", Field: "mtu", Expected: "1450", Found: "1400"}
		}},
		{"worker3-via-eth1", func(node, entry string) finding {
			return finding{Check: "routes.blocks", Node: node, Kind: "different", Entry: strings.Fields(entry)[0], Field: "dev", Expected: "vxlan.calico", Found: "eth1"}
		}},
		{"agent-stopped", func(node, entry string) finding {
			pid := strings.TrimPrefix(entry, "agent pid ")
			return finding{Check: "topology.nodes", Node: node, Kind: "failed", Entry: node, Field: "ready", Expected: "Ready",
				Found: fmt.Sprintf("agent not running (pid %s); knetlab fix %s restarts it", pid, name)}
		}},
		{"proxy-arp-off", func(node, entry string) finding {
			return finding{Check: "pods.wiring", Node: node, Kind: "different", Entry: entry, Field: "value", Expected: "1", Found: "0"}
		}},
	}
	overlay, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	// Every fault calico-overlay offers is tested here (the BGP faults in TestCalicoBGPLab).
	if declared := netnslab.New().Faults(overlay); len(tests) != len(declared) {
		t.Errorf("%d faults tested, %d offered by calico-overlay", len(tests), len(declared))
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			// --explain (in breakLab): the test needs the node and entry to know which finding
			// to demand; without it break no longer names them (the student finds them, issue 16).
			m := breakLab(t, file, name, tc.fault)
			want := tc.want(m[2], m[3])
			// status tells the truth (issue 16): the fault is listed, and the node's agent is
			// paused (SIGSTOP) or, after agent-stopped, exited; the lab is degraded.
			agent := "paused"
			if tc.fault == "agent-stopped" {
				agent = "exited"
			}
			checkStatus(t, name, "degraded", fmt.Sprintf("faults: %s on %s", tc.fault, m[2]), m[2], agent)

			code, v := verifyJSON(t, "--lab-file", file)
			if code != exitcode.CheckFailed {
				t.Errorf("verify after %s: exit %d, want %d", tc.fault, code, exitcode.CheckFailed)
			}
			got := v.findings()
			if !slices.Contains(got, want) {
				t.Errorf("verify after %s lacks the finding\n  %+v\ngot:\n  %s", tc.fault, want, findingsText(got))
			}

			if code, out, stderr := run(t, "fix", "--lab-file", file, name); code != exitcode.OK {
				t.Fatalf("fix after %s: exit %d\n%s%s", tc.fault, code, out, stderr)
			}
			if code, v := verifyJSON(t, "--lab-file", file); code != exitcode.OK {
				t.Fatalf("verify after fix of %s: exit %d:\n  %s", tc.fault, code, findingsText(v.findings()))
			}
			checkStatus(t, name, "running", "", m[2], "running")
		})
	}
}

// The exercise mode (issue 16): break without --explain names no node, entry or check;
// --random --quiet prints nothing and status does not name the fault; hint reveals the failing
// check, then the node, then the table, one a call, and they agree with what verify finds;
// fix clears the fault and its hints.
func TestExerciseMode(t *testing.T) {
	file, name := deployCNILab(t)

	code, out, stderr := run(t, "break", "--lab-file", file, name, "vxlan-mtu")
	if code != exitcode.OK || appliedRE.MatchString(out) || strings.Contains(out, "k01-worker") || strings.Contains(out, "vxlan.device") {
		t.Errorf("break without --explain: exit %d, it hands over the answer:\n%s%s", code, out, stderr)
	}
	if code, out, stderr := run(t, "fix", "--lab-file", file, name); code != exitcode.OK {
		t.Fatalf("fix: exit %d\n%s%s", code, out, stderr)
	}

	code, out, stderr = run(t, "break", "--lab-file", file, name, "--random", "--quiet")
	if code != exitcode.OK || out != "" {
		t.Fatalf("break --random --quiet: exit %d, stdout %q\n%s", code, out, stderr)
	}
	_, status, _ := run(t, "status", name)
	for _, ft := range netnslab.New().Faults(nil) {
		if strings.Contains(status, ft.Name) {
			t.Errorf("status names the exercise's fault %s:\n%s", ft.Name, status)
		}
	}
	if !strings.Contains(status, "unnamed fault") {
		t.Errorf("status does not say a fault is applied:\n%s", status)
	}
	_, v := verifyJSON(t, "--lab-file", file)
	var hints []string
	for i := 0; i < 4; i++ {
		code, out, stderr := run(t, "hint", "--lab-file", file, name)
		if code != exitcode.OK {
			t.Fatalf("hint %d: exit %d\n%s%s", i+1, code, out, stderr)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != i+1 {
			t.Errorf("hint call %d printed %d steps:\n%s", i+1, len(lines), out)
		}
		hints = append(hints, lines[len(lines)-1])
	}
	check := regexp.MustCompile(`fails check (\S+)`).FindStringSubmatch(hints[0])
	node := regexp.MustCompile(`look at node (\S+)`).FindStringSubmatch(hints[1])
	if check == nil || node == nil {
		t.Fatalf("hints 1 and 2 name no check and node:\n%s", strings.Join(hints, "\n"))
	}
	if !slices.ContainsFunc(v.findings(), func(f finding) bool { return f.Check == check[1] && f.Node == node[1] }) {
		t.Errorf("hints say %s on %s; verify found:\n  %s", check[1], node[1], findingsText(v.findings()))
	}
	if !strings.Contains(hints[3], "knetlab fix "+name) {
		t.Errorf("the last hint does not send to fix: %s", hints[3])
	}
	if code, out, stderr := run(t, "fix", "--lab-file", file, name); code != exitcode.OK {
		t.Fatalf("fix: exit %d\n%s%s", code, out, stderr)
	}
	if _, out, _ := run(t, "hint", "--lab-file", file, name); !strings.Contains(out, "no fault is applied") {
		t.Errorf("hint after fix: %s", out)
	}
}

// breakLab applies fault to the lab of file and returns what break printed: the whole line,
// the fault, the node and the entry it changed.
func breakLab(t *testing.T, file, name, fault string) []string {
	t.Helper()
	code, out, stderr := run(t, "break", "--lab-file", file, name, fault, "--explain")
	if code != exitcode.OK {
		t.Fatalf("break: exit %d\n%s%s", code, out, stderr)
	}
	m := appliedRE.FindStringSubmatch(out)
	if m == nil || m[1] != fault {
		t.Fatalf("break printed no %q line:\n%s", "<fault> on <node>: <entry>", out)
	}
	return m
}

// checkStatus runs status on lab name and wants the lab state, a line faults (none at all
// when ""), and node's agent in state agent.
func checkStatus(t *testing.T, name, state, faults, node, agent string) {
	t.Helper()
	code, out, stderr := run(t, "status", name)
	if code != exitcode.OK {
		t.Fatalf("status: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, name+" (netns): "+state+"\n") {
		t.Errorf("status: lab state is not %s:\n%s", state, out)
	}
	if faults == "" && strings.Contains(out, "faults:") || faults != "" && !strings.Contains(out, faults+"\n") {
		t.Errorf("status: want faults line %q:\n%s", faults, out)
	}
	row := regexp.MustCompile(`(?m)^agent ` + regexp.QuoteMeta(node) + `\s+process\s+` + agent + `\s`)
	if !row.MatchString(out) {
		t.Errorf("status: the agent of %s is not %s:\n%s", node, agent, out)
	}
}

func findingsText(fs []finding) string {
	var lines []string
	for _, f := range fs {
		lines = append(lines, fmt.Sprintf("%+v", f))
	}
	return strings.Join(lines, "\n  ")
}

// capture + verify --from gives the live verdicts of every check that sends no traffic
// (connectivity.* are skipped offline by design): on a healthy lab, and on one broken on a node
// (a fault) and on the switch (a port description changed in the switch namespace), so that
// failing node, switch and NAT verdicts are compared as well as passing ones.
func TestCaptureAgreesWithLiveVerify(t *testing.T) {
	file, name := deployCNILab(t)
	for _, broken := range []string{"", "worker3-via-eth1"} {
		if broken != "" {
			if code, out, stderr := run(t, "break", "--lab-file", file, name, broken); code != exitcode.OK {
				t.Fatalf("break: exit %d\n%s%s", code, out, stderr)
			}
			relabelSwitchPort(t, name, "eth4", "spare port")
		}
		dir := filepath.Join(t.TempDir(), "capture")
		if code, out, stderr := run(t, "capture", "--lab-file", file, name, "--out", dir); code != exitcode.OK {
			t.Fatalf("capture: exit %d\n%s%s", code, out, stderr)
		}
		for _, f := range []string{"switch/ceos01/show-vlan.json", "nodes/k01-worker/nat.txt"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("capture has no %s: %v", f, err)
			}
		}
		_, live := verifyJSON(t, "--lab-file", file)
		_, off := verifyJSON(t, "--lab-file", file, "--from", dir)
		for _, c := range live.Checks {
			offline := off.status(c.ID)
			switch {
			case strings.HasPrefix(c.ID, "connectivity."):
				if offline != "skipped" {
					t.Errorf("%s offline: %s, want skipped (a capture cannot send traffic)", c.ID, offline)
				}
			case offline != c.Status:
				t.Errorf("fault %q: %s live %s, offline %s", broken, c.ID, c.Status, offline)
			}
			if c.Status == "skipped" && !strings.HasPrefix(c.ID, "connectivity.") {
				t.Errorf("fault %q: %s skipped live (%s): the lab should give it every input", broken, c.ID, c.Reason)
			}
		}
		// The capture records readiness as a Ready condition, so the same failure reads
		// differently offline ("Ready condition False" for "agent paused (pid N)").
		comparable := func(fs []finding) []finding {
			fs = slices.DeleteFunc(fs, func(f finding) bool { return strings.HasPrefix(f.Check, "connectivity.") })
			for i := range fs {
				if fs[i].Check == "topology.nodes" {
					fs[i].Found = ""
				}
			}
			return fs
		}
		lf, of := comparable(live.findings()), comparable(off.findings())
		if !slices.Equal(lf, of) {
			t.Errorf("fault %q: findings differ\nlive:\n  %s\noffline:\n  %s", broken, findingsText(lf), findingsText(of))
		}
		if broken != "" {
			for _, check := range []string{"routes.blocks", "switch.ports"} {
				if !slices.ContainsFunc(lf, func(f finding) bool { return f.Check == check }) {
					t.Errorf("fault %q: live verify found nothing in %s", broken, check)
				}
			}
		}
	}
	if code, out, stderr := run(t, "fix", "--lab-file", file, name); code != exitcode.OK {
		t.Fatalf("fix: exit %d\n%s%s", code, out, stderr)
	}
}

// relabelSwitchPort sets the description (interface alias) of a port of the lab's netns switch,
// which switch.ports reads, and puts the old one back when the test ends.
func relabelSwitchPort(t *testing.T, labName, port, description string) {
	t.Helper()
	ns := netnslab.NamespaceName(labName, "ceos01")
	out, err := exec.Command("ip", "-n", ns, "-j", "link", "show", "dev", port).Output()
	if err != nil {
		t.Fatalf("ip -n %s link show dev %s: %v", ns, port, err)
	}
	var links []struct {
		IfAlias string `json:"ifalias"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j link show dev %s in %s: %v\n%s", port, ns, err, out)
	}
	setAlias := func(alias string) error {
		if out, err := exec.Command("ip", "-n", ns, "link", "set", "dev", port, "alias", alias).CombinedOutput(); err != nil {
			return fmt.Errorf("set alias of %s in %s: %v: %s", port, ns, err, out)
		}
		return nil
	}
	if err := setAlias(description); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := setAlias(links[0].IfAlias); err != nil {
			t.Error(err)
		}
	})
}
