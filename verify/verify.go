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
// error), or facts the source has but cannot read (a malformed cluster.yaml is bad input,
// exit 2, and the source's error names the file and the line).
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
	in, err := gather(ctx, src, checks, opts)
	if err != nil {
		return nil, err
	}
	for _, c := range checks {
		r.Checks = append(r.Checks, runCheck(ctx, c, in))
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
		in, err := gather(ctx, src, failing, opts)
		if err != nil {
			return err
		}
		for i, c := range checks {
			if r.Checks[i].Status != report.Failed {
				continue
			}
			res := runCheck(ctx, c, in)
			if res.Status != report.Failed {
				res.PassedAfter = time.Since(start)
			}
			r.Checks[i] = res
		}
	}
	return nil
}

func runCheck(ctx context.Context, c check.Check, in *check.Inputs) *report.Check {
	start := time.Now()
	res := &report.Check{ID: c.ID, Title: c.Title}
	if why := in.Missing(c.Needs); why != "" {
		res.Status, res.Reason = report.Skipped, why
		return res
	}
	res.Nodes = c.Run(ctx, in)
	res.Settle()
	res.Duration = time.Since(start)
	return res
}

// gather reads from the source only what the checks need.
func gather(ctx context.Context, src source.Source, checks []check.Check, opts Options) (*check.Inputs, error) {
	var needs check.Need
	for _, c := range checks {
		needs |= c.Needs
	}
	in := &check.Inputs{Lab: opts.Lab}
	if p, ok := src.(source.Prober); ok {
		in.Prober = p
	}

	if needs&(check.NeedFacts|check.NeedNodes|check.NeedTopology) != 0 {
		f, err := src.Facts(ctx)
		switch {
		case errors.Is(err, source.ErrAbsent):
			in.FactsAbsent = absentReason(err, "no cluster facts in "+src.Describe())
		case err != nil:
			return nil, fmt.Errorf("read cluster facts from %s: %w", src.Describe(), err)
		case f == nil:
			in.FactsAbsent = "no cluster facts in " + src.Describe()
		default:
			in.Facts = f
			in.Expect = expect.Compute(f)
		}
	}

	if needs&check.NeedTopology != 0 {
		t, err := src.Topology(ctx)
		switch {
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
		case errors.Is(err, source.ErrAbsent):
			in.SwitchAbsent = absentReason(err, "the source has no switch state")
		case err != nil:
			in.SwitchAbsent = "cannot read the switch: " + err.Error()
		default:
			in.Switch = sw
		}
	}

	if needs&check.NeedNodes != 0 && in.Expect != nil {
		var err error
		if in.Nodes, in.NodeAbsent, err = readNodes(ctx, src, in.Expect, opts.Concurrency); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// absentReason is the source's own words for what it lacks, when it says more than source.ErrAbsent.
func absentReason(err error, def string) string {
	if err == source.ErrAbsent {
		return def
	}
	return err.Error()
}

// readNodes reads every node's state, a few at a time. A node the source cannot read is
// skipped with the reason; bad input (a capture file that does not parse) ends the run.
func readNodes(ctx context.Context, src source.Source, c *expect.Cluster, concurrency int) (map[string]*observed.Node, map[string]string, error) {
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
			case errors.Is(err, source.ErrAbsent):
				absent[name] = fmt.Sprintf("no state for %s in this source", name)
			case exitcode.Code(err) == exitcode.Usage:
				if badInput == nil {
					badInput = err
				}
			case err != nil:
				absent[name] = fmt.Sprintf("cannot read %s's state: %v", name, err)
			case st == nil:
				absent[name] = fmt.Sprintf("no state for %s in this source", name)
			default:
				nodes[name] = st
			}
		}()
	}
	wg.Wait()
	return nodes, absent, badInput
}
