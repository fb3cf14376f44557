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
		if h.Warning != "" && mark == " " {
			mark = s.Paint(ui.Yellow, "!")
		}
		fmt.Fprintf(w, "%s%3d  %-*s  %-9s  %s\n", mark, i+1, atWidth, h.At, h.Step, entry)
		if h.Note != "" {
			fmt.Fprintf(w, "      %-*s  %-9s  %s\n", atWidth, "", "", s.Paint(ui.Faint, h.Note))
		}
		if h.Warning != "" {
			fmt.Fprintf(w, "      %-*s  %-9s  %s\n", atWidth, "", "", s.Paint(ui.Yellow, h.Warning))
		}
	}
	if d := r.Divergence; d != nil {
		fmt.Fprintf(w, "%s at hop %d (%s)\n", s.Paint(ui.Red, "diverges from the expected path"), d.Hop, d.At)
		fmt.Fprintf(w, "  expected: %s\n  found:    %s\n", d.Expected, d.Found)
		if d.Reason != "" {
			fmt.Fprintf(w, "  why:      %s\n", s.Paint(ui.Faint, d.Reason))
		}
		if d.BGP != "" {
			fmt.Fprintf(w, "  bgp:      %s\n", d.BGP)
		}
	}
	end := r.End.Kind + ": " + r.End.Detail
	switch r.Verdict {
	case VerdictOK:
		fmt.Fprintf(w, "%s %s, along the expected path (%s)\n", s.Paint(ui.Green, "✓"), r.End.Detail, r.Kind)
	case VerdictUnknown:
		fmt.Fprintf(w, "%s %s: %s\n", s.Paint(ui.Yellow, "?"), s.Paint(ui.Yellow, "unknown"), r.End.Detail)
	case VerdictDiverged:
		if r.End.Kind == EndDelivered {
			fmt.Fprintf(w, "%s %s, but not along the expected path\n", s.Paint(ui.Red, "✗"), r.End.Detail)
			return
		}
		fmt.Fprintf(w, "%s %s\n", s.Paint(ui.Red, "✗"), end)
	default:
		fmt.Fprintf(w, "%s %s\n", s.Paint(ui.Red, "✗"), end)
	}
}

// WriteSummary prints --all: one line per pair.
func WriteSummary(s *ui.Streams, rs []*Result) {
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		rows = append(rows, []string{r.From.Name, r.To.Name, r.Kind, fmt.Sprint(len(r.Hops)), verdictWord(s, r), r.detail()})
	}
	s.Table([]string{"FROM", "TO", "PATH", "HOPS", "VERDICT", "DETAIL"}, rows)
}

func verdictWord(s *ui.Streams, r *Result) string {
	switch r.Verdict {
	case VerdictOK:
		return s.Paint(ui.Green, "delivered")
	case VerdictUnknown:
		return s.Paint(ui.Yellow, "unknown")
	case VerdictDiverged:
		return s.Paint(ui.Red, "diverges")
	}
	return s.Paint(ui.Red, r.End.Kind)
}

// WriteJSON writes one result, or with all a list, as JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
