package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/ui"
)

// TODO(issue): placeholder until the command lands.
func newDeployCmd(s *ui.Streams) *cobra.Command {
	return &cobra.Command{
		Use:    "deploy",
		Short:  "not implemented yet",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			_ = s
			return errors.New("deploy: not implemented yet")
		},
	}
}
