// Package demo runs keyrotor end to end against a built-in simulated
// organization served on loopback: an audit, then three applied rotations a
// week apart on the simulated clock, with the reports of every phase and
// every mail sent written under one folder. It needs no AWS account.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"keyrotor/config"
	"keyrotor/internal/awsclient"
	"keyrotor/internal/awssim"
	"keyrotor/job"
	"keyrotor/report"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// Options configure Run.
type Options struct {
	// Out is the folder for the reports and mail of every phase.
	Out string
	// AuditOnly stops after the audit phase.
	AuditOnly bool
	// Stderr receives the demo's story: lines of text, or with JSON one
	// JSON record per line, like the logs beside it.
	Stderr io.Writer
	JSON   bool
	// Logger receives the runs' logs.
	Logger *slog.Logger
	// Summary, if set, shows each phase's report once it is written.
	Summary func(rep *report.Report, files []string)
	// Version is the keyrotor version reported.
	Version string
}

// demoConfig is the accounts.yaml the demo runs with; the role settings
// come from the simulated organization.
const demoConfig = `# keyrotor demo configuration (generated)
region: %[1]s
organization:
  discovery: true
role:
  name: %[2]s
  path: %[3]s
  external_id: %[4]s
exemptions:
  tag: {key: "keyrotor:exempt", value: "true"}
  groups: [BreakGlass]
notifications:
  enabled: true
  sender: keyrotor@example.com
  recipient_tags: [email]
  address_template: "{{.UserName}}@example.com"
  security_team: [security@example.com]
  due_soon: [14d, 3d]
concurrency:
  accounts: 8
  per_account: 4
report:
  out: %[5]q
  formats: [json, xlsx, csv]
`

// ErrUnexpected is wrapped by Run's error when a phase failed somewhere the
// demo organization is not broken on purpose: that is a keyrotor bug.
var ErrUnexpected = errors.New("unexpected failure in the demo")

// demoEnv is the running simulated organization.
type demoEnv struct {
	sim    *awssim.Sim
	seeded awssim.Seeded
	url    string
	aws    aws.Config
	conf   *config.Config
	// broken are the accounts whose role is broken on purpose, by ID.
	broken map[string]brokenAccount
}

// brokenAccount is an account of the demo organization that keyrotor
// cannot get into, on purpose.
type brokenAccount struct {
	name, why string
}

// teller tells the demo's story on stderr: text lines for people, or one
// JSON record per line when the logs are JSON, so that stderr holds
// nothing else.
type teller struct {
	w    io.Writer
	json *slog.Logger
}

func newTeller(o Options) teller {
	t := teller{w: o.Stderr}
	if o.JSON {
		t.json = slog.New(slog.NewJSONHandler(o.Stderr, nil))
	}
	return t
}

// say writes text, or the record msg with attrs.
func (t teller) say(text, msg string, attrs ...any) {
	if t.json != nil {
		t.json.Info(msg, attrs...)
		return
	}
	fmt.Fprintln(t.w, text)
}

// startDemo builds the demo organization and serves it on loopback until
// ctx ends.
func startDemo(ctx context.Context, out string, logger *slog.Logger) (*demoEnv, func(), error) {
	sc := awssim.DemoScenario()
	sim, seeded, err := sc.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("build demo organization: %w", err)
	}
	broken := map[string]brokenAccount{}
	for _, a := range sc.Accounts {
		switch a.Role {
		case awssim.RoleWrongTrust:
			broken[a.ID] = brokenAccount{a.Name, "its rotation role does not trust the security account"}
		case awssim.RoleMissing:
			broken[a.ID] = brokenAccount{a.Name, "it has no rotation role"}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	url := "http://" + ln.Addr().String()
	yaml := fmt.Sprintf(demoConfig, seeded.Region, seeded.RoleName, seeded.RolePath, seeded.ExternalID, out)
	conf, err := config.Parse("demo accounts.yaml", []byte(yaml))
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("demo configuration: %w", err)
	}
	c := seeded.Central
	awsCfg := aws.Config{
		Region:       seeded.Region,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
	}
	awsclient.Configure(&awsCfg, awsclient.Options{InFlight: 64, Logger: logger})
	return &demoEnv{sim: sim, seeded: seeded, url: url, aws: awsCfg, conf: conf, broken: broken}, stop, nil
}

