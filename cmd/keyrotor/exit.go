package main

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Exit codes, documented in the package comment and the README.
const (
	ExitOK       = 0
	ExitFailed   = 1
	ExitUsage    = 2
	ExitPartial  = 3
	ExitFindings = 4
	ExitMail     = 5
)

// version is set at build time with -ldflags "-X main.version=..." (make
// build and make install set it from git describe); see buildVersion.
var version = "dev"

// buildVersion is version, or, when no -ldflags set it (go build, go
// install), what the Go toolchain recorded: the module's version when
// installed as module@version, else the commit it was built from
// ("dev+3f9c2a1b0d4e", "-dirty" with uncommitted changes). Only a binary
// built outside any checkout says just "dev".
func buildVersion() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return version
	}
	v := "dev+" + rev[:min(12, len(rev))]
	if dirty {
		v += "-dirty"
	}
	return v
}

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
