package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/testenv"
)

// The "done when", as a user types it, for both catalogue labs: deploy, a verify that
// passes every check the lab declares — none skipped, connectivity and encapsulation included —
// and a destroy that leaves no namespace behind.
func TestEndToEnd(t *testing.T) {
	testenv.RequireLab(t, "ip")
	for _, catalogue := range lab.Names() {
		t.Run(catalogue, func(t *testing.T) {
			t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
			file, name := renamedLab(t, catalogue)
			l, err := lab.LoadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			destroyed := false
			t.Cleanup(func() {
				if !destroyed {
					run(t, "destroy", "--lab-file", file)
				}
			})
			if code, _, stderr := run(t, "deploy", "--lab-file", file); code != exitcode.OK {
				t.Fatalf("deploy: exit %d\n%s", code, stderr)
			}

			code, v := verifyJSON(t, "--lab-file", file)
			if code != exitcode.OK {
				t.Errorf("verify: exit %d: %s", code, findingsText(v.findings()))
			}
			if len(v.Checks) != len(l.Checks) {
				t.Errorf("verify ran %d checks, the lab declares %d", len(v.Checks), len(l.Checks))
			}
			for _, c := range v.Checks {
				if c.Status != "passed" {
					t.Errorf("%s: %s (%s)", c.ID, c.Status, c.Reason)
				}
				if len(c.Nodes) == 0 {
					t.Errorf("%s judged no node", c.ID)
				}
			}

			code, _, stderr := run(t, "destroy", "--lab-file", file)
			destroyed = true
			if code != exitcode.OK {
				t.Fatalf("destroy: exit %d\n%s", code, stderr)
			}
			out, err := exec.Command("ip", "netns", "list").Output()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), name) {
				t.Errorf("namespaces of %s left behind:\n%s", name, out)
			}
			if code, _, stderr := run(t, "destroy", "--lab-file", file); code != exitcode.OK || !strings.Contains(stderr, "nothing to remove") {
				t.Errorf("second destroy: exit %d\n%s", code, stderr)
			}
		})
	}
}
