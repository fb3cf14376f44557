package exitcode

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"usage", Usagef("bad flag"), Usage},
		{"wrapped usage", fmt.Errorf("render: %w", Usagef("bad lab")), Usage},
		{"environment", NewEnvironment(errors.New("not root"), "sudo"), Environment},
		{"check", &CheckError{Failed: 2}, CheckFailed},
		{"wrapped check", fmt.Errorf("verify: %w", &CheckError{Failed: 1}), CheckFailed},
		// An operation the system refused or that did not finish is the environment's doing
		// (a netlink call, a file write, a dial, a deadline).
		{"errno", fmt.Errorf("add route: %w", syscall.EPERM), Environment},
		{"path", fmt.Errorf("write state: %w", &fs.PathError{Op: "open", Path: "/run/x", Err: syscall.ENOSPC}), Environment},
		{"exec", fmt.Errorf("start: %w", exec.ErrNotFound), Environment},
		{"dial", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, Environment},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), Environment},
		{"interrupted", fmt.Errorf("deploy: %w", context.Canceled), Environment},
		// Anything else is knetlab's own bug: not exit 3, which sends the user to fix their machine.
		{"plain", errors.New("index 7 out of range"), Internal},
		{"wrapped plain", fmt.Errorf("plan: %w", errors.New("no step")), Internal},
		{"explicit internal", fmt.Errorf("plan: %w", Internalf("step %d has no action", 3)), Internal},
		// A command knetlab ran for the user (exec) passes its own code through, whatever it
		// is, including codes that mean something else to knetlab.
		{"command", &CommandError{Command: "ping", Code: 5}, 5},
		{"wrapped command", fmt.Errorf("exec in k01-worker: %w", &CommandError{Command: "sh", Code: 42}), 42},
		{"command failing with 1", &CommandError{Command: "false", Code: 1}, 1},
		{"command failing with 2", &CommandError{Command: "grep", Code: 2}, 2},
		{"command not found", &CommandError{Command: "nope", Code: 127}, 127},
	}
	for _, tt := range tests {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("%s: Code(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestEnvironmentErrorNamesFix(t *testing.T) {
	err := NewEnvironment(errors.New("docker daemon not reachable"), "install Docker")
	if got := err.Error(); got != "docker daemon not reachable\n  fix: install Docker" {
		t.Fatalf("Error() = %q", got)
	}
}

// The internal error asks for a report and carries the chain: every message and its type.
func TestInternalErrorAsksForAReport(t *testing.T) {
	err := fmt.Errorf("render plan: %w", fmt.Errorf("step 3: %w", errors.New("index 7 out of range")))
	got := Describe(err)
	for _, want := range []string{"internal error", "a knetlab bug", "please report", "render plan: step 3: index 7 out of range",
		"*fmt.wrapError", "*errors.errorString"} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe() = %q, want %q in it", got, want)
		}
	}
	if got := Describe(Usagef("bad flag")); got != "bad flag" {
		t.Errorf("Describe(usage) = %q, want the message alone", got)
	}
}

// A failure of a tool knetlab drives is the environment's; one with a kind keeps it.
func TestFromOutside(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{errors.New("kind: cluster k01 not found"), Environment},
		{Usagef("bad lab"), Usage},
		{&CheckError{Failed: 1}, CheckFailed},
		{Internalf("plan step without Run"), Internal},
	} {
		if got := Code(FromOutside(tc.err, "check docker")); got != tc.want {
			t.Errorf("FromOutside(%v): exit %d, want %d", tc.err, got, tc.want)
		}
	}
	if FromOutside(nil, "x") != nil {
		t.Error("FromOutside(nil) is not nil")
	}
}
