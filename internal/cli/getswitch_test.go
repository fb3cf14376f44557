package cli

import (
	"strings"
	"testing"
)

// Bad input to get and switch is exit 2, naming what is accepted, before any lab is read.
func TestGetAndSwitchRefuseBadInput(t *testing.T) {
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "calico-overlay", "ipaddresses"}, "ippools, blockaffinities, ipamblocks, nodes, pods"},
		{[]string{"get", "calico-overlay", "ippools", "-o", "table"}, "wide, yaml or json"},
		{[]string{"get", "calico-overlay"}, "2 arg"},
		{[]string{"switch", "calico-overlay", "show", "running-config"}, "show vlan, show interfaces status"},
		{[]string{"switch", "pod-network", "show", "vlan"}, "has no switch"},
		{[]string{"get", "no-such-lab", "ippools"}, "no-such-lab"},
	} {
		code, _, stderr := run(t, tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, want 2 with %q\n%s", strings.Join(tt.args, " "), code, tt.want, stderr)
		}
	}
}
