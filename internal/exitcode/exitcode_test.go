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
