package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/labs"
)

// hostilePodNames are the names issue 12 passed to `knetlab pod add`.
var hostilePodNames = []string{
	"z;K8S_POD_NAME=net-w1", "$(id)", "../../x", "Upper", strings.Repeat("a", 300), "a;touch /tmp/knetlab-pwned",
}

// A name Kubernetes would refuse is refused (exit 2, naming the rule) before anything is
// looked at: no lab needs to exist, and the state root stays empty.
func TestPodAddRefusesHostileNames(t *testing.T) {
	root := t.TempDir()
	t.Setenv("KNETLAB_STATE_DIR", root)
	for _, name := range hostilePodNames {
		code, _, stderr := run(t, "pod", "add", "calico-overlay", name, "--node", "k01-worker")
		if code != exitcode.Usage || !strings.Contains(stderr, "RFC 1123 subdomain") {
			t.Errorf("pod add %q: exit %d, want %d naming the rule:\n%s", name, code, exitcode.Usage, stderr)
		}
	}
	code, _, stderr := run(t, "pod", "add", "calico-overlay", "web", "-n", "../etc", "--node", "k01-worker")
	if code != exitcode.Usage || !strings.Contains(stderr, "RFC 1123 label") {
		t.Errorf("pod add -n ../etc: exit %d, want %d naming the rule:\n%s", code, exitcode.Usage, stderr)
	}
	if entries, _ := os.ReadDir(root); len(entries) > 0 {
		t.Errorf("refused pod adds left %d entries in the state root", len(entries))
	}
}

// mustExit returns a runner of knetlab commands that fails t unless a command exits want; it
// returns stdout and stderr together.
func mustExit(t *testing.T) func(want int, args ...string) string {
	return func(want int, args ...string) string {
		t.Helper()
		code, out, stderr := run(t, args...)
		if code != want {
			t.Fatalf("knetlab %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, stderr)
		}
		return out + stderr
	}
}

// labNamespaces lists the namespaces of labName that ip netns shows.
func labNamespaces(t *testing.T, labName string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], netnslab.NamespaceName(labName, "")) {
			ns = append(ns, f[0])
		}
	}
	return ns
}

// On a deployed lab: the injection of issue 12 no longer reaches net-w1's veth, hostile names
// leave no namespace, and a pod name lives once per lab.
func TestPodNamesOnADeployedLab(t *testing.T) {
	testenv.RequireLab(t, "ip", "ping")
	root := t.TempDir()
	t.Setenv("KNETLAB_STATE_DIR", root)
	file, name := renamedLab(t, "calico-overlay")
	t.Cleanup(func() { run(t, "destroy", "--lab-file", file) })
	mustRun := mustExit(t)
	mustRun(exitcode.OK, "deploy", "--lab-file", file)
	rec, err := journal.Read(root, name)
	if err != nil || rec == nil {
		t.Fatalf("lab record: %v", err)
	}
	w1, _ := rec.Pod("default", "net-w1")
	namespaces := labNamespaces(t, name)

	for _, hostile := range hostilePodNames {
		mustRun(exitcode.Usage, "pod", "add", name, hostile, "--node", "k01-worker")
	}
	if after := labNamespaces(t, name); len(after) != len(namespaces) {
		t.Errorf("refused pod adds changed the lab's namespaces:\nbefore %v\nafter  %v", namespaces, after)
	}
	list := mustRun(exitcode.OK, "pod", "list", name)
	if strings.Count(list, "default/") != 4 {
		t.Errorf("pod list after refused adds:\n%s", list)
	}
	// net-w1 keeps its host veth and its connectivity.
	mustRun(exitcode.OK, "exec", name, "k01-worker", "--", "ip", "link", "show", "dev", w1.HostIface)
	mustRun(exitcode.OK, "exec", name, "net-w2", "--", "ping", "-c1", "-W2", "-n", w1.IP)
	mustRun(exitcode.OK, "exec", name, "net-w3", "--", "ping", "-c1", "-W2", "-n", w1.IP)

	// Once per lab: the same node is idempotent, another node is refused naming the first,
	// --replace moves it.
	mustRun(exitcode.OK, "pod", "add", name, "web", "--node", "k01-worker3")
	if out := mustRun(exitcode.OK, "pod", "add", name, "web", "--node", "k01-worker3"); !strings.Contains(out, "on k01-worker3") {
		t.Errorf("second pod add on the same node: %s", out)
	}
	for _, other := range []string{"k01-worker", "k01-worker2"} {
		if out := mustRun(exitcode.Usage, "pod", "add", name, "web", "--node", other); !strings.Contains(out, "already on node k01-worker3") || !strings.Contains(out, "--replace") {
			t.Errorf("pod add of web on %s: %s", other, out)
		}
	}
	if out := mustRun(exitcode.OK, "pod", "add", name, "web", "--node", "k01-worker2", "--replace"); !strings.Contains(out, "on k01-worker2") {
		t.Errorf("pod add --replace: %s", out)
	}
	list = mustRun(exitcode.OK, "pod", "list", name)
	if strings.Count(list, "default/web") != 1 || !strings.Contains(list, "k01-worker2") {
		t.Errorf("pod list after --replace:\n%s", list)
	}
	hostVeth := cni.HostVethName(cni.PodID{Namespace: "default", Name: "web"})
	if code, _, _ := run(t, "exec", name, "k01-worker3", "--", "ip", "link", "show", "dev", hostVeth); code == exitcode.OK {
		t.Errorf("%s still on k01-worker3 after --replace moved web", hostVeth)
	}
	mustRun(exitcode.OK, "exec", name, "web", "--", "ping", "-c1", "-W2", "-n", w1.IP)
	mustRun(exitcode.OK, "pod", "del", name, "web")
}

