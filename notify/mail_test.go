package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/notify"
	"keyrotor/report"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

var mailNow = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

const (
	mailAccount   = "123456789012"
	mailOldKey    = "AKIAOLDKEY0000000001"
	mailNewKey    = "AKIANEWKEY0000000002"
	mailSecret    = "keyrotor/123456789012/alice"
	mailSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keyrotor/123456789012/alice-AbCdEf"
)

// mailFakeSES records SendEmail inputs and answers with err or a message ID.
type mailFakeSES struct {
	mu  sync.Mutex
	ins []*sesv2.SendEmailInput
	err error
}

func (f *mailFakeSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ins = append(f.ins, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String(fmt.Sprintf("msg-%d", len(f.ins)))}, nil
}

func (f *mailFakeSES) sent() []*sesv2.SendEmailInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ins)
}

func mailConfig() notify.Settings {
	return notify.Settings{
		Sender: "KeyRotor <keyrotor@example.com>", Region: "eu-west-1",
		ConfigurationSet: "keyrotor", ReplyTo: []string{"help@example.com"},
		RecipientTags: []string{"email"}, SecurityTeam: []string{"security@example.com"},
	}
}

// tmplAddress is what package config builds from address_template.
func tmplAddress(text string) func(accountID, accountName, userName string) (string, error) {
	t := template.Must(template.New("address_template").Option("missingkey=error").Parse(text))
	return func(accountID, accountName, userName string) (string, error) {
		var b strings.Builder
		err := t.Execute(&b, struct{ AccountID, AccountName, UserName string }{accountID, accountName, userName})
		return b.String(), err
	}
}

func withContacts(cfg notify.Settings, contacts func(string) []string) notify.Settings {
	cfg.Contacts = contacts
	return cfg
}

func mailNotice(kind rotation.Event) rotation.Notice {
	n := rotation.Notice{
		Kind: kind, AccountID: mailAccount, AccountName: "payments-prod",
		User: "alice", UserARN: "arn:aws:iam::123456789012:user/alice",
		UserTags: map[string]string{"email": "alice@corp.example.com"},
		OldKeyID: mailOldKey, NewKeyID: mailNewKey,
		SecretName: mailSecret, SecretARN: mailSecretARN, SecretRegion: "eu-west-1", Time: mailNow,
	}
	switch kind {
	case rotation.EventIssued:
		n.DeactivateOn = mailNow.Add(7 * 24 * time.Hour)
	case rotation.EventReminder:
		used := mailNow.Add(-3 * time.Hour)
		n.LastUsed, n.LastUsedService, n.LastUsedRegion = &used, "s3", "us-west-2"
		n.DeactivateOn = mailNow.Add(30 * 24 * time.Hour)
	case rotation.EventDeactivated:
		n.DeleteOn = mailNow.Add(7 * 24 * time.Hour)
	}
	return n
}

