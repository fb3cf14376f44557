// Package ui is how knetlab talks to a person or a pipe: lipgloss tables and colour on a
// terminal, plain stable text otherwise, and progress as a live line or timestamped lines.
package ui

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"golang.org/x/term"
)

// Streams are a command's I/O. Commands never touch os.Stdout directly, so tests run them in-process.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
	// TTY is true when Out is a terminal: colour, tables with borders, live progress.
	TTY bool
	// Width is the number of columns text and tables are fitted to (see Wrap and Table); 0
	// fits nothing (streams a test builds without saying how wide they are).
	Width int
}

// StdStreams returns the process's streams, with TTY detected on stdout (NO_COLOR turns it off)
// and the width stdout has (TerminalWidth).
func StdStreams() *Streams {
	fd := int(os.Stdout.Fd())
	isTerm := term.IsTerminal(fd)
	tty := isTerm && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	cols := 0
	if isTerm {
		cols, _, _ = term.GetSize(fd)
	}
	return &Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, TTY: tty, Width: TerminalWidth(os.Getenv("COLUMNS"), cols)}
}

// DefaultWidth is the width of a pipe, or of a terminal whose size cannot be read: the classic
// terminal, so that a report saved to a file or pasted into an issue reads the same everywhere.
const DefaultWidth = 80

// MinWidth is the narrowest layout: below it every line would wrap.
const MinWidth = 40

// TerminalWidth is the width output is fitted to: $COLUMNS when it is a number (an override, as
// for ls and man), else the terminal's columns, else DefaultWidth (a pipe); never below MinWidth.
func TerminalWidth(columnsEnv string, terminalCols int) int {
	w := DefaultWidth
	if n, err := strconv.Atoi(strings.TrimSpace(columnsEnv)); err == nil && n > 0 {
		w = n
	} else if terminalCols > 0 {
		w = terminalCols
	}
	return max(w, MinWidth)
}

// Styles used on a terminal.
var (
	Bold   = lipgloss.NewStyle().Bold(true)
	Faint  = lipgloss.NewStyle().Faint(true)
	Green  = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	Red    = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	Yellow = lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
)

// Paint applies st on a terminal and returns s unchanged on a pipe.
func (s *Streams) Paint(st lipgloss.Style, text string) string {
	if !s.TTY {
		return text
	}
	return st.Render(text)
}

// Table writes rows under headers: a lipgloss table on a terminal when it fits s.Width, else
// plain columns (FitTable), as on a pipe.
func (s *Streams) Table(headers []string, rows [][]string) {
	if s.TTY {
		t := table.New().
			Border(lipgloss.NormalBorder()).
			BorderStyle(Faint).
			Headers(headers...).
			Rows(rows...).
			StyleFunc(func(row, col int) lipgloss.Style {
				st := lipgloss.NewStyle().Padding(0, 1)
				if row == table.HeaderRow {
					return st.Bold(true)
				}
				return st
			})
		out := t.Render()
		if s.Width <= 0 || lipgloss.Width(out) <= s.Width {
			fmt.Fprintln(s.Out, out)
			return
		}
	}
	for _, line := range FitTable(headers, rows, s.Width) {
		fmt.Fprintln(s.Out, line)
	}
}

// Text writes a paragraph after a label ("" for none), wrapped to s.Width at spaces, continuation
// lines under the text's start.
func (s *Streams) Text(label, text string) {
	for _, l := range WrapIndent(label, text, s.Width) {
		fmt.Fprintln(s.Out, l)
	}
}

// Heading writes a section title.
func (s *Streams) Heading(format string, args ...any) {
	fmt.Fprintln(s.Out, s.Paint(Bold, fmt.Sprintf(format, args...)))
}

// Progress reports the steps of a long operation on Err: "• step" / "✓ done" lines on a
// terminal, RFC 3339 timestamped lines on a pipe (CI logs).
type Progress struct {
	s   *Streams
	mu  sync.Mutex
	now func() time.Time
}

// NewProgress returns a progress reporter writing to s.Err.
func NewProgress(s *Streams) *Progress { return &Progress{s: s, now: time.Now} }

// Step announces a step.
func (p *Progress) Step(format string, args ...any) { p.line("•", Faint, format, args...) }

// Done reports a finished step.
func (p *Progress) Done(format string, args ...any) { p.line("✓", Green, format, args...) }

func (p *Progress) line(mark string, st lipgloss.Style, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if p.s.TTY {
		fmt.Fprintf(p.s.Err, "%s %s\n", p.s.Paint(st, mark), msg)
		return
	}
	fmt.Fprintf(p.s.Err, "%s %s\n", p.now().UTC().Format(time.RFC3339), msg)
}
