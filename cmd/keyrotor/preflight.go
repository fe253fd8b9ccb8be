package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"keyrotor/accounts"
	"keyrotor/config"
	"keyrotor/deploy"
	"keyrotor/rotation"
)

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
			m, ok := map[string]rotation.Mode{"audit": rotation.ModeAudit, "apply": rotation.ModeApply}[mode]
			if !ok {
				return usageError{fmt.Errorf("--mode %q: want audit or apply", mode)}
			}
			return checkReadiness(cmd.Context(), g, m, only)
		},
	}
	f := cmd.Flags()
	f.StringVar(&mode, "mode", "apply", "the mode to check for: audit or apply (rotate --apply)")
	f.StringSliceVar(&only, "account", nil, "check only these account IDs (repeatable)")
	return cmd
}

// checkReadiness discovers the targets and prints whether each is ready
// for mode; not-ready accounts make exit code 3.
func checkReadiness(ctx context.Context, g *globalFlags, mode rotation.Mode, only []string) error {
	ss, err := g.setup(ctx)
	if err != nil {
		return err
	}
	tg, skipped, err := targets(ctx, ss.aws, ss.conf, only)
	if err != nil {
		return errCode(ExitFailed, err)
	}
	rows := runPreflight(ctx, ss.aws, ss.conf, mode, tg, skipped, newRunID(nowUTC()))
	return printReadiness(g, rows, len(tg))
}

// readiness is one line of the preflight table.
type readiness struct {
	account, name, ou, result string
	notReady                  bool
}

// printReadiness writes the table and turns not-ready lines into exit 3.
func printReadiness(g *globalFlags, rows []readiness, targets int) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tNAME\tOU\tRESULT")
	var problems []string
	badAccounts := 0
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.account, r.name, cmp.Or(r.ou, "-"), r.result)
		switch {
		case !r.notReady:
		case r.account == centralRow:
			problems = append(problems, "the central account is not ready")
		default:
			badAccounts++
		}
	}
	_ = tw.Flush()
	if badAccounts > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d accounts are not ready", badAccounts, targets))
	}
	if len(problems) > 0 {
		return exitError{code: ExitPartial, err: errors.New(strings.Join(problems, "; "))}
	}
	return nil
}

// centralRow is the ACCOUNT column of the central account's checks.
const centralRow = "central"

// runPreflight checks the central account's SES sender (when the mode
// sends mail) and every target, accounts in parallel within the
// configured concurrency. Skipped accounts are listed, not checked.
func runPreflight(ctx context.Context, awsCfg aws.Config, conf *config.Config, mode rotation.Mode,
	tg []rotation.AccountTarget, skipped []accounts.Skipped, runID string) []readiness {
	var rows []readiness
	if mode == rotation.ModeApply && conf.Notifications.Enabled {
		row := readiness{account: centralRow, name: "SES sender"}
		client := sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) { o.Region = conf.Notifications.Region })
		if msg, err := checkSender(ctx, client, conf.Notifications.Sender, conf.Notifications.Region); err != nil {
			row.result, row.notReady = "NOT READY: "+err.Error(), true
		} else {
			row.result = "ready: " + msg
		}
		rows = append(rows, row)
	}
	prefix, perr := policySecretPrefix()
	connect := connector(awsCfg, conf, runID)
	out := make([]readiness, len(tg))
	eg := new(errgroup.Group)
	eg.SetLimit(max(1, conf.Concurrency.Accounts))
	for i, t := range tg {
		eg.Go(func() error {
			row := readiness{account: t.ID, name: t.Name, ou: t.OU}
			msg, err := checkAccount(ctx, connect, conf, mode, t, prefix, perr)
			if err != nil {
				row.result, row.notReady = "NOT READY: "+err.Error(), true
			} else {
				row.result = "ready: " + msg
			}
			out[i] = row
			return nil
		})
	}
	_ = eg.Wait()
	rows = append(rows, out...)
	for _, s := range skipped {
		rows = append(rows, readiness{account: s.ID, name: s.Name, ou: s.OU, result: "skipped: " + s.Reason})
	}
	return rows
}

