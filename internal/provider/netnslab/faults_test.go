package netnslab

import (
	"slices"
	"testing"

	"github.com/knetlab/knetlab/verify/checkid"
)

// Every fault names a real check, and names are unique and found again.
func TestFaultTable(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range faults() {
		if seen[f.name] {
			t.Errorf("fault %s declared twice", f.name)
		}
		seen[f.name] = true
		if !slices.Contains(checkid.All, f.check) {
			t.Errorf("fault %s: check %q is not a check ID", f.name, f.check)
		}
		if f.description == "" || f.apply == nil {
			t.Errorf("fault %s: no description or no apply", f.name)
		}
		if got, ok := findFault(f.name); !ok || got.name != f.name {
			t.Errorf("findFault(%q) = %q, %v", f.name, got.name, ok)
		}
	}
	if got := New().Faults(nil); len(got) != len(faults()) || got[0].Name != "fdb-missing" || got[0].Check != "vxlan.fdb" {
		t.Errorf("Faults() = %+v, want the table in its order", got)
	}
	for _, want := range []string{"fdb-missing", "vxlan-mtu", "worker3-via-eth1", "agent-stopped", "proxy-arp-off", "rr-down", "peer-wrong-as", "block-not-exported"} {
		if !seen[want] {
			t.Errorf("fault %s missing", want)
		}
	}
	if _, ok := findFault("no-such-fault"); ok {
		t.Error("findFault found an unknown fault")
	}
}
