package ui

import (
	"strings"
	"testing"
)

func TestWrapNeverSplitsAToken(t *testing.T) {
	text := "k01-worker3 is in 10.10.20.0/24, not in k01-worker's 10.10.10.0/24: 192.168.77.192/26 must go via vxlan.calico (pool default-ipv4-ippool is VXLAN CrossSubnet)"
	for _, width := range []int{40, 80, 100} {
		lines := WrapIndent("          why       ", text, width)
		var words []string
		for i, l := range lines {
			if i > 0 && !strings.HasPrefix(l, strings.Repeat(" ", 20)) {
				t.Errorf("width %d: continuation line %q is not under the text's start", width, l)
			}
			if len([]rune(l)) > width && len(strings.Fields(l)) > 1 {
				t.Errorf("width %d: line %q is too wide", width, l)
			}
			words = append(words, strings.Fields(l)...)
		}
		if got := strings.Join(words[1:], " "); got != text {
			t.Errorf("width %d: the words changed:\n%s\n%s", width, got, text)
		}
	}
	// A token longer than the line stays whole, alone on its line.
	got := Wrap("see kindest/node:v1.32.2@sha256:f226345927d7e348497136874b6d207e0b32cc52154ad8323129352923a3142f now", 40)
	if len(got) != 3 || !strings.HasPrefix(got[1], "kindest/node") {
		t.Errorf("long token: %q", got)
	}
	// Text that fits is left exactly as it is (aligned columns keep their spaces).
	if got := WrapIndent("PASS  ", "x   y", 80); len(got) != 1 || got[0] != "PASS  x   y" {
		t.Errorf("text that fits was changed: %q", got)
	}
}

func TestTerminalWidth(t *testing.T) {
	for _, tc := range []struct {
		env  string
		cols int
		want int
	}{
		{"", 0, 80},       // a pipe
		{"", 132, 132},    // a terminal
		{"100", 132, 100}, // COLUMNS overrides
		{"abc", 0, 80},
		{"10", 0, MinWidth},
	} {
		if got := TerminalWidth(tc.env, tc.cols); got != tc.want {
			t.Errorf("TerminalWidth(%q, %d) = %d, want %d", tc.env, tc.cols, got, tc.want)
		}
	}
}

// A table too wide for the terminal is split into column groups that repeat the key column;
// no cell is cut inside a word.
func TestFitTable(t *testing.T) {
	headers := []string{"NODE", "ROLE", "IFACE", "ADDRESS", "GATEWAY", "SWITCH PORT", "VLAN", "ETH0 (MGMT)"}
	rows := [][]string{
		{"k01-control-plane", "control-plane", "eth1", "10.10.10.10/24", "10.10.10.1", "ceos01:eth1 (Ethernet1)", "10 Calico-Network", "172.18.0.2/16"},
		{"k01-worker3", "worker", "eth1", "10.10.20.20/24", "10.10.20.1", "ceos01:eth4 (Ethernet4)", "20 Calico-Network-2", "172.18.0.5/16"},
	}
	if got := FitTable(headers, rows, 0); len(got) != 3 {
		t.Errorf("unfitted table has %d lines:\n%s", len(got), strings.Join(got, "\n"))
	}
	for _, width := range []int{80, 100} {
		lines := FitTable(headers, rows, width)
		out := strings.Join(lines, "\n")
		for _, l := range lines {
			if len([]rune(l)) > width {
				t.Errorf("width %d: line of %d columns:\n%s", width, len([]rune(l)), out)
			}
		}
		for _, r := range rows {
			for _, cell := range r {
				for _, tok := range strings.Fields(cell) {
					if !strings.Contains(out, tok) {
						t.Errorf("width %d: %q cut:\n%s", width, tok, out)
					}
				}
			}
			if strings.Count(out, r[0]) < 2 {
				t.Errorf("width %d: the key column is not repeated in each group:\n%s", width, out)
			}
		}
	}
}
