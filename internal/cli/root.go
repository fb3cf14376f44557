// Package cli is knetlab's command line: one file per command, each a small flag struct and a
// runE that calls into the domain packages. The root is built from streams so tests run it in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

// Main runs knetlab with args and the providers of reg, and returns the exit code of docs/exit-codes.md.
func Main(args []string, s *ui.Streams, reg *provider.Registry) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return execute(ctx, NewRoot(s, reg), args, s)
}

// execute runs root with args, prints the error, and returns the exit code. A panic is an
// internal error like any unexpected one: exit 4 with the stack, not Go's exit 2, which would
// read as bad usage.
func execute(ctx context.Context, root *cobra.Command, args []string, s *ui.Streams) (code int) {
	defer func() {
		if r := recover(); r != nil {
			err := exitcode.Internalf("panic: %v\n%s", r, debug.Stack())
			fmt.Fprintf(s.Err, "%s %s\n", s.Paint(ui.Red, "error:"), exitcode.Describe(err))
			code = exitcode.Internal
		}
	}()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitcode.OK
	}
	if isCobraUsage(err) {
		if len(args) > 1 && slices.Contains(lab.Names(), args[0]) {
			err = fmt.Errorf("%w; the command comes first: knetlab %s %s", err, args[1], args[0])
		}
		err = exitcode.NewUsage(err)
	}
	var ce *exitcode.CheckError
	var cmdErr *exitcode.CommandError
	if !errors.As(err, &ce) && !errors.As(err, &cmdErr) { // a failed check has printed its report, an exec'd command its own errors
		fmt.Fprintf(s.Err, "%s %s\n", s.Paint(ui.Red, "error:"), exitcode.Describe(err))
	}
	return exitcode.Code(err)
}

// isCobraUsage recognises the errors cobra itself returns for a command line it cannot place:
// an unknown command ("unknown command \"bogus\" for \"knetlab\""), which cobra makes with
// fmt.Errorf and so has no type to test.
func isCobraUsage(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
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
3 the environment is missing something (not root, no Docker, no containerlab, image absent) ·
4 internal error, a knetlab bug (docs/exit-codes.md).`,
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
	root.SetHelpCommand(newHelpCmd(root))
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		wrapArgs(c)
		requireSubcommand(c)
	}
	return root
}

// newHelpCmd is `knetlab help [command]`: cobra's, except that an unknown topic is bad usage
// (exit 2) rather than a help text and exit 0.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(_ *cobra.Command, args []string) error {
			c, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return exitcode.Usagef("unknown help topic %q; knetlab --help lists the commands", strings.Join(args, " "))
			}
			c.InitDefaultHelpFlag()
			return c.Help()
		},
	}
}

// requireSubcommand makes a command group (pod, lab) called without a subcommand, or with one it
// does not have, bad usage (exit 2), where cobra would print the group's help and exit 0.
func requireSubcommand(c *cobra.Command) {
	for _, sub := range c.Commands() {
		requireSubcommand(sub)
	}
	if !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return exitcode.Usagef("unknown command %q for %q; %s --help lists its commands", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return nil
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		return exitcode.Usagef("%s needs a subcommand: %s (%s --help)", cmd.CommandPath(), strings.Join(names, ", "), cmd.CommandPath())
	}
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