// collisionLab writes calico-overlay as lab labName with cluster (and node-name prefix) cluster.
func collisionLab(t *testing.T, labName, cluster string) string {
	t.Helper()
	data, err := labs.FS.ReadFile("calico-overlay/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "k01", cluster)
	text = strings.Replace(text, "name: calico-overlay\n", "name: "+labName+"\n", 1)
	file := filepath.Join(t.TempDir(), labName+".yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// Issue 12's pair: lab <p>x with cluster ab-k01 and lab <p>x-ab with cluster k01 had the same
// namespaces (knl-<p>x-ab-k01-*). Both deploy side by side, and destroying one leaves the other
// working.
func TestCollidingLabNamesLiveSideBySide(t *testing.T) {
	testenv.RequireLab(t, "ip", "ping")
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	prefix := fmt.Sprintf("c%dx", os.Getpid()%100000)
	a, b := prefix, prefix+"-ab"
	fileA, fileB := collisionLab(t, a, "ab-k01"), collisionLab(t, b, "k01")
	t.Cleanup(func() { run(t, "destroy", "--lab-file", fileA); run(t, "destroy", "--lab-file", fileB) })
	for _, f := range []string{fileA, fileB} {
		if code, out, stderr := run(t, "deploy", "--lab-file", f); code != exitcode.OK {
			t.Fatalf("deploy %s: exit %d\n%s\n%s", f, code, out, stderr)
		}
	}
	nsA, nsB := labNamespaces(t, a), labNamespaces(t, b)
	if len(nsA) != 10 || len(nsB) != 10 {
		t.Fatalf("namespaces: %s has %v, %s has %v; want 10 each (network, switch, 4 nodes, 4 pods)", a, nsA, b, nsB)
	}
	ping := func(labName, from, to string) {
		t.Helper()
		rec, err := journal.Read(os.Getenv("KNETLAB_STATE_DIR"), labName)
		if err != nil || rec == nil {
			t.Fatalf("record of %s: %v", labName, err)
		}
		dst, _ := rec.Pod("default", to)
		if code, out, stderr := run(t, "exec", labName, from, "--", "ping", "-c1", "-W2", "-n", dst.IP); code != exitcode.OK {
			t.Errorf("lab %s: %s cannot ping %s (%s): exit %d\n%s%s", labName, from, to, dst.IP, code, out, stderr)
		}
	}
	ping(a, "net-w1", "net-w3")
	ping(b, "net-w1", "net-w3")
	if code, out, stderr := run(t, "destroy", "--lab-file", fileA); code != exitcode.OK {
		t.Fatalf("destroy %s: exit %d\n%s\n%s", a, code, out, stderr)
	}
	if left := labNamespaces(t, a); len(left) != 0 {
		t.Errorf("destroy %s left %v", a, left)
	}
	if after := labNamespaces(t, b); len(after) != len(nsB) {
		t.Errorf("destroying %s changed %s's namespaces: before %v, after %v", a, b, nsB, after)
	}
	ping(b, "net-w1", "net-w3")
	ping(b, "net-w2", "net-cp")
}
