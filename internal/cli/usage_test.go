package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// Every way of calling knetlab wrongly is bad usage, exit 2, with an error line that says what
// was wrong: an unknown command, an unknown subcommand of a command group, a group without its
// subcommand, an unknown flag, too many arguments.
func TestMisuseOfCommandsExits2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error line
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"calico-overlay", "verify"}, `unknown command "calico-overlay" for "knetlab"; the command comes first: knetlab verify calico-overlay`},
		{[]string{"pod", "frob", "calico-overlay"}, `unknown command "frob" for "knetlab pod"`},
		{[]string{"pod"}, "knetlab pod needs a subcommand"},
		{[]string{"lab"}, "knetlab lab needs a subcommand"},
		{[]string{"lab", "frob"}, `unknown command "frob" for "knetlab lab"`},
		{[]string{"deploy", "--dry-run", "--bogus"}, "unknown flag: --bogus"}, // --dry-run: were the flag accepted, nothing would be deployed
		{[]string{"pod", "add", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"verify", "calico-overlay", "extra"}, "accepts at most 1 arg"},
		{[]string{"agent", "extra"}, `unknown command "extra" for "knetlab agent"`},
		{[]string{"help", "bogus"}, `unknown help topic "bogus"`},
		{[]string{"help", "pod", "frob"}, `unknown help topic "pod frob"`},
		{[]string{"completion"}, "knetlab completion needs a subcommand: bash, fish, powershell, zsh"},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh" for "knetlab completion"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != exitcode.Usage {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitcode.Usage, stderr)
			}
			if !strings.HasPrefix(stderr, "error: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr = %q, want an error line with %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing: a script reading it gets no help text as output", stdout)
			}
		})
	}
}

// The help of a group is still there when asked for, and exits 0.
func TestGroupHelpExits0(t *testing.T) {
	for _, args := range [][]string{{"pod", "--help"}, {"help", "pod"}, {"help", "pod", "add"}, {"help"}, {"lab", "-h"}, {"--help"}, {"completion", "bash", "--help"}} {
		if code, stdout, stderr := run(t, args...); code != exitcode.OK || !strings.Contains(stdout, "Usage:") {
			t.Errorf("knetlab %s: exit %d, stdout %q, stderr %q; want the help and exit 0", strings.Join(args, " "), code, stdout, stderr)
		}
	}
}

// An error that is none of usage, environment, check or command is knetlab's own bug: exit 4,
// with the whole error chain and a request to report it, not exit 3 sending the user to fix
// their machine.
func TestUnexpectedErrorIsInternal(t *testing.T) {
	var cause = errors.New("index 7 out of range")
	for _, tc := range []struct {
		name string
		run  func(*cobra.Command, []string) error
		want []string
	}{
		{"error", func(*cobra.Command, []string) error {
			return errorsJoinChain(cause)
		}, []string{"internal error", "a knetlab bug", "please report", "render plan: step 3: index 7 out of range"}},
		{"panic", func(*cobra.Command, []string) error {
			var m map[string]int
			m["x"]++ // a nil map: the kind of bug a panic is
			return nil
		}, []string{"internal error", "a knetlab bug", "please report", "assignment to entry in nil map", "goroutine"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runWith(t, &cobra.Command{Use: "boom", RunE: tc.run})
			if code != exitcode.Internal {
				t.Errorf("exit %d, want %d", code, exitcode.Internal)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr = %q, want %q in it", stderr, w)
				}
			}
		})
	}
}

func errorsJoinChain(cause error) error {
	return fmt.Errorf("render plan: %w", fmt.Errorf("step 3: %w", cause))
}

// A lab file with a float where a whole number goes is refused before anything is planned or
// deployed (issue 12: vlan: 10.5 was deployed as VLAN 10).
func TestLabFileWithAFloatVLANIsRefused(t *testing.T) {
	file, text := editedLab(t, "    vlan: 20\n", "    vlan: 20.5\n")
	code, stdout, stderr := run(t, "deploy", "--dry-run", "--lab-file", file)
	line := strings.Count(text[:strings.Index(text, "vlan: 20.5")], "\n") + 1
	if want := fmt.Sprintf("%s:%d: nodes[3].vlan: 20.5 is not a whole number", file, line); code != exitcode.Usage || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, stderr, want)
	}
	if stdout != "" {
		t.Errorf("a plan was printed for a bad lab: %q", stdout)
	}
}