// Run runs the demo's phases. The demo organization has an account
// whose role cannot be assumed on purpose; the demo says so up front, and
// its failure in each phase is expected and not passed on. Any other
// failure (another account, a rotation step, a mail) is an error wrapping
// ErrUnexpected, after the remaining phases ran.
func Run(ctx context.Context, o Options) error {
	out := o.Out
	tell := newTeller(o)
	env, stop, err := startDemo(ctx, out, o.Logger)
	if err != nil {
		return err
	}
	defer stop()
	tell.say(fmt.Sprintf("keyrotor demo: simulated organization on %s (clock %s)\n", env.url, env.sim.Now().Format(time.RFC3339)),
		"demo starting", "endpoint", env.url, "clock", env.sim.Now().Format(time.RFC3339))
	for _, id := range slices.Sorted(maps.Keys(env.broken)) {
		b := env.broken[id]
		tell.say(fmt.Sprintf("Note: %s (%s) is broken on purpose (%s).\n"+
			"Each phase reports it as a failed account, with an ERROR line, as a real run would; a real\n"+
			"run exits 3 for it. The demo expects it and exits 0.\n", b.name, id, b.why),
			"demo account broken on purpose", "account", id, "name", b.name, "why", b.why,
			"expect", "reported failed in every phase; a real run exits 3 for it")
	}

	phases := []struct {
		title, dir string
		mode       vocab.Mode
		before     func() error
	}{
		{"1/4 audit: what is there, and what rotate would do", "1-audit", vocab.ModeAudit, nil},
		{"2/4 rotate --apply: issue new keys for stale ones", "2-issue", vocab.ModeApply, nil},
		{"3/4 rotate --apply, 7 days later: deactivate old keys no longer used", "3-deactivate", vocab.ModeApply,
			func() error { return env.afterIssue(ctx, tell) }},
		{"4/4 rotate --apply, 7 more days later: delete deactivated keys", "4-delete", vocab.ModeApply,
			func() error { env.sim.Clock().Advance(7*24*time.Hour + time.Hour); return nil }},
	}
	if o.AuditOnly {
		phases = phases[:1]
	}
	var unexpected []error
	for _, ph := range phases {
		if ph.before != nil {
			if err := ph.before(); err != nil {
				return err
			}
		}
		tell.say(fmt.Sprintf("== %s (simulated time %s)", ph.title, env.sim.Now().Format("2006-01-02 15:04")),
			"demo phase", "phase", ph.title, "simulated_time", env.sim.Now().Format(time.RFC3339))
		res, err := job.Run(ctx, env.aws, env.conf, job.Options{
			Mode: ph.mode, Out: filepath.Join(out, ph.dir), Notify: true, Now: env.sim.Now,
			Getenv: func(string) string { return "" }, Logger: o.Logger, Version: o.Version, Written: o.Summary,
		})
		if err != nil {
			return err
		}
		unexpected = append(unexpected, env.unexpected(ph.dir, res.Report)...)
		tell.say("", "demo phase done", "phase", ph.title)
		if ctx.Err() != nil {
			return nil
		}
	}
	if err := writeMails(tell, env.sim.Outbox(), filepath.Join(out, "mail")); err != nil {
		return err
	}
	if len(unexpected) > 0 {
		return fmt.Errorf("%w: %w", ErrUnexpected, errors.Join(unexpected...))
	}
	tell.say(fmt.Sprintf("Reports of every phase are under %s/. The only failures were those of the accounts broken on purpose.", out),
		"demo finished", "reports", out, "failures", "only the accounts broken on purpose")
	return nil
}

// unexpected lists what failed in a phase's report beyond the accounts
// broken on purpose.
func (env *demoEnv) unexpected(phase string, rep *report.Report) []error {
	var errs []error
	for _, a := range rep.Accounts {
		if _, onPurpose := env.broken[a.AccountID]; a.Status == vocab.AccountError && !onPurpose {
			errs = append(errs, fmt.Errorf("%s: account %s failed: %s", phase, a.AccountID, a.Error))
		}
	}
	for _, k := range rep.Keys {
		if k.Result == vocab.ResultFailed {
			errs = append(errs, fmt.Errorf("%s: %s of %s in %s failed: %s", phase, k.Action, report.MaskKeyID(k.AccessKeyID), k.AccountID, k.Reason))
		}
	}
	for _, n := range rep.Notifications {
		if n.Result == vocab.NotifyFailed {
			errs = append(errs, fmt.Errorf("%s: %s mail for %s in %s failed: %s", phase, n.Event, n.User, n.AccountID, n.Error))
		}
	}
	return errs
}

