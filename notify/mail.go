package notify

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	htemplate "html/template"
	"io/fs"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	ttemplate "text/template"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"keyrotor/rotation"
)

// SESAPI is the part of SES v2 that SESNotifier calls; the real
// *sesv2.Client satisfies it.
type SESAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// builtinTemplates are the mail templates compiled into the binary. Each
// mail has NAME.subject (text/template, one line), NAME.txt (text/template)
// and NAME.html (html/template); footer.txt and footer.html are shared by
// the four notices as {{template "footer" .}}. notifications.templates_dir
// overrides any of these files one by one.
//
//go:embed mailtemplates/*.subject mailtemplates/*.txt mailtemplates/*.html
var builtinTemplates embed.FS

const builtinTemplateDir = "mailtemplates"

// Template file suffixes.
const (
	extSubject = ".subject"
	extText    = ".txt"
	extHTML    = ".html"
)

// digestTemplateName and footerTemplateName name the template files that
// are not a notice event.
const (
	digestTemplateName = "digest"
	footerTemplateName = "footer"
)

// noticeEvents are the events with a notice template, in a fixed order for
// loading and error messages.
var noticeEvents = []rotation.Event{rotation.EventIssued, rotation.EventReminder, rotation.EventDeactivated, rotation.EventDeleted}

// mailFuncs are the functions every template may call. Dates are printed
// in UTC with the zone spelled out, since owners read mail in every time
// zone.
var mailFuncs = map[string]any{
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"join": strings.Join,
}

// NoticeMail is what the notice templates (issued, reminder, deactivated,
// deleted) are executed with: the Notice's fields, promoted, and values
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
}

// SESNotifier mails owner notices and the run digest through SES v2. Build
// it with NewSESNotifier, which checks every template before the first
// rotation step, so that a template error stops a run before it changes
// anything rather than leaving keys rotated with no mail sent.
type SESNotifier struct {
	// Now is the clock for the Date header of raw (digest) messages; nil
	// means time.Now.
	Now func() time.Time
	// logger records each message sent (recipients, subject, message ID).
	logger *slog.Logger

	api     SESAPI
	cfg     Settings
	from    string // the bare sender address, for error messages
	fromHdr string // the sender as a header value, display name MIME-encoded
	notices map[rotation.Event]*mailTemplate
	digest  *mailTemplate
}

var _ rotation.Notifier = (*SESNotifier)(nil)

