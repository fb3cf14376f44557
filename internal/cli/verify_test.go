package cli

import (
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
)

func TestVerifyUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{"nothing to verify", []string{"verify"}, exitcode.Usage, []string{"--from DIR", "calico-overlay"}},
		{"unknown check", []string{"verify", "--from", "x", "--check", "routes.blocks,routes.bogus"}, exitcode.Usage,
			[]string{"unknown check routes.bogus", "valid checks: topology.nodes", "nat.outgoing"}},
		{"unknown output", []string{"verify", "--from", "x", "--output", "yaml"}, exitcode.Usage, []string{`unknown --output "yaml"`, "text, json, junit"}},
		{"unknown lab", []string{"verify", "no-such-lab"}, exitcode.Usage, []string{`no lab "no-such-lab"`}},
		{"unknown provider", []string{"verify", "calico-overlay", "--provider", "bogus"}, exitcode.Usage, []string{`unknown provider "bogus"`}},
		{"bad wait", []string{"verify", "--from", "x", "--wait", "soon"}, exitcode.Usage, []string{"--wait"}},
		{"two labs", []string{"verify", "a", "b"}, exitcode.Usage, []string{"accepts at most 1 arg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			if stdout != "" {
				t.Errorf("a usage error printed a report: %q", stdout)
			}
		})
	}
}
