package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/internal/testenv"
)

// The knetlab CNI on a netns lab as a person drives it: deploy, verify the dataplane checks,
// pods added, listed, pinged and deleted twice, an agent stopped (verify names its node), the
// agent restarted by a second deploy.
func TestPodsAndAgentsOnANetnsLab(t *testing.T) {
	testenv.RequireLab(t, "ping")
	root := t.TempDir()
	t.Setenv("KNETLAB_STATE_DIR", root)
	file, name := renamedLab(t, "calico-overlay")
	t.Cleanup(func() { run(t, "destroy", "--lab-file", file) })

	mustRun := mustExit(t)
	mustRun(exitcode.OK, "deploy", "--lab-file", file)
	dataplane := "routes.blocks,vxlan.device,vxlan.neigh,vxlan.fdb,routes.pods,pods.wiring"
	if out := mustRun(exitcode.OK, "verify", "--lab-file", file, "--check", dataplane); !strings.Contains(out, "6 passed, 0 failed") {
		t.Errorf("verify of the deployed lab:\n%s", out)
	}

	if out := mustRun(exitcode.Usage, "pod", "add", name, "web"); !strings.Contains(out, "--node") {
		t.Errorf("pod add without --node: %s", out)
	}
	for _, notANode := range []string{"k01-nowhere", "ceos01", "network"} {
		mustRun(exitcode.Usage, "pod", "add", name, "web", "--node", notANode)
	}
	out := mustRun(exitcode.OK, "pod", "add", name, "web", "--node", "k01-worker3", "-n", "shop")
	if !strings.Contains(out, "pod shop/web on k01-worker3: 192.168.") {
		t.Errorf("pod add: %s", out)
	}
	list := mustRun(exitcode.OK, "pod", "list", name)
	for _, want := range []string{"shop/web", "default/net-w1", "k01-worker3", "cali"} {
		if !strings.Contains(list, want) {
			t.Errorf("pod list lacks %q:\n%s", want, list)
		}
	}
	webIP := strings.Fields(list[strings.Index(list, "shop/web"):])[2]
	mustRun(exitcode.OK, "exec", name, "net-w1", "--", "ping", "-c1", "-W2", "-n", webIP)
	if out := mustRun(exitcode.OK, "verify", "--lab-file", file, "--check", "routes.pods,pods.wiring"); !strings.Contains(out, "passed, 0 failed") {
		t.Errorf("verify with the added pod:\n%s", out)
	}
	mustRun(exitcode.OK, "pod", "del", name, "web", "-n", "shop")
	if out := mustRun(exitcode.OK, "pod", "del", name, "web", "-n", "shop"); !strings.Contains(out, "nothing to delete") {
		t.Errorf("second pod del: %s", out)
	}

	// A stopped agent leaves its dataplane in place, so only readiness can tell: verify must
	// name the node rather than pass.
	rec, err := journal.Read(root, name)
	if err != nil || rec == nil {
		t.Fatalf("lab record: %v", err)
	}
	var agentProc journal.Process
	for _, pr := range rec.Processes {
		if pr.Name == "agent k01-worker2" && pr.Alive() {
			agentProc = pr
		}
	}
	pid := agentProc.PID
	if pid == 0 {
		t.Fatalf("no running agent of k01-worker2 in %+v", rec.Processes)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The kill completes asynchronously (slowly on a loaded host): verify judges a dead agent.
	for deadline := time.Now().Add(10 * time.Second); agentProc.Alive(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent of k01-worker2 (pid %d) still runs 10s after SIGKILL", pid)
		}
	}
	out = mustRun(exitcode.CheckFailed, "verify", "--lab-file", file, "--check", "topology.nodes,"+dataplane)
	if !strings.Contains(out, "FAIL  topology.nodes") || !strings.Contains(out, "k01-worker2") || !strings.Contains(out, strconv.Itoa(pid)) {
		t.Errorf("verify with the agent of k01-worker2 stopped does not name it:\n%s", out)
	}
	if out := mustRun(exitcode.OK, "deploy", "--lab-file", file); !strings.Contains(out, "started the agent of k01-worker2") {
		t.Errorf("second deploy does not restart the agent:\n%s", out)
	}
	mustRun(exitcode.OK, "verify", "--lab-file", file, "--check", "topology.nodes,"+dataplane)
}
