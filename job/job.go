// Package job is one audit or rotate run end to end: check every output
// the run will write, resolve the target accounts, run the rotation runner
// over them, write the report files, upload them, mail the digest, and say
// how the run went. The CLI only
// parses flags into Options and maps the Result to an exit code.
package job

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"keyrotor/accounts"
	"keyrotor/config"
	"keyrotor/internal/interrupt"
	"keyrotor/notify"
	"keyrotor/report"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// Options are one run's settings beyond accounts.yaml.
type Options struct {
	Mode vocab.Mode
	// Out and Formats override report.out and report.formats when set.
	Out     string
	Formats []string
	// Select narrows the targets (--account, --shard).
	Select accounts.Selection
	// Filters narrow what a rotate run acts on (--user, --phase).
	Filters rotation.Filters
	// Notify lets an applied run send mail (--notify); notifications
	// must be enabled in accounts.yaml too.
	Notify bool
	// ReportS3 overrides report.s3 when set.
	ReportS3 string
	// RunID names the run; empty generates one.
	RunID   string
	Version string
	// Now is the clock (required).
	Now func() time.Time
	// Getenv reads the environment (required): AWS_ENDPOINT_URL_S3 asks
	// for path-style bucket addressing.
	Getenv func(string) string
	// Logger receives the run's log (required).
	Logger *slog.Logger
	// Progress, if set, is called after each account finishes.
	Progress func(done, total int)
	// Written, if set, is called once the report files are written, before
	// the upload and the digest, with the files in place.
	Written func(rep *report.Report, files []string)
}

// Result is what a run produced.
type Result struct {
	Report *report.Report
	// Files are the report files written, S3 their uploaded copies.
	Files, S3 []string
	// UnmatchedUsers are the --user names no account inventoried holds.
	UnmatchedUsers []string
	// DigestErr is why the digest to the security team was not sent.
	DigestErr error
}

// Status is how a finished run went, for the scheduler.
type Status int

// Run statuses, least severe first: a failed step must reach the
// scheduler's alerting as surely as a failed account does, and mail that
// did not go out as surely as a finding.
const (
	StatusOK Status = iota
	// StatusFindings: findings present and the caller asked to fail on them.
	StatusFindings
	// StatusMailFailed: a notice to an owner or the digest could not be
	// sent (the rotation steps themselves went through; the next run
	// sends the notices again).
	StatusMailFailed
	// StatusNoMatch: a --user name matched no IAM user in any account
	// (all accounts were seen, so it is not there).
	StatusNoMatch
	// StatusPartial: some accounts or steps failed, or the run was
	// interrupted.
	StatusPartial
)

// Status maps the run to a Status; failOnFindings makes a non-exempt key
// with a finding count.
func (r Result) Status(failOnFindings bool) Status {
	rep := r.Report
	switch {
	case rep.Summary.AccountsFailed > 0 || rep.Run.Interrupted || rep.Summary.Results[vocab.ResultFailed] > 0:
		return StatusPartial
	case len(r.UnmatchedUsers) > 0:
		return StatusNoMatch
	case r.DigestErr != nil || notifyFailures(rep) > 0:
		return StatusMailFailed
	case failOnFindings && findingsPresent(rep):
		return StatusFindings
	}
	return StatusOK
}

// notifyFailures counts the notices the run could not send.
func notifyFailures(rep *report.Report) int {
	n := 0
	for _, nt := range rep.Notifications {
		if nt.Result == vocab.NotifyFailed {
			n++
		}
	}
	return n
}

func findingsPresent(rep *report.Report) bool {
	for _, k := range rep.Keys {
		if !k.Exempt && len(k.Findings) > 0 {
			return true
		}
	}
	return false
}

// NewRunID returns a sortable, unique run ID such as 20261126T060000Z-3fa9c1.
func NewRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Targets resolves the accounts of a run with conf's settings in force in
// each. No target at all is bad input (an OU without accounts, everything
// excluded), unless the run is one shard of several, which may be empty.
func Targets(ctx context.Context, awsCfg aws.Config, conf *config.Config, sel accounts.Selection) ([]rotation.AccountTarget, []accounts.Skipped, error) {
	found, skipped, err := accounts.Resolve(ctx, organizations.NewFromConfig(awsCfg), conf.DiscoverOptions(), sel)
	if errors.Is(err, accounts.ErrNotTargeted) || errors.Is(err, accounts.ErrUnknownOU) {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(found) == 0 && sel.Shard.Count <= 1 {
		return nil, nil, fmt.Errorf("%w: no target account: discovery and accounts.yaml leave none to work on (%d found but skipped: %s)",
			ErrBadInput, len(skipped), skippedReasons(skipped))
	}
	out := make([]rotation.AccountTarget, 0, len(found))
	for _, t := range found {
		out = append(out, conf.Target(t))
	}
	return out, skipped, nil
}

// skippedReasons lists a few skipped accounts with their reasons.
func skippedReasons(skipped []accounts.Skipped) string {
	if len(skipped) == 0 {
		return "none"
	}
	var parts []string
	for i, s := range skipped {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(skipped)-i))
			break
		}
		parts = append(parts, s.ID+" "+s.Reason)
	}
	return strings.Join(parts, "; ")
}

// Connector assumes conf's rotation role in each member account.
func Connector(awsCfg aws.Config, conf *config.Config, runID string) func(context.Context, rotation.AccountTarget) (rotation.AccountAPI, error) {
	assumer := &accounts.Assumer{STS: sts.NewFromConfig(awsCfg), Base: awsCfg, RunID: runID}
	return rotation.NewConnector(assumer, conf.RoleFor, conf.Secrets.Region)
}

