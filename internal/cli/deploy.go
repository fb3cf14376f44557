package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type deployFlags struct {
	lab         labFlag
	provider    string
	cni         string
	dryRun      bool
	reconfigure bool
}

func newDeployCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &deployFlags{}
	c := &cobra.Command{
		Use:   "deploy <lab>",
		Short: "Bring a lab up (network namespaces on this host, or containerlab + kind)",
		Long: `deploy brings a lab up with a provider:

  netns (default)  the lab as network namespaces on this host: a switch namespace, one namespace
                   per node with the lab's interface names and addresses, a management network.
                   Needs root. Starts in about a second.
  clab             containerlab: an Arista cEOS switch and a kind cluster (Docker, containerlab).

Deploying a lab that is already up checks every object, repairs what is missing and says what
it changed ("nothing to change" when all is there). --reconfigure destroys and rebuilds.`,
		Example: `  sudo knetlab deploy calico-overlay
  knetlab deploy calico-overlay --dry-run
  sudo knetlab deploy pod-network --reconfigure`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dl, err := resolveDeployed(argOr(args, 0), f.lab.file)
			if err != nil {
				return err
			}
			l := dl.lab
			p, err := labProvider(reg, dl.record, l.Name, f.provider)
			if err != nil {
				return err
			}
			opts := provider.DeployOptions{CNI: f.cni, Reconfigure: f.reconfigure, Progress: ui.NewProgress(s)}
			if f.dryRun {
				pl, err := planner(p).PlanDeploy(cmd.Context(), l, opts)
				if err != nil {
					return err
				}
				return pl.Print(s.Out)
			}
			// Recorded first, so that a deploy that fails half way is destroyed where it is. A
			// record that cannot be written (not root) must not hide the provider's own reason.
			recErr := recordDeploy(cmd.Context(), dl, p, f.lab.file)
			if err := p.Deploy(cmd.Context(), l, opts); err != nil {
				forgetIfNothingBuilt(cmd.Context(), dl, p)
				return err
			}
			if recErr != nil {
				return fmt.Errorf("lab %s is up (provider %s), but later commands need --provider %s: %w", l.Name, p.Name(), p.Name(), recErr)
			}
			fmt.Fprintf(s.Out, "lab %s is up (provider %s): knetlab status %s\n", l.Name, p.Name(), l.Name)
			return nil
		},
	}
	f.lab.register(c)
	registerProviderFlag(c, &f.provider, reg)
	c.Flags().StringVar(&f.cni, "cni", "", "CNI to install: calico (upstream, clab only) or knetlab (default: the provider's)")
	c.Flags().BoolVar(&f.dryRun, "dry-run", false, "print what would be created, change nothing")
	c.Flags().BoolVar(&f.reconfigure, "reconfigure", false, "destroy the lab first and rebuild it from scratch")
	_ = c.RegisterFlagCompletionFunc("cni", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"calico", "knetlab"}, cobra.ShellCompDirectiveNoFileComp
	})
	return c
}

// planner is p's dry run; a provider without one gets a dry run that says so.
func planner(p provider.Provider) provider.Planner {
	if pl, ok := p.(provider.Planner); ok {
		return pl
	}
	return noPlanner{p.Name()}
}

type noPlanner struct{ provider string }

func (n noPlanner) PlanDeploy(context.Context, *lab.Lab, provider.DeployOptions) (*provider.Plan, error) {
	return nil, exitcode.Usagef("the %s provider has no --dry-run", n.provider)
}

func (n noPlanner) PlanDestroy(context.Context, string, provider.DestroyOptions) ([]*provider.Plan, error) {
	return nil, exitcode.Usagef("the %s provider has no --dry-run", n.provider)
}

// registerProviderFlag adds --provider with completion of the registered providers.
// Without it, a command on a deployed lab uses the provider that deployed it.
func registerProviderFlag(c *cobra.Command, v *string, reg *provider.Registry) {
	c.Flags().StringVar(v, "provider", "", "lab provider: netns or clab (default: the one that deployed the lab, else "+provider.Default+")")
	_ = c.RegisterFlagCompletionFunc("provider", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return reg.Names(), cobra.ShellCompDirectiveNoFileComp
	})
}
