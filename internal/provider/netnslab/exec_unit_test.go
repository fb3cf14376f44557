package netnslab

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A command that does not start gets a shell's exit code: 127 not found, 126 not executable.
// The starts here run no program, and in no namespace: each fails before anything runs.
func TestCannotRunMapsStartFailuresLikeAShell(t *testing.T) {
	script := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		code int
	}{
		{"/nonexistent", codeNotFound},
		{"knetlab-no-such-command", codeNotFound},
		{script, codeNotExecutable},
		{t.TempDir(), codeNotExecutable},
	} {
		err := exec.Command(tc.name).Start()
		if err == nil {
			t.Fatalf("%s started", tc.name)
		}
		if code, why := cannotRun(err); code != tc.code || why == "" {
			t.Errorf("%s (%v): code %d %q, want %d", tc.name, err, code, why, tc.code)
		}
	}
}
