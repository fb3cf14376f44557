package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/knetlab/knetlab/internal/ui"
)

// WriteText writes the report for a person: one line per check, then for every failed or
// skipped node what was found and why. Colour only on a terminal; on a pipe the text is plain
// and stable, so it can be diffed and grepped. Lines are fitted to s.Width (see ui.Wrap):
// broken at spaces only, continuation lines indented under the text they continue, an
// address or a name never cut.
func WriteText(s *ui.Streams, r *Report) { WriteTextWith(s, r, TextOptions{}) }

// TextOptions change what the text report shows.
type TextOptions struct {
	// FailedOnly leaves out the checks that passed or were skipped (the summary still counts
	// them): on a broken lab, the findings are then the first screen.
	FailedOnly bool
}

// WriteTextWith is WriteText with options.
func WriteTextWith(s *ui.Streams, r *Report, opts TextOptions) {
	w := &textWriter{s: s, width: s.Width}
	w.line(s.Paint(ui.Bold, reportTitle(r)))
	w.line("")

	idWidth, titleWidth := 0, 0
	for _, c := range r.Checks {
		idWidth = max(idWidth, len(c.ID))
		titleWidth = max(titleWidth, len(c.Title))
	}
	// Titles are aligned in a column only when every check line then fits: otherwise the
	// padding alone would wrap lines that fit without it.
	pad := titleWidth
	for _, c := range r.Checks {
		if w.width > 0 && 4+2+idWidth+2+titleWidth+2+len(checkSummary(c)) > w.width {
			pad = 0
		}
	}
	shown := 0
	for _, c := range r.Checks {
		if opts.FailedOnly && c.Status != Failed {
			continue
		}
		shown++
		head := fmt.Sprintf("%s  %-*s  ", strings.Repeat("x", 4), idWidth, c.ID)
		text := fmt.Sprintf("%-*s  %s", pad, c.Title, checkSummary(c))
		lines := ui.WrapIndent(head, strings.TrimRight(text, " "), w.width)
		lines[0] = statusWord(s, c) + strings.TrimPrefix(lines[0], "xxxx")
		for _, l := range lines {
			w.line(l)
		}
		if c.Status == Skipped && c.Reason != "" {
			w.wrapped("      ", c.Reason, &ui.Faint)
			continue
		}
		for _, n := range c.Nodes {
			w.node(n)
		}
	}
	sum := r.Summary()
	noun := "checks"
	if len(r.Checks) == 1 {
		noun = "check"
	}
	partial := ""
	if sum.Partial > 0 {
		partial = fmt.Sprintf(" (%d partial)", sum.Partial)
	}
	var failed []string
	for _, c := range r.Checks {
		if c.Status == Failed {
			failed = append(failed, c.ID)
		}
	}
	failedList := ""
	if len(failed) > 0 {
		failedList = " (" + strings.Join(failed, ", ") + ")"
	}
	hidden := ""
	if opts.FailedOnly {
		hidden = fmt.Sprintf("; %d not shown (--failed-only)", len(r.Checks)-sum.Failed)
	}
	if shown > 0 {
		w.line("") // between the checks and the summary; none shown needs no second blank line
	}
	w.wrapped("", fmt.Sprintf("%d %s: %d passed%s, %d failed%s, %d skipped; nodes: %d passed, %d failed, %d skipped in %s%s",
		len(r.Checks), noun, sum.Passed, partial, sum.Failed, failedList, sum.Skipped,
		sum.Nodes.Passed, sum.Nodes.Failed, sum.Nodes.Skipped, roundDuration(r.Duration), hidden), nil)
}

// reportTitle names the source, and the lab when the source's description does not already.
func reportTitle(r *Report) string {
	title := "knetlab verify: " + r.Source
	if r.Lab != "" && !slices.Contains(strings.Fields(r.Source), r.Lab) {
		title += " (lab " + r.Lab + ")"
	}
	return title
}

// textWriter writes the report's lines, fitted to width (0: not fitted).
type textWriter struct {
	s     *ui.Streams
	width int
}

func (w *textWriter) line(l string) { fmt.Fprintln(w.s.Out, strings.TrimRight(l, " ")) }

// wrapped writes text after prefix, continuation lines under the text's start, each painted
// with st on a terminal.
func (w *textWriter) wrapped(prefix, text string, st *lipgloss.Style) {
	for _, l := range ui.WrapIndent(prefix, text, w.width) {
		indent := len(l) - len(strings.TrimLeft(l, " "))
		if st != nil {
			l = l[:indent] + w.s.Paint(*st, l[indent:])
		}
		w.line(l)
	}
}

func (w *textWriter) node(n *Node) {
	switch n.Status {
	case Skipped:
		w.wrapped("      ", n.Node+" skipped: "+n.Reason, nil)
	case Failed:
		w.line("      " + w.s.Paint(ui.Bold, n.Node+":"))
		for _, f := range n.Findings {
			head := strings.ToUpper(string(f.Kind)) + " " + f.Entry
			if f.Field != "" {
				head += " (" + f.Field + ")"
			}
			w.wrapped("        ", head, &ui.Red)
			for _, v := range []struct{ label, value string }{
				{"expected", f.Expected}, {"found", f.Found}, {"layer", f.Layer}, {"why", f.Reason},
			} {
				if v.value != "" {
					w.wrapped(fmt.Sprintf("          %-8s  ", v.label), v.value, nil)
				}
			}
		}
	}
	if n.Status != Skipped {
		for _, note := range n.Notes {
			w.wrapped("      ", n.Node+" note: "+note, nil)
		}
	}
}

// statusWord is the check's verdict in four letters. A check that passed on the nodes it
// judged but skipped others is PART, never PASS: its verdict does not cover the whole cluster.
func statusWord(s *ui.Streams, c *Check) string {
	switch c.Status {
	case Passed:
		if c.Partial() {
			return s.Paint(ui.Yellow, "PART")
		}
		return s.Paint(ui.Green, "PASS")
	case Failed:
		return s.Paint(ui.Red, "FAIL")
	}
	return s.Paint(ui.Yellow, "SKIP")
}

func checkSummary(c *Check) string {
	n := c.Counts()
	var parts []string
	if c.Status != Skipped || c.Reason == "" {
		for _, p := range []struct {
			n    int
			word string
		}{{n.Passed, "passed"}, {n.Failed, "failed"}, {n.Skipped, "skipped"}} {
			if p.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", p.n, p.word))
			}
		}
	}
	out := strings.Join(parts, ", ")
	if c.Partial() {
		out += " (partial)"
	}
	if c.PassedAfter > 0 {
		out += fmt.Sprintf(" (passed after %s)", roundDuration(c.PassedAfter))
	}
	if c.Duration > 0 {
		out += " " + roundDuration(c.Duration)
	}
	return strings.TrimSpace(out)
}

// roundDuration keeps reports readable: milliseconds below ten seconds, tenths above.
func roundDuration(d time.Duration) string {
	if d > 0 && d < time.Millisecond {
		return "<1ms"
	}
	if d >= 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}
