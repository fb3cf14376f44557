package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/knetlab/knetlab/internal/ui"
)

// WriteText prints a trace: a heading, one line per hop (where, step, entry, and a note below
// it), the divergence marked on its hop, and the end. Plain on a pipe, coloured on a terminal;
// text longer than the terminal is wide wraps at spaces under its own start (an address or an
// entry's word is never cut).
func WriteText(s *ui.Streams, r *Result) {
	w := s.Out
	// put prints text after a prefix of cols columns, wrapped, each line painted with style.
	put := func(prefix string, cols int, paint func(string) string, text string) {
		width := 0
		if s.Width > 0 {
			width = max(s.Width-cols, ui.MinWidth/2)
		}
		pad := strings.Repeat(" ", cols)
		for i, line := range ui.Wrap(text, width) {
			if i > 0 {
				prefix = pad
			}
			if paint != nil {
				line = paint(line)
			}
			fmt.Fprintf(w, "%s%s\n", prefix, line)
		}
	}
	faint := func(t string) string { return s.Paint(ui.Faint, t) }
	fmt.Fprintf(w, "%s %s → %s  (%s)\n", s.Paint(ui.Bold, "trace"), r.From, r.To, r.Source)
	atWidth := 4
	for _, h := range r.Hops {
		atWidth = max(atWidth, len(h.At))
	}
	// A hop's line: mark (one column), hop number, where, step, then its entry.
	cols := 1 + 3 + 2 + atWidth + 2 + 9 + 2
	under := strings.Repeat(" ", cols)
	for i, h := range r.Hops {
		mark := " "
		var red func(string) string
		if d := r.Divergence; d != nil && d.Hop == i+1 {
			mark, red = s.Paint(ui.Red, "✗"), func(t string) string { return s.Paint(ui.Red, t) }
		}
		if h.Warning != "" && mark == " " {
			mark = s.Paint(ui.Yellow, "!")
		}
		put(fmt.Sprintf("%s%3d  %-*s  %-9s  ", mark, i+1, atWidth, h.At, h.Step), cols, red, h.Entry)
		if h.Note != "" {
			put(under, cols, faint, h.Note)
		}
		if h.Warning != "" {
			put(under, cols, func(t string) string { return s.Paint(ui.Yellow, t) }, h.Warning)
		}
	}
	if d := r.Divergence; d != nil {
		fmt.Fprintf(w, "%s at hop %d (%s)\n", s.Paint(ui.Red, "diverges from the expected path"), d.Hop, d.At)
		put("  expected: ", 12, nil, d.Expected)
		put("  found:    ", 12, nil, d.Found)
		if d.Reason != "" {
			put("  why:      ", 12, faint, d.Reason)
		}
		if d.BGP != "" {
			put("  bgp:      ", 12, nil, d.BGP)
		}
	}
	switch r.Verdict {
	case VerdictOK:
		put(s.Paint(ui.Green, "✓")+" ", 2, nil, fmt.Sprintf("%s, along the expected path (%s)", r.End.Detail, r.Kind))
	case VerdictUnknown:
		put(s.Paint(ui.Yellow, "?")+" ", 2, nil, s.Paint(ui.Yellow, "unknown")+": "+r.End.Detail)
	case VerdictDiverged:
		if r.End.Kind == EndDelivered {
			put(s.Paint(ui.Red, "✗")+" ", 2, nil, r.End.Detail+", but not along the expected path")
			return
		}
		put(s.Paint(ui.Red, "✗")+" ", 2, nil, r.End.Kind+": "+r.End.Detail)
	default:
		put(s.Paint(ui.Red, "✗")+" ", 2, nil, r.End.Kind+": "+r.End.Detail)
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
