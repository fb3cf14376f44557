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
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

// Main runs knetlab with args and the providers of reg, and returns the exit code of docs/exit-codes.md.
//
// SIGINT and SIGTERM cancel the command's context at once; a command that has not returned
// InterruptGrace later (a read the kernel does not finish, a parse that does not look at its
// context) is ended anyway, as is any command at a second signal, so that no command outlives
// the signal by more than a second. Either way knetlab exits 128 + the signal's number, as a
// shell reports a command a signal ended. Two kinds of command are marked otherwise: exec
// (signalsToChild), whose signal is its foreground command's to handle, and the agent
// (signalStops), for which SIGTERM is the ordinary way to stop.
func Main(args []string, s *ui.Streams, reg *provider.Registry) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := NewRoot(s, reg)
	toChild, stops := false, false
	if c, _, err := root.Find(args); err == nil {
		toChild, stops = c.Annotations[signalsToChild] != "", c.Annotations[signalStops] != ""
	}
	interrupt := watchSignals(s, cancel, !toChild)
	defer interrupt.stop()
	return execute(ctx, root, args, s, func() (int, bool) {
		if sig := interrupt.received(); sig != nil && !toChild && !stops {
			interrupt.report(sig)
			return signalCode(sig), true
		}
		return 0, false
	})
}

// execute runs root with args, prints the error, and returns the exit code. A panic is an
// internal error like any unexpected one: exit 4 with the stack, not Go's exit 2, which would
// read as bad usage. interrupted, when it returns true, has reported a signal that ended the
// command, and gives the exit code that says so.
func execute(ctx context.Context, root *cobra.Command, args []string, s *ui.Streams, interrupted func() (int, bool)) (code int) {
	defer func() {
		if r := recover(); r != nil {
			err := exitcode.Internalf("panic: %v\n%s", r, debug.Stack())
			fmt.Fprintf(s.Err, "%s %s\n", s.Paint(ui.Red, "error:"), exitcode.Describe(err))
			code = exitcode.Internal
		}
	}()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if code, ok := interrupted(); ok {
		return code
	}
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

// InterruptGrace is how long a command has after SIGINT or SIGTERM to stop on its own (its
// context is cancelled at once) before knetlab exits regardless.
const InterruptGrace = 500 * time.Millisecond

// signalsToChild annotates a command that runs a foreground command for the user (exec): Ctrl-C
// reaches that command from the terminal, which decides what it means (ping prints its summary,
// an interactive shell ignores it), and knetlab passes its exit code on, as a shell would. So
// knetlab does not end on the signal: it only cancels its context.
const signalsToChild = "knetlab/signals-to-child"

// signalStops annotates a daemon (the agent): SIGTERM is how it is stopped, so a stop within
// InterruptGrace is its own clean exit, not an interruption. One that takes longer is ended.
const signalStops = "knetlab/signal-stops"

// interruption watches for SIGINT and SIGTERM during one Main.
type interruption struct {
	s        *ui.Streams
	signals  chan os.Signal
	done     chan struct{}
	mu       sync.Mutex
	sig      os.Signal // the first signal received
	reported bool
}

// watchSignals cancels on the first signal and, when force is set, exits InterruptGrace later
// or at a second signal.
func watchSignals(s *ui.Streams, cancel context.CancelFunc, force bool) *interruption {
	in := &interruption{s: s, signals: make(chan os.Signal, 2), done: make(chan struct{})}
	signal.Notify(in.signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		var sig os.Signal
		select {
		case sig = <-in.signals:
		case <-in.done:
			return
		}
		in.mu.Lock()
		in.sig = sig
		in.mu.Unlock()
		cancel()
		if !force {
			return // later signals are still caught (and dropped) until Main returns
		}
		timer := time.NewTimer(InterruptGrace)
		defer timer.Stop()
		select {
		case <-in.done: // the command stopped in time; Main reports it
			return
		case <-timer.C:
		case <-in.signals: // a second signal: the user means it
		}
		in.report(sig)
		os.Exit(signalCode(sig))
	}()
	return in
}

// received is the signal that interrupted the command, or nil.
func (in *interruption) received() os.Signal {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.sig
}

// report says, once, that the command was interrupted.
func (in *interruption) report(sig os.Signal) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.reported {
		return
	}
	in.reported = true
	fmt.Fprintf(in.s.Err, "%s interrupted by %s; the command did not finish\n", in.s.Paint(ui.Red, "error:"), signalName(sig))
}

func (in *interruption) stop() {
	signal.Stop(in.signals)
	close(in.done)
}

func signalCode(sig os.Signal) int {
	if n, ok := sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return exitcode.Environment
}

func signalName(sig os.Signal) string {
	if sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
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
4 internal error, a knetlab bug · 130/143 interrupted by SIGINT/SIGTERM (a command stops within
a second; exec leaves the signal to the command it runs and passes its code on); see
docs/exit-codes.md.`,
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
		newTraceCmd(s, reg),
		newCaptureCmd(s, reg),
		newExecCmd(s, reg),
		newDestroyCmd(s, reg),
		newAgentCmd(s),
		newPodCmd(s, reg),
		newGetCmd(s, reg), newSwitchCmd(s, reg),
		newBreakCmd(s, reg), newHintCmd(s, reg), newFixCmd(s, reg), newWatchCmd(s, reg),
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
