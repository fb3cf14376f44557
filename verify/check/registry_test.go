package check

import (
	"testing"

	"github.com/knetlab/knetlab/verify/checkid"
)

// The registry is the one place checks are declared: it must hold every stable ID, once,
// in report order, each with an implementation.
func TestRegistryMatchesCheckIDs(t *testing.T) {
	all := All()
	if len(all) != len(checkid.All) {
		t.Fatalf("%d checks registered, %d check IDs", len(all), len(checkid.All))
	}
	for i, c := range all {
		if c.ID != checkid.All[i] {
			t.Errorf("check %d is %s, want %s", i, c.ID, checkid.All[i])
		}
		if c.Run == nil || c.Title == "" {
			t.Errorf("%s has no implementation or title", c.ID)
		}
		if got, ok := Lookup(c.ID); !ok || got.ID != c.ID {
			t.Errorf("Lookup(%s) = %v, %v", c.ID, got.ID, ok)
		}
	}
	if _, ok := Lookup("routes.bogus"); ok {
		t.Error("Lookup found an unknown ID")
	}
}

func TestMulticastMAC(t *testing.T) {
	tests := map[string]bool{"01:00:5e:00:00:01": true, "33:33:00:00:00:01": true, "66:fb:ad:98:aa:13": false, "": false, "zz": false}
	for mac, want := range tests {
		if got := multicastMAC(mac); got != want {
			t.Errorf("multicastMAC(%q) = %v, want %v", mac, got, want)
		}
	}
}
