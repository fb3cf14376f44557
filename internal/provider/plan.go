package provider

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/knetlab/knetlab/internal/lab"
)

// Planner is implemented by providers that can say, without changing anything, what a deploy
// or a destroy would do: --dry-run prints their plans.
type Planner interface {
	// PlanDeploy is the deploy of l with opts, step by step.
	PlanDeploy(ctx context.Context, l *lab.Lab, opts DeployOptions) (*Plan, error)
	// PlanDestroy is the destroy of labName (every lab of the provider with opts.All), one plan
	// per lab. With no lab to destroy it returns none and says so through opts.Progress.
	PlanDestroy(ctx context.Context, labName string, opts DestroyOptions) ([]*Plan, error)
}

// Step is one action of a deploy or destroy: what it achieves, the exact commands and library
// calls it makes (with versions and file paths), and what it waits for. --dry-run prints the
// steps; a provider that runs its plan executes the same values, so the printed plan cannot
// drift from what runs.
type Step struct {
	Title   string   // what the step achieves
	Actions []string // the commands, library calls or objects, in order
	Waits   string   // the condition the step waits for, with its deadline; "" when it does not wait
	// Run does the step; nil in a plan that is only printed.
	Run func(ctx context.Context, p Progress) error
}

// Plan is an ordered list of steps for one lab.
type Plan struct {
	Action   string // "deploy" or "destroy"
	Lab      string
	Provider string
	CNI      string // deploy only; "" when the provider has one CNI
	WorkDir  string // where the lab's files and record live; "" when it has none
	Steps    []Step
}

// Print writes the plan as --dry-run shows it.
func (pl *Plan) Print(w io.Writer) error {
	var b strings.Builder
	head := fmt.Sprintf("%s plan for lab %s (provider %s", pl.Action, pl.Lab, pl.Provider)
	if pl.CNI != "" {
		head += ", cni " + pl.CNI
	}
	fmt.Fprintf(&b, "%s)\n", head)
	if pl.WorkDir != "" {
		fmt.Fprintf(&b, "work directory: %s\n", pl.WorkDir)
	}
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

// Run executes the steps in order and stops at the first failure, naming the step. Progress
// gets a line when each step starts and when it is done, with how long it took.
func (pl *Plan) Run(ctx context.Context, p Progress) error {
	for i, s := range pl.Steps {
		p.Step("[%d/%d] %s", i+1, len(pl.Steps), s.Title)
		start := time.Now()
		if s.Run == nil {
			return fmt.Errorf("%s lab %s, step %d/%d (%s): the step has nothing to run", pl.Action, pl.Lab, i+1, len(pl.Steps), s.Title)
		}
		if err := s.Run(ctx, p); err != nil {
			return fmt.Errorf("%s lab %s, step %d/%d (%s): %w", pl.Action, pl.Lab, i+1, len(pl.Steps), s.Title, err)
		}
		p.Done("[%d/%d] %s (%s)", i+1, len(pl.Steps), s.Title, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}
