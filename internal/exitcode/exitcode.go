// Package exitcode carries knetlab's exit-code contract (docs/exit-codes.md) as typed errors, so that
// a command deep in the stack says what kind of failure it is and main turns it into a code.
//
//	0 all passed · 1 a check failed · 2 bad usage or input · 3 the environment lacks something
//	4 internal error: a knetlab bug
package exitcode

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// The exit codes of docs/exit-codes.md.
const (
	OK          = 0
	CheckFailed = 1
	Usage       = 2
	Environment = 3
	Internal    = 4
)

// UsageError is bad usage or bad input; nothing was changed.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// EnvironmentError says what the host lacks (root, Docker, containerlab, an image) and what to do.
type EnvironmentError struct {
	Err error
	Fix string // what the user can do, e.g. "run as root (sudo knetlab ...)"
}

func (e *EnvironmentError) Error() string {
	if e.Fix == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v\n  fix: %s", e.Err, e.Fix)
}
func (e *EnvironmentError) Unwrap() error { return e.Err }

// CheckError means the command ran but at least one check failed; the report was printed already.
type CheckError struct{ Failed int }

func (e *CheckError) Error() string {
	if e.Failed == 1 {
		return "1 check failed"
	}
	return fmt.Sprintf("%d checks failed", e.Failed)
}

// CommandError is the non-zero exit status of a command knetlab ran for the user (exec):
// knetlab exits with the same code, and prints nothing more, since the command spoke for itself.
type CommandError struct {
	Command string
	Code    int
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s exited with code %d", e.Command, e.Code)
}

// InternalError is knetlab's own bug: a state its code should never reach (a recovered panic, a
// broken invariant). Errors of no known kind are treated the same way (see Code).
type InternalError struct{ Err error }

func (e *InternalError) Error() string { return e.Err.Error() }
func (e *InternalError) Unwrap() error { return e.Err }

// Internalf formats an internal error (exit 4).
func Internalf(format string, args ...any) error {
	return &InternalError{Err: fmt.Errorf(format, args...)}
}

// FromOutside marks err, a failure of a program or service knetlab drives (docker, kind,
// containerlab), as the environment's with the fix, unless it already has a kind. Those tools
// report their failures as text, with no type for Code to recognise.
func FromOutside(err error, fix string) error {
	var in *InternalError
	if err == nil || Code(err) != Internal || errors.As(err, &in) {
		return err
	}
	return NewEnvironment(err, fix)
}

// NewUsage wraps err as bad usage or input (exit 2).
func NewUsage(err error) error { return &UsageError{Err: err} }

// Usagef formats a usage error (exit 2).
func Usagef(format string, args ...any) error { return &UsageError{Err: fmt.Errorf(format, args...)} }

// NewEnvironment wraps err as an environment problem (exit 3) with the fix.
func NewEnvironment(err error, fix string) error { return &EnvironmentError{Err: err, Fix: fix} }

// Code returns the exit code for err.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var u *UsageError
	var env *EnvironmentError
	var c *CheckError
	var cmd *CommandError
	var in *InternalError
	switch {
	case errors.As(err, &cmd):
		return cmd.Code
	case errors.As(err, &c):
		return CheckFailed
	case errors.As(err, &in):
		return Internal
	case errors.As(err, &env):
		return Environment
	case errors.As(err, &u):
		return Usage
	case systemRefused(err):
		return Environment
	}
	// An error of no known kind is one knetlab did not expect: its bug, not the user's machine.
	return Internal
}

// systemRefused says whether err comes from an operation the system refused or that did not
// finish — a system call (netlink, a file, a namespace), a program that could not be started,
// a connection, a deadline or an interrupt: the environment did not let knetlab finish.
func systemRefused(err error) bool {
	var errno syscall.Errno
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	var sysErr *os.SyscallError
	var execErr *exec.Error
	var netErr net.Error
	return errors.As(err, &errno) || errors.As(err, &pathErr) || errors.As(err, &linkErr) ||
		errors.As(err, &sysErr) || errors.As(err, &execErr) || errors.As(err, &netErr) ||
		errors.Is(err, exec.ErrNotFound) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// Describe is what knetlab prints for err after "error:". An internal error says it is a bug,
// asks for a report, and gives the chain of wrapped errors with their types, which is what a
// report needs to find the place in the code.
func Describe(err error) string {
	if Code(err) != Internal {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString("internal error — a knetlab bug: please report it with this error chain\n  ")
	b.WriteString(err.Error())
	b.WriteString("\n  chain:")
	for e := err; e != nil; e = errors.Unwrap(e) {
		fmt.Fprintf(&b, " %T", e)
		if next := errors.Unwrap(e); next != nil {
			b.WriteString(" →")
		}
	}
	return b.String()
}
