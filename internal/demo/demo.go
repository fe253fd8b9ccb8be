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
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	// Stderr receives the demo's story.
	Stderr io.Writer
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
concurrency:
  accounts: 8
  per_account: 4
report:
  out: %[5]q
  formats: [json, xlsx, csv]
`

// demoEnv is the running simulated organization.
type demoEnv struct {
	sim    *awssim.Sim
	seeded awssim.Seeded
	url    string
	aws    aws.Config
	conf   *config.Config
}

// startDemo builds the demo organization and serves it on loopback until
// ctx ends.
func startDemo(ctx context.Context, out string) (*demoEnv, func(), error) {
	sim, seeded, err := awssim.DemoScenario().Build()
	if err != nil {
		return nil, nil, fmt.Errorf("build demo organization: %w", err)
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
		Retryer:      awsclient.NewRetryer,
	}
	return &demoEnv{sim: sim, seeded: seeded, url: url, aws: awsCfg, conf: conf}, stop, nil
}

// Run runs the demo's phases. The demo organization has an account
// whose role cannot be assumed on purpose, so a phase's partial-failure exit
// code is expected and not passed on: the demo fails only when it cannot
// run.
func Run(ctx context.Context, o Options) error {
	out := o.Out
	env, stop, err := startDemo(ctx, out)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(o.Stderr, "keyrotor demo: simulated organization on %s (clock %s)\n\n", env.url,
		env.sim.Now().Format(time.RFC3339))

	phases := []struct {
		title, dir string
		mode       vocab.Mode
		before     func() error
	}{
		{"1/4 audit: what is there, and what rotate would do", "1-audit", vocab.ModeAudit, nil},
		{"2/4 rotate --apply: issue new keys for stale ones", "2-issue", vocab.ModeApply, nil},
		{"3/4 rotate --apply, 7 days later: deactivate old keys no longer used", "3-deactivate", vocab.ModeApply,
			func() error { return env.afterIssue(ctx, o.Stderr) }},
		{"4/4 rotate --apply, 7 more days later: delete deactivated keys", "4-delete", vocab.ModeApply,
			func() error { env.sim.Clock().Advance(7*24*time.Hour + time.Hour); return nil }},
	}
	if o.AuditOnly {
		phases = phases[:1]
	}
	for _, ph := range phases {
		if ph.before != nil {
			if err := ph.before(); err != nil {
				return err
			}
		}
		fmt.Fprintf(o.Stderr, "== %s (simulated time %s)\n", ph.title, env.sim.Now().Format("2006-01-02 15:04"))
		_, err := job.Run(ctx, env.aws, env.conf, job.Options{
			Mode: ph.mode, Out: filepath.Join(out, ph.dir), Notify: true, Now: env.sim.Now,
			Getenv: func(string) string { return "" }, Logger: o.Logger, Version: o.Version, Written: o.Summary,
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(o.Stderr)
		if ctx.Err() != nil {
			return nil
		}
	}
	if err := writeMails(o.Stderr, env.sim.Outbox(), filepath.Join(out, "mail")); err != nil {
		return err
	}
	fmt.Fprintf(o.Stderr, "Reports of every phase are under %s/.\n", out)
	return nil
}

// writeMails saves every message the simulated SES accepted as an .eml
// file and lists them, so the demo shows what owners and the security
// team were told.
func writeMails(stderr io.Writer, mails []awssim.Email, dir string) error {
	if len(mails) == 0 {
		fmt.Fprintln(stderr, "No mail was sent.")
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
	fmt.Fprintf(stderr, "Mail sent through SES: %d messages, saved as .eml under %s/\n", len(mails), dir)
	kinds := make([]string, 0, len(bySubject))
	for k := range bySubject {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(stderr, "   %4d  %s\n", bySubject[k], k)
	}
	last := mails[len(mails)-1]
	fmt.Fprintf(stderr, "   e.g. to %s: %q\n", strings.Join(last.To, ", "), last.Subject)
	return nil
}

// mailKind names the kind of a keyrotor message from its subject line.
func mailKind(subject string) string {
	for _, k := range []struct{ marker, kind string }{
		{"New access key issued", "new key issued (to the owner)"},
		{"is still in use", "old key still in use (reminder to the owner)"},
		{"was deactivated", "old key deactivated (to the owner)"},
		{"was deleted", "old key deleted (to the owner)"},
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
func (env *demoEnv) afterIssue(ctx context.Context, stderr io.Writer) error {
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
		fmt.Fprintf(stderr, "   (a workload of user %s in %s still signs with its old key %s)\n",
			target.User, target.AccountID, report.MaskKeyID(target.ID))
	}
	env.sim.Clock().Advance(5*24*time.Hour + time.Hour)
	return nil
}
