package main

import (
	"errors"
	"fmt"
)

// Exit codes, documented in the package comment and the README.
const (
	ExitOK       = 0
	ExitFailed   = 1
	ExitUsage    = 2
	ExitPartial  = 3
	ExitFindings = 4
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError marks errors caused by bad flags, arguments or configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e exitError) Unwrap() error { return e.err }

// errCode wraps err with an exit code for run(); a usage error keeps its
// own.
func errCode(code int, err error) error {
	if err == nil && code == ExitOK {
		return nil
	}
	var ue usageError
	if errors.As(err, &ue) {
		return err
	}
	return exitError{code: code, err: err}
}