// checkAccount runs one account's checks, in the order a run would fail
// on them, and says what it verified.
func checkAccount(ctx context.Context, connect func(context.Context, rotation.AccountTarget) (rotation.AccountAPI, error),
	conf *config.Config, mode rotation.Mode, t rotation.AccountTarget, prefix string, prefixErr error) (string, error) {
	var notes []string
	// Secret names first: they need no call, and a name outside the
	// policy's prefix fails every secret call of the run.
	name, err := conf.RotationSecrets().SecretName(t.ID, t.Name, "example-user")
	switch {
	case err != nil:
		return "", fmt.Errorf("secrets.name_template: %w", err)
	case prefixErr != nil:
		return "", prefixErr
	case !strings.HasPrefix(name, prefix):
		return "", fmt.Errorf("secret name %q is outside %s*, the only secrets deploy/iam/%s.json allows",
			name, prefix, deploy.MemberRotationPolicy)
	}
	api, err := connect(ctx, t)
	if err != nil {
		return "", err
	}
	notes = append(notes, "role assumed")

	scope, err := rotation.ScopeFor(t, api.RoleARN, conf.RotationSecrets(), conf.Exemptions.Groups)
	if err != nil {
		return "", err
	}
	actions := rotation.NeededActions(mode, conf.RotationSecrets(), conf.RotationExemptions(), scope)
	missing, err := rotation.CheckPermissions(ctx, api.Permissions, api.RoleARN, actions, scope)
	switch {
	case errors.Is(err, rotation.ErrSimulateDenied):
		// Not a failure: the role may simply not be allowed to simulate
		// (an older deployment); the reads below still prove access.
		notes = append(notes, "permissions not simulated (iam:SimulatePrincipalPolicy denied)")
	case err != nil:
		return "", err
	case len(missing) > 0:
		return "", &rotation.PermissionError{RoleARN: api.RoleARN, Mode: mode, Missing: missing}
	default:
		notes = append(notes, fmt.Sprintf("%d permissions allowed", len(actions)))
	}

	if _, err := api.IAM.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1)}); err != nil {
		return "", fmt.Errorf("list users in %s: %w", t.ID, accounts.Concise(err))
	}
	if err := checkCredentialReport(ctx, api.IAM); err != nil {
		return "", fmt.Errorf("credential report in %s: %w", t.ID, accounts.Concise(err))
	}
	notes = append(notes, "IAM readable", "secrets under "+prefix)
	return strings.Join(notes, ", "), nil
}

// credentialReportAPI is what checkCredentialReport calls.
type credentialReportAPI interface {
	GetCredentialReport(ctx context.Context, in *iam.GetCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
	GenerateCredentialReport(ctx context.Context, in *iam.GenerateCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
}

// checkCredentialReport reads the credential report, or, when there is
// none to read, asks for one: either proves the permission the inventory
// needs, and neither changes anything a user can see.
func checkCredentialReport(ctx context.Context, api credentialReportAPI) error {
	_, err := api.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	var (
		notPresent *iamtypes.CredentialReportNotPresentException
		expired    *iamtypes.CredentialReportExpiredException
		notReady   *iamtypes.CredentialReportNotReadyException
	)
	if errors.As(err, &notPresent) || errors.As(err, &expired) || errors.As(err, &notReady) {
		_, err = api.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	}
	return err
}

// sesIdentityAPI is what checkSender calls; *sesv2.Client satisfies it.
type sesIdentityAPI interface {
	GetEmailIdentity(ctx context.Context, in *sesv2.GetEmailIdentityInput, optFns ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error)
}

// checkSender tells whether SES may send from sender: the address itself
// or its domain must be an identity verified for sending.
func checkSender(ctx context.Context, api sesIdentityAPI, sender, region string) (string, error) {
	addr, err := mail.ParseAddress(sender)
	if err != nil {
		return "", fmt.Errorf("notifications.sender %q: %w", sender, err)
	}
	_, domain, _ := strings.Cut(addr.Address, "@")
	for _, id := range []string{addr.Address, domain} {
		out, err := api.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(id)})
		var nf *sestypes.NotFoundException
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("SES identity %s in %s: %w", id, region, accounts.Concise(err))
		}
		if !out.VerifiedForSendingStatus {
			return "", fmt.Errorf("SES identity %s in %s is not verified for sending (status %s)", id, region, out.VerificationStatus)
		}
		return fmt.Sprintf("SES identity %s verified for sending in %s", id, region), nil
	}
	return "", fmt.Errorf("no SES identity for %s or %s in %s: verify one (aws sesv2 create-email-identity)", addr.Address, domain, region)
}

// policySecretPrefix is the secret name prefix the shipped rotation policy
// allows (keyrotor/): the part of its Secrets Manager resource after
// "secret:", without the trailing wildcard.
func policySecretPrefix() (string, error) {
	doc, err := deploy.Policy(deploy.MemberRotationPolicy)
	if err != nil {
		return "", err
	}
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			if a != "secretsmanager:CreateSecret" {
				continue
			}
			for _, r := range st.Resource {
				if _, name, ok := strings.Cut(r, ":secret:"); ok {
					return strings.TrimSuffix(name, "*"), nil
				}
			}
		}
	}
	return "", fmt.Errorf("deploy/iam/%s.json grants secretsmanager:CreateSecret on no secret", deploy.MemberRotationPolicy)
}