func newMailNotifier(t *testing.T, api notify.SESAPI, cfg notify.Settings, contacts func(string) []string) *notify.SESNotifier {
	t.Helper()
	n, err := notify.NewSESNotifier(api, withContacts(cfg, contacts), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	n.Now = func() time.Time { return mailNow }
	return n
}

// mailBodies returns the subject, text and HTML of a simple-content input.
func mailBodies(t *testing.T, in *sesv2.SendEmailInput) (subject, text, html string) {
	t.Helper()
	s := in.Content.Simple
	if s == nil || s.Subject == nil || s.Body == nil || s.Body.Text == nil || s.Body.Html == nil {
		t.Fatalf("not a simple message with subject, text and HTML: %+v", in.Content)
	}
	for _, c := range []*types.Content{s.Subject, s.Body.Text, s.Body.Html} {
		if aws.ToString(c.Charset) != "UTF-8" {
			t.Errorf("charset %q, want UTF-8", aws.ToString(c.Charset))
		}
	}
	return aws.ToString(s.Subject.Data), aws.ToString(s.Body.Text.Data), aws.ToString(s.Body.Html.Data)
}

func TestNoticeMessages(t *testing.T) {
	fetch := "aws secretsmanager get-secret-value --secret-id keyrotor/123456789012/alice --region eu-west-1 --query SecretString --output text"
	reactivate := "keyrotor reactivate --account 123456789012 --user alice --key " + mailOldKey
	tests := []struct {
		kind    rotation.Event
		subject string
		both    []string // in the text and the HTML body
		text    []string // in the text body only (layout differs)
		not     []string // in neither
	}{
		{
			kind:    rotation.EventIssued,
			subject: "[keyrotor] New access key issued for alice in payments-prod (123456789012)",
			both:    []string{mailNewKey, mailOldKey, mailSecret, mailSecretARN, fetch, "2026-12-03 06:00 UTC", "payments-prod (123456789012)"},
			text:    []string{"New access key ID:  " + mailNewKey, "Region:       eu-west-1"},
			not:     []string{"reactivate", "security team because"},
		},
		{
			kind:    rotation.EventReminder,
			subject: "[keyrotor] Old access key " + mailOldKey + " of alice in payments-prod (123456789012) is still in use",
			both:    []string{mailNewKey, mailOldKey, fetch, "2026-11-26 03:00 UTC", "s3", "us-west-2", "2026-12-26 06:00 UTC"},
			text:    []string{"Last used:  2026-11-26 03:00 UTC", "Service:    s3", "Region:     us-west-2"},
			not:     []string{"reactivate"},
		},
		{
			kind:    rotation.EventDeactivated,
			subject: "[keyrotor] Old access key " + mailOldKey + " of alice in payments-prod (123456789012) was deactivated",
			both:    []string{reactivate, "2026-12-03 06:00 UTC", mailNewKey, mailSecret, "security@example.com"},
			text:    []string{"deleted on or after 2026-12-03 06:00 UTC"},
		},
		{
			kind:    rotation.EventDeleted,
			subject: "[keyrotor] Access key " + mailOldKey + " of alice in payments-prod (123456789012) was deleted",
			both:    []string{mailOldKey, "cannot be restored", mailNewKey, fetch},
			not:     []string{"reactivate"},
		},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			ses := &mailFakeSES{}
			n := newMailNotifier(t, ses, mailConfig(), nil)
			d, err := n.Notify(context.Background(), mailNotice(tt.kind))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.To, []string{"alice@corp.example.com"}) || d.Subject != tt.subject ||
				d.Source != "tag email" || d.MessageID != "msg-1" || len(d.Skipped) != 0 {
				t.Errorf("delivery = %+v", d)
			}
			sent := ses.sent()
			if len(sent) != 1 {
				t.Fatalf("%d messages sent", len(sent))
			}
			in := sent[0]
			if aws.ToString(in.FromEmailAddress) != `"KeyRotor" <keyrotor@example.com>` ||
				!slices.Equal(in.Destination.ToAddresses, []string{"alice@corp.example.com"}) ||
				len(in.Destination.CcAddresses)+len(in.Destination.BccAddresses) != 0 ||
				!slices.Equal(in.ReplyToAddresses, []string{"help@example.com"}) ||
				aws.ToString(in.ConfigurationSetName) != "keyrotor" {
				t.Errorf("input = %+v", in)
			}
			tags := map[string]string{}
			for _, tg := range in.EmailTags {
				tags[aws.ToString(tg.Name)] = aws.ToString(tg.Value)
			}
			if tags["keyrotor_event"] != string(tt.kind) || tags["keyrotor_account"] != mailAccount {
				t.Errorf("email tags = %v", tags)
			}
			subject, text, html := mailBodies(t, in)
			if subject != tt.subject {
				t.Errorf("subject = %q, want %q", subject, tt.subject)
			}
			for _, s := range tt.both {
				if !strings.Contains(text, s) {
					t.Errorf("text lacks %q:\n%s", s, text)
				}
				if !strings.Contains(html, s) {
					t.Errorf("HTML lacks %q:\n%s", s, html)
				}
			}
			for _, s := range tt.text {
				if !strings.Contains(text, s) {
					t.Errorf("text lacks %q:\n%s", s, text)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(text, s) || strings.Contains(html, s) {
					t.Errorf("message mentions %q", s)
				}
			}
			if !strings.HasPrefix(html, "<!DOCTYPE html>") || strings.Contains(text, "<p>") {
				t.Errorf("bodies mixed up:\ntext: %s\nhtml: %s", text, html)
			}
		})
	}
}

