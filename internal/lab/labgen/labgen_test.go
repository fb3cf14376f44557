package labgen

import (
	"testing"
)

func TestGenerateValidates(t *testing.T) {
	for _, tc := range []struct {
		nodes, vlans int
		wantErr      bool
	}{
		{1, 1, false},
		{10, 4, false},
		{100, 4, false},
		{0, 4, true},
		{10, 0, true},
	} {
		l, err := Generate("gen", tc.nodes, tc.vlans)
		if (err != nil) != tc.wantErr {
			t.Fatalf("Generate(%d, %d): err = %v, want error %v", tc.nodes, tc.vlans, err, tc.wantErr)
		}
		if err != nil {
			continue
		}
		if len(l.Nodes) != tc.nodes || len(l.Switch.VLANs) != tc.vlans {
			t.Errorf("Generate(%d, %d): %d nodes, %d VLANs", tc.nodes, tc.vlans, len(l.Nodes), len(l.Switch.VLANs))
		}
		perVLAN := map[int]int{}
		for _, n := range l.Nodes {
			perVLAN[n.VLAN]++
		}
		for id, n := range perVLAN {
			if max := (tc.nodes + tc.vlans - 1) / tc.vlans; n > max {
				t.Errorf("VLAN %d holds %d nodes, want at most %d (round-robin)", id, n, max)
			}
		}
	}
}
