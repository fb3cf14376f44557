package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/eosview"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type switchFlags struct {
	lab      labFlag
	provider string
}

func newSwitchCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &switchFlags{}
	c := &cobra.Command{
		Use:   "switch <lab> " + strings.Join(eosview.Commands, " | "),
		Short: "Ask the lab's switch a show command and print the answer in Arista EOS's words",
		Long: `switch answers four EOS show commands about the lab's switch, as the course runs them in the
cEOS CLI (docker exec -it clab-calico-overlay-ceos01 Cli):

  ` + strings.Join(eosview.Commands, "\n  ") + `

On the real lab (clab provider) the command goes to cEOS over SSH and its answer is printed
unchanged. On the netns lab the switch is a network namespace; knetlab reads it as verify does
(ports, VLANs, SVIs, connected routes) and prints it in the layout cEOS 4.34 uses. A port's
Duplex, Speed and Type, which only hardware knows, stay empty there. Words may be shortened as in
EOS: "sh ip int br", "show interface status".`,
		Example: `  sudo knetlab switch calico-overlay show vlan
  sudo knetlab switch calico-overlay show interfaces status
  sudo knetlab switch calico-overlay sh ip int br`,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			command, ok := eosview.ParseCommand(args[1:])
			if !ok {
				return exitcode.Usagef("unknown switch command %q: use one of %s", strings.Join(args[1:], " "), strings.Join(eosview.Commands, ", "))
			}
			dl, p, err := deployedWithProvider(reg, args[0], f.lab.file, f.provider)
			if err != nil {
				return err
			}
			if dl.lab.Switch == nil {
				return exitcode.Usagef("lab %s has no switch", dl.lab.Name)
			}
			cli, ok := p.(provider.SwitchCLI)
			if !ok {
				return exitcode.NewEnvironment(fmt.Errorf("the %s provider cannot reach a lab's switch", p.Name()), "run the command on the switch itself")
			}
			out, err := cli.SwitchShow(cmd.Context(), dl.lab, command)
			if err != nil {
				return err
			}
			_, err = s.Out.Write(out)
			return err
		},
	}
	f.lab.register(c)
	registerProviderFlag(c, &f.provider, reg)
	return c
}
