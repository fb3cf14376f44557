package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/knetlab/knetlab/internal/testenv"
)

// The reliability suite: what a lab owner does over and over (deploy, destroy, kill a deploy,
// run labs side by side) leaves the host as it found it. Collisions, hostile pod names, parallel
// verifies and self-repair have their own tests in this package.

// hostState is what a test's labs may leave on the host: their network namespaces, lab state
// directories, and the lab daemons this test binary started. Other packages' tests build labs
// at the same time (go test runs packages in parallel), so only this test's labs count; links
// in the root namespace are checked for the whole run by .ci/run.
type hostState struct {
	namespaces, stateDirs, processes []string
}

// snapshotHost reads what the labs named labNames have on the host.
func snapshotHost(t *testing.T, stateRoot string, labNames ...string) hostState {
	t.Helper()
	var s hostState
	for _, name := range labNames {
		s.namespaces = append(s.namespaces, labNamespaces(t, name)...)
	}
	if entries, err := os.ReadDir(stateRoot); err == nil {
		for _, e := range entries {
			s.stateDirs = append(s.stateDirs, e.Name())
		}
	}
	s.processes = labProcesses(t)
	return s
}

// labProcesses lists the processes this test binary started as lab daemons (the datastore and
// agents re-execute it), by pid and command line.
func labProcesses(t *testing.T) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || exe != self {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(st), ") Z ") {
			continue // a zombie holds nothing
		}
		out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cmdline), "\x00", " ")))
	}
	return out
}

// newSince lists what after holds that before did not.
func newSince(before, after []string) []string {
	had := map[string]bool{}
	for _, b := range before {
		had[b] = true
	}
	var out []string
	for _, a := range after {
		if !had[a] {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

func (s hostState) leaksSince(before hostState) []string {
	var out []string
	for _, d := range []struct {
		what          string
		before, after []string
	}{
		{"namespace", before.namespaces, s.namespaces},
		{"state dir", before.stateDirs, s.stateDirs},
		{"process", before.processes, s.processes},
	} {
		for _, n := range newSince(d.before, d.after) {
			out = append(out, d.what+" "+n)
		}
	}
	return out
}

// Fifty full deploy/destroy cycles through the command line (datastore, agents, CNI, pods)
// leave no namespace, root link, state directory or daemon behind.
func TestReliabilityDeployDestroyCycles(t *testing.T) {
	testenv.RequireLab(t, "ip")
	root := t.TempDir()
	t.Setenv("KNETLAB_STATE_DIR", root)
	file, name := renamedLab(t, "pod-network")
	t.Cleanup(func() { run(t, "destroy", "--lab-file", file) })
	must := mustExit(t)
	before := snapshotHost(t, root, name)
	const cycles = 50
	for i := 0; i < cycles; i++ {
		must(0, "deploy", "--lab-file", file)
		must(0, "destroy", "--lab-file", file)
	}
	if leaks := snapshotHost(t, root, name).leaksSince(before); len(leaks) > 0 {
		t.Errorf("%d deploy/destroy cycles left: %v", cycles, leaks)
	}
}

// A deploy killed with SIGKILL at several points is removed by destroy to nothing: no namespace,
// state or daemon. The points: the provider's deterministic hook (after that many journaled
// objects of the underlay), and the moments deploy's progress reaches the underlay's cables, the
// datastore, the agents and the pods (the CNI half of a deploy, with daemons running).
func TestReliabilityKilledDeploysAreDestroyed(t *testing.T) {
	testenv.RequireLab(t, "ip")
	root := t.TempDir()
	t.Setenv("KNETLAB_STATE_DIR", root)
	for _, tc := range []struct {
		name      string
		killAfter string // KNETLAB_TEST_KILL_AFTER
		killOn    string // kill as soon as a progress line holds this
	}{
		{name: "after the first namespace", killAfter: "1"},
		{name: "after all namespaces", killAfter: "6"},
		{name: "after some cables", killAfter: "12"},
		{name: "with the underlay up", killOn: "cables: "},
		{name: "with the datastore started", killOn: "datastore: "},
		{name: "with agents registering", killOn: "agents: "},
		{name: "while adding pods", killOn: "pods: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, name := renamedLab(t, "calico-overlay")
			t.Cleanup(func() { run(t, "destroy", "--lab-file", file) })
			before := snapshotHost(t, root, name)
			cmd := exec.Command(os.Args[0], "deploy", "--lab-file", file)
			cmd.Env = append(os.Environ(), cliEnv+"=1")
			if tc.killAfter != "" {
				cmd.Env = append(cmd.Env, "KNETLAB_TEST_KILL_AFTER="+tc.killAfter)
			}
			out, err := runKilling(cmd, tc.killOn)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("deploy was not killed %s: %v\n%s", tc.name, err, out)
			}
			mustExit(t)(0, "destroy", "--lab-file", file)
			if leaks := snapshotHost(t, root, name).leaksSince(before); len(leaks) > 0 {
				t.Errorf("destroy after a deploy killed %s left: %v", tc.name, leaks)
			}
		})
	}
}

// runKilling runs cmd and SIGKILLs it when its output first holds killOn (never, when ""); it
// returns the output and cmd's end.
func runKilling(cmd *exec.Cmd, killOn string) (string, error) {
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	var out strings.Builder
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if killOn != "" && strings.Contains(sc.Text(), killOn) {
				_ = cmd.Process.Kill()
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		return "", err
	}
	err := cmd.Wait()
	w.Close()
	<-read
	return out.String(), err
}

// Three labs side by side (two of them the same catalogue lab under other names) each pass
// verify; destroying one leaves the other two passing; destroying all leaves nothing.
func TestReliabilityThreeLabsSideBySide(t *testing.T) {
	testenv.RequireLab(t, "ip", "ping")
	root := t.TempDir()
	t.Setenv("KNETLAB_STATE_DIR", root)
	must := mustExit(t)
	var files, names []string
	for i, catalogue := range []string{"calico-overlay", "pod-network", "calico-overlay"} {
		file, name := renamedLab(t, catalogue)
		if i == 2 { // the same lab again, under a third name
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			data = []byte(strings.Replace(string(data), "name: "+name+"\n", "name: "+name+"-2\n", 1))
			name += "-2"
			file = filepath.Join(t.TempDir(), "lab.yaml")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		files, names = append(files, file), append(names, name)
		t.Cleanup(func() { run(t, "destroy", "--lab-file", file) })
	}
	before := snapshotHost(t, root, names...)
	for _, f := range files {
		must(0, "deploy", "--lab-file", f)
	}
	for _, f := range files {
		must(0, "verify", "--lab-file", f)
	}
	must(0, "destroy", "--lab-file", files[0])
	for _, f := range files[1:] {
		must(0, "verify", "--lab-file", f)
	}
	for _, f := range files[1:] {
		must(0, "destroy", "--lab-file", f)
	}
	if leaks := snapshotHost(t, root, names...).leaksSince(before); len(leaks) > 0 {
		t.Errorf("three labs deployed and destroyed left: %v", leaks)
	}
}
