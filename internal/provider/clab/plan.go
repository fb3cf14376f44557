package clab

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/knetlab/knetlab/internal/provider"
)

// Step is one action of a deploy or destroy: what it achieves, the exact commands and library
// calls it makes (with versions and file paths), and what it waits for. --dry-run prints the
// steps; the runner executes the same values, so the printed plan cannot drift from what runs.
type Step struct {
	Title   string   // what the step achieves
	Actions []string // the commands and library calls, in order
	Waits   string   // the condition the step waits for, with its deadline; "" when it does not wait
	run     func(ctx context.Context, p provider.Progress) error
}

// Plan is an ordered list of steps for one lab.
type Plan struct {
	Action  string // "deploy" or "destroy"
	Lab     string
	CNI     string // deploy only
	WorkDir string
	Steps   []Step
}

// Print writes the plan as --dry-run shows it.
func (pl *Plan) Print(w io.Writer) error {
	var b strings.Builder
	head := fmt.Sprintf("%s plan for lab %s (provider clab", pl.Action, pl.Lab)
	if pl.CNI != "" {
		head += ", cni " + pl.CNI
	}
	fmt.Fprintf(&b, "%s)\nwork directory: %s\n", head, pl.WorkDir)
	for i, s := range pl.Steps {
		fmt.Fprintf(&b, "\n%2d. %s\n", i+1, s.Title)
		for _, a := range s.Actions {
			fmt.Fprintf(&b, "      %s\n", a)
		}
		if s.Waits != "" {
			fmt.Fprintf(&b, "      waits for: %s\n", s.Waits)
		}
	}
	b.WriteString("\nnothing was changed (--dry-run)\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// printTo prints the plan to out, or line by line through progress when the CLI gave no writer.
func (pl *Plan) printTo(out io.Writer, p provider.Progress) error {
	if out != nil {
		return pl.Print(out)
	}
	var b strings.Builder
	if err := pl.Print(&b); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		p.Step("%s", line)
	}
	return nil
}

// Run executes the steps in order and stops at the first failure, naming the step. Progress
// gets a line when each step starts and when it is done, with how long it took.
func (pl *Plan) Run(ctx context.Context, p provider.Progress) error {
	for i, s := range pl.Steps {
		p.Step("[%d/%d] %s", i+1, len(pl.Steps), s.Title)
		start := time.Now()
		if err := s.run(ctx, p); err != nil {
			return fmt.Errorf("%s lab %s, step %d/%d (%s): %w", pl.Action, pl.Lab, i+1, len(pl.Steps), s.Title, err)
		}
		p.Done("[%d/%d] %s (%s)", i+1, len(pl.Steps), s.Title, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}
