package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type breakFlags struct {
	lab     labFlag
	list    bool
	random  bool
	quiet   bool
	explain bool
}

func newBreakCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &breakFlags{}
	c := &cobra.Command{
		Use:   "break <lab> <fault> | <lab> --random [--quiet] | <lab> --list",
		Short: "Apply a teaching fault to a deployed netns lab (then find it with verify)",
		Long: `break applies one fault to a lab deployed by the netns provider, the way things break in
real clusters, so that knetlab verify has something to find. Faults that change what a node's
agent owns pause that agent first (SIGSTOP), or it would repair them within seconds.

  knetlab break <lab> --list       the faults the lab supports, one a line: name, what it does
  knetlab break <lab> <fault>      apply it; knetlab verify <lab> then fails (--explain: which
                                   node, entry and check, the answer to the exercise)
  knetlab break <lab> --random     an exercise: a fault the lab supports, chosen at random and
                                   not named (--quiet: not even that one was applied)
  knetlab hint <lab>               one clue at a time: the failing check, the node, the table
  knetlab fix <lab>                undo every fault and wait until verify passes

docs/break-fix.md has the exercises.`,
		Example: `  sudo knetlab break calico-overlay --list
  sudo knetlab break calico-overlay fdb-missing && sudo knetlab verify calico-overlay
  sudo knetlab break calico-overlay --random && sudo knetlab verify calico-overlay`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := faultsProvider(reg)
			if err != nil {
				return err
			}
			switch {
			case f.list && (len(args) > 1 || f.random):
				return exitcode.Usagef("break --list takes only the lab")
			case f.random && len(args) > 1:
				return exitcode.Usagef("break --random chooses the fault itself: give only the lab")
			case f.random && f.explain:
				return exitcode.Usagef("break --random does not name its fault: --explain is for a fault you name (knetlab hint %s reveals it step by step)", args[0])
			}
			l, err := lab.Resolve(args[0], f.lab.file)
			if err != nil {
				return err
			}
			if f.list {
				listFaults(s.Out, p.Faults(l), s.Width)
				return nil
			}
			if f.random {
				return breakRandom(cmd.Context(), s, p, l, f.quiet)
			}
			if len(args) < 2 {
				return exitcode.Usagef("which fault? knetlab break %s --list shows them (or --random)", args[0])
			}
			applied, err := p.Break(cmd.Context(), l, args[1])
			if err != nil {
				return err
			}
			switch {
			case f.explain:
				fmt.Fprintf(s.Out, "%s on %s: %s\n", applied.Name, applied.Node, applied.Entry)
				fmt.Fprintf(s.Out, "knetlab verify %s shows it (%s); knetlab fix %s undoes it\n", l.Name, applied.Check, l.Name)
			case !f.quiet:
				// Which node, entry and check is what the exercise is about: not said unless asked.
				s.Text("", fmt.Sprintf("%s applied to %s: find it with knetlab verify %s (knetlab hint %s gives one clue at a time); knetlab fix %s undoes it",
					applied.Name, l.Name, l.Name, l.Name, l.Name))
			}
			return nil
		},
	}
	f.lab.register(c)
	c.Flags().BoolVar(&f.list, "list", false, "list the faults")
	c.Flags().BoolVar(&f.random, "random", false, "apply a fault the lab supports, chosen at random, without naming it (an exercise)")
	c.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "print nothing about the fault")
	c.Flags().BoolVar(&f.explain, "explain", false, "say which node and entry the fault changed and which check finds it")
	return c
}

// breakRandom applies a fault the lab supports, chosen at random, recorded as unnamed.
func breakRandom(ctx context.Context, s *ui.Streams, p breakable, l *lab.Lab, quiet bool) error {
	ex, ok := p.(provider.Exercises)
	if !ok {
		return exitcode.Usagef("the %s provider has no exercises (break --random)", p.Name())
	}
	faults := p.Faults(l)
	if len(faults) == 0 {
		return exitcode.Usagef("lab %s supports no fault", l.Name)
	}
	if _, err := ex.BreakUnnamed(ctx, l, faults[rand.IntN(len(faults))].Name); err != nil {
		return err
	}
	if !quiet {
		s.Text("", fmt.Sprintf("a fault was applied to %s; run knetlab verify %s to find it (knetlab hint %s gives one clue at a time, knetlab fix %s undoes it)",
			l.Name, l.Name, l.Name, l.Name))
	}
	return nil
}

// listFaults prints one fault a line, name then description, the descriptions in one column
// and wrapped under their start to width (no wrapping when width <= 0).
func listFaults(w io.Writer, faults []provider.FaultInfo, width int) {
	name := 0
	for _, ft := range faults {
		name = max(name, len(ft.Name))
	}
	for _, ft := range faults {
		first := ft.Name + strings.Repeat(" ", name-len(ft.Name)+2)
		for _, line := range ui.WrapIndent(first, ft.Description, width) {
			fmt.Fprintln(w, line)
		}
	}
}

// breakable is a provider that can break and heal its labs.
type breakable interface {
	provider.Provider
	provider.Faults
}

// faultsProvider is the provider break and fix work with: the default one, which must be able
// to break labs (only there does knetlab own the agents and the kernel tables).
func faultsProvider(reg *provider.Registry) (breakable, error) {
	p, err := reg.Get(provider.Default)
	if err != nil {
		return nil, err
	}
	fp, ok := p.(breakable)
	if !ok {
		return nil, exitcode.Usagef("the %s provider has no teaching faults", p.Name())
	}
	return fp, nil
}
