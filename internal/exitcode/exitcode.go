// Package exitcode carries knetlab's exit-code contract (docs/exit-codes.md) as typed errors, so that
// a command deep in the stack says what kind of failure it is and main turns it into a code.
//
//	0 all passed · 1 a check failed · 2 bad usage or input · 3 the environment lacks something
package exitcode

import (
	"errors"
	"fmt"
)

// The exit codes of docs/exit-codes.md.
const (
	OK          = 0
	CheckFailed = 1
	Usage       = 2
	Environment = 3
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
	switch {
	case errors.As(err, &cmd):
		return cmd.Code
	case errors.As(err, &c):
		return CheckFailed
	case errors.As(err, &env):
		return Environment
	case errors.As(err, &u):
		return Usage
	}
	// Anything else is an operation that failed on the way (a netlink call, a file write):
	// the environment did not let us finish, which is what exit 3 tells a pipeline.
	return Environment
}
