package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/fault"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/internal/ui"
)

type breakFlags struct {
	lab  labFlag
	list bool
}

func newBreakCmd(s *ui.Streams) *cobra.Command {
	f := &breakFlags{}
	c := &cobra.Command{
		Use:   "break <lab> <fault> | <lab> --list",
		Short: "Apply a teaching fault to a deployed netns lab (then find it with verify)",
		Long: `break applies one fault to a lab deployed by the netns provider, the way things break in
real clusters, so that knetlab verify has something to find. Faults that change what a node's
agent owns pause that agent first (SIGSTOP), or it would repair them within seconds.

  knetlab break <lab> --list     one fault per line: its name, then what it does
  knetlab break <lab> <fault>    apply it; knetlab verify <lab> then fails naming it
  knetlab fix <lab>              undo every fault and wait until verify passes

docs/break-fix.md has the exercises.`,
		Example: `  sudo knetlab break calico-overlay --list
  sudo knetlab break calico-overlay fdb-missing && sudo knetlab verify calico-overlay`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.list {
				if len(args) > 1 {
					return exitcode.Usagef("break --list takes only the lab")
				}
				listFaults(s.Out)
				return nil
			}
			if len(args) < 2 {
				return exitcode.Usagef("which fault? knetlab break %s --list shows them", args[0])
			}
			l, err := lab.Resolve(args[0], f.lab.file)
			if err != nil {
				return err
			}
			ft, ok := fault.Find(args[1])
			if !ok {
				return exitcode.Usagef("unknown fault %q; knetlab break %s --list shows them", args[1], l.Name)
			}
			applied, err := breakLab(cmd.Context(), l, ft)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s on %s: %s\n", ft.Name, applied.Node, applied.Entry)
			fmt.Fprintf(s.Out, "knetlab verify %s shows it (%s); knetlab fix %s undoes it\n", l.Name, ft.Check, l.Name)
			return nil
		},
	}
	f.lab.register(c)
	c.Flags().BoolVar(&f.list, "list", false, "list the faults")
	return c
}

func listFaults(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ft := range fault.All() {
		fmt.Fprintf(tw, "%s\t%s\n", ft.Name, ft.Description)
	}
	tw.Flush()
}

// netnsLab opens a lab's record for break and fix: only netns labs can be broken, because
// only there knetlab owns the agents and the kernel tables.
func netnsLab(ctx context.Context, l *lab.Lab) (*journal.Store, *faultTarget, error) {
	p, err := provider.Get(netnslab.Name)
	if err != nil {
		return nil, nil, err
	}
	rec, err := journal.Read(journal.Root(), l.Name)
	if err != nil {
		return nil, nil, err
	}
	if rec == nil {
		return nil, nil, exitcode.NewEnvironment(fmt.Errorf("lab %s is not deployed by the netns provider (break and fix work on netns labs)", l.Name),
			"sudo knetlab deploy "+l.Name)
	}
	lockCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	store, err := journal.Open(lockCtx, journal.Root(), l.Name)
	if err != nil {
		return nil, nil, err
	}
	return store, &faultTarget{provider: p}, nil
}

// faultTarget reads the facts a fault needs through the lab's verify source.
type faultTarget struct{ provider provider.Provider }

func (ft *faultTarget) target(ctx context.Context, l *lab.Lab, rec *journal.Lab) (*fault.Target, error) {
	src, err := ft.provider.Source(ctx, l)
	if err != nil {
		return nil, err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	facts, err := src.Facts(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the facts of %s: %w", l.Name, err)
	}
	return &fault.Target{Lab: l, Rec: rec, Facts: facts}, nil
}

func breakLab(ctx context.Context, l *lab.Lab, ft fault.Fault) (journal.Fault, error) {
	store, ftg, err := netnsLab(ctx, l)
	if err != nil {
		return journal.Fault{}, err
	}
	defer store.Close()
	t, err := ftg.target(ctx, l, store.Lab)
	if err != nil {
		return journal.Fault{}, err
	}
	applied, err := ft.Apply(ctx, t)
	if err != nil {
		return journal.Fault{}, err
	}
	store.Lab.Faults = append(store.Lab.Faults, applied)
	if err := store.Save(); err != nil {
		return applied, fmt.Errorf("%s applied, but not recorded: %w; knetlab fix %s still undoes it", ft.Name, err, l.Name)
	}
	return applied, nil
}