func TestNoticeSenderDisplayNameEncoded(t *testing.T) {
	ses := &mailFakeSES{}
	cfg := mailConfig()
	cfg.Sender = "Sécurité <keyrotor@example.com>"
	n := newMailNotifier(t, ses, cfg, nil)
	if _, err := n.Notify(context.Background(), mailNotice(rotation.EventIssued)); err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(ses.sent()[0].FromEmailAddress), "=?utf-8?q?S=C3=A9curit=C3=A9?= <keyrotor@example.com>"; got != want {
		t.Errorf("FromEmailAddress = %q, want %q", got, want)
	}
}

func TestNoticeOptionalFieldsLeftOut(t *testing.T) {
	ses := &mailFakeSES{}
	n := newMailNotifier(t, ses, mailConfig(), nil)
	e := mailNotice(rotation.EventReminder)
	e.AccountName, e.LastUsed, e.LastUsedService, e.LastUsedRegion = "", nil, "", ""
	e.DeactivateOn, e.SecretRegion, e.SecretARN = time.Time{}, "", ""
	d, err := n.Notify(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[keyrotor] Old access key " + mailOldKey + " of alice in 123456789012 is still in use"; d.Subject != want {
		t.Errorf("subject = %q, want %q", d.Subject, want)
	}
	_, text, html := mailBodies(t, ses.sent()[0])
	for _, s := range []string{"Last used", "Service:", "at the latest", "0001-01-01", "--region", "<no value>"} {
		if strings.Contains(text, s) || strings.Contains(html, s) {
			t.Errorf("message mentions %q although the field is empty:\n%s", s, text)
		}
	}
	if !strings.Contains(text, "aws secretsmanager get-secret-value --secret-id "+mailSecret+" --query SecretString --output text") {
		t.Errorf("fetch command without region missing:\n%s", text)
	}

	// A deleted key that keyrotor did not rotate has no replacement.
	e = mailNotice(rotation.EventDeleted)
	e.NewKeyID, e.SecretName, e.SecretARN = "", "", ""
	if _, err := n.Notify(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	_, text, _ = mailBodies(t, ses.sent()[1])
	if strings.Contains(text, "get-secret-value") || strings.Contains(text, "current key") {
		t.Errorf("deleted notice without replacement mentions one:\n%s", text)
	}
}

func TestNoticeHTMLEscapesNames(t *testing.T) {
	ses := &mailFakeSES{}
	n := newMailNotifier(t, ses, mailConfig(), nil)
	e := mailNotice(rotation.EventDeactivated)
	e.User, e.AccountName = "<b>eve</b>", "R&D <ops>"
	if _, err := n.Notify(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	subject, text, html := mailBodies(t, ses.sent()[0])
	if !strings.Contains(subject, "<b>eve</b> in R&D <ops> (123456789012)") {
		t.Errorf("subject = %q", subject)
	}
	if !strings.Contains(text, "IAM user <b>eve</b>\nin AWS account R&D <ops> (123456789012)") {
		t.Errorf("text body altered the names:\n%s", text)
	}
	if strings.Contains(html, "<b>eve</b>") || strings.Contains(html, "<ops>") {
		t.Errorf("HTML body has unescaped names:\n%s", html)
	}
	for _, s := range []string{"&lt;b&gt;eve&lt;/b&gt;", "R&amp;D &lt;ops&gt;"} {
		if !strings.Contains(html, s) {
			t.Errorf("HTML body lacks %q:\n%s", s, html)
		}
	}
	// The pasted command must not run what the name says.
	if want := `--user '<b>eve</b>' --key`; !strings.Contains(text, want) {
		t.Errorf("reactivate command does not quote the user name (want %q):\n%s", want, text)
	}
}

func TestFetchCommand(t *testing.T) {
	tests := []struct{ secret, region, want string }{
		{"keyrotor/1/alice", "us-east-1", "aws secretsmanager get-secret-value --secret-id keyrotor/1/alice --region us-east-1 --query SecretString --output text"},
		{"arn:aws:secretsmanager:us-east-1:1:secret:a-Ab", "", "aws secretsmanager get-secret-value --secret-id arn:aws:secretsmanager:us-east-1:1:secret:a-Ab --query SecretString --output text"},
		{"it's; rm -rf /", "", `aws secretsmanager get-secret-value --secret-id 'it'\''s; rm -rf /' --query SecretString --output text`},
	}
	for _, tt := range tests {
		if got := notify.FetchCommand(tt.secret, tt.region); got != tt.want {
			t.Errorf("FetchCommand(%q, %q) = %q, want %q", tt.secret, tt.region, got, tt.want)
		}
	}
}

func TestNoticeFallsBackToSecurityTeam(t *testing.T) {
	ses := &mailFakeSES{}
	contacts := func(id string) []string {
		if id != mailAccount {
			t.Errorf("contacts asked for %s", id)
		}
		return nil
	}
	n := newMailNotifier(t, ses, mailConfig(), contacts)
	e := mailNotice(rotation.EventIssued)
	e.UserTags = map[string]string{"email": "alice"}
	d, err := n.Notify(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.To, []string{"security@example.com"}) || d.Source != "security_team" ||
		len(d.Skipped) != 1 || !strings.HasPrefix(d.Skipped[0], `tag email: invalid address "alice"`) {
		t.Fatalf("delivery = %+v", d)
	}
	_, text, html := mailBodies(t, ses.sent()[0])
	for _, body := range []string{text, html} {
		if !strings.Contains(body, "as the security team because no address was found for") ||
			!strings.Contains(body, "tag email: invalid address") {
			t.Errorf("fallback notice does not say why:\n%s", body)
		}
	}
}

func TestNoticeToAccountContacts(t *testing.T) {
	ses := &mailFakeSES{}
	cfg := mailConfig()
	cfg.RecipientTags = nil
	n := newMailNotifier(t, ses, cfg, func(string) []string { return []string{"team@corp.example.com", "ops@corp.example.com"} })
	d, err := n.Notify(context.Background(), mailNotice(rotation.EventDeleted))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ses.sent()[0].Destination.ToAddresses, []string{"team@corp.example.com", "ops@corp.example.com"}) || d.Source != "contacts" {
		t.Errorf("delivery = %+v", d)
	}
}

func TestNotifyNoRecipientSendsNothing(t *testing.T) {
	ses := &mailFakeSES{}
	cfg := mailConfig()
	cfg.SecurityTeam = nil
	n := newMailNotifier(t, ses, cfg, nil)
	e := mailNotice(rotation.EventIssued)
	e.UserTags = map[string]string{"email": "Alice <alice@corp.example.com>"}
	d, err := n.Notify(context.Background(), e)
	if !errors.Is(err, notify.ErrNoRecipient) {
		t.Fatalf("err = %v, want ErrNoRecipient", err)
	}
	if !strings.Contains(err.Error(), "notify: no recipient for alice in 123456789012") || len(d.Skipped) != 1 || len(d.To) != 0 {
		t.Errorf("err = %v, delivery = %+v", err, d)
	}
	if len(ses.sent()) != 0 {
		t.Error("a message was sent")
	}
}

func TestNotifyRefusesIncompleteNotice(t *testing.T) {
	ses := &mailFakeSES{}
	n := newMailNotifier(t, ses, mailConfig(), nil)
	for _, tt := range []struct {
		name string
		edit func(*rotation.Notice)
		want string
	}{
		{"no secret", func(e *rotation.Notice) { e.SecretName, e.SecretARN = "", "" }, "names no secret"},
		{"no new key", func(e *rotation.Notice) { e.NewKeyID = "" }, "names no new key"},
		{"unknown event", func(e *rotation.Notice) { e.Kind = "bogus" }, `unknown event "bogus"`},
	} {
		e := mailNotice(rotation.EventIssued)
		tt.edit(&e)
		_, err := n.Notify(context.Background(), e)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	if len(ses.sent()) != 0 {
		t.Error("a message was sent")
	}
}

func TestNotifyWrapsSESErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want []string
	}{
		{"rejected", &types.MessageRejected{Message: aws.String("Email address is not verified.")},
			[]string{"send issued notice for alice in 123456789012: SES rejected the message",
				"sender keyrotor@example.com is not a verified identity",
				"verify keyrotor@example.com (or its domain example.com) in SES in eu-west-1"}},
		{"configuration set", &types.NotFoundException{Message: aws.String("Configuration set does not exist")},
			[]string{`SES found no configuration set "keyrotor" in eu-west-1`}},
		{"paused", &types.SendingPausedException{Message: aws.String("paused")}, []string{"sending is paused"}},
		{"other", errors.New("connection reset"), []string{"send issued notice for alice in 123456789012: connection reset"}},
	} {
		ses := &mailFakeSES{err: tt.err}
		n := newMailNotifier(t, ses, mailConfig(), nil)
		d, err := n.Notify(context.Background(), mailNotice(rotation.EventIssued))
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v does not wrap %v", tt.name, err, tt.err)
			continue
		}
		for _, s := range tt.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: err = %q, want it to say %q", tt.name, err, s)
			}
		}
		if d.MessageID != "" {
			t.Errorf("%s: failed delivery has message ID %q", tt.name, d.MessageID)
		}
	}
}

