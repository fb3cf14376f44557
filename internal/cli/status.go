package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/labrecord"
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
			name := argOr(args, 0)
			providers, err := statusProviders(reg, name, f.provider)
			if err != nil {
				return err
			}
			var labs []provider.LabStatus
			for _, p := range providers {
				ls, err := p.Status(cmd.Context(), name)
				if err != nil {
					return err
				}
				labs = append(labs, ls...)
			}
			if len(labs) == 0 {
				var names []string
				for _, p := range providers {
					names = append(names, p.Name())
				}
				which := "provider " + strings.Join(names, ", ")
				if len(names) > 1 {
					which = "providers " + strings.Join(names, ", ")
				}
				if name != "" {
					fmt.Fprintf(s.Out, "lab %s is not deployed (%s)\n", name, which)
				} else {
					fmt.Fprintf(s.Out, "no labs deployed (%s)\n", which)
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
					s.Text("", ls.Detail)
				}
				if len(ls.Faults) > 0 {
					s.Text("faults: ", strings.Join(ls.Faults, ", "))
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

// statusProviders are the providers status asks: --provider, else the one that deployed the
// lab named, else (no lab named) the default and every provider a recorded lab names.
func statusProviders(reg *provider.Registry, labName, given string) ([]provider.Provider, error) {
	if labName != "" || given != "" {
		rec, err := labrecord.Load(labName)
		if err != nil {
			return nil, err
		}
		p, err := labProvider(reg, rec, labName, given)
		if err != nil {
			return nil, err
		}
		return []provider.Provider{p}, nil
	}
	names := []string{provider.Default}
	recs, err := labrecord.All()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if !slices.Contains(names, r.Provider) {
			names = append(names, r.Provider)
		}
	}
	var out []provider.Provider
	for _, n := range names {
		if n == provider.Default && !reg.Has(n) && len(names) > 1 {
			continue
		}
		p, err := reg.Get(n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
