package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"keyrotor/accounts"
	"keyrotor/internal/demo"
	"keyrotor/job"
	"keyrotor/preflight"
	"keyrotor/report"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// jobFlags are the flags audit and rotate share.
type jobFlags struct {
	out            string
	formats        []string
	failOnFindings bool
	accounts       []string
	shard          string
	reportS3       string
}

func addJobFlags(cmd *cobra.Command, f *jobFlags) {
	fs := cmd.Flags()
	fs.StringVarP(&f.out, "out", "o", "", "report directory (default: report.out from the config)")
	fs.StringSliceVar(&f.formats, "format", nil, "report formats: "+strings.Join(report.Formats, ", ")+" (default: report.formats from the config)")
	fs.BoolVar(&f.failOnFindings, "fail-on-findings", false, "exit 4 when any non-exempt key has a finding")
	fs.StringSliceVar(&f.accounts, "account", nil, "work only on these account IDs (repeatable)")
	fs.StringVar(&f.shard, "shard", "", "work only on shard i/n of the accounts (stable hash of the account ID); join the shards' JSON with 'report merge'")
	fs.StringVar(&f.reportS3, "report-s3", "", "also upload the report files to s3://bucket/prefix (default: report.s3 from the config)")
}

func newAuditCmd(g *globalFlags) *cobra.Command {
	var f jobFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Report every key's compliance and what rotate would do; changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runJob(cmd, g, f, job.Options{Mode: vocab.ModeAudit})
		},
	}
	addJobFlags(cmd, &f)
	return cmd
}

func newRotateCmd(g *globalFlags) *cobra.Command {
	var (
		f     jobFlags
		apply bool
		o     = job.Options{Mode: vocab.ModePlan}
	)
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Plan rotation steps; with --apply, carry them out",
		Long: `rotate moves every stale key one safe step along its rotation: issue a new key and
store its secret, deactivate the old key after deactivate_after if it is no longer used,
delete it delete_after later. Without --apply it only plans and reports.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if apply {
				o.Mode = vocab.ModeApply
			}
			for _, p := range o.Filters.Phases {
				if !slices.Contains(rotation.Phases, p) {
					return usageError{fmt.Errorf("--phase %q: want %s", p, strings.Join(rotation.Phases, ", "))}
				}
			}
			return runJob(cmd, g, f, o)
		},
	}
	addJobFlags(cmd, &f)
	fs := cmd.Flags()
	fs.BoolVar(&apply, "apply", false, "carry out the plan (without it, no write call is made)")
	fs.StringSliceVar(&o.Filters.Users, "user", nil, "act only on these IAM users (repeatable)")
	fs.StringSliceVar(&o.Filters.Phases, "phase", nil, "act only in these phases: "+strings.Join(rotation.Phases, ", ")+" (repeatable)")
	fs.BoolVar(&o.Notify, "notify", true, "send notifications (use --notify=false to turn mail off for this run)")
	return cmd
}

// runJob is the shared body of audit and rotate.
func runJob(cmd *cobra.Command, g *globalFlags, f jobFlags, o job.Options) error {
	ctx := cmd.Context()
	// A bad --format or --shard must stop the run before it calls AWS, not
	// after an org-wide inventory whose report then cannot be written.
	for _, ft := range f.formats {
		if !slices.Contains(report.Formats, ft) {
			return usageError{fmt.Errorf("--format %q: want %s", ft, strings.Join(report.Formats, ", "))}
		}
	}
	shard, err := accounts.ParseShard(f.shard)
	if err != nil {
		return usageError{fmt.Errorf("--shard: %w", err)}
	}
	ss, err := g.setup(ctx)
	if err != nil {
		return err
	}
	o.Out, o.Formats, o.ReportS3 = f.out, f.formats, f.reportS3
	o.Select = accounts.Selection{Only: f.accounts, Shard: shard}
	o.Version, o.Now, o.Getenv, o.Logger = buildVersion(), g.env.Now, g.env.Getenv, ss.log
	o.Progress, o.Written = g.progress(ss.log), g.summary(ss.log)
	res, err := job.Run(ctx, ss.aws, ss.conf, o)
	if err != nil {
		return jobError(err)
	}
	if len(res.S3) > 0 {
		g.say(ss.log, "Uploaded:", "s3", strings.Join(res.S3, " "))
	}
	switch res.Status(f.failOnFindings) {
	case job.StatusPartial:
		return errCode(ExitPartial, nil)
	case job.StatusNoMatch:
		return usageError{fmt.Errorf("--user %s matched no IAM user in the %d accounts inventoried; nothing was done for it (the report is written)",
			strings.Join(res.UnmatchedUsers, ", "), res.Report.Summary.AccountsOK)}
	case job.StatusMailFailed:
		return errCode(ExitMail, mailError(res))
	case job.StatusFindings:
		return errCode(ExitFindings, nil)
	}
	return nil
}

// mailError says which mail the run could not send.
func mailError(res job.Result) error {
	var parts []string
	failed := 0
	for _, n := range res.Report.Notifications {
		if n.Result == vocab.NotifyFailed {
			failed++
		}
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d notices to key owners could not be sent (the next run sends them again)",
			failed, len(res.Report.Notifications)))
	}
	if res.DigestErr != nil {
		// Its error is logged once, where it happened.
		parts = append(parts, "the digest to the security team could not be sent (see the log)")
	}
	return errors.New(strings.Join(parts, "; ") + "; see the report's Notifications sheet")
}

func newAccountsCmd(g *globalFlags) *cobra.Command {
	var only []string
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "List the target accounts and check that each is ready for an audit",
		Long: `accounts lists the target accounts and, for each, assumes the rotation role and
checks what an audit needs (the same checks as 'preflight --mode audit'). Use
'preflight' before enabling rotate --apply.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return checkReadiness(cmd, g, vocab.ModeAudit, only)
		},
	}
	cmd.Flags().StringSliceVar(&only, "account", nil, "check only these account IDs (repeatable)")
	return cmd
}

