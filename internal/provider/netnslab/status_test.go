package netnslab

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// break --list offers only the faults a lab supports: worker3-via-eth1 needs a node in another
// subnet than the first worker's, which pod-network (one subnet) has not; and break refuses it
// there with the same condition, before it needs root or the lab.
func TestFaultsFitTheLab(t *testing.T) {
	names := func(l *lab.Lab) []string {
		var out []string
		for _, f := range New().Faults(l) {
			out = append(out, f.Name)
		}
		return out
	}
	overlay, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	podNet, err := lab.Load("pod-network")
	if err != nil {
		t.Fatal(err)
	}
	vxlanLab := []string{"fdb-missing", "vxlan-mtu", "worker3-via-eth1", "agent-stopped", "proxy-arp-off"}
	if got := names(overlay); !slices.Equal(got, vxlanLab) {
		t.Errorf("calico-overlay: faults %v, want %v", got, vxlanLab)
	}
	all := append(slices.Clone(vxlanLab), "rr-down", "peer-wrong-as", "block-not-exported")
	if got := names(nil); !slices.Equal(got, all) {
		t.Errorf("no lab: faults %v, want every fault %v", got, all)
	}
	// calico-bgp has no VXLAN (none of vxlan.calico's faults) and a route reflector.
	bgpLab, err := lab.Load("calico-bgp")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(bgpLab), []string{"agent-stopped", "proxy-arp-off", "rr-down", "peer-wrong-as", "block-not-exported"}; !slices.Equal(got, want) {
		t.Errorf("calico-bgp: faults %v, want %v", got, want)
	}
	if f, _ := findFault("fdb-missing"); f.fits(bgpLab) == nil || !strings.Contains(f.fits(bgpLab).Error(), "VXLAN") {
		t.Errorf("fdb-missing on calico-bgp: %v, want a refusal naming VXLAN", f.fits(bgpLab))
	}
	want := []string{"fdb-missing", "vxlan-mtu", "agent-stopped", "proxy-arp-off"}
	if got := names(podNet); !slices.Equal(got, want) {
		t.Errorf("pod-network: faults %v, want %v", got, want)
	}
	for _, f := range faults() {
		offered := slices.Contains(names(podNet), f.name)
		if err := f.fits(podNet); (err == nil) != offered {
			t.Errorf("pod-network, %s: offered %v but fits says %v", f.name, offered, err)
		}
	}

	orig := geteuid
	geteuid = func() int { return 1000 }
	t.Cleanup(func() { geteuid = orig })
	_, err = New(WithStateRoot(t.TempDir())).Break(context.Background(), podNet, "worker3-via-eth1")
	if exitcode.Code(err) != exitcode.Usage || err == nil || !strings.Contains(err.Error(), "needs two subnets") {
		t.Errorf("break pod-network worker3-via-eth1: %v (exit %d), want a usage error saying it needs two subnets", err, exitcode.Code(err))
	}
}

// status says what each agent is: running, paused (SIGSTOP, as three faults leave it) or
// exited (killed: gone, or a zombie); the lab is degraded when one is not running; the faults
// the journal records are listed.
func TestStatusShowsAgentStatesAndFaults(t *testing.T) {
	start := func() (*exec.Cmd, journal.Process) {
		t.Helper()
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Skip("no sleep:", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		st, err := journal.ProcessStartTime(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		return cmd, journal.Process{PID: cmd.Process.Pid, StartTime: st}
	}
	_, running := start()
	pausedCmd, pausedPr := start()
	killedCmd, killedPr := start()
	running.Name, pausedPr.Name, killedPr.Name = "agent a", "agent b", "agent c"
	_ = pausedCmd.Process.Signal(syscall.SIGSTOP)
	_ = killedCmd.Process.Kill()
	rec := &journal.Lab{Lab: "l", Phase: journal.PhaseDeployed,
		Processes: []journal.Process{running, pausedPr, killedPr},
		Faults: []journal.Fault{
			{Name: "fdb-missing", Node: "k01-worker", Entry: "aa:bb dev vxlan.calico dst 10.0.0.2", PID: pausedPr.PID},
			{Name: "agent-stopped", Node: "k01-worker2", PID: killedPr.PID},
		}}
	want := map[string]string{"agent a": "running", "agent b": "paused", "agent c": "exited"}
	var got map[string]string
	deadline := time.Now().Add(5 * time.Second)
	for {
		ls := labStatus(rec)
		got = map[string]string{}
		for _, n := range ls.Nodes {
			got[n.Name] = n.State
		}
		if len(got) == len(want) && got["agent a"] == want["agent a"] && got["agent b"] == want["agent b"] && got["agent c"] == want["agent c"] {
			if ls.State != "degraded" {
				t.Errorf("lab state %q with an agent paused and one exited, want degraded", ls.State)
			}
			wantFaults := []string{"fdb-missing on k01-worker", "agent-stopped on k01-worker2"}
			if !slices.Equal(ls.Faults, wantFaults) {
				t.Errorf("faults %q, want %q", ls.Faults, wantFaults)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent states %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = killedCmd.Wait() // reaped: gone
	for _, n := range labStatus(rec).Nodes {
		if n.Name == "agent c" && n.State != "exited" {
			t.Errorf("a killed and reaped agent: state %q, want exited", n.State)
		}
	}
}

// status lists the processes in the lab's member order, the datastore first in its member,
// whatever order they were last started in: a restarted agent does not move to the end.
func TestStatusProcessesInLabOrder(t *testing.T) {
	rec := &journal.Lab{
		Namespaces: []journal.Namespace{{Name: "knl.l.cp"}, {Name: "knl.l.w1"}, {Name: "knl.l.w2"}},
		Processes: []journal.Process{
			{Name: "agent w1", Namespace: "knl.l.w1"},
			{Name: "agent cp", Namespace: "knl.l.cp"},
			{Name: "datastore", Namespace: "knl.l.cp"},
			{Name: "agent w2", Namespace: "knl.l.w2"},
		},
	}
	var got []string
	for _, p := range processesInLabOrder(rec) {
		got = append(got, p.Name)
	}
	if want := []string{"datastore", "agent cp", "agent w1", "agent w2"}; !slices.Equal(got, want) {
		t.Errorf("processes in order %q, want %q", got, want)
	}
}
