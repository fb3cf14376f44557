package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/labs"
)

// verify on a live netns lab: the switch and topology checks judge what the provider's
// collectors read with netlink, and a port taken down fails exactly that port.
func TestVerifyLiveNetnsLab(t *testing.T) {
	testenv.RequireLab(t, "ip")
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	data, err := labs.FS.ReadFile("calico-overlay/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A name of this test run, so that it never meets a lab someone deployed on this host.
	name := fmt.Sprintf("v%d-calico-overlay", os.Getpid()%100000)
	file := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), "name: calico-overlay\n", "name: "+name+"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		run(t, "destroy", "--lab-file", file)
		out, _ := exec.Command("ip", "netns", "list").Output()
		if strings.Contains(string(out), name) {
			t.Errorf("namespaces of %s left behind:\n%s", name, out)
		}
	})
	if code, _, stderr := run(t, "deploy", "--lab-file", file); code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, stderr)
	}

	checks := "topology.nodes,switch.ports,switch.svis,switch.routes"
	steps := []struct {
		name    string
		args    []string
		code    int
		wantOut []string
	}{
		{"deployed lab passes", []string{"verify", "--lab-file", file, "--check", checks}, exitcode.OK,
			[]string{"PASS  topology.nodes", "PASS  switch.ports", "PASS  switch.svis", "PASS  switch.routes"}},
		{"with the lab's CNI deployed the cluster checks run", []string{"verify", "--lab-file", file, "--check", "routes.blocks"}, exitcode.OK,
			[]string{"PASS  routes.blocks"}},
		{"port down", []string{"exec", name, "ceos01", "--", "ip", "link", "set", "eth4", "down"}, exitcode.OK, nil},
		{"port down fails that port", []string{"verify", "--lab-file", file, "--check", checks}, exitcode.CheckFailed,
			[]string{"FAIL  switch.ports", "DIFFERENT ceos01 eth4 (status)", "the lab connects ceos01:eth4 to k01-worker3 in VLAN 20", "3 passed, 1 failed"}},
		{"port up", []string{"exec", name, "ceos01", "--", "ip", "link", "set", "eth4", "up"}, exitcode.OK, nil},
		{"passes again (waiting for the carrier)", []string{"verify", "--lab-file", file, "--check", checks, "--wait", "20s"}, exitcode.OK,
			[]string{"PASS  switch.ports"}},
	}
	for _, st := range steps {
		code, out, stderr := run(t, st.args...)
		if code != st.code {
			t.Fatalf("%s: knetlab %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", st.name, strings.Join(st.args, " "), code, st.code, out, stderr)
		}
		for _, w := range st.wantOut {
			if !strings.Contains(out, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", st.name, w, out)
			}
		}
	}
}
