package netnslab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// StartProcess starts cmd inside the lab namespace ns (a datastore in the management network,
// an agent on a node) in a session of its own, so that it outlives the knetlab command that
// started it, and journals it under name in the lab's record, so that status lists it and
// destroy stops it. The caller holds store, the lab's lock.
func StartProcess(store *journal.Store, ns, name string, cmd *exec.Cmd) error {
	keepInheritedDescriptors()
	h, err := openNamespace(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	if err := kernel.Do(h, cmd.Start); err != nil {
		return fmt.Errorf("start %s in %s: %w", name, ns, err)
	}
	if err := store.AddProcess(name, cmd.Process.Pid, ns); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	return nil
}

// keepInheritedDescriptors marks every descriptor knetlab inherited close-on-exec (Go opens its
// own so already), so that a lab daemon, which lives on after knetlab, holds none of them. A
// knetlab started as `flock LOCK knetlab deploy` inherits the locked descriptor: passed on, it
// would keep LOCK held by the lab's daemons until the lab is destroyed, and a destroy waiting for
// LOCK would wait forever.
func keepInheritedDescriptors() {
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) // Linux ≥ 5.11; older kernels keep today's behaviour
}

// namespaceInode is the identity of a named namespace: the nsfs inode that /proc/<pid>/ns/net
// of every process inside it links to.
func namespaceInode(name string) (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Stat(namespacePath(name), &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}

// processesIn finds every process whose network namespace is one of namespaces: a lab process
// that was never journaled (its starter was killed before it could record it) or a command
// someone left running with exec. They hold the namespace alive after its name is removed.
func processesIn(namespaces []string) []journal.Process {
	inodes := map[string]string{}
	for _, n := range namespaces {
		if ino, ok := namespaceInode(n); ok {
			inodes[fmt.Sprintf("net:[%d]", ino)] = n
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []journal.Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		link, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "net"))
		if err != nil {
			continue
		}
		ns, ok := inodes[link]
		if !ok {
			continue
		}
		st, err := journal.ProcessStartTime(pid)
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		out = append(out, journal.Process{Name: strings.TrimSpace(string(comm)), PID: pid, StartTime: st, Namespace: ns})
	}
	return out
}

// orphaned says whether the live lab process pr runs outside the namespace it was started in,
// and how: the named namespace was deleted (`ip netns del`) or replaced by another of the same
// name. Such a process keeps its old namespace alive and serves nothing the lab can reach. The
// identity compared is the nsfs inode: /proc/<pid>/ns/net against /run/netns/<name>.
func orphaned(pr journal.Process) (string, bool) {
	if pr.Namespace == "" || !pr.Alive() {
		return "", false
	}
	link, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pr.PID), "ns", "net"))
	if err != nil {
		return "", false // it ended meanwhile
	}
	ino, ok := namespaceInode(pr.Namespace)
	switch {
	case !ok:
		return fmt.Sprintf("its namespace %s was deleted", pr.Namespace), true
	case link != fmt.Sprintf("net:[%d]", ino):
		return fmt.Sprintf("its namespace %s was replaced", pr.Namespace), true
	}
	return "", false
}
