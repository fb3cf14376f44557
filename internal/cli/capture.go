package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/verify/capture"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
)

type captureFlags struct {
	lab      labFlag
	out      string
	provider string
}

func newCaptureCmd(s *ui.Streams) *cobra.Command {
	f := &captureFlags{}
	c := &cobra.Command{
		Use:   "capture <lab> --out DIR",
		Short: "Write a live lab's facts and node tables to a directory that verify --from reads",
		Long: `capture reads a deployed lab through its provider and writes the capture layout that
knetlab verify --from DIR checks offline (SPEC §4):

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

A capture is a bundle to share: a teacher can verify a student's lab, a bug report can carry one.
What the lab cannot provide (no datastore yet) is left out and verify --from skips its checks.`,
		Example: `  sudo knetlab capture calico-overlay --out ./cap
  knetlab verify calico-overlay --from ./cap`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := lab.Resolve(argOr(args, 0), f.lab.file)
			if err != nil {
				return err
			}
			if f.out == "" {
				return exitcode.Usagef("capture needs --out DIR")
			}
			p, err := provider.Get(f.provider)
			if err != nil {
				return err
			}
			src, err := p.Source(cmd.Context(), l)
			if err != nil {
				return err
			}
			n, err := captureLab(cmd.Context(), src, l, f.out)
			if err != nil {
				return fmt.Errorf("capture %s: %w", l.Name, err)
			}
			fmt.Fprintf(s.Out, "captured %d nodes of %s into %s\n", n, l.Name, f.out)
			return nil
		},
	}
	f.lab.register(c)
	c.Flags().StringVarP(&f.out, "out", "o", "", "directory to write the capture into")
	registerProviderFlag(c, &f.provider)
	return c
}

// captureLab reads facts and every node's tables from src and writes them to dir. Facts the
// source does not have are left out (verify --from then skips what needs them); any other
// read error fails the capture, so that a capture is never silently partial.
func captureLab(ctx context.Context, src source.Source, l *lab.Lab, dir string) (int, error) {
	f, err := src.Facts(ctx)
	switch {
	case errors.Is(err, source.ErrAbsent):
		f = nil
	case err != nil:
		return 0, err
	}
	var nodes []*observed.Node
	for _, n := range l.Nodes {
		ns, err := src.NodeState(ctx, n.Name)
		if errors.Is(err, source.ErrAbsent) {
			continue // no directory for it: verify --from skips the node, saying why
		}
		if err != nil {
			return 0, fmt.Errorf("node %s: %w", n.Name, err)
		}
		nodes = append(nodes, ns)
	}
	if f != nil {
		// The Ready condition travels in cluster.yaml, as in a kubectl capture, so that
		// topology.nodes is judged offline on what the live lab said.
		topo, err := src.Topology(ctx)
		if err != nil && !errors.Is(err, source.ErrAbsent) {
			return 0, err
		}
		recordReadiness(f, topo)
	}
	// A lab without a switch (pod-network) has no switch directory; verify --from then skips
	// the switch checks with the reason, as it does for a capture a person made without one.
	sw, err := src.Switch(ctx)
	switch {
	case errors.Is(err, source.ErrAbsent):
		sw = nil
	case err != nil:
		return 0, fmt.Errorf("switch: %w", err)
	}
	if err := capture.Write(dir, f, nodes); err != nil {
		return 0, err
	}
	if sw != nil {
		if err := capture.WriteSwitch(dir, sw); err != nil {
			return 0, err
		}
	}
	return len(nodes), nil
}

// recordReadiness sets each node's Ready condition from the live topology.
func recordReadiness(f *facts.Facts, topo []observed.NodeStatus) {
	ready := map[string]string{}
	for _, st := range topo {
		if st.Ready {
			ready[st.Name] = "True"
		} else {
			ready[st.Name] = "False"
		}
	}
	for i := range f.Nodes {
		if r, ok := ready[f.Nodes[i].Name]; ok {
			f.Nodes[i].Ready = r
		}
	}
}
