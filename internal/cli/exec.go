package cli

import (
	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/labrecord"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type execFlags struct{ provider string }

func newExecCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &execFlags{}
	c := &cobra.Command{
		Use:   "exec <lab> <node|pod> -- CMD...",
		Short: "Run a command inside a lab node, the switch, or a pod",
		Long: `exec runs CMD inside a node of a deployed lab — in the netns provider a host binary inside the
node's network namespace — with stdin, stdout and stderr passed through. A netns lab's pods are
targets too, as <pod> or <namespace>/<pod>. knetlab exits with the command's exit code.`,
		Example: `  sudo knetlab exec calico-overlay k01-worker -- ping -c1 10.10.20.20
  sudo knetlab exec calico-overlay ceos01 -- ip route
  sudo knetlab exec calico-overlay net-w1 -- ip route`,
		Args:              cobra.MinimumNArgs(3),
		ValidArgsFunction: completeLabNodes,
		Annotations:       map[string]string{signalsToChild: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 2 {
				return exitcode.Usagef("usage: knetlab exec <lab> <node> -- CMD... (a node, the switch or a pod)")
			}
			rec, err := labrecord.Load(args[0])
			if err != nil {
				return err
			}
			p, err := labProvider(reg, rec, args[0], f.provider)
			if err != nil {
				return err
			}
			return p.Exec(cmd.Context(), args[0], args[1], args[2:], provider.Stdio{In: s.In, Out: s.Out, Err: s.Err})
		},
	}
	registerProviderFlag(c, &f.provider, reg)
	return c
}

// completeLabNodes completes a lab name, then the lab's nodes and switch.
func completeLabNodes(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) != 1 {
		return completeLabs(cmd, args, toComplete)
	}
	l, err := lab.Load(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, n := range l.Nodes {
		out = append(out, n.Name)
	}
	if l.Switch != nil {
		out = append(out, l.Switch.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
