package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"keyrotor/report"
	"keyrotor/rotation"
)

func newAuditCmd(g *globalFlags) *cobra.Command {
	o := jobOptions{mode: rotation.ModeAudit}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Report every key's compliance and what rotate would do; changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCommand(cmd, g, o)
		},
	}
	addJobFlags(cmd, &o)
	return cmd
}

func newRotateCmd(g *globalFlags) *cobra.Command {
	o := jobOptions{mode: rotation.ModePlan}
	var apply bool
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Plan rotation steps; with --apply, carry them out",
		Long: `rotate moves every stale key one safe step along its rotation: issue a new key and
store its secret, deactivate the old key after deactivate_after if it is no longer used,
delete it delete_after later. Without --apply it only plans and reports.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if apply {
				o.mode = rotation.ModeApply
			}
			for _, p := range o.filters.Phases {
				if !slices.Contains([]string{"issue", "deactivate", "delete"}, p) {
					return usageError{fmt.Errorf("--phase %q: want issue, deactivate or delete", p)}
				}
			}
			return runCommand(cmd, g, o)
		},
	}
	addJobFlags(cmd, &o)
	f := cmd.Flags()
	f.BoolVar(&apply, "apply", false, "carry out the plan (without it, no write call is made)")
	f.StringSliceVar(&o.filters.Users, "user", nil, "act only on these IAM users (repeatable)")
	f.StringSliceVar(&o.filters.Phases, "phase", nil, "act only in these phases: issue, deactivate, delete (repeatable)")
	f.BoolVar(&o.notify, "notify", true, "send notifications (use --notify=false to turn mail off for this run)")
	return cmd
}

func addJobFlags(cmd *cobra.Command, o *jobOptions) {
	f := cmd.Flags()
	f.StringVarP(&o.out, "out", "o", "", "report directory (default: report.out from the config)")
	f.StringSliceVar(&o.formats, "format", nil, "report formats: json, xlsx, csv (default: report.formats from the config)")
	f.BoolVar(&o.failOnFindings, "fail-on-findings", false, "exit 4 when any non-exempt key has a finding")
	f.StringSliceVar(&o.accounts, "account", nil, "work only on these account IDs (repeatable)")
	f.StringVar(&o.shard, "shard", "", "work only on shard i/n of the accounts (stable hash of the account ID); join the shards' JSON with 'report merge'")
	f.StringVar(&o.reportS3, "report-s3", "", "also upload the report files to s3://bucket/prefix (default: report.s3 from the config)")
}

// runCommand is the shared body of audit and rotate.
func runCommand(cmd *cobra.Command, g *globalFlags, o jobOptions) error {
	ctx := cmd.Context()
	// A bad --format must stop the run before it calls AWS, not after an
	// org-wide inventory whose report then cannot be written.
	for _, f := range o.formats {
		if !slices.Contains(report.Formats, f) {
			return usageError{fmt.Errorf("--format %q: want %s", f, strings.Join(report.Formats, ", "))}
		}
	}
	ss, err := g.setup(ctx)
	if err != nil {
		return err
	}
	res, err := runJob(ctx, g, ss.log, ss.conf, ss.aws, o)
	if err != nil {
		return errCode(ExitFailed, err)
	}
	return errCode(res.code, nil)
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
			return checkReadiness(cmd.Context(), g, rotation.ModeAudit, only)
		},
	}
	cmd.Flags().StringSliceVar(&only, "account", nil, "check only these account IDs (repeatable)")
	return cmd
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
			_ = report.WriteSummary(g.stderr, merged, report.SummaryOptions{Files: files})
			return nil
		},
	}
	merge.Flags().StringVarP(&out, "out", "o", "reports", "directory for the merged report")
	cmd.AddCommand(merge)
	return cmd
}
