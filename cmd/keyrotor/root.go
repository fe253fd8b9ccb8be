package main

import (
	"strings"

	"github.com/spf13/cobra"

	"keyrotor/internal/awsclient"
	"keyrotor/internal/interrupt"
	"keyrotor/internal/logging"
)

func newRootCmd(env *Env) *cobra.Command {
	g := &globalFlags{env: env}
	root := &cobra.Command{
		Use:   "keyrotor",
		Short: "Rotate IAM access keys across an AWS Organization (CIS 1.14)",
		Long: `keyrotor keeps every IAM access key in an AWS Organization younger than 90 days,
from one central security account. 'audit' never changes anything; 'rotate'
changes nothing without --apply.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.SetOut(env.Stderr)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVarP(&g.config, "config", "c", "accounts.yaml", "configuration file")
	pf.StringVar(&g.logFormat, "log-format", logging.FormatText, "log format: text or json")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&g.profile, "profile", "", "AWS shared config profile of the central account (default: the SDK's usual lookup)")
	pf.DurationVar(&g.timeouts.Attempt, "aws-attempt-timeout", awsclient.DefaultAttemptTimeout, "give up on one attempt of an AWS call after this long (it is retried)")
	pf.DurationVar(&g.timeouts.Call, "aws-call-timeout", awsclient.DefaultCallTimeout, "give up on an AWS call, retries included, after this long")
	pf.DurationVar(&g.stopGrace, "stop-grace", interrupt.DefaultGrace, "after SIGINT or SIGTERM, let steps in flight run this long before cutting them short (a second signal cuts them at once)")
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
