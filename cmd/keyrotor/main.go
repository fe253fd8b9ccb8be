// Command keyrotor keeps every IAM access key in an AWS Organization younger
// than 90 days (CIS AWS Foundations 1.14), from one central security account.
//
// This package is wiring only: flags -> options -> library calls -> exit
// code. Exit codes:
//
//	0  done
//	1  failed (the run could not be carried out, its report not written or
//	   uploaded, or an output checked before any change was unusable)
//	2  bad usage or configuration (found before any change), or a --user
//	   that matches no IAM user in any account
//	3  done, but some accounts or steps failed (or interrupted)
//	4  done, findings present and --fail-on-findings given
//	5  done, but a notice or the digest could not be sent
//
// SIGINT and SIGTERM stop a run in two stages (package interrupt): the
// first lets steps in flight finish within --stop-grace and writes the
// report; a second cuts them short at once and still writes the report.
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

	"keyrotor/internal/interrupt"
	"keyrotor/report"
)

// abortWait is how long the process may take, once the run is aborted, to
// write its report and exit, before it exits without.
const abortWait = 10 * time.Second

func main() {
	stop := interrupt.New(context.Background(), interrupt.DefaultGrace)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	say := func(msg string) { fmt.Fprintln(os.Stderr, "keyrotor:", msg) }
	if jsonLogsAsked(os.Args[1:]) {
		log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
		say = func(msg string) { log.Error(msg, "exit_code", ExitFailed) }
	}
	go handleSignals(sigs, stop, say, os.Exit, abortWait)
	code := run(stop.Context(), os.Args[1:], &Env{Stdout: os.Stdout, Stderr: os.Stderr, Now: time.Now, Getenv: os.Getenv, Stop: stop})
	os.Exit(code)
}

// jsonLogsAsked tells whether the command line asks for JSON logs, for
// the few lines said outside any command.
func jsonLogsAsked(args []string) bool {
	for i, a := range args {
		if a == "--log-format=json" || a == "--log-format" && i+1 < len(args) && args[i+1] == "json" {
			return true
		}
	}
	return false
}

// handleSignals turns signals into stop requests. Once the run is
// aborted it gets wait to write its report; a signal after the abort, or
// the end of that wait, exits at once (say tells why).
func handleSignals(sigs <-chan os.Signal, stop *interrupt.Stop, say func(string), exit func(int), wait time.Duration) {
	var deadline <-chan time.Time
	aborted := stop.Aborted()
	for {
		select {
		case sig := <-sigs:
			select {
			case <-stop.Aborted():
				say(fmt.Sprintf("%s after the abort: exiting without waiting for the report", sig))
				exit(ExitFailed)
				return
			default:
			}
			stop.Request(sig.String())
		case <-aborted:
			aborted = nil
			deadline = time.After(wait)
		case <-deadline:
			say(fmt.Sprintf("still running %s after the abort: exiting without the report", wait))
			exit(ExitFailed)
			return
		}
	}
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
// --log-format json asked for machine-readable stderr, else one line with
// access key IDs masked, as in every other line people read.
func printError(root *cobra.Command, stderr io.Writer, err error, code int) {
	if f := root.PersistentFlags().Lookup("log-format"); f != nil && f.Value.String() == "json" {
		slog.New(slog.NewJSONHandler(stderr, nil)).Error("keyrotor failed", "err", err.Error(), "exit_code", code)
		return
	}
	fmt.Fprintln(stderr, "keyrotor:", report.MaskKeyIDs(err.Error()))
}
