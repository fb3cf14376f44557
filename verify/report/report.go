// Package report is the result of a verify run — checks, then the nodes each check judged,
// then the findings on each node — and its three renderings: text for a person (colour only
// on a terminal), JSON with a stable schema for programs, JUnit for CI.
package report

import (
	"time"
)

// SchemaVersion is the version of the JSON schema documented in docs/verify.md. It changes
// only when a field is removed or changes meaning; new fields may appear without a bump.
const SchemaVersion = 1

// Status is the outcome of a check, or of a check on one node.
type Status string

// The statuses. A check whose inputs are absent is skipped, never passed.
const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped"
)

// FindingKind says how an entry differs from its expectation.
type FindingKind string

// The finding kinds. Missing, unexpected and different entries are reported separately.
const (
	Missing    FindingKind = "missing"    // expected, not found
	Unexpected FindingKind = "unexpected" // found, not expected (stale, or never Calico's to add)
	Different  FindingKind = "different"  // found, but a field differs from the expectation
	Broken     FindingKind = "failed"     // a condition that is not an entry: a ping lost, a node not running
)

// Report is one verify run.
type Report struct {
	// Source describes where the tables came from, e.g. "capture ./cap".
	Source string
	// Lab is the lab definition's name, "" when verify ran without one.
	Lab      string
	Started  time.Time
	Duration time.Duration
	Checks   []*Check
}

// Check is one check's result over every node (or the cluster, or the switch).
type Check struct {
	ID       string
	Title    string
	Status   Status
	Reason   string // why the whole check was skipped
	Duration time.Duration
	// PassedAfter is set under --wait when the check failed first and passed later: how long
	// after the start of the run it passed.
	PassedAfter time.Duration
	Nodes       []*Node
}

// Node is a check's result on one target: a node, the switch, or the cluster as a whole.
type Node struct {
	Node     string
	Status   Status
	Duration time.Duration
	Reason   string   // why this node was skipped
	Notes    []string // what was assumed or not compared, on a passed or failed node
	Findings []Finding
}

// Finding is one entry that is not what it must be.
type Finding struct {
	Kind FindingKind
	// Entry names the entry, e.g. "192.168.209.64/26", "fdb 66:fb:ad:98:aa:13", "vxlan.calico".
	Entry string
	// Field is the field that differs, for Different findings ("gateway", "dev", "protocol").
	Field    string
	Expected string
	Found    string
	// Reason is why the expectation holds.
	Reason string
	// Layer is, for a condition that failed (a ping lost), the layer that failed as the
	// tables show it ("neighbour (ARP): ...", "route: ...", "encapsulation: ..."), or why
	// it cannot be told.
	Layer string
}

// Summary counts checks by status, and the targets (nodes, the switch, the cluster) of all
// checks by theirs: a check that passed on three nodes and skipped the fourth is a passed
// check, and a skipped node.
type Summary struct {
	Counts // checks by status
	// Partial counts the checks that judged some targets and skipped others; each is also
	// counted as passed or failed.
	Partial int
	Nodes   Counts
}

// Counts counts targets by status.
type Counts struct {
	Passed, Failed, Skipped int
}

func (n *Counts) add(st Status) {
	switch st {
	case Passed:
		n.Passed++
	case Failed:
		n.Failed++
	default:
		n.Skipped++
	}
}

// Summary counts the report's checks and their targets by status.
func (r *Report) Summary() Summary {
	var s Summary
	for _, c := range r.Checks {
		s.add(c.Status)
		if c.Partial() {
			s.Partial++
		}
		n := c.Counts()
		s.Nodes.Passed += n.Passed
		s.Nodes.Failed += n.Failed
		s.Nodes.Skipped += n.Skipped
	}
	return s
}

// Skips returns how many checks were skipped as a whole and how many targets were skipped
// inside the others: what verify --strict refuses to call a pass.
func (r *Report) Skips() (checks, nodes int) {
	s := r.Summary()
	return s.Skipped, s.Nodes.Skipped
}

// Status is failed when any check failed, passed when at least one passed and none failed,
// skipped when nothing could be judged.
func (r *Report) Status() Status {
	s := r.Summary()
	switch {
	case s.Failed > 0:
		return Failed
	case s.Passed > 0:
		return Passed
	}
	return Skipped
}

// Failed returns how many checks failed.
func (r *Report) Failed() int { return r.Summary().Failed }

// Check returns the check with the ID.
func (r *Report) Check(id string) (*Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return nil, false
}

// Counts counts the check's targets by status.
func (c *Check) Counts() Counts {
	var n Counts
	for _, t := range c.Nodes {
		n.add(t.Status)
	}
	return n
}

// Partial reports whether the check judged some targets and skipped others: its verdict
// holds only for the targets it judged.
func (c *Check) Partial() bool {
	n := c.Counts()
	return n.Skipped > 0 && n.Passed+n.Failed > 0
}

// Node returns the check's result for the named node.
func (c *Check) Node(name string) (*Node, bool) {
	for _, n := range c.Nodes {
		if n.Node == name {
			return n, true
		}
	}
	return nil, false
}

// Settle derives the check's status from its nodes: failed when any node failed, skipped
// when every node was skipped (or there were none), else passed. A node's status is failed
// as soon as it has a finding.
func (c *Check) Settle() {
	if c.Status == Skipped && c.Reason != "" {
		return
	}
	passed, failed := 0, 0
	for _, n := range c.Nodes {
		if len(n.Findings) > 0 {
			n.Status = Failed
		} else if n.Status == "" {
			n.Status = Passed
		}
		switch n.Status {
		case Passed:
			passed++
		case Failed:
			failed++
		}
	}
	switch {
	case failed > 0:
		c.Status = Failed
	case passed > 0:
		c.Status = Passed
	default:
		c.Status = Skipped
		if c.Reason == "" && len(c.Nodes) == 0 {
			c.Reason = "nothing to check"
		}
	}
}
