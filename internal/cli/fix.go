package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/fault"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/report"
)

type fixFlags struct {
	lab     labFlag
	timeout time.Duration
}

func newFixCmd(s *ui.Streams) *cobra.Command {
	f := &fixFlags{}
	c := &cobra.Command{
		Use:   "fix <lab>",
		Short: "Undo every fault knetlab break applied and wait until verify passes",
		Long: `fix restores a healthy netns lab after knetlab break (or after anything else):

  1. resumes every paused agent (each resyncs its routes, neighbours, FDB and vxlan.calico
     with the datastore) and puts back what no agent owns: each pod's host-side proxy_arp,
     proxy_delay and forwarding;
  2. deploys the lab again, which repairs missing objects and restarts stopped agents;
  3. runs the lab's verify until it passes or --timeout passes, and prints the report if not.

Exit codes: 0 the lab is healthy · 1 verify still fails after --timeout · 3 the lab is not
deployed by the netns provider, or not as root.`,
		Example:           `  sudo knetlab fix calico-overlay`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.timeout <= 0 {
				return exitcode.Usagef("--timeout must be positive")
			}
			l, err := lab.Resolve(args[0], f.lab.file)
			if err != nil {
				return err
			}
			return fixLab(cmd.Context(), s, l, f.timeout)
		},
	}
	f.lab.register(c)
	c.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for verify to pass")
	return c
}

func fixLab(ctx context.Context, s *ui.Streams, l *lab.Lab, timeout time.Duration) error {
	start := time.Now()
	progress := ui.NewProgress(s)
	store, ft, err := netnsLab(ctx, l)
	if err != nil {
		return err
	}
	for _, applied := range store.Lab.Faults {
		progress.Step("undoing %s on %s (%s)", applied.Name, applied.Node, applied.Entry)
	}
	did, err := fault.Heal(&fault.Target{Lab: l, Rec: store.Lab})
	store.Close() // deploy takes the lab's lock itself
	for _, d := range did {
		progress.Step("%s", d)
	}
	if err != nil {
		return err
	}
	if err := ft.provider.Deploy(ctx, l, provider.DeployOptions{Progress: progress}); err != nil {
		return fmt.Errorf("fix %s: %w", l.Name, err)
	}

	src, err := ft.provider.Source(ctx, l)
	if err != nil {
		return err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	rep, err := verify.Run(ctx, src, verify.Options{Checks: l.Checks, Lab: l.VerifySpec(), Wait: timeout, Interval: 250 * time.Millisecond,
		Retrying: func(failing []string, waited time.Duration) {
			progress.Step("waiting for %s (%s of %s)", strings.Join(failing, ", "), waited.Round(time.Second), timeout)
		}})
	if err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		report.WriteText(s, rep)
		return &exitcode.CheckError{Failed: n}
	}
	if err := forgetFaults(ctx, l.Name); err != nil {
		return err
	}
	progress.Done("lab %s is healthy: %d checks pass (fixed in %s)", l.Name, rep.Summary().Passed, time.Since(start).Round(time.Millisecond))
	return nil
}

// forgetFaults clears the record of applied faults once verify passes.
func forgetFaults(ctx context.Context, name string) error {
	lockCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	store, err := journal.Open(lockCtx, journal.Root(), name)
	if err != nil {
		return err
	}
	defer store.Close()
	if len(store.Lab.Faults) == 0 {
		return nil
	}
	store.Lab.Faults = nil
	return store.Save()
}