func newPreflightCmd(g *globalFlags) *cobra.Command {
	var (
		mode string
		only []string
	)
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Check that every target account is ready for a run; changes nothing",
		Long: `preflight checks, for every target account, what a run in --mode needs: that the
rotation role can be assumed, that it has every permission the mode calls (asked with
iam:SimulatePrincipalPolicy), that harmless reads work (ListUsers, the credential
report), and that secret names fall under the keyrotor/ prefix the shipped policy
allows. For --mode apply with notifications enabled it also checks that the SES sender
identity is verified in the central account. It prints one line per account and exits
3 when any is not ready.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, ok := map[string]vocab.Mode{"audit": vocab.ModeAudit, "apply": vocab.ModeApply}[mode]
			if !ok {
				return usageError{fmt.Errorf("--mode %q: want audit or apply", mode)}
			}
			return checkReadiness(cmd, g, m, only)
		},
	}
	f := cmd.Flags()
	f.StringVar(&mode, "mode", "apply", "the mode to check for: audit or apply (rotate --apply)")
	f.StringSliceVar(&only, "account", nil, "check only these account IDs (repeatable)")
	return cmd
}

// checkReadiness prints whether each target is ready for mode; not-ready
// accounts make exit code 3.
func checkReadiness(cmd *cobra.Command, g *globalFlags, mode vocab.Mode, only []string) error {
	ctx := cmd.Context()
	ss, err := g.setup(ctx)
	if err != nil {
		return err
	}
	conf := ss.conf
	tg, skipped, err := job.Targets(ctx, ss.aws, conf, accounts.Selection{Only: only})
	if err != nil {
		return jobError(err)
	}
	o := preflight.Options{
		Mode: mode, Targets: tg, Skipped: skipped,
		Connect: job.Connector(ss.aws, conf, job.NewRunID(g.env.Now())),
		Secrets: conf.RotationSecrets(), Exempt: conf.RotationExemptions(), Parallel: conf.Concurrency.Accounts,
	}
	if mode == vocab.ModeApply && conf.Notifications.Enabled {
		o.SES = sesv2.NewFromConfig(ss.aws, func(so *sesv2.Options) { so.Region = conf.Notifications.Region })
		o.Sender, o.SenderRegion = conf.Notifications.Sender, conf.Notifications.Region
	}
	err = preflight.WriteTable(g.env.Stdout, preflight.Check(ctx, o), len(tg))
	var nr *preflight.NotReadyError
	switch {
	case errors.As(err, &nr):
		return errCode(ExitPartial, err)
	case err != nil:
		return errCode(ExitFailed, err)
	}
	return nil
}

func newReactivateCmd(g *globalFlags) *cobra.Command {
	var account, user, key string
	cmd := &cobra.Command{
		Use:   "reactivate",
		Short: "Roll back a deactivation during the grace period",
		Long: `reactivate sets an old key that keyrotor deactivated Active again and records it,
so the deletion clock stops. keyrotor re-evaluates the key deactivate_after later and
deactivates it again only once it is no longer used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if account == "" || user == "" || key == "" {
				return usageError{errors.New("--account, --user and --key are all required")}
			}
			ctx := cmd.Context()
			ss, err := g.setup(ctx)
			if err != nil {
				return err
			}
			now := g.env.Now().UTC()
			secret, err := reactivateSecretName(ctx, ss, account, user)
			if err != nil {
				return errCode(ExitFailed, err)
			}
			assumer := &accounts.Assumer{STS: sts.NewFromConfig(ss.aws), Base: ss.aws, RunID: job.NewRunID(now)}
			mcfg, err := assumer.ConfigFor(ctx, account, ss.conf.RoleFor(account))
			if err != nil {
				return errCode(ExitFailed, err)
			}
			sm := secretsmanager.NewFromConfig(mcfg, func(o *secretsmanager.Options) { o.Region = ss.conf.Secrets.Region })
			st, err := rotation.Reactivate(ctx, iam.NewFromConfig(mcfg), sm,
				rotation.ReactivateRequest{User: user, KeyID: key, SecretName: secret, Now: now})
			if err != nil {
				return errCode(ExitFailed, err)
			}
			next := st.Since().Add(ss.conf.PolicyFor(account).DeactivateAfter)
			out := g.env.Stdout
			fmt.Fprintf(out, "Key %s of %s in %s is Active again.\n", key, user, account)
			fmt.Fprintf(out, "Its replacement is %s; move the caller to it. keyrotor looks again on %s\n",
				st.NewKeyID, next.Format("2006-01-02"))
			fmt.Fprintln(out, "and deactivates the old key then only if it is no longer used.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&account, "account", "", "account ID")
	f.StringVar(&user, "user", "", "IAM user name")
	f.StringVar(&key, "key", "", "the old access key ID keyrotor deactivated")
	return cmd
}

// reactivateSecretName is the name of user's secret in account, whose
// metadata reactivate checks. The name template may use the account's
// name, which only the organization knows.
func reactivateSecretName(ctx context.Context, ss session, account, user string) (string, error) {
	name := ""
	if tg, _, err := job.Targets(ctx, ss.aws, ss.conf, accounts.Selection{Only: []string{account}}); err == nil {
		for _, t := range tg {
			if t.ID == account {
				name = t.Name
			}
		}
	}
	secret, err := ss.conf.RotationSecrets().SecretName(account, name, user)
	if err != nil {
		return "", fmt.Errorf("secret name of user %s: %w", user, err)
	}
	return secret, nil
}

func newReportCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Work with report files"}
	var out string
	merge := &cobra.Command{
		Use:   "merge FILE.json...",
		Short: "Merge the JSON reports of several shards into one report",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var reps []*report.Report
			for _, p := range args {
				f, err := os.Open(p)
				if err != nil {
					return usageError{fmt.Errorf("open report: %w", err)}
				}
				r, err := report.ReadJSON(f)
				_ = f.Close()
				if err != nil {
					return usageError{fmt.Errorf("read report %s: %w", p, err)}
				}
				reps = append(reps, r)
			}
			merged, err := report.Merge(reps...)
			if err != nil {
				return usageError{fmt.Errorf("merge reports: %w", err)}
			}
			files, err := report.WriteFiles(out, merged, report.Formats)
			if err != nil {
				return errCode(ExitFailed, fmt.Errorf("write merged report: %w", err))
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			g.summary(log)(merged, files)
			return nil
		},
	}
	merge.Flags().StringVarP(&out, "out", "o", "reports", "directory for the merged report")
	cmd.AddCommand(merge)
	return cmd
}

