package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

// execProvider is a provider whose exec runs nothing: it prints a line and fails with the exit
// code the command asks for, as a node's command would. Everything else is left unimplemented.
type execProvider struct{ provider.Provider }

func (execProvider) Name() string { return "test-exec" }

func (execProvider) Exec(_ context.Context, labName, target string, argv []string, stdio provider.Stdio) error {
	fmt.Fprintf(stdio.Out, "%s in %s/%s\n", strings.Join(argv, " "), labName, target)
	var code int
	if _, err := fmt.Sscanf(argv[len(argv)-1], "exit %d", &code); err != nil || code == 0 {
		return err
	}
	return &exitcode.CommandError{Command: argv[0], Code: code}
}

// knetlab exec exits with the code of the command it ran, and adds nothing to the command's
// own output: no "error:" line.
func TestExecPassesTheCommandsExitCodeThrough(t *testing.T) {
	reg := provider.NewRegistry()
	reg.Register("test-exec", func() (provider.Provider, error) { return execProvider{}, nil })
	for _, want := range []int{0, 1, 2, 5, 42, 127} {
		t.Run(fmt.Sprint(want), func(t *testing.T) {
			script := fmt.Sprintf("exit %d", want)
			var outb, errb bytes.Buffer
			code := Main([]string{"exec", "--provider", "test-exec", "lab1", "k01-worker", "--", "sh", "-c", script},
				&ui.Streams{In: strings.NewReader(""), Out: &outb, Err: &errb}, reg)
			out, stderr := outb.String(), errb.String()
			if code != want {
				t.Errorf("knetlab exec -- sh -c %q: exit %d, want %d", script, code, want)
			}
			if wantOut := "sh -c " + script + " in lab1/k01-worker\n"; out != wantOut {
				t.Errorf("stdout = %q, want the command's own %q", out, wantOut)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want nothing: the command spoke for itself", stderr)
			}
		})
	}
}