func writeTemplates(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTemplateOverrides(t *testing.T) {
	cfg := mailConfig()
	cfg.TemplatesDir = writeTemplates(t, map[string]string{
		"issued.subject": "Rotated: {{.User}} ({{.AccountID}})\n",
		"footer.txt":     "-- custom footer for {{.User}}\n",
		"README.md":      "not a template, ignored",
	})
	ses := &mailFakeSES{}
	n := newMailNotifier(t, ses, cfg, nil)
	d, err := n.Notify(context.Background(), mailNotice(rotation.EventIssued))
	if err != nil {
		t.Fatal(err)
	}
	if d.Subject != "Rotated: alice (123456789012)" {
		t.Errorf("subject = %q", d.Subject)
	}
	_, text, html := mailBodies(t, ses.sent()[0])
	if !strings.Contains(text, "and waits.\n-- custom footer for alice\n") || !strings.Contains(text, "Fetch it with") {
		t.Errorf("text = %s", text)
	}
	if strings.Contains(html, "custom footer") || !strings.Contains(html, "on behalf of your security team") {
		t.Errorf("HTML footer should stay built-in:\n%s", html)
	}
	// Other events keep the built-in subject.
	d, err = n.Notify(context.Background(), mailNotice(rotation.EventDeleted))
	if err != nil || !strings.HasPrefix(d.Subject, "[keyrotor] Access key") {
		t.Errorf("deleted: %q, %v", d.Subject, err)
	}
}

func TestTemplateValidationAtStartup(t *testing.T) {
	tests := []struct {
		name, file, text string
		want             []string
	}{
		{"syntax error", "issued.txt", "Hello {{.User", []string{"parse mail template", "issued.txt", "unclosed action"}},
		{"missing field", "issued.html", "<p>{{.NoSuchField}}</p>", []string{"issued.html", "NoSuchField"}},
		{"missing field in else branch", "reminder.txt", "{{if .LastUsed}}{{datetime .LastUsed}}{{else}}{{.Nope}}{{end}}",
			[]string{"reminder.txt", "Nope"}},
		{"missing map key", "deleted.txt", "{{.UserTags.manager}}", []string{"deleted.txt", `map has no entry for key "manager"`}},
		{"missing digest field", "digest.html", "{{range .FailedAccounts}}{{.Reason}}{{end}}", []string{"digest.html", "Reason"}},
		{"unknown function", "deactivated.html", "{{shout .User}}", []string{"deactivated.html", `function "shout" not defined`}},
		{"broken footer", "footer.html", `{{template "nope" .}}`, []string{`no such template "nope"`}},
		{"two-line subject", "issued.subject", "New key\nfor {{.User}}", []string{"issued.subject", "one line"}},
		{"empty subject", "deactivated.subject", "  {{/* nothing */}} \n", []string{"deactivated.subject", "empty subject"}},
		{"empty body", "digest.txt", "\n", []string{"digest", "empty body"}},
		{"misspelt override", "isued.txt", "Hello", []string{"unknown mail template isued.txt", "issued.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mailConfig()
			cfg.TemplatesDir = writeTemplates(t, map[string]string{tt.file: tt.text})
			n, err := notify.NewSESNotifier(&mailFakeSES{}, cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				t.Fatalf("NewSESNotifier accepted %s = %q", tt.file, tt.text)
			}
			if n != nil {
				t.Error("notifier returned with an error")
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, want it to say %q", err, s)
				}
			}
		})
	}

	cfg := mailConfig()
	cfg.TemplatesDir = filepath.Join(t.TempDir(), "missing")
	if _, err := notify.NewSESNotifier(&mailFakeSES{}, cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "templates_dir") {
		t.Errorf("missing templates_dir: err = %v", err)
	}
	cfg = mailConfig()
	cfg.Sender = "not an address"
	if _, err := notify.NewSESNotifier(&mailFakeSES{}, cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "notifications.sender") {
		t.Errorf("bad sender: err = %v", err)
	}
	if _, err := notify.NewSESNotifier(&mailFakeSES{}, mailConfig(), nil); err == nil {
		t.Error("NewSESNotifier without a logger")
	}
	if _, err := notify.NewSESNotifier(nil, mailConfig(), slog.New(slog.DiscardHandler)); err == nil {
		t.Error("nil SES client accepted")
	}
}

