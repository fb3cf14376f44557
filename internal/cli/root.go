// Package cli is knetlab's command line: one file per command, each a small flag struct and a
// runE that calls into the domain packages. The root is built from streams so tests run it in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

// Main runs knetlab with args and the providers of reg, and returns the exit code of docs/exit-codes.md.
func Main(args []string, s *ui.Streams, reg *provider.Registry) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRoot(s, reg)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitcode.OK
	}
	var ce *exitcode.CheckError
	var cmdErr *exitcode.CommandError
	if !errors.As(err, &ce) && !errors.As(err, &cmdErr) { // a failed check has printed its report, an exec'd command its own errors
		fmt.Fprintf(s.Err, "%s %v\n", s.Paint(ui.Red, "error:"), err)
	}
	return exitcode.Code(err)
}

// NewRoot builds the command tree; the commands that reach a lab take their provider from reg.
func NewRoot(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	root := &cobra.Command{
		Use:   "knetlab",
		Short: "Kubernetes networking labs, deployed and verified table by table",
		Long: `knetlab brings up Kubernetes networking lab topologies — a kind cluster behind an
Arista cEOS switch with containerlab, or the same lab as network namespaces on this host —
installs the CNI, and verifies that every node's routes, vxlan.calico device, neighbours and
FDB entries are what the IPAM block affinities say they must be.

Exit codes: 0 all checks passed · 1 a check failed · 2 bad usage or input (nothing changed) ·
3 the environment is missing something (not root, no Docker, no containerlab, image absent).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	// Flag errors are bad usage: exit 2.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exitcode.NewUsage(err) })
	root.AddCommand(
		newVersionCmd(s),
		newLabCmd(s),
		newRenderCmd(s),
		newDeployCmd(s, reg),
		newStatusCmd(s, reg),
		newVerifyCmd(s, reg),
		newCaptureCmd(s, reg),
		newExecCmd(s, reg),
		newDestroyCmd(s, reg),
		newAgentCmd(s),
		newPodCmd(s, reg),
		newBreakCmd(s, reg), newFixCmd(s, reg),
	)
	for _, c := range root.Commands() {
		wrapArgs(c)
	}
	return root
}

// wrapArgs makes positional-argument errors usage errors (exit 2), in every subcommand.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return exitcode.NewUsage(err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// labFlag is the --lab-file flag every command that takes a lab has.
type labFlag struct{ file string }

func (f *labFlag) register(c *cobra.Command) {
	c.Flags().StringVar(&f.file, "lab-file", "", "use this lab.yaml instead of the built-in catalogue")
}
