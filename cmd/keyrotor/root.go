package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"keyrotor/report"
)

// globalFlags are the flags every command shares.
type globalFlags struct {
	config    string
	logFormat string
	logLevel  string
	profile   string
	stdout    io.Writer
	stderr    io.Writer
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globalFlags{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "keyrotor",
		Short: "Rotate IAM access keys across an AWS Organization (CIS 1.14)",
		Long: `keyrotor keeps every IAM access key in an AWS Organization younger than 90 days,
from one central security account. 'audit' never changes anything; 'rotate'
changes nothing without --apply.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(stderr)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVarP(&g.config, "config", "c", "accounts.yaml", "configuration file")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&g.profile, "profile", "", "AWS shared config profile of the central account (default: the SDK's usual lookup)")
	root.AddCommand(
		newAuditCmd(g),
		newRotateCmd(g),
		newAccountsCmd(g),
		newPreflightCmd(g),
		newDemoCmd(g),
		newReactivateCmd(g),
		newReportCmd(g),
	)
	return root
}

// isFlagError tells cobra's own argument errors apart from run failures.
func isFlagError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "accepts ") || strings.HasPrefix(msg, "requires ")
}

// logger builds the run's logger: text for people, JSON for schedulers.
func (g *globalFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level: %w", err)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		// Text logs are read on terminals and pasted into tickets: access
		// key IDs are masked to their last four characters there. JSON logs
		// go to log stores, where the full ID is what an analyst searches.
		textOpts := *opts
		textOpts.ReplaceAttr = maskKeyIDs
		var w io.Writer = g.stderr
		if g.stderrIsTerminal() {
			w = clearLineWriter{w}
		}
		return slog.New(slog.NewTextHandler(w, &textOpts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format: want text or json, got %q", g.logFormat)}
}

// stderrIsTerminal tells whether progress bars make sense.
func (g *globalFlags) stderrIsTerminal() bool {
	f, ok := g.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// keyIDPattern matches IAM access key IDs (AKIA long-term, ASIA temporary).
var keyIDPattern = regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{12,124}\b`)

// maskKeyIDs is a slog ReplaceAttr that masks access key IDs in string
// values, including those inside error messages.
func maskKeyIDs(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if v := a.Value.String(); keyIDPattern.MatchString(v) {
			return slog.String(a.Key, keyIDPattern.ReplaceAllStringFunc(v, report.MaskKeyID))
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok && keyIDPattern.MatchString(err.Error()) {
			return slog.String(a.Key, keyIDPattern.ReplaceAllStringFunc(err.Error(), report.MaskKeyID))
		}
	}
	return a
}

// clearLineWriter clears the terminal line before each log record, so a
// record does not start in the middle of the progress bar; the bar redraws
// itself below it on its next update.
type clearLineWriter struct{ w io.Writer }

func (c clearLineWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, "\r\x1b[K"); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
