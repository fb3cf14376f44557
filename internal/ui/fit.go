package ui

import (
	"strings"
	"unicode/utf8"
)

// Fitting text to a terminal. An address, a prefix, a MAC or an interface name is read whole
// or misread: text is broken at spaces only, and a token longer than the line stays whole on a
// line of its own (and overflows it) rather than being cut.

// Wrap breaks text into lines of at most width runes, at spaces only. width <= 0 returns the
// text as one line.
func Wrap(text string, width int) []string {
	words := strings.Fields(text)
	if width <= 0 || len(words) == 0 {
		return []string{text}
	}
	var lines []string
	line := ""
	for _, w := range words {
		switch {
		case line == "":
			line = w
		case runes(line)+1+runes(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	return append(lines, line)
}

// WrapIndent wraps text after a first-line prefix: the first line starts with first, every
// continuation line with as many spaces as first is wide, so that it sits under the text's
// start. When first leaves less than MinWidth/2 columns, continuation lines are indented by
// four spaces more than first's own indentation instead, so that a long label does not leave
// a column of one word.
func WrapIndent(first, text string, width int) []string {
	if width <= 0 || runes(first)+runes(text) <= width {
		return []string{first + text}
	}
	indent := runes(first)
	if width-indent < MinWidth/2 {
		indent = min(indent, runes(first)-runes(strings.TrimLeft(first, " "))+4)
	}
	pad := strings.Repeat(" ", indent)
	// The first line has width-len(first) columns, the others width-indent.
	words := strings.Fields(text)
	if len(words) == 0 {
		return []string{strings.TrimRight(first, " ")}
	}
	var lines []string
	line, prefix := first, first
	for _, w := range words {
		switch {
		case line == prefix:
			line += w
		case runes(line)+1+runes(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			prefix = pad
			line = pad + w
		}
	}
	return append(lines, line)
}

// FitTable lays rows out under headers in plain columns two spaces apart, fitted to width
// (no fitting when width <= 0). A one-row table wider than that is written as one line per
// column (header, value); a wider table of several rows is split into column groups, each
// repeating the first (key) column, and the last column of a group that is still too wide is
// wrapped at spaces; a cell is never cut inside a word.
func FitTable(headers []string, rows [][]string, width int) []string {
	cols := len(headers)
	widths := make([]int, cols)
	for i, h := range headers {
		widths[i] = runes(h)
	}
	for _, r := range rows {
		for i := 0; i < cols && i < len(r); i++ {
			widths[i] = max(widths[i], runes(r[i]))
		}
	}
	groups := [][]int{seq(cols)}
	if width > 0 && tableWidth(widths, groups[0]) > width && len(rows) == 1 {
		// One row too wide: one line per column, its header then its value.
		hw := 0
		for _, h := range headers {
			hw = max(hw, runes(h))
		}
		var out []string
		for i, h := range headers {
			v := ""
			if i < len(rows[0]) {
				v = rows[0][i]
			}
			out = append(out, WrapIndent(h+strings.Repeat(" ", hw-runes(h)+2), v, width)...)
		}
		return out
	}
	if width > 0 && tableWidth(widths, groups[0]) > width && cols > 1 &&
		tableWidth(widths, seq(cols-1))+2+longestWord(headers, rows, cols-1) <= width {
		// Wrapping the last column is enough.
		return tableLines(headers, rows, widths, groups[0], width)
	}
	if width > 0 && tableWidth(widths, groups[0]) > width && cols > 2 {
		groups = nil
		cur := []int{0}
		for i := 1; i < cols; i++ {
			if len(cur) > 1 && tableWidth(widths, append(append([]int{}, cur...), i)) > width {
				groups = append(groups, cur)
				cur = []int{0}
			}
			cur = append(cur, i)
		}
		groups = append(groups, cur)
	}
	var out []string
	for g, group := range groups {
		if g > 0 {
			out = append(out, "")
		}
		out = append(out, tableLines(headers, rows, widths, group, width)...)
	}
	return out
}

// tableLines renders the columns of group; its last column wraps when the group is wider than
// width.
func tableLines(headers []string, rows [][]string, widths []int, group []int, width int) []string {
	last := group[len(group)-1]
	lastWidth := widths[last]
	if width > 0 && tableWidth(widths, group) > width {
		lastWidth = max(width-tableWidth(widths, group[:len(group)-1])-2, 1)
	}
	var out []string
	for _, r := range append([][]string{headers}, rows...) {
		cells := make([][]string, len(group))
		height := 0
		for j, c := range group {
			v := ""
			if c < len(r) {
				v = r[c]
			}
			cells[j] = []string{v}
			if c == last {
				cells[j] = Wrap(v, lastWidth)
			}
			height = max(height, len(cells[j]))
		}
		for k := 0; k < height; k++ {
			var b strings.Builder
			for j, c := range group {
				v := ""
				if k < len(cells[j]) {
					v = cells[j][k]
				}
				b.WriteString(v)
				if j < len(group)-1 {
					b.WriteString(strings.Repeat(" ", widths[c]-runes(v)+2))
				}
			}
			out = append(out, strings.TrimRight(b.String(), " "))
		}
	}
	return out
}

// longestWord is the longest word of column c: it cannot be narrower.
func longestWord(headers []string, rows [][]string, c int) int {
	n := 0
	for _, r := range append([][]string{headers}, rows...) {
		if c < len(r) {
			for _, w := range strings.Fields(r[c]) {
				n = max(n, runes(w))
			}
		}
	}
	return n
}

func tableWidth(widths []int, group []int) int {
	w := 0
	for _, c := range group {
		w += widths[c]
	}
	return w + 2*(len(group)-1)
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func runes(s string) int { return utf8.RuneCountInString(s) }
