package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type hintFlags struct{ lab labFlag }

func newHintCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &hintFlags{}
	c := &cobra.Command{
		Use:   "hint <lab>",
		Short: "One more clue to the fault knetlab break applied: the check, then the node, then the table",
		Long: `hint reveals the fault applied by knetlab break one step at a time, each call one more:

  1. which verify check fails
  2. which node to look at
  3. which table or setting on it, with the command that shows it, and the entry
  then: which fault it was, and that knetlab fix undoes it

The steps revealed are kept with the lab's record of the fault; knetlab fix forgets them.`,
		Example:           `  sudo knetlab break calico-overlay --random && sudo knetlab hint calico-overlay`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := faultsProvider(reg)
			if err != nil {
				return err
			}
			ex, ok := p.(provider.Exercises)
			if !ok {
				return exitcode.Usagef("the %s provider has no hints", p.Name())
			}
			l, err := lab.Resolve(args[0], f.lab.file)
			if err != nil {
				return err
			}
			h, ok, err := ex.NextHint(cmd.Context(), l)
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintf(s.Out, "no fault is applied to %s (knetlab break %s --random applies one)\n", l.Name, l.Name)
				return nil
			}
			for _, line := range hintLines(l.Name, h) {
				s.Text("", line)
			}
			return nil
		},
	}
	f.lab.register(c)
	return c
}

// hintLines are the steps revealed so far, one a line, the newest last.
func hintLines(labName string, h provider.Hint) []string {
	ft := h.Fault
	steps := []string{
		fmt.Sprintf("hint 1 of %d: knetlab verify %s fails check %s (knetlab verify %s --check %s)", provider.HintSteps, labName, ft.Check, labName, ft.Check),
		fmt.Sprintf("hint 2 of %d: look at node %s", provider.HintSteps, ft.Node),
		fmt.Sprintf("hint 3 of %d: on %s, %s; the entry: %s", provider.HintSteps, ft.Node, ft.Table, ft.Entry),
	}
	out := steps[:min(h.Step, len(steps))]
	if h.Step > provider.HintSteps {
		out = append(out, fmt.Sprintf("no more hints: it was %s on %s; repair it by hand, or knetlab fix %s undoes it", ft.Name, ft.Node, labName))
	}
	return out
}
