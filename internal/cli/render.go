package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/render"
	"github.com/knetlab/knetlab/internal/ui"
)

type renderFlags struct {
	lab labFlag
	out string
}

func newRenderCmd(s *ui.Streams) *cobra.Command {
	f := &renderFlags{}
	c := &cobra.Command{
		Use:   "render <lab>",
		Short: "Write the lab's containerlab topology, kind config, Calico resources, cEOS and GoBGP configs",
		Long: `render writes the files a student can hand to containerlab, kind and Calico directly:

  <out>/topologies/<lab>.clab.yaml   containerlab topology (switch, kind cluster, ext-container nodes, links)
  <out>/configs/<lab>/kind.yaml      kind cluster config (no default CNI, pod/service subnets, node-ip patches)
  <out>/configs/<lab>/calico.yaml    Calico operator Installation and APIServer
  <out>/configs/<lab>/bgp.yaml       Calico BGPConfiguration and BGPPeers, only for a lab with BGP
  <out>/configs/<lab>/pods.yaml      the lab's test pods, pinned to their nodes, and their services
  <out>/configs/<lab>/<switch>.cfg   cEOS startup config (VLANs, access ports, SVIs, ip routing),
                                     only for a lab with a switch
  <out>/configs/<lab>/<rr>/rr.conf   GoBGP configuration of each route reflector, and beside it
  <out>/configs/<lab>/<rr>/Dockerfile  the reflector's image (GoBGP built from a pinned release)

Without --out the files are written under the current directory, which in a knetlab checkout
refreshes the checked-in copies (what make generate does).`,
		Example: `  knetlab render calico-overlay --out /tmp/lab
  knetlab render --lab-file ./my-lab.yaml --out /tmp/lab`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := lab.Resolve(argOr(args, 0), f.lab.file)
			if err != nil {
				return err
			}
			files, err := render.Render(l)
			if err != nil {
				return fmt.Errorf("render %s: %w", l.Name, err)
			}
			for _, file := range files {
				p := filepath.Join(f.out, filepath.FromSlash(file.Path))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return fmt.Errorf("render %s: %w", l.Name, err)
				}
				if err := os.WriteFile(p, file.Data, 0o644); err != nil {
					return fmt.Errorf("render %s: %w", l.Name, err)
				}
				fmt.Fprintln(s.Out, p)
			}
			return nil
		},
	}
	f.lab.register(c)
	c.Flags().StringVarP(&f.out, "out", "o", ".", "directory to write into")
	return c
}

func argOr(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

// completeLabs completes the first argument with the catalogue's lab names.
func completeLabs(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return lab.Names(), cobra.ShellCompDirectiveNoFileComp
}
