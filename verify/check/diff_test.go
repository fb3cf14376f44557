package check

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/knetlab/knetlab/verify/report"
)

// entry is a test table's row: a key and one field.
type entry struct{ key, value string }

func TestKeyedDiff(t *testing.T) {
	tests := []struct {
		name       string
		pick       func(entry, []entry) int
		once       bool
		want       []entry
		found      []entry
		findings   []string
		unexpected []entry
	}{
		{
			name:     "missing, different, unexpected, in the expected entries' order then the found ones'",
			want:     []entry{{"a", "1"}, {"b", "2"}, {"c", "3"}},
			found:    []entry{{"z", "9"}, {"c", "4"}, {"a", "1"}},
			findings: []string{"missing b: b=2 (b is expected)", "different c value: 3 != 4 (c is expected)"},
			// z is the check's to report.
			unexpected: []entry{{"z", "9"}},
		},
		{
			name:     "without pick, the last entry of a key is compared and the others pass with it",
			want:     []entry{{"a", "1"}},
			found:    []entry{{"a", "2"}, {"a", "1"}},
			findings: nil,
		},
		{
			name:       "with pick, the entries of a key not picked are unexpected",
			pick:       first[entry, entry],
			want:       []entry{{"a", "1"}},
			found:      []entry{{"a", "2"}, {"a", "1"}},
			findings:   []string{"different a value: 1 != 2 (a is expected)"},
			unexpected: []entry{{"a", "1"}},
		},
		{
			name:     "without once, two expected entries of a key may pick one found entry",
			pick:     first[entry, entry],
			want:     []entry{{"a", "1"}, {"a", "1"}},
			found:    []entry{{"a", "1"}},
			findings: nil,
		},
		{
			name:     "with once, a found entry answers one expected entry",
			pick:     first[entry, entry],
			once:     true,
			want:     []entry{{"a", "1"}, {"a", "1"}},
			found:    []entry{{"a", "1"}},
			findings: []string{"missing a: a=1 (a is expected)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &report.Node{}
			unexpected := keyedDiff[string, entry, entry]{
				key:      func(w entry) string { return w.key },
				foundKey: func(g entry) string { return g.key },
				entry:    func(w entry) string { return w.key },
				missing:  func(w entry) string { return w.key + "=" + w.value },
				why:      func(w entry) string { return w.key + " is expected" },
				compare: func(w, got entry, f fields) {
					f.compare("value", w.value, got.value)
				},
				pick: tt.pick,
				once: tt.once,
			}.run(r, tt.want, tt.found)
			var findings []string
			for _, f := range r.Findings {
				switch f.Kind {
				case report.Missing:
					findings = append(findings, fmt.Sprintf("missing %s: %s (%s)", f.Entry, f.Expected, f.Reason))
				case report.Different:
					findings = append(findings, fmt.Sprintf("different %s %s: %s != %s (%s)", f.Entry, f.Field, f.Expected, f.Found, f.Reason))
				default:
					t.Errorf("finding of kind %s: unexpected entries are the check's to report", f.Kind)
				}
			}
			if !reflect.DeepEqual(findings, tt.findings) {
				t.Errorf("findings\n got %q\nwant %q", findings, tt.findings)
			}
			if !reflect.DeepEqual(unexpected, tt.unexpected) {
				t.Errorf("unexpected = %v, want %v", unexpected, tt.unexpected)
			}
		})
	}
}
