package fault

import (
	"slices"
	"testing"

	"github.com/knetlab/knetlab/verify/checkid"
)

// Every fault names a real check, and names are unique and found again.
func TestFaultTable(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range All() {
		if seen[f.Name] {
			t.Errorf("fault %s declared twice", f.Name)
		}
		seen[f.Name] = true
		if !slices.Contains(checkid.All, f.Check) {
			t.Errorf("fault %s: check %q is not a check ID", f.Name, f.Check)
		}
		if f.Description == "" || f.apply == nil {
			t.Errorf("fault %s: no description or no apply", f.Name)
		}
		if got, ok := Find(f.Name); !ok || got.Name != f.Name {
			t.Errorf("Find(%q) = %q, %v", f.Name, got.Name, ok)
		}
	}
	for _, want := range []string{"fdb-missing", "vxlan-mtu", "worker3-via-eth1", "agent-stopped", "proxy-arp-off"} {
		if !seen[want] {
			t.Errorf("fault %s missing", want)
		}
	}
	if _, ok := Find("no-such-fault"); ok {
		t.Error("Find found an unknown fault")
	}
}
