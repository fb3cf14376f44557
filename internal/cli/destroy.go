package cli

import (
	"bufio"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/labrecord"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type destroyFlags struct {
	lab      labFlag
	provider string
	all      bool
	dryRun   bool
	yes      bool
}

func newDestroyCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &destroyFlags{}
	c := &cobra.Command{
		Use:   "destroy <lab> | --all",
		Short: "Remove a lab and everything it created",
		Long: `destroy removes everything a lab created: namespaces or containers, links, processes and its
state. Destroying a lab that is not there succeeds and says so; a lab whose deploy was
interrupted is cleaned up from its record. --all removes every lab of the provider and nothing
else.`,
		Example: `  sudo knetlab destroy calico-overlay
  sudo knetlab destroy --all
  knetlab destroy --all --dry-run`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := argOr(args, 0)
			switch {
			case f.all && (name != "" || f.lab.file != ""):
				return exitcode.Usagef("give a lab or --all, not both")
			case !f.all && name == "" && f.lab.file == "":
				return exitcode.Usagef("which lab? knetlab destroy <lab>, or --all")
			}
			var l *lab.Lab
			var rec *labrecord.Record
			var err error
			switch {
			case f.all:
			case f.lab.file != "" || slices.Contains(lab.Names(), name):
				var dl *deployedLab
				if dl, err = resolveDeployed(name, f.lab.file); err == nil {
					l, rec = dl.lab, dl.record
				}
			default:
				// A lab outside the catalogue: its record's copy of the lab file, or, when it
				// has none, the provider's own record alone.
				if rec, err = labrecord.Load(name); err == nil && rec.Definition() != "" {
					l, err = lab.Resolve(name, rec.Definition())
				}
			}
			if err != nil {
				return err
			}
			if l != nil {
				name = l.Name
			}
			p, err := labProvider(reg, rec, name, f.provider)
			if err != nil {
				return err
			}
			if c, ok := p.(provider.Confirmer); ok && c.ConfirmDestroy() && s.TTY && !f.yes && !f.dryRun {
				what := "lab " + name
				if f.all {
					what = "every " + p.Name() + " lab"
				}
				if !confirm(s, fmt.Sprintf("destroy %s?", what)) {
					return exitcode.Usagef("not confirmed; nothing was changed (--yes skips the question)")
				}
			}
			opts := provider.DestroyOptions{Lab: l, All: f.all, Progress: ui.NewProgress(s)}
			if !f.dryRun {
				if err := p.Destroy(cmd.Context(), name, opts); err != nil {
					return err
				}
				return removeRecords(p, name, f.all)
			}
			plans, err := planner(p).PlanDestroy(cmd.Context(), name, opts)
			if err != nil {
				return err
			}
			for _, pl := range plans {
				if err := pl.Print(s.Out); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f.lab.register(c)
	registerProviderFlag(c, &f.provider, reg)
	c.Flags().BoolVar(&f.all, "all", false, "remove every lab of the provider")
	c.Flags().BoolVar(&f.dryRun, "dry-run", false, "print what would be removed, change nothing")
	c.Flags().BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

// confirm asks a yes/no question on the terminal.
func confirm(s *ui.Streams, question string) bool {
	fmt.Fprintf(s.Err, "%s [y/N] ", question)
	line, _ := bufio.NewReader(s.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// removeRecords forgets the destroyed lab, or with all every lab p had deployed.
func removeRecords(p provider.Provider, name string, all bool) error {
	if !all {
		return labrecord.Remove(name)
	}
	recs, err := labrecord.All()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Provider == p.Name() {
			if err := labrecord.Remove(r.Lab); err != nil {
				return err
			}
		}
	}
	return nil
}
