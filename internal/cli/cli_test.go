package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/clab"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/ui"
)

// run executes knetlab in-process, as a pipe would see it (no TTY), and returns its exit
// code and streams.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &ui.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, testProviders())
	return code, out.String(), errb.String()
}

// testProviders are the providers the knetlab binary registers.
func testProviders() *provider.Registry {
	reg := provider.NewRegistry()
	netnslab.Register(reg)
	clab.Register(reg)
	return reg
}

// runWith executes knetlab with an extra command, for behaviour no real command shows on demand
// (an internal error, a panic).
func runWith(t *testing.T, extra *cobra.Command, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	s := &ui.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}
	root := NewRoot(s, testProviders())
	root.AddCommand(extra)
	code = execute(context.Background(), root, append([]string{extra.Name()}, args...), s, func() (int, bool) { return 0, false })
	return code, out.String(), errb.String()
}
