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

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &Env{Stdout: os.Stdout, Stderr: os.Stderr, Now: time.Now, Getenv: os.Getenv})
	stop()
	os.Exit(code)
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
