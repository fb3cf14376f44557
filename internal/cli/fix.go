package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/repair"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/verify/report"
)

type fixFlags struct {
	lab     labFlag
	timeout time.Duration
}

func newFixCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
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
			return fixLab(cmd.Context(), s, reg, l, f.timeout)
		},
	}
	f.lab.register(c)
	c.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for verify to pass")
	return c
}

func fixLab(ctx context.Context, s *ui.Streams, reg *provider.Registry, l *lab.Lab, timeout time.Duration) error {
	start := time.Now()
	p, err := faultsProvider(reg)
	if err != nil {
		return err
	}
	progress := ui.NewProgress(s)
	rep, err := repair.Run(ctx, p, l, repair.Options{Wait: timeout, Progress: progress})
	if err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		report.WriteText(s, rep)
		return &exitcode.CheckError{Failed: n}
	}
	progress.Done("lab %s is healthy: %d checks pass (fixed in %s)", l.Name, rep.Summary().Passed, time.Since(start).Round(time.Millisecond))
	return nil
}
