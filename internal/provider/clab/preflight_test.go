package clab

import (
	"context"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// TestPreflightNeedsRootOrClabAdmins: containerlab runs only for root or, installed setuid, for
// members of its clab_admins group; preflight says so before anything is created.
func TestPreflightNeedsRootOrClabAdmins(t *testing.T) {
	tests := []struct {
		name   string
		euid   int
		groups []string
		want   []string // substrings of the error; none means preflight passes
	}{
		{name: "root", euid: 0},
		{name: "a clab_admins member", euid: 1000, groups: []string{"student", "docker", "clab_admins"}},
		{name: "neither", euid: 1000, groups: []string{"student", "docker"},
			want: []string{"running as student (uid 1000), not root and not in containerlab's clab_admins group",
				"sudo knetlab", "sudo usermod -aG clab_admins student"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeHost(t, &fakeDocker{}, &fakeKind{}, []string{"docker", "containerlab"}, goodProcSys(),
				map[string]string{"containerlab version": clabVersionOutput})
			h.euid = func() int { return tt.euid }
			h.userGroups = func() (string, []string, error) { return "student", tt.groups, nil }
			_, err := h.preflight(context.Background(), mustLab(t, "pod-network"), CNICalico, testSource, false)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantEnvironmentError(t, err, tt.want...)
		})
	}
}

// wantEnvironmentError fails unless err is exit 3 and says every one of want.
func wantEnvironmentError(t *testing.T, err error, want ...string) {
	t.Helper()
	if exitcode.Code(err) != exitcode.Environment {
		t.Fatalf("exit %d (%v), want %d", exitcode.Code(err), err, exitcode.Environment)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
