package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/knetlab/knetlab/internal/ui"
)

// WriteText writes the report for a person: one line per check, then for every failed or
// skipped node what was found and why. Colour only on a terminal; on a pipe the text is plain
// and stable, so it can be diffed and grepped.
func WriteText(s *ui.Streams, r *Report) {
	w := s.Out
	title := "knetlab verify: " + r.Source
	if r.Lab != "" {
		title += " (lab " + r.Lab + ")"
	}
	fmt.Fprintln(w, s.Paint(ui.Bold, title))
	fmt.Fprintln(w)

	idWidth, titleWidth := 0, 0
	for _, c := range r.Checks {
		idWidth = max(idWidth, len(c.ID))
		titleWidth = max(titleWidth, len(c.Title))
	}
	for _, c := range r.Checks {
		line := fmt.Sprintf("%s  %-*s  %-*s  %s", statusWord(s, c), idWidth, c.ID, titleWidth, c.Title, checkSummary(c))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if c.Status == Skipped && c.Reason != "" {
			fmt.Fprintf(w, "      %s\n", s.Paint(ui.Faint, c.Reason))
			continue
		}
		for _, n := range c.Nodes {
			writeNode(s, w, n)
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
	fmt.Fprintf(w, "\n%d %s: %d passed%s, %d failed, %d skipped; nodes: %d passed, %d failed, %d skipped in %s\n",
		len(r.Checks), noun, sum.Passed, partial, sum.Failed, sum.Skipped,
		sum.Nodes.Passed, sum.Nodes.Failed, sum.Nodes.Skipped, roundDuration(r.Duration))
}

func writeNode(s *ui.Streams, w io.Writer, n *Node) {
	switch n.Status {
	case Skipped:
		fmt.Fprintf(w, "      %s skipped: %s\n", n.Node, s.Paint(ui.Faint, n.Reason))
	case Failed:
		fmt.Fprintf(w, "      %s:\n", s.Paint(ui.Bold, n.Node))
		for _, f := range n.Findings {
			head := strings.ToUpper(string(f.Kind)) + " " + f.Entry
			if f.Field != "" {
				head += " (" + f.Field + ")"
			}
			fmt.Fprintf(w, "        %s\n", s.Paint(ui.Red, head))
			if f.Expected != "" {
				fmt.Fprintf(w, "          expected  %s\n", f.Expected)
			}
			if f.Found != "" {
				fmt.Fprintf(w, "          found     %s\n", f.Found)
			}
			if f.Reason != "" {
				fmt.Fprintf(w, "          why       %s\n", f.Reason)
			}
		}
	}
	if n.Status != Skipped {
		for _, note := range n.Notes {
			fmt.Fprintf(w, "      %s note: %s\n", n.Node, s.Paint(ui.Faint, note))
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
