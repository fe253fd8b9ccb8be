package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/schollz/progressbar/v3"

	"keyrotor/accounts"
	"keyrotor/config"
	"keyrotor/notify"
	"keyrotor/report"
	"keyrotor/rotation"
)

// jobOptions are one audit or rotate run's settings beyond accounts.yaml.
type jobOptions struct {
	mode           rotation.Mode
	out            string
	formats        []string
	failOnFindings bool
	accounts       []string
	filters        rotation.Filters
	notify         bool
	// now is the clock (the simulator's in the demo).
	now func() time.Time
	// runID names the run; empty generates one.
	runID string
	// quiet suppresses the summary table (the demo prints its own).
	quiet bool
	// reportS3 overrides report.s3 (s3://bucket/prefix).
	reportS3 string
	// shard is "i/n": work only on the accounts of shard i of n.
	shard string
}

// jobResult is what a run produced.
type jobResult struct {
	report *report.Report
	files  []string
	code   int
}

// session is what every command that talks to AWS starts from.
type session struct {
	log  *slog.Logger
	conf *config.Config
	aws  aws.Config
}

// setup builds the logger, reads accounts.yaml and loads the central
// account's AWS configuration, mapping each failure to its exit code.
func (g *globalFlags) setup(ctx context.Context) (session, error) {
	log, err := g.logger()
	if err != nil {
		return session{}, err
	}
	conf, err := loadConfig(g.config, log)
	if err != nil {
		return session{}, err
	}
	awsCfg, err := loadAWS(ctx, g, conf)
	if err != nil {
		return session{}, errCode(ExitFailed, err)
	}
	return session{log: log, conf: conf, aws: awsCfg}, nil
}

// loadConfig reads accounts.yaml, turning every problem into a usage error,
// then applies the environment overrides.
func loadConfig(path string, log *slog.Logger) (*config.Config, error) {
	conf, err := config.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	for _, w := range conf.Warnings {
		log.Warn("configuration", "warning", w.Error())
	}
	if err := applyEnvOverrides(conf, os.Getenv, log); err != nil {
		return nil, usageError{err}
	}
	return conf, nil
}

// envOverrides are the settings a deployment may give as environment
// variables (the central-runner CloudFormation template passes its
// parameters this way) instead of baking them into the image's
// accounts.yaml. Each one that is set replaces the file's value, and the
// log says so: nothing is overridden silently.
var envOverrides = []struct {
	name, field string
	apply       func(c *config.Config, v string) error
}{
	{"KEYROTOR_ROLE_NAME", "role.name", func(c *config.Config, v string) error { c.Role.Name = v; return nil }},
	{"KEYROTOR_EXTERNAL_ID", "role.external_id", func(c *config.Config, v string) error { c.Role.ExternalID = v; return nil }},
	{"KEYROTOR_REPORT_S3", "report.s3", func(c *config.Config, v string) error {
		if _, _, ok := (config.ReportConfig{S3: v}).S3Location(); !ok {
			return fmt.Errorf("want s3://bucket/prefix, got %q", v)
		}
		c.Report.S3 = v
		return nil
	}},
	{"KEYROTOR_SENDER", "notifications.sender", func(c *config.Config, v string) error {
		addr, err := notify.ValidAddress(v)
		if err != nil {
			return err
		}
		c.Notifications.Sender = addr
		return nil
	}},
}

func applyEnvOverrides(conf *config.Config, getenv func(string) string, log *slog.Logger) error {
	for _, o := range envOverrides {
		v := getenv(o.name)
		if v == "" {
			continue
		}
		if err := o.apply(conf, v); err != nil {
			return fmt.Errorf("environment %s (overrides %s): %w", o.name, o.field, err)
		}
		log.Info("configuration overridden from the environment", "variable", o.name, "field", o.field)
	}
	return nil
}

// loadAWS builds the central account's AWS configuration the SDK's usual
// way (environment, profiles, AWS_ENDPOINT_URL...), falling back to the
// configured home region.
func loadAWS(ctx context.Context, g *globalFlags, conf *config.Config) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRetryer(newRetryer), awsconfig.WithHTTPClient(httpClient(conf))}
	if g.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(g.profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = conf.Region
	}
	return cfg, nil
}

// httpClient is the SDK's default HTTP client, made to keep an idle
// connection for every call a run can have in flight. The default keeps 10
// per host, and IAM and STS are one host each for every account: with
// concurrency.accounts x per_account calls in flight, nearly every call
// would otherwise open (and TLS-handshake) a new connection and leave a
// socket in TIME_WAIT, which made a 200-account audit several times slower
// and can run a runner out of ephemeral ports.
func httpClient(conf *config.Config) *awshttp.BuildableClient {
	// +1: the credential report is fetched beside the per-account pool.
	inFlight := max(1, conf.Concurrency.Accounts) * (max(1, conf.Concurrency.PerAccount) + 1)
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, inFlight)
		// A handful of hosts (IAM, STS, Organizations, Secrets Manager,
		// SES): the per-host bound is the one that matters.
		t.MaxIdleConns = 0
	})
}

