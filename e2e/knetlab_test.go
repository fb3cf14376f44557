package e2e

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/cli"
	"github.com/knetlab/knetlab/internal/labprocess"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/clab"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/ui"
)

// The test binary stands in for knetlab, as cmd/knetlab does: a deploy re-executes
// os.Executable() as the lab's datastore and agents and, through the knetlab-cni link, as the
// CNI plugin. Dispatching here, before the test framework parses flags, is what makes those
// processes real in the tests.
func init() { labprocess.Registry().Dispatch(os.Args) }

// run executes knetlab in-process, as a pipe would see it (no TTY), and returns its exit
// code and streams.
func run(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(args, &ui.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, providers())
	return code, out.String(), errb.String()
}

// providers are the providers the knetlab binary registers.
func providers() *provider.Registry {
	reg := provider.NewRegistry()
	netnslab.Register(reg)
	clab.Register(reg)
	return reg
}