// NewSESNotifier returns a notifier sending from cfg.Sender through api.
// It loads the built-in templates, replaces those present in
// cfg.TemplatesDir, and renders each against sample data, so that a syntax
// error or a reference to a field that does not exist is reported now.
func NewSESNotifier(api SESAPI, cfg Settings, log *slog.Logger) (*SESNotifier, error) {
	if api == nil || log == nil {
		return nil, errors.New("new SES notifier: no SES client or no logger")
	}
	if cfg.Sender == "" {
		return nil, errors.New("new SES notifier: notifications.sender is empty")
	}
	from, err := mail.ParseAddress(cfg.Sender)
	if err != nil {
		return nil, fmt.Errorf("new SES notifier: notifications.sender %q is not an email address: %w", cfg.Sender, err)
	}
	for _, a := range cfg.ReplyTo {
		if _, err := ValidAddress(a); err != nil {
			return nil, fmt.Errorf("new SES notifier: notifications.reply_to: %w", err)
		}
	}
	set, err := loadMailTemplates(cfg.TemplatesDir)
	if err != nil {
		return nil, err
	}
	n := &SESNotifier{api: api, cfg: cfg, logger: log, from: from.Address, fromHdr: from.String(),
		notices: map[rotation.Event]*mailTemplate{}}
	for _, e := range noticeEvents {
		t := set[string(e)]
		for _, sample := range n.sampleNoticeMails(e) {
			if _, err := t.render(sample); err != nil {
				return nil, err
			}
		}
		n.notices[e] = t
	}
	n.digest = set[digestTemplateName]
	for _, d := range sampleDigests() {
		if _, err := n.digest.render(d); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Notify implements rotation.Notifier: it resolves the recipients of e, renders the
// event's templates and sends one message. On error the rotation.Delivery holds what
// is known (the addresses skipped, and the recipients and subject when the
// send itself failed); nothing was delivered.
func (n *SESNotifier) Notify(ctx context.Context, e rotation.Notice) (rotation.Delivery, error) {
	what := fmt.Sprintf("%s notice for %s in %s", e.Kind, e.User, e.AccountID)
	t := n.notices[e.Kind]
	if t == nil {
		return rotation.Delivery{}, fmt.Errorf("send %s: unknown event %q", what, e.Kind)
	}
	if err := checkNotice(e); err != nil {
		return rotation.Delivery{}, fmt.Errorf("send %s: %w", what, err)
	}
	var contacts []string
	if n.cfg.Contacts != nil {
		contacts = n.cfg.Contacts(e.AccountID)
	}
	rec, err := ResolveRecipients(n.cfg, e, contacts)
	d := rotation.Delivery{Skipped: rec.Skipped}
	if err != nil {
		return d, err
	}
	d.To, d.Source = rec.To, rec.Describe()
	m, err := t.render(n.noticeMail(e, rec))
	if err != nil {
		return d, fmt.Errorf("render %s: %w", what, err)
	}
	d.Subject = m.Subject
	in := n.input(rec.To, []types.MessageTag{
		{Name: aws.String("keyrotor_event"), Value: aws.String(string(e.Kind))},
		{Name: aws.String("keyrotor_account"), Value: aws.String(e.AccountID)},
	})
	in.Content = simpleContent(m)
	out, err := n.api.SendEmail(ctx, in)
	if err != nil {
		return d, n.sendError("send "+what, err)
	}
	d.MessageID = aws.ToString(out.MessageId)
	n.logger.InfoContext(ctx, "mail sent", "event", string(e.Kind), "account", e.AccountID, "user", e.User,
		"to", strings.Join(d.To, ","), "source", d.Source, "message_id", d.MessageID)
	return d, nil
}

// checkNotice refuses a notice that could not tell its owner what to do:
// an issued or reminder mail without the new key and its secret's location
// would only alarm.
func checkNotice(e rotation.Notice) error {
	switch e.Kind {
	case rotation.EventIssued, rotation.EventReminder:
		if e.NewKeyID == "" {
			return errors.New("the notice names no new key")
		}
		if e.SecretName == "" && e.SecretARN == "" {
			return errors.New("the notice names no secret holding the new key")
		}
	}
	if e.OldKeyID == "" {
		return errors.New("the notice names no key")
	}
	return nil
}

func (n *SESNotifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// input is a SendEmailInput with the sender, recipients and the settings of
// notifications applied; the caller sets Content.
func (n *SESNotifier) input(to []string, tags []types.MessageTag) *sesv2.SendEmailInput {
	in := &sesv2.SendEmailInput{
		// SES wants a non-ASCII display name as a MIME encoded-word.
		FromEmailAddress: aws.String(n.fromHdr),
		Destination:      &types.Destination{ToAddresses: to},
		ReplyToAddresses: n.cfg.ReplyTo,
		EmailTags:        tags,
	}
	if n.cfg.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(n.cfg.ConfigurationSet)
	}
	return in
}

func simpleContent(m renderedMail) *types.EmailContent {
	utf8 := func(s string) *types.Content {
		return &types.Content{Data: aws.String(s), Charset: aws.String("UTF-8")}
	}
	return &types.EmailContent{Simple: &types.Message{
		Subject: utf8(m.Subject),
		Body:    &types.Body{Text: utf8(m.Text), Html: utf8(m.HTML)},
	}}
}

// sendError wraps a SendEmail error with what was being sent and, for the
// errors an operator can fix, how.
func (n *SESNotifier) sendError(what string, err error) error {
	region := n.cfg.Region
	if region == "" {
		region = "the SES region"
	}
	var (
		rejected  *types.MessageRejected
		mailFrom  *types.MailFromDomainNotVerifiedException
		notFound  *types.NotFoundException
		paused    *types.SendingPausedException
		suspended *types.AccountSuspendedException
	)
	switch {
	case errors.As(err, &rejected):
		_, domain, _ := strings.Cut(n.from, "@")
		return fmt.Errorf("%s: SES rejected the message, most likely because the sender %s is not a verified identity: "+
			"verify %s (or its domain %s) in SES in %s; while the SES account is in the sandbox, verify the recipients too or request production access: %w",
			what, n.from, n.from, domain, region, err)
	case errors.As(err, &mailFrom):
		return fmt.Errorf("%s: the custom MAIL FROM domain of %s is not verified in SES in %s: %w", what, n.from, region, err)
	case errors.As(err, &notFound) && n.cfg.ConfigurationSet != "":
		return fmt.Errorf("%s: SES found no configuration set %q in %s (notifications.configuration_set): %w",
			what, n.cfg.ConfigurationSet, region, err)
	case errors.As(err, &paused):
		return fmt.Errorf("%s: sending is paused for the SES account or configuration set in %s: %w", what, region, err)
	case errors.As(err, &suspended):
		return fmt.Errorf("%s: the SES account in %s is suspended: %w", what, region, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// noticeMail is the template data for notice e sent to rec.
func (n *SESNotifier) noticeMail(e rotation.Notice, rec Recipients) NoticeMail {
	m := NoticeMail{
		Notice:       e,
		Account:      e.AccountID,
		To:           rec.To,
		Source:       rec.Describe(),
		Skipped:      rec.Skipped,
		SecurityTeam: n.cfg.SecurityTeam,
		ReactivateCommand: "keyrotor reactivate --account " + shellQuote(e.AccountID) +
			" --user " + shellQuote(e.User) + " --key " + shellQuote(e.OldKeyID),
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

// ---- templates ----

// mailTemplate is one mail's three templates.
type mailTemplate struct {
	name    string
	subject *ttemplate.Template
	text    *ttemplate.Template
	html    *htemplate.Template
}

// renderedMail is one message's subject and bodies.
type renderedMail struct {
	Subject, Text, HTML string
}

// render executes the three templates with data. A subject is trimmed and
// must be one non-empty line: a line break would end the header.
func (t *mailTemplate) render(data any) (renderedMail, error) {
	var m renderedMail
	var b bytes.Buffer
	if err := t.subject.Execute(&b, data); err != nil {
		return m, fmt.Errorf("mail template %s: %w", t.name+extSubject, err)
	}
	m.Subject = strings.TrimSpace(b.String())
	if m.Subject == "" {
		return m, fmt.Errorf("mail template %s: renders an empty subject", t.name+extSubject)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return m, fmt.Errorf("mail template %s: renders a subject of several lines; a subject is one line", t.name+extSubject)
	}
	b.Reset()
	if err := t.text.Execute(&b, data); err != nil {
		return m, fmt.Errorf("mail template %s: %w", t.name+extText, err)
	}
	// Template files end in newlines of their own; one is enough.
	m.Text = strings.TrimRight(b.String(), " \t\r\n") + "\n"
	b.Reset()
	if err := t.html.Execute(&b, data); err != nil {
		return m, fmt.Errorf("mail template %s: %w", t.name+extHTML, err)
	}
	m.HTML = b.String()
	if strings.TrimSpace(m.Text) == "" || strings.TrimSpace(m.HTML) == "" {
		return m, fmt.Errorf("mail template %s: renders an empty body", t.name)
	}
	return m, nil
}

// templateSource reads template files, from dir when it holds the file and
// from the built-in set otherwise.
type templateSource struct {
	dir   string
	files map[string]bool // base names present in dir
}

func (s templateSource) read(file string) (text, origin string, err error) {
	if s.files[file] {
		p := filepath.Join(s.dir, file)
		b, err := os.ReadFile(p)
		if err != nil {
			return "", "", fmt.Errorf("read mail template: %w", err)
		}
		return string(b), p, nil
	}
	b, err := builtinTemplates.ReadFile(builtinTemplateDir + "/" + file)
	if err != nil {
		return "", "", fmt.Errorf("read built-in mail template %s: %w", file, err)
	}
	return string(b), "built-in " + file, nil
}

// templateFiles lists every template file name keyrotor reads.
func templateFiles() []string {
	var out []string
	names := []string{digestTemplateName, footerTemplateName}
	for _, e := range noticeEvents {
		names = append(names, string(e))
	}
	for _, n := range names {
		for _, ext := range []string{extSubject, extText, extHTML} {
			if n == footerTemplateName && ext == extSubject {
				continue
			}
			out = append(out, n+ext)
		}
	}
	slices.Sort(out)
	return out
}

// loadMailTemplates parses the templates, each file from dir when present
// there. A file in dir with a template suffix but an unknown name is an
// error, since a misspelt override would otherwise be ignored silently.
func loadMailTemplates(dir string) (map[string]*mailTemplate, error) {
	src := templateSource{dir: dir, files: map[string]bool{}}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read notifications.templates_dir: %w", err)
		}
		known := templateFiles()
		for _, en := range entries {
			name := en.Name()
			ext := filepath.Ext(name)
			if ext != extSubject && ext != extText && ext != extHTML {
				continue
			}
			if !slices.Contains(known, name) {
				return nil, fmt.Errorf("notifications.templates_dir %s: unknown mail template %s (known: %s)",
					dir, name, strings.Join(known, ", "))
			}
			if !en.Type().IsRegular() && en.Type()&fs.ModeSymlink == 0 {
				return nil, fmt.Errorf("notifications.templates_dir %s: %s is not a regular file", dir, name)
			}
			src.files[name] = true
		}
	}
	set := map[string]*mailTemplate{}
	for _, e := range noticeEvents {
		t, err := parseMailTemplate(src, string(e), true)
		if err != nil {
			return nil, err
		}
		set[string(e)] = t
	}
	t, err := parseMailTemplate(src, digestTemplateName, false)
	if err != nil {
		return nil, err
	}
	set[digestTemplateName] = t
	return set, nil
}

// parseMailTemplate parses one mail's subject, text and HTML templates,
// with the shared footer partials when footer is set.
func parseMailTemplate(src templateSource, name string, footer bool) (*mailTemplate, error) {
	parseText := func(file string, partials ...string) (*ttemplate.Template, error) {
		text, origin, err := src.read(file)
		if err != nil {
			return nil, err
		}
		t, err := ttemplate.New(file).Option("missingkey=error").Funcs(ttemplate.FuncMap(mailFuncs)).Parse(text)
		if err != nil {
			return nil, fmt.Errorf("parse mail template %s: %w", origin, err)
		}
		for _, p := range partials {
			ptext, porigin, err := src.read(p)
			if err != nil {
				return nil, err
			}
			if _, err := t.New(footerTemplateName).Parse(ptext); err != nil {
				return nil, fmt.Errorf("parse mail template %s: %w", porigin, err)
			}
		}
		return t, nil
	}
	mt := &mailTemplate{name: name}
	var err error
	if mt.subject, err = parseText(name + extSubject); err != nil {
		return nil, err
	}
	var partials []string
	if footer {
		partials = []string{footerTemplateName + extText}
	}
	if mt.text, err = parseText(name+extText, partials...); err != nil {
		return nil, err
	}

	file := name + extHTML
	text, origin, err := src.read(file)
	if err != nil {
		return nil, err
	}
	h, err := htemplate.New(file).Option("missingkey=error").Funcs(htemplate.FuncMap(mailFuncs)).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse mail template %s: %w", origin, err)
	}
	if footer {
		ptext, porigin, err := src.read(footerTemplateName + extHTML)
		if err != nil {
			return nil, err
		}
		if _, err := h.New(footerTemplateName).Parse(ptext); err != nil {
			return nil, fmt.Errorf("parse mail template %s: %w", porigin, err)
		}
	}
	mt.html = h
	return mt, nil
}

// ---- samples for startup validation ----

// sampleNoticeMails returns the data of two notices of kind e: one with
// every field set, and one with every optional field empty and the
// security-team fallback, so that both sides of each {{if}} in a template
// run once.
func (n *SESNotifier) sampleNoticeMails(e rotation.Event) []NoticeMail {
	at := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	used := at.Add(-2 * time.Hour)
	full := rotation.Notice{
		Kind: e, AccountID: "123456789012", AccountName: "sample-account",
		User: "alice", UserARN: "arn:aws:iam::123456789012:user/alice",
		UserTags: map[string]string{"email": "alice@example.com"},
		OldKeyID: "AKIAOLDSAMPLE0000001", NewKeyID: "AKIANEWSAMPLE0000002",
		SecretName:   "keyrotor/123456789012/alice",
		SecretARN:    "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyrotor/123456789012/alice-AbCdEf",
		SecretRegion: "us-east-1", DeactivateOn: at.Add(7 * 24 * time.Hour), HardDeadline: at.Add(30 * 24 * time.Hour), DeleteOn: at.Add(14 * 24 * time.Hour),
		LastUsed: &used, LastUsedService: "s3", LastUsedRegion: "eu-west-1", Time: at,
	}
	minimal := rotation.Notice{
		Kind: e, AccountID: "123456789012", User: "alice", OldKeyID: "AKIAOLDSAMPLE0000001",
		NewKeyID: "AKIANEWSAMPLE0000002", SecretName: "keyrotor/123456789012/alice", Time: at,
	}
	if e == rotation.EventDeleted {
		minimal.NewKeyID, minimal.SecretName = "", ""
	}
	fm := n.noticeMail(full, Recipients{To: []string{"alice@example.com"}, Source: SourceTag, Tag: "email"})
	if len(fm.SecurityTeam) == 0 {
		fm.SecurityTeam = []string{"security@example.com"}
	}
	mm := n.noticeMail(minimal, Recipients{
		To: []string{"security@example.com"}, Source: SourceSecurityTeam,
		Skipped: []string{`tag email: invalid address "alice": not an email address`},
	})
	mm.SecurityTeam = nil
	return []NoticeMail{fm, mm}
}
