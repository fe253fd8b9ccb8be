package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"keyrotor/accounts"
	"keyrotor/rotation"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// nowUTC is the CLI's clock in UTC: the simulator's in tests, so that a
// reactivation is stamped on the timeline the rotate runs see.
func nowUTC() time.Time { return clock().UTC() }

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
			log, err := g.logger()
			if err != nil {
				return err
			}
			conf, err := loadConfig(g.config, log)
			if err != nil {
				return err
			}
			awsCfg, err := loadAWS(ctx, g, conf)
			if err != nil {
				return errCode(ExitFailed, err)
			}
			assumer := &accounts.Assumer{STS: sts.NewFromConfig(awsCfg), Base: awsCfg, RunID: newRunID(nowUTC())}
			mcfg, err := assumer.ConfigFor(ctx, account, conf.RoleFor(account))
			if err != nil {
				return errCode(ExitFailed, err)
			}
			st, err := rotation.Reactivate(ctx, iam.NewFromConfig(mcfg), user, key, nowUTC())
			if err != nil {
				return errCode(ExitFailed, err)
			}
			pol := conf.PolicyFor(account)
			fmt.Fprintf(g.stdout, "Key %s of %s in %s is Active again.\n", key, user, account)
			fmt.Fprintf(g.stdout, "Its replacement is %s; move the caller to it. keyrotor looks again on %s\n",
				st.NewKeyID, st.Reactivated.Add(pol.DeactivateAfter).Format("2006-01-02"))
			fmt.Fprintln(g.stdout, "and deactivates the old key then only if it is no longer used.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&account, "account", "", "account ID")
	f.StringVar(&user, "user", "", "IAM user name")
	f.StringVar(&key, "key", "", "the old access key ID keyrotor deactivated")
	return cmd
}

// preflightRow is one line of the accounts table.
type preflightRow struct {
	id, name, ou, result string
	failed               bool
}

// preflight assumes the role in every target and makes one harmless read.
func preflight(ctx context.Context, awsCfg aws.Config, conf *accounts.Config, tg []rotation.AccountTarget, skipped []accounts.Skipped, runID string) []preflightRow {
	connect := connector(awsCfg, conf, runID)
	rows := make([]preflightRow, len(tg))
	eg := new(errgroup.Group)
	eg.SetLimit(max(1, conf.Concurrency.Accounts))
	for i, t := range tg {
		eg.Go(func() error {
			row := preflightRow{id: t.ID, name: t.Name, ou: t.OU, result: "ok: role assumed, IAM readable"}
			api, err := connect(ctx, t)
			if err == nil {
				_, err = api.IAM.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1)})
				if err != nil {
					err = fmt.Errorf("list users in %s: %w", t.ID, err)
				}
			}
			if err != nil {
				row.result, row.failed = "FAILED: "+err.Error(), true
			}
			rows[i] = row
			return nil
		})
	}
	_ = eg.Wait()
	for _, s := range skipped {
		rows = append(rows, preflightRow{id: s.ID, name: s.Name, ou: s.OU, result: "skipped: " + s.Reason})
	}
	return rows
}
