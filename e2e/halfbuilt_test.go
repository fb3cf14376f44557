package e2e

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/cli"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/verify/source"
)

// cliEnv makes the test binary run as the knetlab command line (os.Args after the binary), so
// that a test can kill a knetlab command as a person's Ctrl-C or the OOM killer would.
const cliEnv = "KNETLAB_E2E_CLI"

func init() {
	if os.Getenv(cliEnv) == "1" {
		// The lab's daemons, re-executed from this binary, must be daemons, not this command.
		os.Unsetenv(cliEnv)
		os.Exit(cli.Main(os.Args[1:], ui.StdStreams(), providers()))
	}
}

// A lab whose deploy was killed half way is broken: verify exits 1 and names what is missing,
// never passes what it could not see. Two kill points: at 250 ms, as the issue saw it, and the
// netns provider's deterministic KNETLAB_TEST_KILL_AFTER hook (after some cables).
func TestVerifyHalfBuiltLab(t *testing.T) {
	testenv.RequireLab(t, "ip")
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	for _, tc := range []struct {
		name      string
		killAt    time.Duration
		killAfter string
	}{
		{"deploy killed at 250ms", 250 * time.Millisecond, ""},
		{"deploy killed after some cables", 0, "12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, name := renamedLab(t, "calico-overlay")
			destroyAtEnd(t, file, name)
			cmd := exec.Command(os.Args[0], "deploy", "--lab-file", file)
			cmd.Env = append(os.Environ(), cliEnv+"=1")
			if tc.killAfter != "" {
				cmd.Env = append(cmd.Env, "KNETLAB_TEST_KILL_AFTER="+tc.killAfter)
			}
			var deployOut strings.Builder
			cmd.Stdout, cmd.Stderr = &deployOut, &deployOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tc.killAt > 0 {
				timer := time.AfterFunc(tc.killAt, func() { _ = cmd.Process.Kill() })
				defer timer.Stop()
			}
			err := cmd.Wait()
			if err == nil && tc.killAt > 0 {
				t.Skipf("deploy finished within %s on this host: nothing half-built to verify", tc.killAt)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("deploy was not killed half way: %v\n%s", err, deployOut.String())
			}

			code, out, stderr := run(t, "verify", "--lab-file", file)
			if code != exitcode.CheckFailed {
				t.Fatalf("verify of a half-built lab: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
			}
			if !strings.Contains(out, "FAIL") || !strings.Contains(strings.ToLower(out), "missing") {
				t.Errorf("verify does not name what is missing:\n%s", out)
			}
			// What the lab lacks is missing, a failure: no node is skipped, no check is skipped
			// for an input the lab should have (a check with nothing to judge, such as
			// connectivity before the lab's pods exist, may still say so).
			if strings.Contains(out, " skipped: ") || strings.Contains(out, source.ErrAbsent.Error()) {
				t.Errorf("a live lab's absent input was skipped, not failed:\n%s", out)
			}
			t.Logf("verify of the half-built lab:\n%s", out)
		})
	}
}
