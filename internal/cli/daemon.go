package cli

import (
	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider/netnslab/daemon"
	"github.com/knetlab/knetlab/internal/ui"
)

// newDaemonCmd is the hidden entry point of the processes deploy starts inside a netns lab
// (knetlab daemon datastore|agent ...). Its flags are parsed by the daemon package, which also
// writes these command lines, so the two cannot drift apart.
func newDaemonCmd(s *ui.Streams) *cobra.Command {
	return &cobra.Command{
		Use:                daemon.Command + " datastore|agent [flags]",
		Short:              "Run a lab daemon (started by deploy; not for direct use)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := daemon.Main(args, s.Err); code != 0 {
				// The daemon has reported its error; knetlab exits with its code.
				return &exitcode.CommandError{Command: "knetlab daemon", Code: code}
			}
			return nil
		},
	}
}
