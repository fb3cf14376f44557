package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/verify/capture"
)

type captureFlags struct {
	lab      labFlag
	out      string
	provider string
}

func newCaptureCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &captureFlags{}
	c := &cobra.Command{
		Use:   "capture <lab> --out DIR",
		Short: "Write a live lab's facts and node tables to a directory that verify --from reads",
		Long: `capture reads a deployed lab through its provider and writes the capture layout that
knetlab verify --from DIR checks offline (docs/capture.md):

  DIR/cluster.yaml                  pools, nodes, block affinities, pods as kubectl get -o yaml prints them
  DIR/nodes/<node>/ip-route.txt     ip route
  DIR/nodes/<node>/ip-neigh.txt     ip neigh
  DIR/nodes/<node>/bridge-fdb.txt   bridge fdb show
  DIR/nodes/<node>/ip-link.txt      ip -d link show
  DIR/nodes/<node>/ip-addr.txt      ip addr
  DIR/nodes/<node>/sysctl.txt       the sysctls pods.wiring reads
  DIR/nodes/<node>/nat.txt          the natOutgoing masquerade, as nft list table ip knetlab
  DIR/nodes/<node>/pods/<ns>/<pod>/ each local pod's eth0 addresses and routes
  DIR/switch/<name>/show-*.json     the switch, in the shapes of cEOS's show ... | json
  DIR/nodes/<node>/bird-*.txt, gobgp-*.json
                                    a BGP lab: the node's sessions and learned routes
                                    (calico-node's birdcl show protocols and show route on
                                    clab; the agent's GoBGP neighbors and RIB)
  DIR/rr/<name>/gobgp-*.json        a BGP lab: route reflector <name>'s gobgp neighbor -j and
                                    gobgp global rib -j
  DIR/versions.txt                  knetlab's version; on clab also containerlab, the kind node
                                    image and its digest, Calico and its pinned manifests, cEOS
  DIR/deploy.log                    clab: the deploy's progress and containerlab's output

A capture is a bundle to share: a teacher can verify a student's lab, a bug report can carry one.
What the lab cannot provide (no datastore yet) is left out and verify --from skips its checks.`,
		Example: `  sudo knetlab capture calico-overlay --out ./cap
  knetlab verify calico-overlay --from ./cap`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dl, err := resolveDeployed(argOr(args, 0), f.lab.file)
			if err != nil {
				return err
			}
			l := dl.lab
			if f.out == "" {
				return exitcode.Usagef("capture needs --out DIR")
			}
			p, err := labProvider(reg, dl.record, l.Name, f.provider)
			if err != nil {
				return err
			}
			src, err := p.Source(cmd.Context(), l)
			if err != nil {
				return err
			}
			var nodes []string
			for _, n := range l.Nodes {
				nodes = append(nodes, n.Name)
			}
			n, err := capture.FromSource(cmd.Context(), src, nodes, f.out)
			if err != nil {
				return fmt.Errorf("capture %s: %w", l.Name, err)
			}
			extra, err := provider.Bundle(cmd.Context(), p, l, Version)
			if err == nil {
				err = capture.WriteExtra(f.out, extra)
			}
			if err != nil {
				return fmt.Errorf("capture %s: %w", l.Name, err)
			}
			fmt.Fprintf(s.Out, "captured %d nodes of %s into %s\n", n, l.Name, f.out)
			return nil
		},
	}
	f.lab.register(c)
	c.Flags().StringVarP(&f.out, "out", "o", "", "directory to write the capture into")
	registerProviderFlag(c, &f.provider, reg)
	return c
}
