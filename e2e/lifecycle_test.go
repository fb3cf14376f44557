package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/labs"
)

// renamedLab writes a catalogue lab under a name of this test run, so the in-process CLI's
// namespaces never meet a lab someone deployed on the same host.
func renamedLab(t testing.TB, catalogue string) (file, name string) {
	t.Helper()
	data, err := labs.FS.ReadFile(catalogue + "/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	name = fmt.Sprintf("c%d-%s", os.Getpid()%100000, catalogue)
	data = []byte(strings.Replace(string(data), "name: "+catalogue+"\n", "name: "+name+"\n", 1))
	file = filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return file, name
}

// The lifecycle as a person types it: deploy, status, exec, a second deploy, destroy twice.
func TestLifecycleCommands(t *testing.T) {
	testenv.RequireLab(t, "ping")
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	file, name := renamedLab(t, "calico-overlay")
	t.Cleanup(func() { run(t, "destroy", "--lab-file", file) })

	steps := []struct {
		args     []string
		code     int
		out, err string // substrings of stdout and stderr
		alsoOut  string // a second substring of stdout
		notInOut string
	}{
		// A dry run prints its plan on stdout, and the plan says nothing was changed.
		{args: []string{"deploy", "--lab-file", file, "--dry-run"}, out: "namespace knl." + name + ".ceos01 (switch ceos01)", alsoOut: "nothing was changed (--dry-run)"},
		{args: []string{"status", name}, out: "lab " + name + " is not deployed"},
		{args: []string{"deploy", "--lab-file", file}, out: "lab " + name + " is up", err: "switch VLANs:"},
		{args: []string{"deploy", "--lab-file", file}, err: "nothing to change"},
		{args: []string{"status"}, out: "k01-worker3"},
		{args: []string{"status", name}, out: "10.10.20.20/24"},
		{args: []string{"exec", name, "k01-worker", "--", "ping", "-c1", "-W2", "10.10.20.20"}, out: "1 received"},
		{args: []string{"exec", name, "ceos01", "--", "sh", "-c", "exit 5"}, code: 5, notInOut: "error"},
		{args: []string{"exec", name, "k01-worker", "ping"}, code: exitcode.Usage, err: "knetlab exec <lab> <node> -- CMD"},
		{args: []string{"exec", name, "nobody", "--", "true"}, code: exitcode.Usage, err: "has no node"},
		{args: []string{"deploy", "--lab-file", file, "--cni", "calico"}, code: exitcode.Usage, err: "--provider clab"},
		{args: []string{"deploy", "--lab-file", file, "--provider", "nope"}, code: exitcode.Usage, err: "unknown provider"},
		{args: []string{"destroy"}, code: exitcode.Usage, err: "which lab?"},
		{args: []string{"destroy", name, "--all"}, code: exitcode.Usage, err: "not both"},
		{args: []string{"destroy", "--all", "--dry-run"}, out: "remove namespace knl." + name + ".k01-worker", alsoOut: "nothing was changed (--dry-run)"},
		{args: []string{"destroy", "--lab-file", file}, err: "destroyed"},
		{args: []string{"destroy", "--lab-file", file}, err: "nothing to remove"},
		{args: []string{"status"}, out: "no labs deployed"},
	}
	for _, st := range steps {
		code, out, errOut := run(t, st.args...)
		if code != st.code {
			t.Fatalf("knetlab %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(st.args, " "), code, st.code, out, errOut)
		}
		if !strings.Contains(out, st.out) || !strings.Contains(out, st.alsoOut) || !strings.Contains(errOut, st.err) {
			t.Errorf("knetlab %s:\nstdout %q (want %q and %q)\nstderr %q (want %q)", strings.Join(st.args, " "), out, st.out, st.alsoOut, errOut, st.err)
		}
		if st.notInOut != "" && strings.Contains(errOut, st.notInOut) {
			t.Errorf("knetlab %s: stderr has %q: %s", strings.Join(st.args, " "), st.notInOut, errOut)
		}
	}
}
