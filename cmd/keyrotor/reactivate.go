package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"keyrotor/accounts"
	"keyrotor/rotation"
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
			ss, err := g.setup(ctx)
			if err != nil {
				return err
			}
			conf, awsCfg := ss.conf, ss.aws
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
