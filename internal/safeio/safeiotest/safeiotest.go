// Package safeiotest runs a piece of a test in a child process of the test binary, under a
// memory cap and a deadline, so that a test can show that code hangs on a FIFO or reads
// /dev/zero until memory runs out without taking the test run (or the machine) with it, and can
// measure the time and peak memory of refusing a hostile file.
//
// The parent calls Run (or Start) naming a test function of the same package; that function
// calls Child first and, in the child, does the work, prints what the parent should see and
// ends with Exit:
//
//	func TestOpenChild(t *testing.T) {
//		dir, ok := safeiotest.Child()
//		if !ok {
//			t.Skip("run by TestOpenRefusesHostileFiles in a child process")
//		}
//		_, err := Open(dir)
//		fmt.Print(err)
//		safeiotest.Exit(exitcode.Code(err))
//	}
package safeiotest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	envArg = "KNETLAB_SAFEIOTEST_ARG"
	envRSS = "KNETLAB_SAFEIOTEST_RSS" // the file Exit writes the child's peak RSS to
)

// HangGuard is how long a test should let a child run before calling it hung: far above the
// second a refusal or an interrupted command may take, so that it catches a hang, never a slow
// machine.
const HangGuard = 10 * time.Second

// Headroom is how much address space a child may take beyond what it had when Child was
// called: enough for a command's honest work, far less than reading /dev/zero wants.
const Headroom = 1 << 30

// Child reports whether this process is a child started by Run or Start, and the argument it
// was given. In a child it caps the address space at what the process holds now plus Headroom,
// so that unbounded reading ends in an allocation failure rather than in the kernel's OOM killer.
func Child() (arg string, ok bool) {
	arg, ok = os.LookupEnv(envArg)
	if !ok {
		return "", false
	}
	if size := vmSize(); size > 0 {
		lim := &syscall.Rlimit{Cur: uint64(size + Headroom), Max: uint64(size + Headroom)}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, lim); err != nil {
			os.Stderr.WriteString("safeiotest: cap the address space: " + err.Error() + "\n")
			os.Exit(125)
		}
	}
	return arg, true
}

// Exit ends a child with code, recording its peak RSS for the parent. The kernel's own count
// (getrusage) is no use here: a child started with vfork+exec inherits its parent's peak.
func Exit(code int) {
	if path := os.Getenv(envRSS); path != "" {
		_ = os.WriteFile(path, []byte(strconv.FormatInt(PeakRSS(), 10)), 0o644)
	}
	os.Exit(code)
}

// PeakRSS is this process's peak resident set size in bytes (VmHWM), for benchmarks to report.
func PeakRSS() int64 { return status("VmHWM:") }

// vmSize is this process's virtual size in bytes.
func vmSize() int64 { return status("VmSize:") }

// status reads a size field of /proc/self/status, in bytes.
func status(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// Result is how a child ended.
type Result struct {
	Stdout, Stderr string
	Code           int            // exit code; -1 when a signal ended it
	Signal         syscall.Signal // the signal that ended it, if one did
	Elapsed        time.Duration  // from start to exit
	PeakRSS        int64          // bytes; when the child died before Exit, an upper bound
	Killed         bool           // the deadline passed and the parent killed it
}

// Process is a running child.
type Process struct {
	cmd            *exec.Cmd
	rssFile        string
	start          time.Time
	done           chan struct{}
	stdout, stderr bytes.Buffer
}

// Start runs test (a test function name of the calling package) in a child process with arg.
func Start(t testing.TB, test, arg string) *Process {
	t.Helper()
	p := &Process{done: make(chan struct{}), rssFile: filepath.Join(t.TempDir(), "peak-rss")}
	p.cmd = exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	p.cmd.Env = append(os.Environ(), envArg+"="+arg, envRSS+"="+p.rssFile)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start the child %s: %v", test, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// Running reports whether the child has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the child.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the child to exit, killing it when deadline passes first.
func (p *Process) Wait(deadline time.Duration) Result {
	var r Result
	select {
	case <-p.done:
	case <-time.After(deadline):
		r.Killed = true
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	r.Elapsed = time.Since(p.start)
	r.Stdout, r.Stderr = p.stdout.String(), p.stderr.String()
	st := p.cmd.ProcessState
	r.Code = st.ExitCode()
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.Signal = ws.Signal()
	}
	if data, err := os.ReadFile(p.rssFile); err == nil {
		r.PeakRSS, _ = strconv.ParseInt(string(data), 10, 64)
	} else if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSS = ru.Maxrss << 10 // Linux reports kilobytes
	}
	return r
}

// FirstLines is the first n lines of s, trimmed: enough of a child's stderr for a test message.
func FirstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// ReadSlack is how far above a child's peak RSS on a harmless input a refusal may go: a
// refusal reads nothing of the file, and the hostile inputs of the tests are far larger.
const ReadSlack = 32 << 20

// CheckRefusalMemory fails the test when a child's peak RSS is more than ReadSlack above the
// baseline, a child of the same test binary on a harmless input: the refused file was read.
func CheckRefusalMemory(t testing.TB, r Result, baseline int64) {
	t.Helper()
	if r.PeakRSS > baseline+ReadSlack {
		t.Errorf("peak RSS %.0f MiB against %.0f MiB on a harmless input: the refused file was read",
			float64(r.PeakRSS)/(1<<20), float64(baseline)/(1<<20))
	}
}

// Run runs test in a child with arg, logs its time and peak memory, and fails the test when the
// child is still running after HangGuard: it hangs.
func Run(t testing.TB, test, arg string) Result {
	t.Helper()
	r := Start(t, test, arg).Wait(HangGuard)
	t.Logf("child %q: exit %d in %s, peak RSS %.1f MiB", arg, r.Code, r.Elapsed.Round(time.Millisecond), float64(r.PeakRSS)/(1<<20))
	if r.Killed {
		t.Fatalf("child %q still running after %s: it hangs", arg, HangGuard)
	}
	return r
}
