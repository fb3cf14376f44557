package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/verify/check"
	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
	"github.com/knetlab/knetlab/verify/spec"
)

// Options steer a verify run.
type Options struct {
	// Checks are the IDs to run, in any order; empty runs every check. The report keeps the
	// order of checkid.All.
	Checks []string
	// Lab is the lab definition, when there is one: the switch checks and ipam.pools compare
	// against it, topology.nodes takes its node list from it. Without it they skip or fall back.
	Lab *spec.Lab
	// Wait re-runs failing checks, re-reading the source, until they pass or Wait has passed.
	Wait time.Duration
	// Interval is the pause between re-runs under Wait (default 2s).
	Interval time.Duration
	// Concurrency bounds how many nodes' state is read at once (default 8): a live source
	// reads each node through an exec or a namespace switch.
	Concurrency int
	// Retrying, when set, hears about each re-run under Wait: the checks still failing and
	// how long the run has waited so far.
	Retrying func(failing []string, waited time.Duration)
}

// SelectChecks validates check IDs (a --check list) and returns them in report order. Unknown
// IDs are bad usage; the error names them and lists the valid ones.
func SelectChecks(ids []string) ([]string, error) {
	if len(ids) == 0 {
		return append([]string(nil), checkid.All...), nil
	}
	want := map[string]bool{}
	var unknown []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !checkid.Known(id) {
			unknown = append(unknown, id)
			continue
		}
		want[id] = true
	}
	if len(unknown) > 0 {
		return nil, exitcode.Usagef("unknown check %s; valid checks: %s", strings.Join(unknown, ", "), strings.Join(checkid.All, ", "))
	}
	var out []string
	for _, id := range checkid.All {
		if want[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// Run gathers the inputs from src, runs the selected checks and returns the report. It
// returns an error only when there is nothing to report on: unknown check IDs (a usage
// error), facts the source has but cannot read (a malformed cluster.yaml is bad input, exit 2,
// and the source's error names the file and the line), or a capture with nothing to judge
// against (no cluster facts, or none of the pools and nodes in them: exit 2, naming which).
//
// The verdicts (docs/verify.md, "Verdicts"): from a live source (source.IsLive) an input that
// is not there fails the checks that need it, naming it; from a capture it skips them with the
// reason.
func Run(ctx context.Context, src source.Source, opts Options) (*report.Report, error) {
	ids, err := SelectChecks(opts.Checks)
	if err != nil {
		return nil, err
	}
	checks := make([]check.Check, 0, len(ids))
	for _, id := range ids {
		c, ok := check.Lookup(id)
		if !ok {
			return nil, fmt.Errorf("check %s is declared but has no implementation", id) // a programming error
		}
		checks = append(checks, c)
	}

	start := time.Now()
	r := &report.Report{Source: src.Describe(), Started: start}
	if opts.Lab != nil {
		r.Lab = opts.Lab.Name
	}
	g, err := gather(ctx, src, checks, opts)
	if err != nil {
		return nil, err
	}
	for _, c := range checks {
		r.Checks = append(r.Checks, runCheck(ctx, c, g))
	}

	if opts.Wait > 0 {
		if err := waitForFailing(ctx, src, checks, opts, r, start); err != nil {
			return nil, err
		}
	}
	r.Duration = time.Since(start)
	return r, nil
}

// waitForFailing re-runs the failing checks on fresh inputs until they pass or the deadline
// comes, and records for each check that came to pass how long that took.
func waitForFailing(ctx context.Context, src source.Source, checks []check.Check, opts Options, r *report.Report, start time.Time) error {
	interval := opts.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	deadline := start.Add(opts.Wait)
	for r.Failed() > 0 {
		if time.Until(deadline) < interval {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil // report what is known: an interrupted wait is still a result
		case <-time.After(interval):
		}
		var failing []check.Check
		var ids []string
		for i, c := range checks {
			if r.Checks[i].Status == report.Failed {
				failing = append(failing, c)
				ids = append(ids, c.ID)
			}
		}
		if opts.Retrying != nil {
			opts.Retrying(ids, time.Since(start))
		}
		g, err := gather(ctx, src, failing, opts)
		if err != nil {
			return err
		}
		for i, c := range checks {
			if r.Checks[i].Status != report.Failed {
				continue
			}
			res := runCheck(ctx, c, g)
			if res.Status != report.Failed {
				res.PassedAfter = time.Since(start)
			}
			r.Checks[i] = res
		}
	}
	return nil
}

func runCheck(ctx context.Context, c check.Check, g *gathered) *report.Check {
	start := time.Now()
	res := &report.Check{ID: c.ID, Title: c.Title}
	if why := g.in.Missing(c.Needs); why != "" {
		n, lacking := g.lackingFor(c.Needs)
		if !lacking {
			res.Status, res.Reason = report.Skipped, why
			return res
		}
		res.Nodes = []*report.Node{n}
	} else if why := notApplicable(c, g.in); why != "" {
		res.Status, res.Reason = report.Skipped, why
		return res
	} else {
		res.Nodes = c.Run(ctx, g.in)
		if g.live {
			g.failUnread(c, res)
		}
	}
	res.Settle()
	res.Duration = time.Since(start)
	return res
}

func notApplicable(c check.Check, in *check.Inputs) string {
	if c.NotApplicable == nil {
		return ""
	}
	return c.NotApplicable(in)
}

// gathered is what the engine read from the source: the checks' inputs and, from a live
// source, what should have been there and was not.
type gathered struct {
	in   *check.Inputs
	live bool
	src  string // the source's description, for the findings
	// lacking says, per input, why a live source did not yield it (failure, not skip).
	lacking map[check.Need]string
	// unread says, per node, why a live source yielded none or only part of its tables.
	unread map[string]string
}

// liveInputs are the inputs a live source must yield besides the node tables, in the order a
// check that lacks several names them.
var liveInputs = []struct {
	need            check.Need
	entry, expected string
}{
	{check.NeedSwitch, "switch", "the switch's ports, SVIs and routes"},
	{check.NeedFacts, "cluster facts", "the cluster's IP pools, nodes, block affinities and pods"},
	{check.NeedTopology, "node run states", "the run state of every lab node"},
}

// lackingFor returns, for a check whose inputs are missing, the failed result that names the
// first one a live source should have yielded. It returns false when what is missing does not
// apply (no lab, a lab without a switch, a source that cannot send traffic): those checks are
// skipped on any source.
func (g *gathered) lackingFor(n check.Need) (*report.Node, bool) {
	if n&check.NeedLab != 0 && g.in.Lab == nil {
		return nil, false
	}
	for _, in := range liveInputs {
		why := g.lacking[in.need]
		if n&in.need == 0 || why == "" {
			continue
		}
		target, entry := check.Cluster, in.entry
		if in.need == check.NeedSwitch {
			target = g.in.Lab.Switch.Name
			entry += " " + target
		}
		return &report.Node{Node: target, Findings: []report.Finding{absent(entry, in.expected, why)}}, true
	}
	return nil, false
}

// absent is the finding for an input a live source did not yield.
func absent(entry, expected, why string) report.Finding {
	return report.Finding{Kind: report.Missing, Entry: entry, Expected: expected,
		Found:  strings.TrimSuffix(why, ": "+source.ErrAbsent.Error()), // absent from the lab, not from a file
		Reason: "a live lab yields every input its checks need: without this one the lab is broken or half-built"}
}

// failUnread fails, on a live source, the nodes a check skipped because the source could not
// read them, and adds a failed result for every lab node the cluster facts do not name: both
// are nodes that should be there and are not. A node skipped for a table the source never
// reads (no read error) stays skipped.
func (g *gathered) failUnread(c check.Check, res *report.Check) {
	for _, n := range res.Nodes {
		why := g.unread[n.Node]
		if n.Status != report.Skipped || why == "" {
			continue
		}
		n.Status, n.Reason = "", ""
		n.Findings = append(n.Findings, absent(n.Node+"'s tables", "the node's tables, read from the running node", why))
	}
	in := g.in
	if c.Needs&check.NeedNodes == 0 || in.Lab == nil || in.Expect == nil {
		return
	}
	known := map[string]bool{}
	for _, e := range in.Expect.Nodes {
		known[e.Name()] = true
	}
	for _, name := range in.Lab.Nodes {
		if known[name] {
			continue
		}
		res.Nodes = append(res.Nodes, &report.Node{Node: name, Findings: []report.Finding{{
			Kind: report.Missing, Entry: name, Expected: "a node of the cluster, with its underlay and tunnel addresses",
			Found:  "not in the cluster facts of " + g.src,
			Reason: fmt.Sprintf("%s is a node of lab %s: until it is registered, no node routes to its pods and its own tables are never programmed", name, in.Lab.Name)}}})
	}
}

// gather reads from the source only what the checks need.
func gather(ctx context.Context, src source.Source, checks []check.Check, opts Options) (*gathered, error) {
	var needs check.Need
	for _, c := range checks {
		needs |= c.Needs
	}
	live := source.IsLive(src)
	in := &check.Inputs{Lab: opts.Lab, Live: live}
	g := &gathered{in: in, live: live, src: src.Describe(), lacking: map[check.Need]string{}, unread: map[string]string{}}
	if p, ok := src.(source.Prober); ok {
		in.Prober = p
	}

	if needs&(check.NeedFacts|check.NeedNodes|check.NeedTopology) != 0 {
		f, err := src.Facts(ctx)
		switch {
		case err != nil && g.live && !endsTheRun(err):
			in.FactsAbsent = absentReason(err, "no cluster facts in "+src.Describe())
			g.lacking[check.NeedFacts] = in.FactsAbsent
		case errors.Is(err, source.ErrAbsent):
			in.FactsAbsent = absentReason(err, "no cluster facts in "+src.Describe())
		case err != nil:
			return nil, fmt.Errorf("read cluster facts from %s: %w", src.Describe(), err)
		case f == nil:
			in.FactsAbsent = "no cluster facts in " + src.Describe()
			if g.live {
				g.lacking[check.NeedFacts] = in.FactsAbsent
			}
		default:
			in.Facts = f
			in.Expect = expect.Compute(f)
		}
		if !g.live && needs&(check.NeedFacts|check.NeedNodes) != 0 {
			if err := judgeable(src, in); err != nil {
				return nil, err
			}
		}
	}

	if needs&check.NeedTopology != 0 {
		t, err := src.Topology(ctx)
		switch {
		case err != nil && g.live && !endsTheRun(err):
			in.TopologyAbsent = absentReason(err, "the lab's node run states cannot be read")
			g.lacking[check.NeedTopology] = in.TopologyAbsent
		case errors.Is(err, source.ErrAbsent):
			in.TopologyAbsent = absentReason(err, "the source has no node run states (offline capture)")
		case err != nil:
			in.TopologyAbsent = "cannot read node run states: " + err.Error()
		case t == nil:
			in.Topology = []observed.NodeStatus{}
		default:
			in.Topology = t
		}
	}

	if needs&check.NeedSwitch != 0 && opts.Lab != nil && opts.Lab.Switch != nil {
		sw, err := src.Switch(ctx)
		switch {
		case err != nil && g.live && !endsTheRun(err):
			in.SwitchAbsent = absentReason(err, "the switch cannot be read")
			g.lacking[check.NeedSwitch] = in.SwitchAbsent
		case errors.Is(err, source.ErrAbsent):
			in.SwitchAbsent = absentReason(err, "the source has no switch state")
		case err != nil:
			in.SwitchAbsent = "cannot read the switch: " + err.Error()
		default:
			in.Switch = sw
		}
	}

	if needs&check.NeedReflectors != 0 {
		if err := readReflectors(ctx, src, opts.Lab, g); err != nil {
			return nil, err
		}
	}

	if needs&(check.NeedNodes|check.WantNodes) != 0 && in.Expect != nil {
		var err error
		if in.Nodes, in.NodeAbsent, err = readNodes(ctx, src, in.Expect, opts.Concurrency, g); err != nil {
			return nil, err
		}
	}
	if g.live && ctx.Err() != nil {
		// An interrupted read says nothing about the lab: no failure is made of it.
		return nil, fmt.Errorf("verify %s interrupted: %w", src.Describe(), ctx.Err())
	}
	return g, nil
}

// endsTheRun reports whether a source's error is about the run rather than the lab: bad input
// (exit 2) or an environment that lacks something (exit 3, e.g. a lab that is no longer
// deployed). Those end verify with their own exit code on any source.
func endsTheRun(err error) bool {
	var usage *exitcode.UsageError
	var env *exitcode.EnvironmentError
	return errors.As(err, &usage) || errors.As(err, &env)
}

// judgeable refuses a capture with nothing to judge the node tables against: without cluster
// facts, or without the pools or nodes in them, every check would be skipped and the run would
// pass on nothing. That is bad input (exit 2), naming what is missing.
func judgeable(src source.Source, in *check.Inputs) error {
	const how = "docs/capture.md says how to save it"
	switch {
	case in.Facts == nil:
		return exitcode.Usagef("%s: nothing to judge against: %s; %s", src.Describe(), in.FactsAbsent, how)
	case len(in.Facts.Pools) == 0:
		return exitcode.Usagef("%s: nothing to judge against: the cluster facts (cluster.yaml) have no IP pool; add them (kubectl get ippools.crd.projectcalico.org -o yaml); %s", src.Describe(), how)
	case len(in.Facts.Nodes) == 0:
		return exitcode.Usagef("%s: nothing to judge against: the cluster facts (cluster.yaml) have no node; add them (kubectl get nodes -o yaml); %s", src.Describe(), how)
	}
	return nil
}

// absentReason is the source's own words for what it lacks, when it says more than source.ErrAbsent.
func absentReason(err error, def string) string {
	if err == source.ErrAbsent {
		return def
	}
	return err.Error()
}

// readReflectors reads the BGP route reflectors: the lab's when there is a lab, otherwise every
// one the source has. From a live source a reflector it cannot read fails the checks that need
// it; bad input ends the run.
func readReflectors(ctx context.Context, src source.Source, lab *spec.Lab, g *gathered) error {
	in := g.in
	in.Reflectors, in.ReflectorAbsent, in.ReflectorUnread = map[string]*observed.Reflector{}, map[string]string{}, map[string]bool{}
	rs, readable := src.(source.Reflectors)
	switch {
	case lab != nil && lab.BGP != nil:
		for _, r := range lab.BGP.Reflectors {
			in.ReflectorNames = append(in.ReflectorNames, r.Name)
		}
	case lab != nil:
		return nil // the lab has no BGP: nothing to read
	case readable:
		in.ReflectorNames = rs.ReflectorNames()
	}
	for _, name := range in.ReflectorNames {
		if !readable {
			in.ReflectorAbsent[name] = fmt.Sprintf("%s cannot read BGP route reflectors", src.Describe())
			continue
		}
		r, err := rs.Reflector(ctx, name)
		switch {
		case err != nil && endsTheRun(err):
			return err
		case err != nil && g.live:
			if r != nil {
				in.Reflectors[name] = r // judge what was read
			}
			in.ReflectorAbsent[name] = fmt.Sprintf("cannot read route reflector %s: %v", name, err)
			in.ReflectorUnread[name] = true
		case errors.Is(err, source.ErrAbsent):
			in.ReflectorAbsent[name] = absentReason(err, fmt.Sprintf("no state for route reflector %s in this source", name))
		case err != nil:
			in.ReflectorAbsent[name] = fmt.Sprintf("cannot read route reflector %s: %v", name, err)
		case r == nil:
			in.ReflectorAbsent[name] = fmt.Sprintf("no state for route reflector %s in this source", name)
		default:
			in.Reflectors[name] = r
		}
	}
	return nil
}

// readNodes reads every node's state, a few at a time. A node the source cannot read is
// skipped with the reason, and on a live source also recorded in g.unread (with the nodes read
// only in part), so that the checks that skip it fail; bad input (a capture file that does not
// parse) ends the run.
func readNodes(ctx context.Context, src source.Source, c *expect.Cluster, concurrency int, g *gathered) (map[string]*observed.Node, map[string]string, error) {
	if concurrency <= 0 {
		concurrency = 8
	}
	nodes := map[string]*observed.Node{}
	absent := map[string]string{}
	var badInput error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	names := make([]string, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		names = append(names, n.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			st, err := src.NodeState(ctx, name)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && endsTheRun(err):
				if badInput == nil {
					badInput = err
				}
			case err != nil && st != nil && g.live:
				nodes[name] = st // judge what was read; the checks needing the rest fail
				g.unread[name] = fmt.Sprintf("cannot read all of %s's tables: %v", name, err)
			case errors.Is(err, source.ErrAbsent):
				absent[name] = absentReason(err, fmt.Sprintf("no state for %s in this source", name))
			case err != nil:
				absent[name] = fmt.Sprintf("cannot read %s's state: %v", name, err)
			case st == nil:
				absent[name] = fmt.Sprintf("no state for %s in this source", name)
			default:
				nodes[name] = st
			}
			if why, ok := absent[name]; ok && g.live {
				g.unread[name] = why
			}
		}()
	}
	wg.Wait()
	return nodes, absent, badInput
}