// Run carries out an audit or rotate run end to end. Every output is
// checked before anything is changed: the report directory, the S3
// destination (under --apply by writing to it), the mail templates and,
// under --apply, the SES sender; a failure there is an error before any
// change. The report is written even after Ctrl-C, and the digest mailed:
// both say what happened. A failure to write or upload the report is an
// error returned with the Result of what was done.
func Run(ctx context.Context, awsCfg aws.Config, conf *config.Config, o Options) (Result, error) {
	log := o.Logger
	if o.RunID == "" {
		o.RunID = NewRunID(o.Now())
	}
	out := cmp.Or(o.Out, conf.Report.Out)
	formats := o.Formats
	if len(formats) == 0 {
		formats = conf.Report.Formats
	}
	if err := checkReportDir(out); err != nil {
		return Result{}, err
	}
	loc, err := parseS3Location(cmp.Or(o.ReportS3, conf.Report.S3))
	if err != nil {
		return Result{}, err
	}
	if conf.Notifications.Enabled {
		if err := notify.CheckTemplates(conf.NotifySettings()); err != nil {
			return Result{}, fmt.Errorf("%w: notifications: %w", ErrBadInput, err)
		}
	}
	tg, skipped, err := Targets(ctx, awsCfg, conf, o.Select)
	if err != nil {
		return Result{}, err
	}
	ses, err := newNotifier(ctx, awsCfg, conf, o)
	if err != nil {
		return Result{}, err
	}
	var s3c *s3.Client
	if loc.bucket != "" {
		s3c = s3Client(awsCfg, o.Getenv)
		if o.Mode == vocab.ModeApply {
			if err := probeS3(ctx, s3c, loc, conf.Report.KMSKeyID, o.RunID, o.Now()); err != nil {
				return Result{}, err
			}
		}
	}
	log.Info("run starting", "run", o.RunID, "mode", o.Mode, "targets", len(tg), "skipped", len(skipped))

	var notifier rotation.Notifier
	if ses != nil {
		notifier = ses
	}
	runner := &rotation.Runner{
		Connect: Connector(awsCfg, conf, o.RunID), Mode: o.Mode, RunID: o.RunID, Version: o.Version, Now: o.Now,
		Concurrency: conf.Concurrency.Accounts, PerAccount: conf.Concurrency.PerAccount,
		DefaultPolicy: conf.PolicyFor(""), Exemptions: conf.RotationExemptions(), Secrets: conf.RotationSecrets(),
		Notifier: notifier, NotifyEnabled: ses != nil,
		Filters: o.Filters, Logger: log, Progress: o.Progress,
	}
	rep := runner.Run(ctx, tg, skipped)
	// Status ranks a failed or interrupted run above these: a user may
	// be in an account that was not seen.
	res := Result{Report: rep, UnmatchedUsers: runner.UnmatchedUsers()}
	res.Files, err = report.WriteFiles(out, rep, formats)
	if o.Written != nil {
		o.Written(rep, res.Files)
	}
	if err != nil {
		return res, fmt.Errorf("write report: %w", err)
	}
	var uerr error
	if s3c != nil {
		// Uploading and mailing run on after Ctrl-C, until the run is
		// aborted: they say what the interrupted run did.
		uctx, done := interrupt.Detach(ctx)
		res.S3, uerr = upload(uctx, s3c, loc, conf.Report.KMSKeyID, res.Files)
		done()
		if uerr != nil {
			log.Error("report upload failed; the local files are written", "err", uerr, "files", strings.Join(res.Files, ","))
		}
	}
	if ses != nil && conf.Notifications.Digest {
		dctx, done := interrupt.Detach(ctx)
		// The notifier logs the digest it sent.
		_, res.DigestErr = sendDigest(dctx, ses, conf, rep, res.Files, res.S3)
		done()
		if res.DigestErr != nil {
			log.Error("digest to the security team failed", "err", res.DigestErr)
		}
	}
	return res, uerr
}

// newNotifier builds the SES notifier when mail is on for this run, or nil
// when it is off: then nothing is mailed and nothing is recorded as mailed,
// so a later run with mail on still tells the owners. It checks that SES
// may send from the sender first.
func newNotifier(ctx context.Context, awsCfg aws.Config, conf *config.Config, o Options) (*notify.SESNotifier, error) {
	if !o.Notify || o.Mode != vocab.ModeApply || !conf.Notifications.Enabled {
		return nil, nil
	}
	client := sesv2.NewFromConfig(awsCfg, func(so *sesv2.Options) { so.Region = conf.Notifications.Region })
	n, err := notify.NewSESNotifier(client, conf.NotifySettings(), o.Logger)
	if err != nil {
		return nil, fmt.Errorf("%w: notifications: %w", ErrBadInput, err)
	}
	if err := checkSender(ctx, client, conf.Notifications.Sender, conf.Notifications.Region, o.Logger); err != nil {
		return nil, err
	}
	n.Now = o.Now
	return n, nil
}

// sendDigest mails the security team a summary of an applied run.
func sendDigest(ctx context.Context, n *notify.SESNotifier, conf *config.Config, rep *report.Report, files, s3 []string) (rotation.Delivery, error) {
	d, err := notify.BuildDigest(rep, notify.DigestOptions{Files: files, S3: s3, AttachXLSX: conf.Notifications.AttachXLSX})
	if err != nil {
		return rotation.Delivery{}, err
	}
	return n.SendDigest(ctx, d)
}

// upload copies the report files to loc with server-side encryption.
func upload(ctx context.Context, api report.S3Putter, loc s3Location, kmsKeyID string, files []string) ([]string, error) {
	uris, err := report.UploadFiles(ctx, api, loc.bucket, loc.prefix, files, kmsKeyID)
	if err != nil {
		return uris, fmt.Errorf("upload report to %s: %w", loc.url, err)
	}
	return uris, nil
}
