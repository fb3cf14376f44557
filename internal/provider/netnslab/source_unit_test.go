package netnslab

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
)

// A lab deployed without the CNI has no datastore: its facts are absent (the checks that need
// them skip), not an error.
func TestFactsAbsentWithoutDatastore(t *testing.T) {
	root := t.TempDir()
	store, err := journal.Open(context.Background(), root, "underlay")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(); err != nil {
		t.Fatal(err)
	}
	store.Close()
	src := &Source{lab: &lab.Lab{Name: "underlay"}, root: root}
	if _, err := src.Facts(context.Background()); !errors.Is(err, source.ErrAbsent) {
		t.Fatalf("Facts without a datastore: %v, want ErrAbsent", err)
	}
}

// A node's readiness names its agent's state: none recorded, gone, paused, running.
func TestAgentStatus(t *testing.T) {
	sleeper := func(t *testing.T) journal.Process {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		st, err := journal.ProcessStartTime(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		return journal.Process{Name: agentProcess + "n1", PID: cmd.Process.Pid, StartTime: st, Namespace: "ns-n1"}
	}
	tests := []struct {
		name   string
		agent  func(t *testing.T) *journal.Process
		ready  bool
		detail string
	}{
		{"running", func(t *testing.T) *journal.Process { p := sleeper(t); return &p }, true, ""},
		{"none recorded", func(*testing.T) *journal.Process { return nil }, false, "no agent recorded for n1"},
		{"gone", func(t *testing.T) *journal.Process {
			p := sleeper(t)
			p.StartTime++ // the PID now names another process: the agent is gone
			return &p
		}, false, "agent not running (pid "},
		{"paused", func(t *testing.T) *journal.Process {
			p := sleeper(t)
			if err := unix.Kill(p.PID, unix.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(2 * time.Second); !paused(p.PID) && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			return &p
		}, false, "agent paused (pid "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &journal.Lab{Lab: "l", Namespaces: []journal.Namespace{{Name: "ns-n1", Role: journal.RoleNode, Node: "n1"}}}
			if p := tc.agent(t); p != nil {
				rec.Processes = append(rec.Processes, *p)
			}
			st := observed.NodeStatus{Name: "n1", Running: true, Ready: true}
			agentStatus(rec, "n1", &st)
			if st.Ready != tc.ready || !strings.Contains(st.Detail, tc.detail) {
				t.Errorf("ready %v %q, want ready %v with %q", st.Ready, st.Detail, tc.ready, tc.detail)
			}
		})
	}
}
