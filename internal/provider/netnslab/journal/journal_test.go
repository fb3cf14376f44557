package journal

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestJournalRoundTrip(t *testing.T) {
	root := t.TempDir()
	s, err := Open(context.Background(), root, "lab-a")
	if err != nil {
		t.Fatal(err)
	}
	if s.Lab.Phase != "" || len(s.Lab.Namespaces) != 0 {
		t.Fatalf("a new lab's record is not empty: %+v", s.Lab)
	}
	s.Lab.Phase = PhaseDeploying
	steps := []func() error{
		func() error {
			return s.AddNamespace(Namespace{Name: "knl-lab-a-n1", Role: RoleNode, Node: "n1", Addresses: []string{"10.0.0.1/24"}})
		},
		func() error {
			return s.AddNamespace(Namespace{Name: "knl-lab-a-n1", Role: RoleNode, Node: "n1", Addresses: []string{"10.0.0.1/24"}})
		}, // once
		func() error {
			return s.AddLinks(Link{Namespace: "knl-lab-a-n1", Name: "eth1", Kind: "veth", PeerNamespace: "knl-lab-a-sw", PeerName: "eth1"})
		},
		func() error { return s.AddLinks(Link{Namespace: "knl-lab-a-n1", Name: "eth1", Kind: "veth"}) }, // once
		func() error { return s.AddProcess("agent-n1", os.Getpid(), "knl-lab-a-n1") },
		func() error { return s.AddFile("/tmp/x") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		// Every step is on disk before the next: that is what makes it a journal.
		onDisk, err := Read(root, "lab-a")
		if err != nil || onDisk == nil {
			t.Fatalf("step %d: read back: %v", i, err)
		}
	}
	s.Close()

	l, err := Read(root, "lab-a")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Namespaces) != 1 || len(l.Links) != 1 || len(l.Processes) != 1 || len(l.Files) != 1 {
		t.Errorf("record = %+v, want one of each", l)
	}
	if ns, ok := l.Namespace("n1"); !ok || ns.Name != "knl-lab-a-n1" {
		t.Errorf("Namespace(n1) = %+v, %v", ns, ok)
	}
	if !l.Processes[0].Alive() {
		t.Error("this test process is recorded as not alive")
	}
	labs, err := Labs(root)
	if err != nil || !slices.Equal(labs, []string{"lab-a"}) {
		t.Errorf("Labs = %v, %v", labs, err)
	}
}