// clock is the CLI's time source; tests replace it with a simulator's.
var clock = time.Now

// newRetryer is the SDK's standard retryer, made patient: IAM throttles
// per account, and a daily batch job would rather wait than give up on an
// account. Throttling backs off exponentially up to 20 s; the client-side
// retry quota is off so that a burst of throttles across many concurrent
// accounts does not make every account fail at once.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 10
		o.MaxBackoff = 20 * time.Second
		o.RateLimiter = ratelimit.None
	})
}

// newRunID returns a sortable, unique run ID such as 20261126T060000Z-3fa9c1.
func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// targets discovers the accounts and applies the --account filter.
func targets(ctx context.Context, awsCfg aws.Config, conf *config.Config, only []string) ([]rotation.AccountTarget, []accounts.Skipped, error) {
	var org accounts.OrganizationsAPI = organizations.NewFromConfig(awsCfg)
	found, skipped, err := accounts.Discover(ctx, org, conf.DiscoverOptions())
	if err != nil {
		return nil, nil, fmt.Errorf("discover accounts: %w", err)
	}
	for _, id := range only {
		if !slices.ContainsFunc(found, func(t accounts.Target) bool { return t.ID == id }) {
			return nil, nil, usageError{fmt.Errorf("--account %s: not among the %d target accounts", id, len(found))}
		}
	}
	var out []rotation.AccountTarget
	for _, t := range found {
		if len(only) > 0 && !slices.Contains(only, t.ID) {
			continue
		}
		ac, _ := conf.Account(t.ID)
		out = append(out, rotation.AccountTarget{Target: t, Policy: conf.PolicyFor(t.ID), ExemptUsers: ac.ExemptUsers})
	}
	if len(only) > 0 {
		skipped = nil
	}
	return out, skipped, nil
}

// connector assumes the rotation role in a member account and builds the
// clients a run needs there.
func connector(awsCfg aws.Config, conf *config.Config, runID string) func(context.Context, rotation.AccountTarget) (rotation.AccountAPI, error) {
	assumer := &accounts.Assumer{STS: sts.NewFromConfig(awsCfg), Base: awsCfg, RunID: runID}
	return func(ctx context.Context, t rotation.AccountTarget) (rotation.AccountAPI, error) {
		role := conf.RoleFor(t.ID)
		mcfg, err := assumer.ConfigFor(ctx, t.ID, role)
		if err != nil {
			return rotation.AccountAPI{}, err
		}
		client := iam.NewFromConfig(mcfg)
		return rotation.AccountAPI{
			IAM: client,
			Secrets: secretsmanager.NewFromConfig(mcfg, func(o *secretsmanager.Options) {
				o.Region = conf.Secrets.Region
			}),
			Permissions: client,
			RoleARN:     role.ARN(t.ID),
		}, nil
	}
}

// runJob carries out an audit or rotate run end to end and writes its report.
func runJob(ctx context.Context, g *globalFlags, log *slog.Logger, conf *config.Config, awsCfg aws.Config, o jobOptions) (jobResult, error) {
	if o.now == nil {
		o.now = clock
	}
	if o.runID == "" {
		o.runID = newRunID(o.now())
	}
	if o.out == "" {
		o.out = conf.Report.Out
	}
	if len(o.formats) == 0 {
		o.formats = conf.Report.Formats
	}
	shard, err := accounts.ParseShard(o.shard)
	if err != nil {
		return jobResult{}, usageError{fmt.Errorf("--shard: %w", err)}
	}
	tg, skipped, err := targets(ctx, awsCfg, conf, o.accounts)
	if err != nil {
		return jobResult{}, err
	}
	tg = slices.DeleteFunc(tg, func(t rotation.AccountTarget) bool { return !shard.Has(t.ID) })
	skipped = slices.DeleteFunc(skipped, func(s accounts.Skipped) bool { return !shard.Has(s.ID) })
	log.Info("run starting", "run", o.runID, "mode", o.mode, "targets", len(tg), "skipped", len(skipped))

	ses, err := newNotifier(awsCfg, conf, o.notify && o.mode == rotation.ModeApply, log)
	if err != nil {
		return jobResult{}, err
	}
	var notifier rotation.Notifier
	if ses != nil {
		notifier = ses
	}
	runner := &rotation.Runner{
		Connect: connector(awsCfg, conf, o.runID), Mode: o.mode, RunID: o.runID, Version: version, Now: o.now,
		Concurrency: conf.Concurrency.Accounts, PerAccount: conf.Concurrency.PerAccount,
		DefaultPolicy: conf.PolicyFor(""), Exemptions: conf.RotationExemptions(), Secrets: conf.RotationSecrets(),
		Notifier: notifier, NotifyEnabled: ses != nil,
		Filters: o.filters, Logger: log, Progress: progress(g, log, len(tg)),
	}
	rep := runner.Run(ctx, tg, skipped)
	// The report is written even after Ctrl-C: it records what happened.
	files, werr := report.WriteFiles(o.out, rep, o.formats)
	if !o.quiet {
		writeSummary(g, log, rep, files)
	}
	if werr != nil {
		return jobResult{report: rep, files: files, code: ExitFailed}, fmt.Errorf("write report: %w", werr)
	}
	var s3URIs []string
	var uerr error
	if dest := cmp.Or(o.reportS3, conf.Report.S3); dest != "" {
		s3URIs, uerr = uploadReport(context.WithoutCancel(ctx), awsCfg, dest, conf.Report.KMSKeyID, files)
		if uerr != nil {
			log.Error("report upload failed; the local files are written", "err", uerr, "files", strings.Join(files, ","))
		} else {
			fmt.Fprintf(g.stderr, "Uploaded: %s\n", strings.Join(s3URIs, " "))
		}
	}
	if ses != nil && conf.Notifications.Digest {
		// The digest is mailed even after Ctrl-C: it says what happened.
		if d, err := sendDigest(context.WithoutCancel(ctx), ses, conf, rep, files, s3URIs); err != nil {
			log.Error("digest to the security team failed", "err", err)
		} else {
			log.Info("digest sent", "to", strings.Join(d.To, ","))
		}
	}
	if uerr != nil {
		return jobResult{report: rep, files: files, code: ExitFailed}, uerr
	}
	return jobResult{report: rep, files: files, code: exitCode(rep, o.failOnFindings)}, nil
}

