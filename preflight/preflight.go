// Package preflight checks, before a run, that every target account is
// ready for it: the rotation role can be assumed, it holds every
// permission the mode calls (asked with iam:SimulatePrincipalPolicy), the
// harmless reads work, secret names fall under the prefix the shipped
// policy allows, and, for an applied run with mail, the SES sender is
// verified. It changes nothing.
package preflight

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"golang.org/x/sync/errgroup"

	"keyrotor/accounts"
	"keyrotor/deploy"
	"keyrotor/internal/awsclient"
	"keyrotor/notify"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// CentralRow is the Account of the central account's row.
const CentralRow = "central"

// exampleUser is the user whose secret name is checked against the policy.
const exampleUser = "example-user"

// Options say what to check.
type Options struct {
	Mode     vocab.Mode
	Targets  []rotation.AccountTarget
	Skipped  []accounts.Skipped
	Connect  func(context.Context, rotation.AccountTarget) (rotation.AccountAPI, error)
	Secrets  rotation.SecretSettings
	Exempt   rotation.Exemptions
	Parallel int
	// SES, when set, checks that Sender is verified for sending in
	// SenderRegion (the central account's row).
	SES          notify.IdentityAPI
	Sender       string
	SenderRegion string
}

// Row is one line of the readiness table.
type Row struct {
	Account, Name, OU string
	// Result says what was verified ("ready: ...") or what is wrong
	// ("NOT READY: ...", "skipped: ...").
	Result   string
	NotReady bool
}

// Check checks the central account's SES sender (when asked) and every
// target, accounts in parallel within o.Parallel. Skipped accounts are
// listed, not checked.
func Check(ctx context.Context, o Options) []Row {
	var rows []Row
	if o.SES != nil {
		row := Row{Account: CentralRow, Name: "SES sender"}
		msg, err := notify.CheckSender(ctx, o.SES, o.Sender, o.SenderRegion)
		if err != nil && awsclient.IsUnsupported(err) {
			// An emulator without GetEmailIdentity (aws-ses-v2-local):
			// a run goes on there, so this is a warning too.
			msg, err = "WARNING: sender not checked (the endpoint does not implement GetEmailIdentity: "+err.Error()+")", nil
		}
		row.set(msg, err)
		rows = append(rows, row)
	}
	prefix, perr := deploy.SecretPrefix()
	out := make([]Row, len(o.Targets))
	eg := new(errgroup.Group)
	eg.SetLimit(max(1, o.Parallel))
	for i, t := range o.Targets {
		eg.Go(func() error {
			row := Row{Account: t.ID, Name: t.Name, OU: t.OU}
			msg, err := o.account(ctx, t, prefix, perr)
			row.set(msg, err)
			out[i] = row
			return nil
		})
	}
	_ = eg.Wait()
	rows = append(rows, out...)
	for _, s := range o.Skipped {
		rows = append(rows, Row{Account: s.ID, Name: s.Name, OU: s.OU, Result: "skipped: " + s.Reason})
	}
	return rows
}

func (r *Row) set(msg string, err error) {
	if err != nil {
		r.Result, r.NotReady = "NOT READY: "+err.Error(), true
		return
	}
	r.Result = "ready: " + msg
}

// account runs one account's checks, in the order a run would fail on
// them, and says what it verified.
func (o Options) account(ctx context.Context, t rotation.AccountTarget, prefix string, prefixErr error) (string, error) {
	var notes []string
	// Secret names first: they need no call, and a name outside the
	// policy's prefix fails every secret call of the run.
	name, err := o.Secrets.SecretName(t.ID, t.Name, exampleUser)
	switch {
	case err != nil:
		return "", fmt.Errorf("secrets.name_template: %w", err)
	case prefixErr != nil:
		return "", prefixErr
	case !strings.HasPrefix(name, prefix):
		return "", fmt.Errorf("secret name %q is outside %s*, the only secrets deploy/iam/%s.json allows",
			name, prefix, deploy.MemberRotationPolicy)
	}
	api, err := o.Connect(ctx, t)
	if err != nil {
		return "", err
	}
	notes = append(notes, "role assumed")

	scope, err := rotation.ScopeFor(t, api.RoleARN, o.Secrets, o.Exempt.Groups)
	if err != nil {
		return "", err
	}
	actions := rotation.NeededActions(o.Mode, o.Secrets, o.Exempt, scope)
	missing, err := rotation.CheckPermissions(ctx, api.Permissions, api.RoleARN, actions, scope)
	switch {
	case errors.Is(err, rotation.ErrSimulateDenied):
		// Not a failure: the role may simply not be allowed to simulate
		// (an older deployment); the reads below still prove access.
		notes = append(notes, "permissions not simulated (iam:SimulatePrincipalPolicy denied)")
	case errors.Is(err, rotation.ErrSimulateUnavailable):
		// An emulator without the simulator (LocalStack, moto): a
		// warning, not a reason to call the account not ready.
		notes = append(notes, "WARNING: permissions not checked ("+err.Error()+")")
	case err != nil:
		return "", err
	case len(missing) > 0:
		return "", &rotation.PermissionError{RoleARN: api.RoleARN, Mode: o.Mode, Missing: missing}
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

var _ credentialReportAPI = (*iam.Client)(nil)

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

// NotReadyError is WriteTable's error when a row is not ready.
type NotReadyError struct {
	// Problems say what is not ready ("2 of 9 accounts are not ready").
	Problems []string
}

func (e *NotReadyError) Error() string { return strings.Join(e.Problems, "; ") }

// WriteTable writes the readiness table to w and returns a *NotReadyError
// that says what is not ready, if anything; targets is the number of target
// accounts checked.
func WriteTable(w io.Writer, rows []Row, targets int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tNAME\tOU\tRESULT")
	var problems []string
	bad := 0
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Account, r.Name, cmp.Or(r.OU, "-"), r.Result)
		switch {
		case !r.NotReady:
		case r.Account == CentralRow:
			problems = append(problems, "the central account is not ready")
		default:
			bad++
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write readiness table: %w", err)
	}
	if bad > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d accounts are not ready", bad, targets))
	}
	if len(problems) > 0 {
		return &NotReadyError{Problems: problems}
	}
	return nil
}