func TestProcessAliveRejectsReusedPID(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	st, err := ProcessStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    Process
		want bool
	}{
		{Process{PID: cmd.Process.Pid, StartTime: st}, true},
		{Process{PID: cmd.Process.Pid, StartTime: st + 1}, false}, // same PID, another process
		{Process{PID: 1 << 30, StartTime: st}, false},             // no such PID
	} {
		if got := tc.p.Alive(); got != tc.want {
			t.Errorf("Alive(%+v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestLockKeepsTwoCommandsApart(t *testing.T) {
	root := t.TempDir()
	first, err := Open(context.Background(), root, "lab-b")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Open(ctx, root, "lab-b"); err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second Open while locked: %v, want a lock error", err)
	}
	// Another lab is not held up.
	other, err := Open(ctx, root, "lab-c")
	if err != nil {
		t.Fatalf("another lab: %v", err)
	}
	other.Close()
	// A waiting command gets the lock when the first one lets go.
	got := make(chan error, 1)
	go func() {
		s, err := Open(context.Background(), root, "lab-b")
		if err == nil {
			s.Close()
		}
		got <- err
	}()
	first.Close()
	if err := <-got; err != nil {
		t.Fatalf("waiting Open: %v", err)
	}
}

func TestDamagedRecordSaysWhatToDo(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "lab-d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "lab-d", "state.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(root, "lab-d")
	if err == nil || !strings.Contains(err.Error(), "knetlab destroy lab-d") {
		t.Errorf("Read of a damaged record: %v, want the destroy hint", err)
	}
}

func TestProcessStartTimeOfSelf(t *testing.T) {
	st, err := ProcessStartTime(os.Getpid())
	if err != nil || st == 0 {
		t.Fatalf("ProcessStartTime(self) = %d, %v", st, err)
	}
}

// Destroy removes the lock file while holding it; a command that waited on it must not end up
// holding the lock alongside a newcomer that created a fresh file.
func TestLockSurvivesRemovalWhileHeld(t *testing.T) {
	root := filepath.Join(t.TempDir(), "state")
	first, err := Open(context.Background(), root, "lab-e")
	if err != nil {
		t.Fatal(err)
	}
	first.Lab.Phase = PhaseDeployed
	if err := first.Save(); err != nil {
		t.Fatal(err)
	}
	waiter := make(chan *Store, 1)
	go func() {
		s, err := Open(context.Background(), root, "lab-e")
		if err != nil {
			t.Error(err)
		}
		waiter <- s
	}()
	time.Sleep(100 * time.Millisecond) // let the waiter open the old file and block on it
	if err := first.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("state root left behind after the last lab was removed: %v", err)
	}
	first.Close()
	second := <-waiter
	if second == nil {
		t.FailNow()
	}
	defer second.Close()
	if second.Lab.Phase != "" {
		t.Errorf("the waiter read the removed record: %+v", second.Lab)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if third, err := Open(ctx, root, "lab-e"); err == nil {
		third.Close()
		t.Fatal("two commands hold lab-e's lock at once")
	}
}

// A process's state letter from /proc/<pid>/stat: R and S run, T (stopped by SIGSTOP) and t
// (stopped by a tracer) are paused, Z (not reaped) and X are exited. The command name may hold
// spaces and parentheses.
func TestParseStatStates(t *testing.T) {
	for _, tc := range []struct{ stat, letter, state string }{
		{"1234 (calico-agent) R 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 8 0 98765 1 1", "R", StateRunning},
		{"1234 (calico-agent) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 8 0 98765 1 1", "S", StateRunning},
		{"1234 (a (b) c) T 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 8 0 98765 1 1", "T", StatePaused},
		{"1234 (agent) t 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 8 0 98765 1 1", "t", StatePaused},
		{"1234 (agent) Z 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 8 0 98765 1 1", "Z", StateExited},
	} {
		letter, start, err := ParseStat(tc.stat)
		if err != nil || letter != tc.letter || start != 98765 {
			t.Errorf("ParseStat(%q) = %q, %d, %v; want %q, 98765", tc.stat, letter, start, err, tc.letter)
		}
		if got := StateOf(letter); got != tc.state {
			t.Errorf("StateOf(%q) = %q, want %q", letter, got, tc.state)
		}
	}
	for _, bad := range []string{"", "1234 agent R 1", "1234 (agent) R 1 2 3"} {
		if _, _, err := ParseStat(bad); err == nil {
			t.Errorf("ParseStat(%q): no error", bad)
		}
	}
}

// A recorded process that is paused by SIGSTOP is paused; one that was killed is exited, both
// as a zombie its parent has not reaped and once it is gone; one whose PID now names another
// process (another start time) is exited.
func TestProcessState(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer cmd.Process.Kill()
	start, err := ProcessStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	p := Process{Name: "sleep", PID: cmd.Process.Pid, StartTime: start}
	wait := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for p.State() != want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := p.State(); got != want {
			t.Errorf("State() = %q, want %q", got, want)
		}
	}
	wait(StateRunning)
	if other := (Process{PID: p.PID, StartTime: start + 1}); other.State() != StateExited {
		t.Errorf("a process with another start time: State() = %q, want %q", other.State(), StateExited)
	}
	_ = cmd.Process.Signal(syscall.SIGSTOP)
	wait(StatePaused)
	_ = cmd.Process.Signal(syscall.SIGCONT)
	wait(StateRunning)
	_ = cmd.Process.Kill()
	wait(StateExited) // a zombie: not reaped yet
	_ = cmd.Wait()
	wait(StateExited) // gone
}