// writeMails saves every message the simulated SES accepted as an .eml
// file and lists them, so the demo shows what owners and the security
// team were told.
func writeMails(tell teller, mails []awssim.Email, dir string) error {
	if len(mails) == 0 {
		tell.say("No mail was sent.", "demo mail", "messages", 0)
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("demo: create mail folder: %w", err)
	}
	bySubject := map[string]int{}
	for i, m := range mails {
		name := filepath.Join(dir, fmt.Sprintf("%03d.eml", i+1))
		if err := os.WriteFile(name, emlBytes(m), 0o640); err != nil {
			return fmt.Errorf("demo: write %s: %w", name, err)
		}
		bySubject[mailKind(m.Subject)]++
	}
	tell.say(fmt.Sprintf("Mail sent through SES: %d messages, saved as .eml under %s/", len(mails), dir),
		"demo mail", "messages", len(mails), "dir", dir, "by_kind", bySubject)
	kinds := make([]string, 0, len(bySubject))
	for k := range bySubject {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	if tell.json == nil {
		for _, k := range kinds {
			fmt.Fprintf(tell.w, "   %4d  %s\n", bySubject[k], k)
		}
		last := mails[len(mails)-1]
		fmt.Fprintf(tell.w, "   e.g. to %s: %q\n", strings.Join(last.To, ", "), last.Subject)
	}
	return nil
}

// mailKind names the kind of a keyrotor message from its subject line.
func mailKind(subject string) string {
	for _, k := range []struct{ marker, kind string }{
		{"New access key issued", "new key issued (to the owner)"},
		{"is still in use", "old key still in use (reminder to the owner)"},
		{"was deactivated", "old key deactivated (to the owner)"},
		{"was deleted", "old key deleted (to the owner)"},
		{"is held:", "key held, with the fix (to the owner, once per reason)"},
		{"is due for rotation on", "key due soon (to the owner)"},
		{"[keyrotor] Run ", "run digest (to the security team)"},
	} {
		if strings.Contains(subject, k.marker) {
			return k.kind
		}
	}
	return "other"
}

// emlBytes renders a message as RFC 5322 text: the raw MIME when SES got
// one, else the headers and the plain-text body.
func emlBytes(m awssim.Email) []byte {
	if len(m.Raw) > 0 {
		return m.Raw
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", m.From, strings.Join(m.To, ", "))
	if len(m.ReplyTo) > 0 {
		fmt.Fprintf(&b, "Reply-To: %s\r\n", strings.Join(m.ReplyTo, ", "))
	}
	fmt.Fprintf(&b, "Subject: %s\r\nDate: %s\r\nMessage-ID: <%s@email.amazonses.com>\r\n",
		mime.QEncoding.Encode("utf-8", m.Subject), m.Sent.Format(time.RFC1123Z), m.MessageID)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.ReplaceAll(m.Text, "\n", "\r\n"))
	return []byte(b.String())
}

// afterIssue plays the week after the new keys were issued: one owner's
// workload keeps signing requests with its old key (so that key is held
// instead of deactivated), then the clock moves 7 days on.
func (env *demoEnv) afterIssue(ctx context.Context, tell teller) error {
	var target *awssim.KeyInfo
	for _, k := range env.sim.Keys("") {
		tags := env.sim.UserTags(k.AccountID, k.User)
		if _, ok := tags[rotation.TagKey(k.ID)]; ok && k.Status == string(vocab.KeyActive) {
			kk := k
			target = &kk
			break
		}
	}
	env.sim.Clock().Advance(2 * 24 * time.Hour)
	if target != nil {
		creds, ok := env.sim.CredentialsFor(target.ID)
		if !ok {
			return errors.New("demo: old key has no credentials in the simulator")
		}
		cfg := env.aws.Copy()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")
		if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			return fmt.Errorf("demo: use old key of %s: %w", target.User, err)
		}
		tell.say(fmt.Sprintf("   (a workload of user %s in %s still signs with its old key %s)",
			target.User, target.AccountID, report.MaskKeyID(target.ID)),
			"demo old key still in use", "account", target.AccountID, "user", target.User, "key", report.MaskKeyID(target.ID))
	}
	env.sim.Clock().Advance(5*24*time.Hour + time.Hour)
	return nil
}
