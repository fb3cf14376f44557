package reexec

import (
	"slices"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	r := New()
	var ran string
	for _, name := range []string{"knetlab-cni", "agent"} {
		r.Register(name, func(args []string) int { ran = name + " " + strings.Join(args, " "); return 0 })
	}
	tests := []struct {
		argv []string
		want string // "" when no entry matches
	}{
		{[]string{"/run/knetlab/calico-overlay/cni/bin/knetlab-cni"}, "knetlab-cni "},
		{[]string{"knetlab-cni", "x"}, "knetlab-cni x"},
		{[]string{"/usr/local/bin/knetlab", "agent", "--node", "n"}, "agent --node n"},
		{[]string{"/usr/local/bin/knetlab", "knetlab-cni"}, "knetlab-cni "},
		{[]string{"/usr/local/bin/knetlab", "deploy", "agent"}, ""},
		{[]string{"/usr/local/bin/knetlab"}, ""},
		{[]string{"knetlab-cni-old"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		ran = ""
		m, args, ok := r.Lookup(tt.argv)
		if ok != (tt.want != "") {
			t.Errorf("Lookup(%q) found %v, want %v", tt.argv, ok, tt.want != "")
			continue
		}
		if ok {
			m(args)
		}
		if ran != tt.want {
			t.Errorf("Lookup(%q) ran %q, want %q", tt.argv, ran, tt.want)
		}
	}
	if got := r.Names(); !slices.Equal(got, []string{"agent", "knetlab-cni"}) {
		t.Errorf("Names() = %v", got)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	r := New()
	r.Register("agent", func([]string) int { return 0 })
	defer func() {
		if recover() == nil {
			t.Error("a second registration of agent did not panic")
		}
	}()
	r.Register("agent", func([]string) int { return 0 })
}
