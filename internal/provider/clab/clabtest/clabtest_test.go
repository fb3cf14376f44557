package clabtest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoubleRefusesWhatContainerlabRefuses: unknown flags and commands, a -t file that does not
// exist, and an inspect without a lab are errors, as in the real CLI.
func TestDoubleRefusesWhatContainerlabRefuses(t *testing.T) {
	c := Install(t, "0.68.0")
	missing := filepath.Join(t.TempDir(), "none.clab.yaml")
	for _, args := range [][]string{
		{"deploy", "-t", missing},
		{"destroy", "--cleanup"},
		{"deploy", "--cleanup"}, // --cleanup belongs to destroy
		{"inspect", "--format", "json"},
		{"inspect", "--all", "--format", "yaml"},
		{"frobnicate"},
	} {
		out, err := exec.Command("containerlab", args...).CombinedOutput()
		if err == nil || !strings.HasPrefix(string(out), "Error: ") {
			t.Errorf("containerlab %s: %v, %q; want cobra's Error: and exit 1", strings.Join(args, " "), err, out)
		}
	}
	out, err := exec.Command("containerlab", "version").Output()
	if err != nil || !strings.Contains(string(out), "    version: 0.68.0\n") || !strings.Contains(string(out), "rn/0.68/\n") {
		t.Errorf("version: %v\n%s", err, out)
	}
	if n := len(c.Calls(t)); n != 7 {
		t.Errorf("recorded %d calls, want 7", n)
	}
}
