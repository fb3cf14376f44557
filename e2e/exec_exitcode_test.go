package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/testenv"
)

// exec on a netns lab answers a command that cannot run as a shell does: 127 when it is not
// found, 126 when it is found but cannot be executed, with the reason on stderr and no
// "error:" line of knetlab's own (issue 12: both were exit 3, "environment").
func TestExecCommandNotRunnableExitsLikeAShell(t *testing.T) {
	testenv.RequireLab(t)
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	file, name := renamedLab(t, "pod-network")
	t.Cleanup(func() { run(t, "destroy", "--lab-file", file) })
	if code, _, stderr := run(t, "deploy", "--lab-file", file); code != 0 {
		t.Fatalf("deploy: exit %d: %s", code, stderr)
	}
	notExecutable := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd  string
		code int
		why  string
	}{
		{"/nonexistent", 127, "command not found"},
		{"knetlab-no-such-command", 127, "command not found"},
		{notExecutable, 126, "cannot execute: permission denied"},
		{t.TempDir(), 126, "cannot execute"},
	} {
		code, stdout, stderr := run(t, "exec", name, "pod-network-worker", "--", tc.cmd)
		if code != tc.code {
			t.Errorf("exec -- %s: exit %d, want %d (stderr %q)", tc.cmd, code, tc.code, stderr)
		}
		if want := "knetlab exec: " + tc.cmd + ": " + tc.why; !strings.Contains(stderr, want) {
			t.Errorf("exec -- %s: stderr %q, want %q", tc.cmd, stderr, want)
		}
		if strings.Contains(stderr, "error:") || stdout != "" {
			t.Errorf("exec -- %s: stdout %q, stderr %q; want the shell's one line only", tc.cmd, stdout, stderr)
		}
	}
}
