package netnslab

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"syscall"

	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// Exec implements provider.Provider: argv runs as a host binary inside the target's namespace
// (a node, the switch, "network", or a pod), with the caller's streams. The process is forked
// from a thread that has joined the namespace, so only the network namespace differs from the
// host's.
// A command that exits non-zero comes back as *exitcode.CommandError with its code.
func (p *Provider) Exec(_ context.Context, name, target string, argv []string, stdio provider.Stdio) error {
	if err := checkLabName(name); err != nil {
		return err
	}
	if len(argv) == 0 {
		return exitcode.Usagef("no command given: knetlab exec %s %s -- CMD...", name, target)
	}
	if err := requireRoot("exec"); err != nil {
		return err
	}
	rec, err := journal.Read(p.root, name)
	if err != nil {
		return err
	}
	if rec == nil {
		return exitcode.Usagef("lab %s is not deployed by the netns provider: knetlab deploy %s", name, name)
	}
	ns, ok := resolveTarget(rec, target)
	if !ok {
		var members []string
		for _, n := range rec.Namespaces {
			members = append(members, n.Node)
		}
		sort.Strings(members)
		return exitcode.Usagef("lab %s has no node, switch or pod %q (targets: %s)", name, target, strings.Join(members, ", "))
	}
	h, err := openNamespace(ns.Name)
	if err != nil {
		return exitcode.NewEnvironment(err, "knetlab deploy "+name+" repairs the lab")
	}
	defer h.Close()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stdio.Err
	if err := kernel.Do(h, cmd.Start); err != nil {
		if code, why := cannotRun(err); code != 0 {
			// As a shell does: say so on stderr and exit 126 or 127, so that a script tells "the
			// command is not there" from "the command failed".
			if stdio.Err != nil {
				fmt.Fprintf(stdio.Err, "knetlab exec: %s: %s\n", argv[0], why)
			}
			return &exitcode.CommandError{Command: argv[0], Code: code}
		}
		return fmt.Errorf("exec in %s: %w", target, err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal()) // as a shell reports a command killed by a signal
		}
		return &exitcode.CommandError{Command: argv[0], Code: code}
	}
	if err != nil {
		return fmt.Errorf("exec in %s: %w", target, err)
	}
	return nil
}

// Shell exit codes for a command that did not start (POSIX, "Exit Status for Commands").
const (
	codeNotExecutable = 126 // found, but cannot be executed
	codeNotFound      = 127 // not found
)

// cannotRun maps a failed start to the code a shell gives it, with the reason; 0 when the start
// failed for another reason (a namespace that could not be entered).
func cannotRun(err error) (int, string) {
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, syscall.ENOENT):
		return codeNotFound, "command not found (exec runs the host's binaries inside the lab's namespace)"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && (errno == syscall.EACCES || errno == syscall.ENOEXEC || errno == syscall.EISDIR || errno == syscall.EPERM) {
		return codeNotExecutable, "cannot execute: " + errno.Error()
	}
	return 0, ""
}

// resolveTarget finds the namespace of a node, the switch, "network", or a pod, named
// "<namespace>/<pod>" or by its pod name alone when only one pod has it.
func resolveTarget(rec *journal.Lab, target string) (journal.Namespace, bool) {
	if ns, ok := rec.Namespace(target); ok {
		return ns, true
	}
	var found []journal.Pod
	for _, p := range rec.Pods {
		if p.Name == target {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		return journal.Namespace{}, false
	}
	return rec.Namespace(found[0].Namespace + "/" + found[0].Name)
}
