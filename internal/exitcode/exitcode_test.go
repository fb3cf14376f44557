package exitcode

import (
	"errors"
	"fmt"
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
		{"plain", errors.New("netlink: permission denied"), Environment},
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