func newDemoCmd(g *globalFlags) *cobra.Command {
	var o demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run keyrotor against a built-in simulated organization (no AWS needed)",
		Long: `demo starts the AWS simulator in-process on 127.0.0.1 with a built-in organization
(accounts in three OUs, about 200 users with fresh, stale, unused, two-key and exempt keys,
a suspended account and one whose role cannot be assumed) and runs keyrotor through its
normal code path: an audit, then rotate --apply three times, 7 days apart on the
simulated clock: new keys issued, old keys deactivated (one still in use is held), old keys
deleted. Reports of every phase are written under --out.

The account whose role cannot be assumed fails in every phase on purpose; the demo
says so and exits 0. It exits 3 when anything else failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The demo's story is told by its summaries; step logs are for
			// those who ask for them with --log-level.
			if !cmd.Flags().Changed("log-level") {
				g.logLevel = "warn"
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			o.Stderr, o.Logger, o.Summary, o.Version = g.env.Stderr, log, g.summary(log), buildVersion()
			o.JSON = g.jsonLogs()
			err = demo.Run(cmd.Context(), o)
			switch {
			case errors.Is(err, demo.ErrUnexpected):
				return errCode(ExitPartial, err)
			case err != nil:
				return errCode(ExitFailed, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.Out, "out", "o", "demo-out", "directory for the demo's reports")
	cmd.Flags().BoolVar(&o.AuditOnly, "audit-only", false, "stop after the audit phase")
	return cmd
}
