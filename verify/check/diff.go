package check

import "github.com/knetlab/knetlab/verify/report"

// keyedDiff is the comparison most checks make: a check's expected entries (W) against the
// entries found (G), matched by a key (K) — a destination, a MAC, a pool or a port name. run
// writes, in the expected entries' order:
//   - Missing for an expected entry with no found entry of its key,
//   - Different for each field in which the found entry differs (compare says which),
//
// and returns the found entries no expected entry accounts for, which the check reports as
// Unexpected (or tolerates, or does not judge).
type keyedDiff[K comparable, W, G any] struct {
	key      func(W) K
	foundKey func(G) K

	// entry names an expected entry in its findings, missing is the entry in full as a Missing
	// finding expects it, and why says why the entry is expected. They are called only for a
	// finding: on a healthy 1,000-node cluster formatting them for every entry would cost more
	// than the comparison.
	entry   func(W) string
	missing func(W) string
	why     func(W) string

	// compare reports each field in which got differs from w.
	compare func(w W, got G, f fields)

	// pick, when set, chooses which of the found entries of w's key (at least one, in found
	// order) w is compared with; the others of that key are unexpected unless another expected
	// entry picks them. Without pick, w is compared with the
	// last found entry of its key and every found entry of an expected key is accounted for
	// (as an index by key would keep it).
	pick func(w W, found []G) int
	// once, with pick, offers a found entry to one expected entry only: two expected entries of
	// one key need two found ones.
	once bool
}

// run compares want with found, writes the findings into r, and returns the found entries no
// expected entry accounts for, in found order.
func (d keyedDiff[K, W, G]) run(r *report.Node, want []W, found []G) (unexpected []G) {
	// The found entries are chained by key, in found order: head[k] is the first of key k,
	// next[i] the one after i (-1 at the end). One map for the whole table, so that a node with
	// 1,000 routes costs 1,000 lookups.
	head := make(map[K]int, len(found))
	next := make([]int, len(found))
	for i := len(found) - 1; i >= 0; i-- {
		k := d.foundKey(found[i])
		if h, ok := head[k]; ok {
			next[i] = h
		} else {
			next[i] = -1
		}
		head[k] = i
	}
	accounted := make([]bool, len(found))

	var w W // the entry being compared, for f's findings
	f := fields{r: r, entry: func() string { return d.entry(w) }, why: func() string { return d.why(w) }}
	var cands []G
	var candIdx []int
	for _, w = range want {
		h, ok := head[d.key(w)]
		j := -1
		switch {
		case !ok:
		case d.pick == nil:
			for i := h; i >= 0; i = next[i] {
				accounted[i], j = true, i
			}
		default:
			cands, candIdx = cands[:0], candIdx[:0]
			for i := h; i >= 0; i = next[i] {
				if !d.once || !accounted[i] {
					cands, candIdx = append(cands, found[i]), append(candIdx, i)
				}
			}
			if len(cands) > 0 {
				j = candIdx[d.pick(w, cands)]
				accounted[j] = true
			}
		}
		if j < 0 {
			f.missing(d.missing(w))
			continue
		}
		d.compare(w, found[j], f)
	}
	for i := range found {
		if !accounted[i] {
			unexpected = append(unexpected, found[i])
		}
	}
	return unexpected
}

// fields writes the findings about one expected entry: its name and the reason it is expected
// are formatted only when there is a finding.
type fields struct {
	r     *report.Node
	entry func() string
	why   func() string
}

// entryFields are the findings about an entry the check names itself.
func entryFields(r *report.Node, entry, why string) fields {
	return fields{r: r, entry: func() string { return entry }, why: func() string { return why }}
}

// missing reports the entry absent; expected is the entry in full.
func (f fields) missing(expected string) {
	f.r.Findings = append(f.r.Findings, report.Finding{Kind: report.Missing, Entry: f.entry(), Expected: expected, Reason: f.why()})
}

// differ reports a field of the entry that differs from what is expected.
func (f fields) differ(field, want, got string) { f.differBecause(field, want, got, f.why()) }

// differBecause reports a field that differs for a reason of its own, not the entry's.
func (f fields) differBecause(field, want, got, why string) {
	f.r.Findings = append(f.r.Findings, report.Finding{Kind: report.Different, Entry: f.entry(), Field: field,
		Expected: want, Found: got, Reason: why})
}

// compare reports the field when the found value is not the expected one.
func (f fields) compare(field, want, got string) {
	if want != got {
		f.differ(field, want, got)
	}
}

// unexpectedEntry reports a found entry that nothing expected.
func unexpectedEntry(r *report.Node, entry, found, why string) {
	r.Findings = append(r.Findings, report.Finding{Kind: report.Unexpected, Entry: entry, Found: found, Reason: why})
}

// pointers lists pointers to the entries of a table, for a diff that compares them in place.
func pointers[T any](list []T) []*T {
	out := make([]*T, len(list))
	for i := range list {
		out[i] = &list[i]
	}
	return out
}

// first is a pick for a table the check reads top down: the first entry of the key.
func first[W, G any](W, []G) int { return 0 }