// secretLike matches field names that would hold a credential. SecretName,
// SecretARN and SecretRegion locate a secret and are allowed.
var secretLike = regexp.MustCompile(`(?i)secret(access)?key|secretvalue|secretstring|password|passwd|token|credential|privatekey|^secret$`)

func TestMailDataHasNoSecretFields(t *testing.T) {
	secretType := reflect.TypeFor[rotation.SecretValue]()
	seen := map[reflect.Type]bool{}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map || typ.Kind() == reflect.Array {
			typ = typ.Elem()
		}
		if typ == secretType {
			t.Errorf("%s holds a rotation.SecretValue", path)
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() == "time" {
			return
		}
		seen[typ] = true
		for f := range typ.Fields() {
			if secretLike.MatchString(f.Name) {
				t.Errorf("%s.%s looks like it holds a secret", path, f.Name)
			}
			walk(path+"."+f.Name, f.Type)
		}
	}
	for _, v := range []any{rotation.Notice{}, notify.NoticeMail{}, rotation.Delivery{}, notify.Digest{}, notify.DigestMail{}} {
		walk(reflect.TypeOf(v).String(), reflect.TypeOf(v))
	}
	// The guard itself must catch what it is for.
	for _, name := range []string{"SecretAccessKey", "SessionToken", "Password", "Secret", "SecretValue"} {
		if !secretLike.MatchString(name) {
			t.Errorf("secretLike misses %s", name)
		}
	}
	for _, name := range []string{"SecretName", "SecretARN", "SecretRegion"} {
		if secretLike.MatchString(name) {
			t.Errorf("secretLike rejects %s", name)
		}
	}
}

