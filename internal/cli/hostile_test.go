package cli

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/safeio/safeiotest"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/labs"
	"github.com/knetlab/knetlab/verify/source"
)

// TestMainInChild runs knetlab in a child process with the arguments a parent test passes, one
// per line, and exits with its code.
func TestMainInChild(t *testing.T) {
	arg, ok := safeiotest.Child()
	if !ok {
		t.Skip("run in a child process by the hostile-input and signal tests")
	}
	s := &ui.Streams{In: strings.NewReader(""), Out: os.Stdout, Err: os.Stderr}
	reg := testProviders()
	reg.Register("test-stuck", func() (provider.Provider, error) { return stuckProvider{}, nil })
	reg.Register("test-slow-exec", func() (provider.Provider, error) { return slowExecProvider{}, nil })
	safeiotest.Exit(Main(strings.Split(arg, "\n"), s, reg))
}

// runChild runs knetlab with args in a child process under a memory cap and the hang guard.
func runChild(t *testing.T, args ...string) safeiotest.Result {
	t.Helper()
	r := safeiotest.Run(t, "TestMainInChild", strings.Join(args, "\n"))
	if strings.Contains(r.Stderr, "fatal error:") {
		t.Fatalf("knetlab %s crashed: %s", strings.Join(args, " "), safeiotest.FirstLines(r.Stderr, 3))
	}
	return r
}

// writeLines writes a file of n copies of line (with i substituted by fmt) and returns its path.
func writeLines(t *testing.T, path string, n int, format func(i int) string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 0; i < n; i++ {
		w.WriteString(format(i))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestHostileLabFileExits2 (issue 12, point 5): a lab file that is a FIFO, a link to /dev/zero or
// far larger than any lab is refused at once with exit 2 naming the file and the reason, without
// reading it.
func TestHostileLabFileExits2(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  []string
	}{
		{"a FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"lab.yaml", "named pipe"}},
		{"a symlink to /dev/zero", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, []string{"lab.yaml", "/dev/zero", "character device"}},
		{"a 100 MB file", func(t *testing.T, path string) {
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(100 << 20); err != nil {
				t.Fatal(err)
			}
		}, []string{"lab.yaml", "is 100 MiB", "4 MiB"}},
		{"a 50 MB file of comments", func(t *testing.T, path string) {
			writeLines(t, path, 50<<20/32, func(int) string { return "# a lab file this long is not one\n" })
		}, []string{"lab.yaml", "MiB", "4 MiB"}},
	}
	baseline := runChild(t, "lab", "show", "calico-overlay")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lab.yaml")
			tt.setup(t, path)
			r := runChild(t, "lab", "show", "--lab-file", path)
			if r.Code != exitcode.Usage {
				t.Errorf("exit %d, want 2\nstderr: %s", r.Code, safeiotest.FirstLines(r.Stderr, 5))
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, safeiotest.FirstLines(r.Stderr, 5))
				}
			}
			safeiotest.CheckRefusalMemory(t, r, baseline.PeakRSS)
		})
	}
}

