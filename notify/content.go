package notify

import (
	"cmp"
	"math"
	"regexp"
	"strings"
	"time"

	"keyrotor/rotation"
)

// NoticeMail is what the notice templates (issued, reminder, deactivated,
// deleted, held, due_soon) are executed with: the Notice's fields, promoted, and values
// derived from it. A custom template may use any of them; one that names a
// field not listed here is refused when keyrotor starts.
type NoticeMail struct {
	rotation.Notice
	// Account is "name (id)", or the ID alone when the account has no name.
	Account string
	// To are the message's recipients.
	To []string
	// Source tells where To came from: "tag email", "address_template",
	// "contacts" or "security_team".
	Source string
	// Skipped lists invalid addresses passed over, with the reason, so that
	// a notice that fell back to the security team says what to fix.
	Skipped []string
	// FetchCommand is the aws CLI command that prints the new key's secret.
	FetchCommand string
	// ReactivateCommand is the keyrotor command that rolls back the
	// deactivation of OldKeyID.
	ReactivateCommand string
	// SecurityTeam is notifications.security_team, the people to ask.
	SecurityTeam []string
	// CodeTitle is the short title of Code (held): "two keys already".
	CodeTitle string
	// FixCommands are the commands of Fix, one by one (held).
	FixCommands []string
	// RepeatsWeekly tells, on a held notice, that this hold's notice is
	// repeated weekly while it lasts (see rotation.RepeatsHold); other
	// holds are mailed once per reason.
	RepeatsWeekly bool
	// DaysLeft is how many days from Time until RotateOn, rounded up
	// (due_soon).
	DaysLeft int
}

// Digest is one run's summary for the security team.
type Digest struct {
	// RunID identifies the run (its report file names carry it too).
	RunID string
	// Mode is "audit", "plan" or "apply".
	Mode string
	// Started and Finished bound the run; zero values are left out.
	Started, Finished time.Time
	// Accounts is how many accounts the run processed (their keys were
	// seen); AccountsFailed and AccountsSkipped are those it did not, each
	// apart, and AccountsTargeted the accounts the run set out to cover.
	Accounts         int
	AccountsFailed   int
	AccountsSkipped  int
	AccountsTargeted int
	// Keys is how many access keys the run saw.
	Keys int
	// Compliance says the compliance figure and what it covers ("97.5% of
	// the keys seen; the keys of 2 accounts were not seen"), or "n/a: ..."
	// when no account's keys were seen. CompliancePct is the figure (0
	// when there is none), HasCompliance whether there is one.
	Compliance    string
	CompliancePct float64
	HasCompliance bool
	// Counts tallies the actions taken by kind and result.
	Counts []DigestCount
	// FailedAccounts are the accounts whose processing failed;
	// SkippedAccounts those the run did not process, with the reason.
	FailedAccounts  []FailedAccount
	SkippedAccounts []FailedAccount
	// NotifyFailures are notices that could not be delivered.
	NotifyFailures []NotifyFailure
	// Held are the keys the run held, with why and the fix, at most
	// MaxDigestHeld of them; HeldTotal counts them all and HeldMore those
	// left out (the report lists every one).
	Held      []HeldKey
	HeldTotal int
	HeldMore  int
	// ReportFiles and ReportS3 are where the report was written (local
	// paths and s3:// URLs).
	ReportFiles []string
	ReportS3    []string
	// Attachment, when set, is attached to the mail (the XLSX report when
	// notifications.attach_xlsx is on). A report too large for SES is left
	// out and the mail says so.
	Attachment *Attachment
}

// DigestCount is how many keys had one action with one result.
type DigestCount struct {
	Action string
	Result string
	Count  int
}

// FailedAccount is an account whose processing failed or was skipped, and
// why.
type FailedAccount struct {
	ID    string
	Name  string
	Error string
}

// NotifyFailure is a notice the run could not deliver.
type NotifyFailure struct {
	AccountID string
	User      string
	KeyID     string
	Event     string
	Error     string
}

// HeldKey is a key the run held.
type HeldKey struct {
	AccountID   string
	AccountName string
	User        string
	KeyID       string
	// Code is the hold's reason code, Title its short title, Reason the
	// words a human can act on and Fix the command that resolves it ("" if
	// none).
	Code   string
	Title  string
	Reason string
	Fix    string
}

// Attachment is a file attached to the digest.
type Attachment struct {
	// Name is the file name shown to the reader; only its base is used.
	Name string
	// ContentType is the file's MIME type; empty means one derived from
	// Name's extension (.xlsx, .json, .csv), else application/octet-stream.
	ContentType string
	Data        []byte
}

// DigestMail is what the digest templates are executed with.
type DigestMail struct {
	Digest
	// AttachmentName is the attached file's name, empty when nothing is
	// attached.
	AttachmentName string
	// AttachmentNote explains why a requested attachment was left out.
	AttachmentNote string
}

// noticeMail is the template data for notice e sent to rec.
func noticeMail(cfg Settings, e rotation.Notice, rec Recipients) NoticeMail {
	m := NoticeMail{
		Notice:       e,
		Account:      e.AccountID,
		To:           rec.To,
		Source:       rec.Describe(),
		Skipped:      rec.Skipped,
		SecurityTeam: cfg.SecurityTeam,
		ReactivateCommand: "keyrotor reactivate --account " + shellQuote(e.AccountID) +
			" --user " + shellQuote(e.User) + " --key " + shellQuote(e.OldKeyID),
	}
	if e.Fix != "" {
		m.FixCommands = strings.Split(e.Fix, "; ")
	}
	if e.Code != "" {
		m.CodeTitle, m.RepeatsWeekly = e.Code.Title(), rotation.RepeatsHold(e.Code)
	}
	if !e.RotateOn.IsZero() {
		m.DaysLeft = int(math.Ceil(e.RotateOn.Sub(e.Time).Hours() / 24))
	}
	if e.AccountName != "" && e.AccountName != e.AccountID {
		m.Account = e.AccountName + " (" + e.AccountID + ")"
	}
	if id := cmp.Or(e.SecretName, e.SecretARN); id != "" {
		m.FetchCommand = FetchCommand(id, e.SecretRegion)
	}
	return m
}

// FetchCommand is the aws CLI command that prints the value of secret (a
// name or ARN) in region ("" leaves the region to the caller's profile).
func FetchCommand(secret, region string) string {
	c := "aws secretsmanager get-secret-value --secret-id " + shellQuote(secret)
	if region != "" {
		c += " --region " + shellQuote(region)
	}
	return c + " --query SecretString --output text"
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell when it holds anything but the
// characters IAM names, secret names and regions are made of, so a pasted
// command does exactly what it says.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