func TestBuildDigestCountsActionsAndFailures(t *testing.T) {
	started := mailNow.Add(-10 * time.Minute)
	eighty := 80.0
	rep := &report.Report{
		Run:     report.Run{ID: "r1", Mode: vocab.ModeApply, Started: started, Ended: mailNow},
		Summary: report.Summary{Keys: 6, CompliancePct: &eighty, AccountsUnseen: 1},
		Accounts: []report.Account{
			{AccountID: mailAccount, Status: vocab.AccountOK},
			{AccountID: "333333333333", Name: "lab", Status: vocab.AccountError, Error: "assume role: AccessDenied"},
			{AccountID: "444444444444", Name: "old", Status: vocab.AccountSkipped, Error: "account is SUSPENDED"},
		},
		Keys: []report.Key{
			{AccountID: mailAccount, User: "alice", Action: "issue", Result: "done"},
			{AccountID: mailAccount, User: "bob", Action: "issue", Result: "done"},
			{AccountID: mailAccount, User: "carol", Action: "issue", Result: "failed"},
			{AccountID: mailAccount, User: "dave", Action: "deactivate", Result: "done"},
			{AccountID: mailAccount, User: "erin"},
			{AccountID: mailAccount, User: "frank", Action: "hold", Result: "held"},
		},
		Notifications: []report.Notification{
			{AccountID: mailAccount, User: "alice", AccessKeyID: mailOldKey, Event: "issued", Result: vocab.NotifyFailed, Error: "notify: no recipient for alice"},
			{AccountID: mailAccount, User: "bob", AccessKeyID: mailNewKey, Event: "issued", Result: vocab.NotifySent},
		},
	}
	d, err := notify.BuildDigest(rep, notify.DigestOptions{Files: []string{"a.json"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []notify.DigestCount{
		{Action: "deactivate", Result: "done", Count: 1},
		{Action: "hold", Result: "held", Count: 1},
		{Action: "issue", Result: "done", Count: 2},
		{Action: "issue", Result: "failed", Count: 1},
	}
	if !slices.Equal(d.Counts, want) {
		t.Errorf("Counts = %+v, want %+v", d.Counts, want)
	}
	wantF := []notify.NotifyFailure{{AccountID: mailAccount, User: "alice", KeyID: mailOldKey, Event: "issued",
		Error: "notify: no recipient for alice"}}
	if !slices.Equal(d.NotifyFailures, wantF) {
		t.Errorf("NotifyFailures = %+v, want %+v", d.NotifyFailures, wantF)
	}
	// Processed, failed and skipped accounts are counted apart: a skipped
	// or failed account was not processed.
	if len(d.FailedAccounts) != 1 || d.FailedAccounts[0].ID != "333333333333" || d.Accounts != 1 ||
		d.AccountsFailed != 1 || d.AccountsSkipped != 1 || len(d.SkippedAccounts) != 1 || d.SkippedAccounts[0].ID != "444444444444" {
		t.Errorf("accounts: %d processed, %d failed %+v, %d skipped %+v", d.Accounts, d.AccountsFailed, d.FailedAccounts,
			d.AccountsSkipped, d.SkippedAccounts)
	}
	if !d.Started.Equal(started) || !d.Finished.Equal(mailNow) || d.Keys != 6 || d.CompliancePct != 80 || !d.HasCompliance ||
		!strings.HasPrefix(d.Compliance, "80.0% ") || !strings.Contains(d.Compliance, "the keys of 1 account(s) were not seen") {
		t.Errorf("run fields: %+v", d)
	}
	rep.Summary.CompliancePct = nil
	if d, err := notify.BuildDigest(rep, notify.DigestOptions{}); err != nil || d.HasCompliance || !strings.HasPrefix(d.Compliance, "n/a") {
		t.Errorf("no account seen: compliance %q (%v), err %v", d.Compliance, d.HasCompliance, err)
	}
	if _, err := notify.BuildDigest(rep, notify.DigestOptions{Files: []string{"/nonexistent/r.xlsx"}, AttachXLSX: true}); err == nil {
		t.Error("BuildDigest attached a file that does not exist")
	}
}

// mailSimEnv is SES (and a member account with real keys) in awssim,
// reached over HTTP by the real sesv2 client.
type mailSimEnv struct {
	sim    *awssim.Sim
	ses    *sesv2.Client
	oldKey string
	newKey string
}

const mailSecurityAccount = "222222222222"

func newMailSimEnv(t *testing.T, cfg notify.Settings) *mailSimEnv {
	t.Helper()
	sim := awssim.New(awssim.WithSeed(7))
	sim.CreateOrganization("111111111111", "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: mailSecurityAccount, Name: "security"})
	sim.AddAccount(awssim.AccountSpec{ID: mailAccount, Name: "payments-prod"})
	sim.AddUser(mailAccount, awssim.UserSpec{Name: "alice", Created: mailNow.Add(-400 * 24 * time.Hour),
		Tags: map[string]string{"email": "alice@corp.example.com"}})
	old := sim.AddAccessKey(mailAccount, "alice", awssim.KeySpec{Created: mailNow.Add(-100 * 24 * time.Hour)})
	repl := sim.AddAccessKey(mailAccount, "alice", awssim.KeySpec{Created: mailNow})
	awsCfg := awssimtest.Start(t, sim).RootConfig(mailSecurityAccount)
	// This is how cmd/keyrotor builds the client: the SES region may differ
	// from the home region.
	client := sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) { o.Region = cfg.Region })
	e := &mailSimEnv{sim: sim, ses: client, oldKey: old.AccessKeyID, newKey: repl.AccessKeyID}
	t.Cleanup(func() { e.checkNoSecrets(t) })
	return e
}

// checkNoSecrets fails the test if any secret the simulator ever issued
// appears in any message it accepted.
func (e *mailSimEnv) checkNoSecrets(t *testing.T) {
	secrets := e.sim.IssuedSecrets()
	if len(secrets) < 3 {
		t.Fatalf("only %d issued secrets; the leak check would prove nothing", len(secrets))
	}
	for _, m := range e.sim.Outbox() {
		all := strings.Join([]string{m.Subject, m.Text, m.HTML, string(m.Raw)}, "\n")
		for _, s := range secrets {
			if strings.Contains(all, s) {
				t.Errorf("message %q contains an issued secret access key", m.Subject)
			}
		}
	}
}

func (e *mailSimEnv) notice(kind rotation.Event) rotation.Notice {
	n := mailNotice(kind)
	n.OldKeyID, n.NewKeyID = e.oldKey, e.newKey
	n.UserTags = e.sim.UserTags(mailAccount, "alice")
	return n
}

func TestSESNotifierOverAWSSim(t *testing.T) {
	cfg := mailConfig()
	e := newMailSimEnv(t, cfg)
	e.sim.VerifyEmailIdentity(mailSecurityAccount, "eu-west-1", "example.com")
	n := newMailNotifier(t, e.ses, cfg, nil)
	ctx := context.Background()

	subjects := map[rotation.Event]string{
		rotation.EventIssued:      "[keyrotor] New access key issued for alice in payments-prod (123456789012)",
		rotation.EventReminder:    "[keyrotor] Old access key " + e.oldKey + " of alice in payments-prod (123456789012) is still in use",
		rotation.EventDeactivated: "[keyrotor] Old access key " + e.oldKey + " of alice in payments-prod (123456789012) was deactivated",
		rotation.EventDeleted:     "[keyrotor] Access key " + e.oldKey + " of alice in payments-prod (123456789012) was deleted",
	}
	kinds := []rotation.Event{rotation.EventIssued, rotation.EventReminder, rotation.EventDeactivated, rotation.EventDeleted}
	var deliveries []rotation.Delivery
	for _, kind := range kinds {
		d, err := n.Notify(ctx, e.notice(kind))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		deliveries = append(deliveries, d)
	}
	box := e.sim.Outbox()
	if len(box) != len(kinds) {
		t.Fatalf("outbox has %d messages, want %d", len(box), len(kinds))
	}
	for i, kind := range kinds {
		m, d := box[i], deliveries[i]
		if m.AccountID != mailSecurityAccount || m.Region != "eu-west-1" || m.From != `"KeyRotor" <keyrotor@example.com>` ||
			!slices.Equal(m.To, []string{"alice@corp.example.com"}) || !slices.Equal(m.ReplyTo, []string{"help@example.com"}) ||
			m.ConfigurationSet != "keyrotor" || m.Raw != nil {
			t.Errorf("%s: outbox message = %+v", kind, m)
		}
		if m.Subject != subjects[kind] || d.Subject != m.Subject {
			t.Errorf("%s: subject %q (delivery %q), want %q", kind, m.Subject, d.Subject, subjects[kind])
		}
		if d.MessageID == "" || d.MessageID != m.MessageID || !slices.Equal(d.To, m.To) {
			t.Errorf("%s: delivery %+v does not describe message %s", kind, d, m.MessageID)
		}
		if !strings.Contains(m.Text, e.oldKey) || !strings.Contains(m.HTML, e.oldKey) {
			t.Errorf("%s: message does not name the old key", kind)
		}
	}
	fetch := "aws secretsmanager get-secret-value --secret-id keyrotor/123456789012/alice --region eu-west-1 --query SecretString --output text"
	if !strings.Contains(box[0].Text, fetch) || !strings.Contains(box[0].Text, e.newKey) {
		t.Errorf("issued notice lacks the fetch command or the new key:\n%s", box[0].Text)
	}
}

func TestSESNotifierUnverifiedSender(t *testing.T) {
	cfg := mailConfig()
	e := newMailSimEnv(t, cfg)
	// Verified, but in another region than the one mail is sent from.
	e.sim.VerifyEmailIdentity(mailSecurityAccount, "us-east-1", "example.com")
	n := newMailNotifier(t, e.ses, cfg, nil)
	_, err := n.Notify(context.Background(), e.notice(rotation.EventIssued))
	var rejected *types.MessageRejected
	if !errors.As(err, &rejected) {
		t.Fatalf("err = %v, want MessageRejected", err)
	}
	for _, s := range []string{
		"send issued notice for alice in 123456789012",
		"sender keyrotor@example.com is not a verified identity",
		"verify keyrotor@example.com (or its domain example.com) in SES in eu-west-1",
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("err = %q, want it to say %q", err, s)
		}
	}
	if len(e.sim.Outbox()) != 0 {
		t.Error("a rejected message reached the outbox")
	}
}
