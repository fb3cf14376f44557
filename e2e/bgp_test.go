package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/agent/agenttest"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/labs"
	"gopkg.in/yaml.v3"
)

// The calico-bgp lab end to end: deploy builds the nodes, the route reflector and its GoBGP, the
// agents peer with it and route every block proto bird; verify passes every declared check
// with none skipped; each fault the lab offers fails verify with its finding, and fix brings
// back a full pass; destroy leaves nothing on the host.
func TestCalicoBGPLab(t *testing.T) {
	file, name := deployBGPLab(t)
	root := os.Getenv("KNETLAB_STATE_DIR") // deployBGPLab's state directory
	must := mustExit(t)

	// The reflector is a member of its own and a process of the lab, as status shows.
	status := must(exitcode.OK, "status", name)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^gobgp\s+reflector\s+running\s+172\.18\.0\.5/16\s`),
		regexp.MustCompile(`(?m)^reflector gobgp\s+process\s+running\s`),
		// Each node's BIRD is a lab process of its own, as calico-node runs BIRD beside Felix.
		regexp.MustCompile(`(?m)^bird k8s-guide-worker2\s+process\s+running\s`),
	} {
		if !want.MatchString(status) {
			t.Errorf("status lacks %s:\n%s", want, status)
		}
	}

	passesFully(t, file)
	captureAgrees(t, file, name)

	// The chapter's `ip route` on a worker: its own block blackholed and every other node's
	// block via its owner on eth0, all proto bird; no vxlan.calico anywhere.
	routes := must(exitcode.OK, "exec", name, "k8s-guide-worker", "--", "ip", "route")
	if got := regexp.MustCompile(`(?m)^10\.244\.\d+\.0/24 via 172\.18\.0\.[24] dev eth0 proto bird\s*$`).FindAllString(routes, -1); len(got) != 2 {
		t.Errorf("k8s-guide-worker routes to the other nodes' blocks: %q\n%s", got, routes)
	}
	if !regexp.MustCompile(`(?m)^blackhole 10\.244\.\d+\.0/24 proto bird\s*$`).MatchString(routes) {
		t.Errorf("k8s-guide-worker has no blackhole for its own block, proto bird:\n%s", routes)
	}
	// The node's BGP speaker is BIRD, as on calico-node: birdcl on its control socket shows the
	// session to the reflector Established, under calico-node's protocol name.
	sock := filepath.Join(root, name, "bird", "k8s-guide-worker", "bird.ctl")
	protocols := must(exitcode.OK, "exec", name, "k8s-guide-worker", "--", "birdcl", "-s", sock, "show", "protocols")
	if !regexp.MustCompile(`(?m)^Node_172_18_0_5\s+BGP\s+---\s+up\s+\S+\s+Established\s*$`).MatchString(protocols) {
		t.Errorf("birdcl show protocols on k8s-guide-worker:\n%s", protocols)
	}
	if links := must(exitcode.OK, "exec", name, "k8s-guide-worker", "--", "ip", "link"); strings.Contains(links, "vxlan.calico") {
		t.Errorf("a BGP lab without encapsulation has a vxlan.calico:\n%s", links)
	}

	// The faults the lab offers are the BGP ones and those of any CNI lab; none of VXLAN.
	var offered []string
	for _, line := range strings.Split(strings.TrimSpace(must(exitcode.OK, "break", "--lab-file", file, name, "--list")), "\n") {
		offered = append(offered, strings.Fields(line)[0])
	}
	tests := []struct {
		fault string
		// want checks verify's findings after the fault, from what break reported.
		want func(v labVerdicts, node, entry string) error
	}{
		{"agent-stopped", func(v labVerdicts, node, _ string) error {
			return wantFinding(v, "topology.nodes", node, func(f finding) bool { return f.Field == "ready" })
		}},
		{"proxy-arp-off", func(v labVerdicts, node, entry string) error {
			return wantFinding(v, "pods.wiring", node, func(f finding) bool { return f.Entry == entry && f.Found == "0" })
		}},
		{"rr-down", func(v labVerdicts, rr, _ string) error {
			// The reflector cannot be read; every node's session to it is down, and every
			// node lacks, in its BGP table and its kernel, the other two nodes' blocks.
			if err := wantFinding(v, "bgp.peers", rr, func(f finding) bool { return f.Kind == "missing" && f.Entry == "route reflector "+rr }); err != nil {
				return err
			}
			// The reflector is a lab member: topology.nodes names it as not running.
			if err := wantFinding(v, "topology.nodes", rr, func(f finding) bool { return f.Field == "state" && strings.Contains(f.Found, "not running") }); err != nil {
				return err
			}
			for _, node := range []string{"k8s-guide-control-plane", "k8s-guide-worker", "k8s-guide-worker2"} {
				if err := wantFinding(v, "bgp.peers", node, func(f finding) bool {
					return f.Entry == "session with gobgp (172.18.0.5)" && f.Field == "state" && f.Expected == "Established" && !strings.HasPrefix(f.Found, "Established")
				}); err != nil {
					return err
				}
				for _, check := range []string{"routes.blocks", "bgp.rib"} {
					if n := countFindings(v, check, node, "missing"); n != 2 {
						return fmt.Errorf("%s on %s: %d missing blocks, want the other 2 nodes' blocks", check, node, n)
					}
				}
			}
			return nil
		}},
		{"peer-wrong-as", func(v labVerdicts, node, _ string) error {
			// The node expects AS 64497 of the reflector, which answers 64496: bad peer AS.
			if err := wantFinding(v, "bgp.peers", node, func(f finding) bool {
				return f.Entry == "session with gobgp (172.18.0.5)" && f.Field == "peer AS" && f.Expected == "64496" && f.Found == "64497"
			}); err != nil {
				return err
			}
			return wantFinding(v, "bgp.peers", node, func(f finding) bool { return f.Field == "state" && !strings.HasPrefix(f.Found, "Established") })
		}},
		{"block-not-exported", func(v labVerdicts, node, entry string) error {
			// The reflector lacks the block, and so does every other node, in BGP and kernel.
			if err := wantFinding(v, "bgp.rib", "gobgp", func(f finding) bool { return f.Kind == "missing" && f.Entry == entry }); err != nil {
				return err
			}
			for _, other := range []string{"k8s-guide-control-plane", "k8s-guide-worker"} {
				for _, check := range []string{"bgp.rib", "routes.blocks"} {
					if err := wantFinding(v, check, other, func(f finding) bool { return f.Kind == "missing" && f.Entry == entry }); err != nil {
						return err
					}
				}
			}
			if node != "k8s-guide-worker2" {
				return fmt.Errorf("block-not-exported broke %s, want the second worker", node)
			}
			return nil
		}},
	}
	var tested []string
	for _, tc := range tests {
		tested = append(tested, tc.fault)
	}
	if slices.Sort(offered); !slices.Equal(offered, sorted(tested)) {
		t.Errorf("break --list offers %v, the test covers %v", offered, tested)
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			m := breakLab(t, file, name, tc.fault)
			// BGP news travels: a session drops, a withdrawal reaches every node, a restarted
			// agent comes up. verify is run again until it shows the finding, for a while.
			var code int
			var v labVerdicts
			var err error
			for deadline := time.Now().Add(faultSettles); ; time.Sleep(250 * time.Millisecond) {
				code, v = verifyJSON(t, "--lab-file", file)
				if err = tc.want(v, m[2], m[3]); (err == nil && code == exitcode.CheckFailed) || time.Now().After(deadline) {
					break
				}
			}
			if code != exitcode.CheckFailed {
				t.Errorf("verify after %s: exit %d, want %d", tc.fault, code, exitcode.CheckFailed)
			}
			if err != nil {
				t.Errorf("verify after %s (%s on %s): %v\ngot:\n  %s", tc.fault, m[3], m[2], err, findingsText(v.findings()))
			}
			if tc.fault == "block-not-exported" {
				captureAgrees(t, file, name) // the sessions are up: a capture holds what live verify read
			}
			if tc.fault == "agent-stopped" {
				// The agent was killed; its BIRD, a process of its own as on calico-node, runs on
				// and keeps the node's sessions and routes.
				if left := agenttest.BIRDProcesses(t, filepath.Join(root, name, "bird", m[2])); len(left) != 1 {
					t.Errorf("after the agent of %s was killed, BIRD processes on its files: %q, want its one BIRD running on", m[2], left)
				}
			}
			if code, out, stderr := run(t, "fix", "--lab-file", file, name); code != exitcode.OK {
				t.Fatalf("fix after %s: exit %d\n%s%s", tc.fault, code, out, stderr)
			}
			passesFully(t, file)
		})
	}

	// A node's BIRD killed: status says so, and fix starts it again on the node's bird.conf.
	t.Run("bird-killed", func(t *testing.T) {
		dir := filepath.Join(root, name, "bird", "k8s-guide-worker")
		procs := agenttest.BIRDProcesses(t, dir)
		if len(procs) != 1 {
			t.Fatalf("BIRD processes of k8s-guide-worker: %q, want one", procs)
		}
		pid, _ := strconv.Atoi(strings.Fields(procs[0])[0])
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Wait until the kernel has it down as exited (gone, or a zombie): its cmdline empties
		// early in its exit, while it still counts as running for a few more moments.
		for deadline := time.Now().Add(5 * time.Second); !processExited(pid) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if st := must(exitcode.OK, "status", name); !regexp.MustCompile(`(?m)^bird k8s-guide-worker\s+process\s+exited\s`).MatchString(st) {
			t.Errorf("status after the BIRD of k8s-guide-worker was killed:\n%s", st)
		}
		if code, out, stderr := run(t, "fix", "--lab-file", file, name); code != exitcode.OK {
			t.Fatalf("fix after the BIRD was killed: exit %d\n%s%s", code, out, stderr)
		}
		if left := agenttest.BIRDProcesses(t, dir); len(left) != 1 {
			t.Errorf("after fix, BIRD processes of k8s-guide-worker: %q, want one", left)
		}
		passesFully(t, file)
	})
}

// deployBGPLab deploys calico-bgp under a name of its own and a state directory of its own;
// at the end it destroys it and wants nothing of it left on the host.
func deployBGPLab(t *testing.T) (file, name string) {
	t.Helper()
	testenv.RequireLab(t, "ip", "bird", "birdcl")
	root := t.TempDir()
	t.Setenv("KNETLAB_STATE_DIR", root)
	file, name = renamedLab(t, "calico-bgp")
	before := snapshotHost(t, root, name)
	t.Cleanup(func() {
		if code, _, stderr := run(t, "destroy", "--lab-file", file); code != exitcode.OK {
			t.Errorf("destroy: exit %d\n%s", code, stderr)
		}
		if leaks := snapshotHost(t, root, name).leaksSince(before); len(leaks) > 0 {
			t.Errorf("destroy of %s left: %v", name, leaks)
		}
		if left := agenttest.BIRDProcesses(t, root); len(left) > 0 {
			t.Errorf("destroy of %s left BIRD running: %q", name, left)
		}
	})
	mustExit(t)(exitcode.OK, "deploy", "--lab-file", file)
	return file, name
}

// passesFully runs verify on the lab of file and wants every check the lab declares passed,
// none skipped, bgp.peers and bgp.rib among them.
func passesFully(t *testing.T, file string) {
	t.Helper()
	code, v := verifyJSON(t, "--lab-file", file)
	if code != exitcode.OK {
		t.Fatalf("verify: exit %d:\n  %s", code, findingsText(v.findings()))
	}
	declared := declaredChecks(t)
	var got []string
	for _, c := range v.Checks {
		got = append(got, c.ID)
		if c.Status != "passed" {
			t.Errorf("verify: %s %s (%s), want passed", c.ID, c.Status, c.Reason)
		}
	}
	if !slices.Equal(sorted(got), sorted(declared)) {
		t.Errorf("verify ran %v, the lab declares %v", got, declared)
	}
	for _, id := range []string{"bgp.peers", "bgp.rib", "routes.blocks", "connectivity.pods"} {
		if !slices.Contains(got, id) {
			t.Errorf("verify did not run %s", id)
		}
	}
}

// captureAgrees captures the lab of file, the route reflector's files among the rest, and wants
// verify --from to give every check but connectivity.pods (which needs traffic) the live verdict
// and the same BGP findings.
func captureAgrees(t *testing.T, file, name string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "capture")
	if code, out, stderr := run(t, "capture", "--lab-file", file, name, "--out", dir); code != exitcode.OK {
		t.Fatalf("capture: exit %d\n%s%s", code, out, stderr)
	}
	// The nodes' BGP state as calico-node's BIRD gives it, the reflector's as GoBGP's.
	for _, f := range []string{"rr/gobgp/gobgp-neighbors.json", "rr/gobgp/gobgp-rib.json", "nodes/k8s-guide-worker/bird-protocols.txt", "nodes/k8s-guide-worker/bird-routes.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("capture has no %s: %v", f, err)
		}
	}
	_, live := verifyJSON(t, "--lab-file", file)
	_, off := verifyJSON(t, "--lab-file", file, "--from", dir)
	for _, c := range live.Checks {
		if c.ID != "connectivity.pods" && off.status(c.ID) != c.Status {
			t.Errorf("%s: live %s, from the capture %s", c.ID, c.Status, off.status(c.ID))
		}
	}
	bgp := func(v labVerdicts) []finding {
		return slices.DeleteFunc(v.findings(), func(f finding) bool { return !strings.HasPrefix(f.Check, "bgp.") })
	}
	if lf, of := bgp(live), bgp(off); !slices.Equal(lf, of) {
		t.Errorf("BGP findings differ\nlive:\n  %s\nfrom the capture:\n  %s", findingsText(lf), findingsText(of))
	}
}

// declaredChecks are the checks labs/calico-bgp/lab.yaml declares.
func declaredChecks(t *testing.T) []string {
	t.Helper()
	data, err := labs.FS.ReadFile("calico-bgp/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Checks []string `yaml:"checks"`
	}
	if err := yaml.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	return l.Checks
}

// wantFinding is nil when verify made a finding in check on node ("": any node) that ok accepts.
func wantFinding(v labVerdicts, check, node string, ok func(finding) bool) error {
	if slices.ContainsFunc(v.findings(), func(f finding) bool { return f.Check == check && (node == "" || f.Node == node) && ok(f) }) {
		return nil
	}
	where := node
	if where == "" {
		where = "any node"
	}
	return fmt.Errorf("no such %s finding on %s", check, where)
}

// countFindings counts the findings of kind in check on node.
func countFindings(v labVerdicts, check, node, kind string) int {
	n := 0
	for _, f := range v.findings() {
		if f.Check == check && f.Node == node && f.Kind == kind {
			n++
		}
	}
	return n
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// faultSettles bounds the wait for a BGP fault to show: the lab's speakers hold a session for
// 9 s without keepalives, and a stopped reflector's sessions drop at once.
const faultSettles = 15 * time.Second

// processExited reports whether process pid is gone or a zombie.
func processExited(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses, which may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] == 'Z' || b[i+2] == 'X'
}
