package cli_test

import (
	"os"

	"github.com/knetlab/knetlab/internal/labprocess"
)

// The test binary stands in for knetlab: a deploy re-executes os.Executable() as the lab's
// datastore and agents and, through the knetlab-cni link, as the CNI plugin. Dispatching here,
// before the test framework parses flags, is what makes those processes real in the tests. The
// hook sits in the external test package because labprocess imports cli.
func init() { labprocess.Registry().Dispatch(os.Args) }
