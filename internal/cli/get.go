package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/calicoview"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type getFlags struct {
	lab      labFlag
	output   string
	provider string
}

func newGetCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &getFlags{}
	var names []string
	for _, r := range calicoview.Resources {
		names = append(names, string(r))
	}
	c := &cobra.Command{
		Use:   "get <lab> " + strings.Join(names, "|") + " [-o wide|yaml|json]",
		Short: "Print the lab's IPAM data from its datastore, as calicoctl and kubectl print it",
		Long: `get reads the deployed lab's datastore and prints Calico's objects in the layout of the tool
a student uses on a real cluster:

  ippools          calicoctl get ippools [-o wide]           projectcalico.org/v3 IPPool
  blockaffinities  kubectl get blockaffinities [-o wide]     crd.projectcalico.org/v1 BlockAffinity
  ipamblocks       kubectl get ipamblocks [-o wide]          crd.projectcalico.org/v1 IPAMBlock
  nodes            calicoctl get nodes [-o wide]             projectcalico.org/v3 Node
  pods             calicoctl get workloadendpoints -A        projectcalico.org/v3 WorkloadEndpoint

-o yaml and -o json print the objects themselves, as those tools do. kubectl prints only NAME and
AGE for the two CRDs; -o wide adds the spec fields the course reads with a jsonpath (CIDR, NODE,
STATE of an affinity; CIDR, AFFINITY and addresses in use of a block). knetlab's own datastore
keeps no creation time, so AGE is <unknown> on a netns lab, as kubectl prints it for such objects.
On the real lab (clab provider) the objects come from the Kubernetes API: Calico's CRDs and
nodes and pods for --cni calico, the knetlab datastore for --cni knetlab.`,
		Example: `  sudo knetlab get calico-overlay ippools -o wide
  sudo knetlab get calico-overlay blockaffinities -o wide
  sudo knetlab get calico-overlay nodes -o yaml`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeGet,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, ok := calicoview.ParseResource(args[1])
			if !ok {
				return exitcode.Usagef("unknown resource %q: use %s", args[1], strings.Join(names, ", "))
			}
			if !slices.Contains(calicoview.Formats, f.output) {
				return exitcode.Usagef("unknown -o %q: use wide, yaml or json", f.output)
			}
			dl, p, err := deployedWithProvider(reg, args[0], f.lab.file, f.provider)
			if err != nil {
				return err
			}
			reader, ok := p.(provider.IPAMReader)
			if !ok {
				return exitcode.NewEnvironment(fmt.Errorf("the %s provider cannot read a lab's datastore", p.Name()),
					"read it with kubectl or calicoctl on the cluster")
			}
			objs, err := reader.ReadIPAM(cmd.Context(), dl.lab)
			if err != nil {
				return err
			}
			return calicoview.Print(s.Out, objs, r, f.output)
		},
	}
	f.lab.register(c)
	c.Flags().StringVarP(&f.output, "output", "o", "", "output format: wide, yaml or json (default: the tool's table)")
	registerProviderFlag(c, &f.provider, reg)
	_ = c.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return calicoview.Formats[1:], cobra.ShellCompDirectiveNoFileComp
	})
	return c
}

// completeGet completes a lab name, then a resource.
func completeGet(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return completeLabs(cmd, args, toComplete)
	}
	if len(args) == 1 {
		var out []string
		for _, r := range calicoview.Resources {
			out = append(out, string(r))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}
