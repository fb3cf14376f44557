// Package check holds the checks of docs/verify.md ("The checks"), declared in one place (registry.go) with what each
// needs, each implemented in its own file. A check judges normalised inputs only — facts, the
// expectation computed from them, node and switch state, the lab definition, a prober — and
// never knows where they came from. The engine that gathers the inputs and runs the checks is
// package verify.
package check

import (
	"context"
	"fmt"
	"time"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
	"github.com/knetlab/knetlab/verify/spec"
)

// Need is an input a check cannot run without.
type Need uint8

// The inputs.
const (
	NeedFacts      Need = 1 << iota // pools, nodes, affinities, pods
	NeedNodes                       // node tables (the check says which, per node)
	NeedTopology                    // node run states
	NeedLab                         // the lab definition
	NeedSwitch                      // the switch's state (and a lab with a switch)
	NeedProber                      // a source that can send traffic
	NeedReflectors                  // the BGP route reflectors' state, where there are any
	// WantNodes asks for the node tables without needing them: the check runs without them
	// and says what it could not tell (the connectivity checks explain a lost ping with them).
	WantNodes
)

// Check is one check of docs/verify.md.
type Check struct {
	ID    string
	Title string
	Needs Need
	// Run judges the inputs and returns one result per node (or per switch, or "cluster").
	// A node whose inputs are absent gets a skipped result with the reason.
	Run func(ctx context.Context, in *Inputs) []*report.Node
	// NotApplicable, when set, says why the check does not apply to these inputs (a lab that
	// does not use what it checks); the check is then skipped as a whole, with that reason.
	NotApplicable func(in *Inputs) string
}

// Inputs are what the engine gathered. For every input that is absent, the matching
// ...Absent field says why, in words that go into the report.
type Inputs struct {
	Lab       *spec.Lab
	LabAbsent string

	Facts       *facts.Facts
	Expect      *expect.Cluster
	FactsAbsent string

	Topology       []observed.NodeStatus
	TopologyAbsent string

	// Nodes are the node states by node name; NodeAbsent says why a node has none.
	Nodes      map[string]*observed.Node
	NodeAbsent map[string]string

	Switch       *observed.Switch
	SwitchAbsent string

	Prober       source.Prober
	ProberAbsent string

	// Reflectors are the BGP route reflectors' states by name: the lab's reflectors, or without
	// a lab those the source has. ReflectorAbsent says why a reflector has none; ReflectorUnread
	// is set for those a live source failed to read (a failure, not a skip).
	Reflectors      map[string]*observed.Reflector
	ReflectorNames  []string
	ReflectorAbsent map[string]string
	ReflectorUnread map[string]bool

	// Live is true when the inputs come from a running lab, which must yield every input its
	// checks need: there an entry that is absent is a failure, and the facts are complete (a
	// route no known pod holds is stale). From a capture (the default) an absent file means
	// "not captured": what it would hold is not judged, and is said to be unknown.
	Live bool
}

// Missing returns why a check with these needs cannot run, or "" when it can.
func (in *Inputs) Missing(n Need) string {
	switch {
	case n&NeedLab != 0 && in.Lab == nil:
		return orDefault(in.LabAbsent, "no lab definition (offline capture)")
	case n&NeedSwitch != 0 && in.Lab != nil && in.Lab.Switch == nil:
		return fmt.Sprintf("lab %s has no switch", in.Lab.Name)
	case n&NeedSwitch != 0 && in.Switch == nil:
		return orDefault(in.SwitchAbsent, "the source has no switch state")
	case n&NeedFacts != 0 && in.Facts == nil:
		return orDefault(in.FactsAbsent, "the source has no cluster facts (pools, nodes, block affinities)")
	case n&NeedTopology != 0 && in.Topology == nil:
		return orDefault(in.TopologyAbsent, "the source has no node run states")
	case n&NeedProber != 0 && in.Prober == nil:
		return orDefault(in.ProberAbsent, "source cannot send traffic (offline capture)")
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// judgeNode judges one node whose tables are all present.
type judgeNode func(in *Inputs, e *expect.Node, s *observed.Node, r *report.Node)

// perNode runs judge on every node of the expectation that has the tables, and skips the
// others with the reason: a node that could not be judged is never passed.
func perNode(in *Inputs, tables []observed.Table, judge judgeNode) []*report.Node {
	out := make([]*report.Node, 0, len(in.Expect.Nodes))
	for _, e := range in.Expect.Nodes {
		start := time.Now()
		r := &report.Node{Node: e.Name()}
		out = append(out, r)
		s, ok := in.Nodes[e.Name()]
		if !ok || s == nil {
			r.Status = report.Skipped
			r.Reason = orDefault(in.NodeAbsent[e.Name()], "no state collected for this node")
			continue
		}
		if t, ok := firstAbsent(s, tables); !ok {
			r.Status = report.Skipped
			r.Reason = fmt.Sprintf("no %s table for %s in this source", t, e.Name())
			continue
		}
		judge(in, e, s, r)
		r.Duration = time.Since(start)
	}
	return out
}

func firstAbsent(s *observed.Node, tables []observed.Table) (observed.Table, bool) {
	for _, t := range tables {
		if !s.Has(t) {
			return t, false
		}
	}
	return "", true
}

// underlay is the node's interface P of docs/dataplane.md, as the node state shows it.
type underlay struct {
	Dev string // "" when the state does not say which interface holds the underlay address
	MTU int    // the interface's MTU; 0 when the state does not show it (never assumed)
}

// findUnderlay looks for the link that holds the node's underlay address.
func findUnderlay(e *expect.Node, s *observed.Node) underlay {
	ip := e.Facts.Address.Addr()
	for i := range s.Links {
		for _, a := range s.Links[i].Addrs {
			if a.Addr() == ip {
				return underlay{Dev: s.Links[i].Name, MTU: s.Links[i].MTU}
			}
		}
	}
	return underlay{}
}

// underlayNotCaptured names the underlay device a note says was not captured.
func underlayNotCaptured(e *expect.Node) string {
	if !e.Facts.Address.IsValid() {
		return fmt.Sprintf("the underlay device not captured (%s has no underlay address in the facts)", e.Name())
	}
	return fmt.Sprintf("the underlay device (the interface holding %s) not captured", e.Facts.Address.Addr())
}

// mainTable reports whether a route is in the main table, the only one Calico programs.
func mainTable(r *observed.Route) bool { return r.Table == "" || r.Table == "main" }
