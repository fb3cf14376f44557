package calico

import "testing"

func TestEncapMode(t *testing.T) {
	tests := []struct {
		m       EncapMode
		valid   bool
		orNever EncapMode
	}{
		{EncapNever, true, EncapNever},
		{EncapAlways, true, EncapAlways},
		{EncapCrossSubnet, true, EncapCrossSubnet},
		{"", false, EncapNever},
		{"crosssubnet", false, "crosssubnet"}, // Calico's spelling is case-sensitive
		{"VXLANCrossSubnet", false, "VXLANCrossSubnet"},
	}
	for _, tt := range tests {
		if got := tt.m.Valid(); got != tt.valid {
			t.Errorf("%q.Valid() = %v, want %v", tt.m, got, tt.valid)
		}
		if got := tt.m.OrNever(); got != tt.orNever {
			t.Errorf("%q.OrNever() = %q, want %q", tt.m, got, tt.orNever)
		}
	}
}
