package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/ui"
)

// Version is set at build time with -ldflags "-X github.com/knetlab/knetlab/internal/cli.Version=v0.1.0".
var Version = "dev"

func newVersionCmd(s *ui.Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print knetlab's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			commit := "unknown"
			if info, ok := debug.ReadBuildInfo(); ok {
				for _, st := range info.Settings {
					if st.Key == "vcs.revision" {
						commit = st.Value
					}
				}
			}
			fmt.Fprintf(s.Out, "knetlab %s (commit %s, %s, %s/%s)\n", Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