// TestLabFileThroughASymlink: a lab file named on the command line may be a link to a regular
// file anywhere (the user chose it); only what it leads to is judged.
func TestLabFileThroughASymlink(t *testing.T) {
	data, err := labs.FS.ReadFile("calico-overlay/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "real.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.Symlink(filepath.Join(dir, "real.yaml"), link); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "lab", "show", "--lab-file", link); code != 0 {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// TestVerifyFromHostileCaptureExits2: the command line end of the capture refusals that
// verify/capture tests file by file.
func TestVerifyFromHostileCaptureExits2(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "nodes", "k01-worker"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "nodes", "k01-worker", "ip-route.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runChild(t, "verify", "--from", dir)
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "ip-route.txt") || !strings.Contains(r.Stderr, "named pipe") {
		t.Errorf("exit %d, want 2 naming the FIFO:\n%s", r.Code, safeiotest.FirstLines(r.Stderr, 5))
	}
}

// stuckProvider stands for a read stuck in the kernel (a hung NFS mount, a device that never
// answers): its Source ignores the context and never returns.
type stuckProvider struct{ provider.Provider }

func (stuckProvider) Name() string { return "test-stuck" }

func (stuckProvider) Source(context.Context, *lab.Lab) (source.Source, error) {
	time.Sleep(time.Hour)
	return nil, nil
}

// TestSignalStopsACommand: SIGTERM or SIGINT stops knetlab within a second, whether the
// command honours its context (verify --from DIR retrying a failing check under --wait) or is
// stuck where no context reaches (a provider read that never returns). knetlab exits 128 + the
// signal's number, as a shell reports a command a signal ended, and says it was interrupted.
func TestSignalStopsACommand(t *testing.T) {
	broken := writeCapture(t, wrongGateway)
	tests := []struct {
		name string
		args []string
	}{
		{"verify --from DIR --wait", []string{"verify", "--from", broken, "--wait", "1m"}},
		{"a provider stuck in a read", []string{"verify", "calico-overlay", "--provider", "test-stuck"}},
	}
	for _, tt := range tests {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run(tt.name+"/"+sig.String(), func(t *testing.T) {
				p := safeiotest.Start(t, "TestMainInChild", strings.Join(tt.args, "\n"))
				time.Sleep(500 * time.Millisecond)
				if !p.Running() {
					r := p.Wait(0)
					t.Fatalf("knetlab %s ended before the signal (exit %d): %s", strings.Join(tt.args, " "), r.Code, safeiotest.FirstLines(r.Stderr, 5))
				}
				sent := time.Now()
				if err := p.Signal(sig); err != nil {
					t.Fatal(err)
				}
				r := p.Wait(safeiotest.HangGuard)
				took := time.Since(sent)
				t.Logf("exit %d %s after %s, peak RSS %.0f MiB", r.Code, took.Round(time.Millisecond), sig, float64(r.PeakRSS)/(1<<20))
				if r.Killed {
					t.Fatalf("knetlab %s was still running %s after %s", strings.Join(tt.args, " "), safeiotest.HangGuard, sig)
				}
				// The contract is one second; the second second is scheduling slack on a loaded
				// machine, so that this catches a command that outlives the signal, not a slow host.
				if took > 2*time.Second {
					t.Errorf("%s took %s to stop knetlab (want within a second)", sig, took.Round(time.Millisecond))
				}
				if want := 128 + int(sig); r.Code != want {
					t.Errorf("exit %d after %s, want %d", r.Code, sig, want)
				}
				if !strings.Contains(r.Stderr, "interrupted") {
					t.Errorf("stderr does not say the command was interrupted:\n%s", safeiotest.FirstLines(r.Stderr, 5))
				}
			})
		}
	}
}

// slowExecProvider's exec stands for a command that handles Ctrl-C itself and exits with 7 a
// second later (ping printing its summary).
type slowExecProvider struct{ provider.Provider }

func (slowExecProvider) Name() string { return "test-slow-exec" }

func (slowExecProvider) Exec(context.Context, string, string, []string, provider.Stdio) error {
	time.Sleep(1500 * time.Millisecond)
	return &exitcode.CommandError{Command: "ping", Code: 7}
}

// TestSignalDuringExecIsTheCommands: Ctrl-C during `knetlab exec` is the command's to handle;
// knetlab waits for it and exits with its code, adding nothing.
func TestSignalDuringExecIsTheCommands(t *testing.T) {
	p := safeiotest.Start(t, "TestMainInChild", strings.Join([]string{"exec", "--provider", "test-slow-exec", "lab1", "k01-worker", "--", "ping", "x"}, "\n"))
	time.Sleep(300 * time.Millisecond)
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := p.Wait(safeiotest.HangGuard)
	if r.Code != 7 || r.Stderr != "" {
		t.Errorf("exit %d, stderr %q; want the command's 7 and nothing added", r.Code, r.Stderr)
	}
}

// TestSIGTERMStopsTheAgentCleanly: SIGTERM is how an agent is stopped (destroy, the kubelet);
// an agent that stops within the grace exits 0 and does not call it an interruption.
func TestSIGTERMStopsTheAgentCleanly(t *testing.T) {
	// An etcd nobody serves: the agent waits for it, watching its context.
	args := []string{"agent", "--datastore", "etcd", "--node", "k01-worker", "--etcd-endpoints", "http://127.0.0.1:1",
		"--autodetect", "10.10.0.0/16", "--log", filepath.Join(t.TempDir(), "agent.log")}
	p := safeiotest.Start(t, "TestMainInChild", strings.Join(args, "\n"))
	time.Sleep(500 * time.Millisecond)
	if !p.Running() {
		r := p.Wait(0)
		t.Fatalf("the agent ended before the signal (exit %d): %s", r.Code, safeiotest.FirstLines(r.Stderr, 5))
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := p.Wait(safeiotest.HangGuard)
	if r.Code != 0 || strings.Contains(r.Stderr, "interrupted") {
		t.Errorf("exit %d, stderr %q; want 0 and no interruption", r.Code, safeiotest.FirstLines(r.Stderr, 5))
	}
}
