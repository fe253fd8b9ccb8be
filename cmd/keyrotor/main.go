// Command keyrotor keeps every IAM access key in an AWS Organization younger
// than 90 days (CIS AWS Foundations 1.14), from one central security account.
//
// This package is wiring only: flags -> options -> library calls -> exit
// code. Exit codes:
//
//	0  done
//	1  failed (the run could not be carried out, or its report not written)
//	2  bad usage or configuration
//	3  done, but some accounts or steps failed (or interrupted)
//	4  done, findings present and --fail-on-findings given
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"
	"golang.org/x/term"
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

// Env is everything a command takes from the world outside its flags. main
// builds it from the process; tests build their own, so that they can run
// side by side with their own clocks and simulators.
type Env struct {
	Stdout, Stderr io.Writer
	// Now is the clock.
	Now func() time.Time
	// Getenv reads the environment (KEYROTOR_* overrides and the
	// AWS_ENDPOINT_URL_S3 hint).
	Getenv func(string) string
	// AWSOptions are appended to the SDK's load options for the central
	// account's configuration, after keyrotor's own.
	AWSOptions []func(*awsconfig.LoadOptions) error
}

// terminal tells whether stderr is a terminal, where progress bars and
// line clearing make sense.
func (e *Env) terminal() bool {
	f, ok := e.Stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &Env{Stdout: os.Stdout, Stderr: os.Stderr, Now: time.Now, Getenv: os.Getenv})
	stop()
	os.Exit(code)
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

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string, env *Env) int {
	cmd := newRootCmd(env)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			printError(cmd, env.Stderr, ee.err, ee.code)
		}
		return ee.code
	}
	code := ExitFailed
	var ue usageError
	if errors.As(err, &ue) || isFlagError(err) {
		code = ExitUsage
	}
	printError(cmd, env.Stderr, err, code)
	return code
}

// printError writes the error that ends the run: one JSON log record when
// --log-format json asked for machine-readable stderr, else one line.
func printError(root *cobra.Command, stderr io.Writer, err error, code int) {
	if f := root.PersistentFlags().Lookup("log-format"); f != nil && f.Value.String() == "json" {
		slog.New(slog.NewJSONHandler(stderr, nil)).Error("keyrotor failed", "err", err.Error(), "exit_code", code)
		return
	}
	fmt.Fprintln(stderr, "keyrotor:", err)
}
