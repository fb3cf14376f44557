package gobgpnode

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRecordedIsGoBGPsOutput: the rewritten replies are still GoBGP's JSON, with the lab's
// addresses and without the neighbour the lab does not configure; gobgpd down is exit 1 with
// the error on stdout; anything but gobgp is not in the image.
func TestRecordedIsGoBGPsOutput(t *testing.T) {
	r := Recorded(t, "172.18.0.5", [3]string{"172.18.0.2", "172.18.0.3", "172.18.0.4"})
	var peers []map[string]any
	if err := json.Unmarshal([]byte(r.Neighbors), &peers); err != nil || len(peers) != 3 {
		t.Fatalf("neighbors: %d peers, %v", len(peers), err)
	}
	var rib map[string][]map[string]any
	if err := json.Unmarshal([]byte(r.RIB), &rib); err != nil || len(rib) != 3 {
		t.Fatalf("rib: %d prefixes, %v", len(rib), err)
	}
	for _, s := range []string{r.Neighbors, r.RIB} {
		if strings.Contains(s, "127.0.0.") {
			t.Errorf("a loopback address is left: %.200s", s)
		}
	}
	if res := r.Exec([]string{"gobgp", "global", "rib", "-j"}, nil); res.ExitCode != 0 || res.Stdout != r.RIB {
		t.Errorf("global rib -j = %+v", res)
	}
	r.Down = true
	if res := r.Exec([]string{"gobgp", "neighbor", "-j"}, nil); res.ExitCode != 1 || res.Stdout != Unavailable || res.Stderr != "" {
		t.Errorf("gobgpd down: %+v", res)
	}
	if res := r.Exec([]string{"birdcl", "show", "protocols"}, nil); !res.NotFound {
		t.Errorf("birdcl in the reflector's image: %+v", res)
	}
}
