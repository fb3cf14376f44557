package trace

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/knetlab/knetlab/internal/ui"
)

// WriteText prints a trace: a heading, one line per hop (where, step, entry, and a note below
// it), the divergence marked on its hop, and the end. Plain on a pipe, coloured on a terminal.
func WriteText(s *ui.Streams, r *Result) {
	w := s.Out
	fmt.Fprintf(w, "%s %s → %s  (%s)\n", s.Paint(ui.Bold, "trace"), r.From, r.To, r.Source)
	atWidth := 4
	for _, h := range r.Hops {
		atWidth = max(atWidth, len(h.At))
	}
	for i, h := range r.Hops {
		mark := " "
		entry := h.Entry
		if d := r.Divergence; d != nil && d.Hop == i+1 {
			mark = s.Paint(ui.Red, "✗")
			entry = s.Paint(ui.Red, entry)
		}
		fmt.Fprintf(w, "%s%3d  %-*s  %-9s  %s\n", mark, i+1, atWidth, h.At, h.Step, entry)
		if h.Note != "" {
			fmt.Fprintf(w, "      %-*s  %-9s  %s\n", atWidth, "", "", s.Paint(ui.Faint, h.Note))
		}
	}
	if d := r.Divergence; d != nil {
		fmt.Fprintf(w, "%s at hop %d (%s)\n", s.Paint(ui.Red, "diverges from the expected path"), d.Hop, d.At)
		fmt.Fprintf(w, "  expected: %s\n  found:    %s\n", d.Expected, d.Found)
		if d.Reason != "" {
			fmt.Fprintf(w, "  why:      %s\n", s.Paint(ui.Faint, d.Reason))
		}
	}
	end := r.End.Kind + ": " + r.End.Detail
	switch r.Verdict {
	case VerdictOK:
		fmt.Fprintf(w, "%s %s, along the expected path (%s)\n", s.Paint(ui.Green, "✓"), r.End.Detail, r.Kind)
	case VerdictUnknown:
		fmt.Fprintf(w, "%s %s: %s\n", s.Paint(ui.Yellow, "?"), s.Paint(ui.Yellow, "unknown"), r.End.Detail)
	default:
		fmt.Fprintf(w, "%s %s\n", s.Paint(ui.Red, "✗"), end)
	}
}

// WriteSummary prints --all: one line per pair.
func WriteSummary(s *ui.Streams, rs []*Result) {
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		verdict := r.Summary()
		rows = append(rows, []string{r.From.Name, r.To.Name, r.Kind, fmt.Sprint(len(r.Hops)), verdictWord(s, r), detail(r, verdict)})
	}
	s.Table([]string{"FROM", "TO", "PATH", "HOPS", "VERDICT", "DETAIL"}, rows)
}

func verdictWord(s *ui.Streams, r *Result) string {
	switch r.Verdict {
	case VerdictOK:
		return s.Paint(ui.Green, "delivered")
	case VerdictUnknown:
		return s.Paint(ui.Yellow, "unknown")
	}
	return s.Paint(ui.Red, r.End.Kind)
}

func detail(r *Result, _ string) string {
	switch {
	case r.Divergence != nil:
		return fmt.Sprintf("diverges at hop %d (%s): expected %s", r.Divergence.Hop, r.Divergence.At, r.Divergence.Expected)
	case r.Verdict == VerdictOK:
		return ""
	}
	return r.End.Detail
}

// WriteJSON writes one result, or with all a list, as JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
