package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
)

// Faults outside the break table that a lab must heal by itself or with deploy and fix
// (issue 12, "faults that deploy and fix cannot heal").
func TestSelfRepair(t *testing.T) {
	file, name := deployCNILab(t)
	const node = "k01-worker"
	nodeNS := netnslab.NamespaceName(name, node)
	mustPass := func(t *testing.T, after string) {
		t.Helper()
		if code, v := verifyJSON(t, "--lab-file", file, "--wait", "20s"); code != exitcode.OK {
			t.Fatalf("verify after %s: exit %d:\n  %s", after, code, findingsText(v.findings()))
		}
	}
	mustPass(t, "deploy")

	// The agent restores a deleted pod route from the datastore, as Felix does.
	t.Run("pod-route-deleted", func(t *testing.T) {
		out, err := exec.Command("ip", "-n", nodeNS, "-4", "route", "show", "proto", "boot").Output()
		var dst, dev string
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[1] == "dev" && strings.HasPrefix(f[2], "cali") {
				dst, dev = f[0], f[2]
				break
			}
		}
		if err != nil || dst == "" {
			t.Fatalf("no pod route on %s (%v):\n%s", node, err, out)
		}
		if out, err := exec.Command("ip", "-n", nodeNS, "route", "del", dst, "dev", dev).CombinedOutput(); err != nil {
			t.Fatalf("delete pod route %s dev %s: %v\n%s", dst, dev, err, out)
		}
		start := time.Now()
		for {
			out, _ := exec.Command("ip", "-n", nodeNS, "-4", "route", "show", dst, "dev", dev, "proto", "boot").Output()
			if strings.TrimSpace(string(out)) != "" {
				t.Logf("pod route %s dev %s restored after %v", dst, dev, time.Since(start).Round(time.Millisecond))
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("pod route %s dev %s not restored within 5 s", dst, dev)
			}
			time.Sleep(20 * time.Millisecond)
		}
		mustPass(t, "the pod route came back")
	})

	// A node namespace deleted by hand (or replaced by an empty one of the same name): deploy
	// (and fix) stop the agent left in the orphaned namespace and rebuild the node and its pods.
	for _, tc := range []struct{ command, fault string }{{"deploy", "deleted"}, {"fix", "deleted"}, {"deploy", "replaced"}} {
		command := tc.command
		t.Run("node-namespace-"+tc.fault+"-then-"+command, func(t *testing.T) {
			if out, err := exec.Command("ip", "netns", "del", nodeNS).CombinedOutput(); err != nil {
				t.Fatalf("ip netns del %s: %v\n%s", nodeNS, err, out)
			}
			if tc.fault == "replaced" {
				if out, err := exec.Command("ip", "netns", "add", nodeNS).CombinedOutput(); err != nil {
					t.Fatalf("ip netns add %s: %v\n%s", nodeNS, err, out)
				}
			}
			args := []string{command, "--lab-file", file}
			if command == "fix" {
				args = append(args, name)
			}
			start := time.Now()
			code, out, stderr := run(t, args...)
			if code != exitcode.OK {
				t.Fatalf("%s after ip netns del %s: exit %d after %v\n%s%s", command, nodeNS, code, time.Since(start).Round(time.Millisecond), out, stderr)
			}
			t.Logf("%s repaired in %v:\n%s", command, time.Since(start).Round(time.Millisecond), out+stderr)
			if wantSaid := "its namespace " + nodeNS + " was " + tc.fault; command == "deploy" && !strings.Contains(out+stderr, wantSaid) {
				t.Errorf("deploy does not say %q:\n%s%s", wantSaid, out, stderr)
			}
			mustPass(t, command)
		})
	}
}
