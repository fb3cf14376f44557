package report

import "testing"

func TestSettle(t *testing.T) {
	finding := []Finding{{Kind: Missing, Entry: "x"}}
	tests := []struct {
		name   string
		nodes  []*Node
		reason string
		want   Status
	}{
		{"all passed", []*Node{{Node: "a"}, {Node: "b"}}, "", Passed},
		{"a finding fails its node and the check", []*Node{{Node: "a"}, {Node: "b", Findings: finding}}, "", Failed},
		{"skips do not hide a failure", []*Node{{Node: "a", Status: Skipped}, {Node: "b", Findings: finding}}, "", Failed},
		{"skips with a pass pass", []*Node{{Node: "a", Status: Skipped}, {Node: "b"}}, "", Passed},
		{"only skips skip", []*Node{{Node: "a", Status: Skipped}}, "", Skipped},
		{"no nodes is nothing judged", nil, "", Skipped},
	}
	for _, tt := range tests {
		c := &Check{ID: "x", Nodes: tt.nodes, Reason: tt.reason}
		c.Settle()
		if c.Status != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, c.Status, tt.want)
		}
		for _, n := range c.Nodes {
			if len(n.Findings) > 0 && n.Status != Failed {
				t.Errorf("%s: node %s has findings but is %s", tt.name, n.Node, n.Status)
			}
		}
	}
}

func TestReportStatus(t *testing.T) {
	tests := []struct {
		checks []Status
		want   Status
	}{
		{[]Status{Passed, Skipped}, Passed},
		{[]Status{Passed, Failed, Skipped}, Failed},
		{[]Status{Skipped, Skipped}, Skipped},
	}
	for _, tt := range tests {
		r := &Report{}
		for _, s := range tt.checks {
			r.Checks = append(r.Checks, &Check{Status: s})
		}
		if got := r.Status(); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.checks, got, tt.want)
		}
	}
}
