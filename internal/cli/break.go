package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type breakFlags struct {
	lab  labFlag
	list bool
}

func newBreakCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &breakFlags{}
	c := &cobra.Command{
		Use:   "break <lab> <fault> | <lab> --list",
		Short: "Apply a teaching fault to a deployed netns lab (then find it with verify)",
		Long: `break applies one fault to a lab deployed by the netns provider, the way things break in
real clusters, so that knetlab verify has something to find. Faults that change what a node's
agent owns pause that agent first (SIGSTOP), or it would repair them within seconds.

  knetlab break <lab> --list     the faults the lab supports, one a line: name, what it does
  knetlab break <lab> <fault>    apply it; knetlab verify <lab> then fails naming it
  knetlab fix <lab>              undo every fault and wait until verify passes

docs/break-fix.md has the exercises.`,
		Example: `  sudo knetlab break calico-overlay --list
  sudo knetlab break calico-overlay fdb-missing && sudo knetlab verify calico-overlay`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := faultsProvider(reg)
			if err != nil {
				return err
			}
			if f.list && len(args) > 1 {
				return exitcode.Usagef("break --list takes only the lab")
			}
			l, err := lab.Resolve(args[0], f.lab.file)
			if err != nil {
				return err
			}
			if f.list {
				listFaults(s.Out, p.Faults(l))
				return nil
			}
			if len(args) < 2 {
				return exitcode.Usagef("which fault? knetlab break %s --list shows them", args[0])
			}
			applied, err := p.Break(cmd.Context(), l, args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s on %s: %s\n", applied.Name, applied.Node, applied.Entry)
			fmt.Fprintf(s.Out, "knetlab verify %s shows it (%s); knetlab fix %s undoes it\n", l.Name, applied.Check, l.Name)
			return nil
		},
	}
	f.lab.register(c)
	c.Flags().BoolVar(&f.list, "list", false, "list the faults")
	return c
}

func listFaults(w io.Writer, faults []provider.FaultInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ft := range faults {
		fmt.Fprintf(tw, "%s\t%s\n", ft.Name, ft.Description)
	}
	tw.Flush()
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
