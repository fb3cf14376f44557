package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type statusFlags struct{ provider string }

func newStatusCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &statusFlags{}
	c := &cobra.Command{
		Use:   "status [<lab>]",
		Short: "List deployed labs with their nodes, addresses and state",
		Example: `  knetlab status
  knetlab status calico-overlay`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := reg.Get(f.provider)
			if err != nil {
				return err
			}
			name := argOr(args, 0)
			labs, err := p.Status(cmd.Context(), name)
			if err != nil {
				return err
			}
			if len(labs) == 0 {
				if name != "" {
					fmt.Fprintf(s.Out, "lab %s is not deployed (provider %s)\n", name, p.Name())
				} else {
					fmt.Fprintf(s.Out, "no labs deployed (provider %s)\n", p.Name())
				}
				return nil
			}
			for i, ls := range labs {
				if i > 0 {
					fmt.Fprintln(s.Out)
				}
				state := ls.State
				switch state {
				case "running":
					state = s.Paint(ui.Green, state)
				default:
					state = s.Paint(ui.Yellow, state)
				}
				s.Heading("%s (%s): %s", ls.Lab, ls.Provider, state)
				if ls.Detail != "" {
					fmt.Fprintln(s.Out, ls.Detail)
				}
				var rows [][]string
				for _, n := range ls.Nodes {
					rows = append(rows, []string{n.Name, n.Kind, n.State, orDash(n.Address), orDash(n.Detail)})
				}
				s.Table([]string{"NODE", "KIND", "STATE", "ADDRESS", "DETAIL"}, rows)
			}
			return nil
		},
	}
	registerProviderFlag(c, &f.provider, reg)
	return c
}

func orDash(v string) string {
	if v == "" {
		return "-"
	}
	return v
}