// uploadReport copies the report files to s3://bucket/prefix with
// server-side encryption.
func uploadReport(ctx context.Context, awsCfg aws.Config, dest, kmsKeyID string, files []string) ([]string, error) {
	bucket, prefix, ok := (config.ReportConfig{S3: dest}).S3Location()
	if !ok {
		return nil, usageError{fmt.Errorf("report S3 destination %q: want s3://bucket/prefix", dest)}
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// Custom endpoints (LocalStack, moto, awssim) serve buckets by path.
		o.UsePathStyle = awsCfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	})
	uris, err := report.UploadFiles(ctx, client, bucket, prefix, files, kmsKeyID)
	if err != nil {
		return uris, fmt.Errorf("upload report to %s: %w", dest, err)
	}
	return uris, nil
}

// writeSummary tells how the run went: a table for people, or, with
// --log-format json, one structured record, so that a scheduler's log
// pipeline gets nothing but JSON lines on stderr.
func writeSummary(g *globalFlags, log *slog.Logger, rep *report.Report, files []string) {
	if g.logFormat != "json" {
		_ = report.WriteSummary(g.stderr, rep, report.SummaryOptions{Files: files})
		return
	}
	s := rep.Summary
	log.Info("run summary", "run", rep.Run.ID, "mode", rep.Run.Mode, "interrupted", rep.Run.Interrupted,
		"accounts_ok", s.AccountsOK, "accounts_failed", s.AccountsFailed, "accounts_skipped", s.AccountsSkipped,
		"users", s.Users, "keys", s.Keys, "active_keys", s.ActiveKeys, "exempt_keys", s.ExemptKeys,
		"compliance_pct", s.CompliancePct, "findings", s.Findings, "actions", s.Actions, "results", s.Results,
		"files", files)
}

// exitCode maps a finished run to the documented exit codes.
func exitCode(rep *report.Report, failOnFindings bool) int {
	switch {
	case rep.Summary.AccountsFailed > 0 || rep.Run.Interrupted || rep.Summary.Results[report.ResultFailed] > 0:
		// A failed step must reach the scheduler's alerting as surely as a
		// failed account does.
		return ExitPartial
	case failOnFindings && findingsPresent(rep):
		return ExitFindings
	}
	return ExitOK
}

func findingsPresent(rep *report.Report) bool {
	for _, k := range rep.Keys {
		if !k.Exempt && len(k.Findings) > 0 {
			return true
		}
	}
	return false
}

// progress reports accounts done: a bar on a terminal, log lines otherwise.
func progress(g *globalFlags, log *slog.Logger, total int) func(done, total int) {
	if total == 0 {
		return nil
	}
	if g.stderrIsTerminal() && g.logFormat == "text" {
		bar := progressbar.NewOptions(total,
			progressbar.OptionSetWriter(g.stderr),
			progressbar.OptionSetDescription("accounts"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
		)
		return func(done, _ int) { _ = bar.Set(done) }
	}
	step := max(1, total/10)
	last := time.Now()
	return func(done, total int) {
		if done == total || done%step == 0 || time.Since(last) > 10*time.Second {
			last = time.Now()
			log.Info("progress", "accounts_done", done, "accounts_total", total)
		}
	}
}

// errCode wraps err with an exit code for run().
func errCode(code int, err error) error {
	if err == nil && code == ExitOK {
		return nil
	}
	var ue usageError
	if errors.As(err, &ue) {
		return err
	}
	return exitError{code: code, err: err}
}
