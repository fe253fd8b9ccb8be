package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"keyrotor/rotation"
	"keyrotor/vocab"
)

// SESAPI is the part of SES v2 that SESNotifier calls; the real
// *sesv2.Client satisfies it.
type SESAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
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
	notices, digest, err := checkedTemplates(cfg)
	if err != nil {
		return nil, err
	}
	return &SESNotifier{api: api, cfg: cfg, logger: log, from: from.Address, fromHdr: from.String(),
		notices: notices, digest: digest}, nil
}

// CheckTemplates loads the mail templates of cfg (the built-in ones, and
// those of cfg.TemplatesDir over them) and renders each against sample
// data, as NewSESNotifier does: a run checks them at start-up in every
// mode, so that a template error is found by an audit, not by the first
// rotate --apply after it.
func CheckTemplates(cfg Settings) error {
	_, _, err := checkedTemplates(cfg)
	return err
}

// checkedTemplates loads the templates and renders each against the
// samples.
func checkedTemplates(cfg Settings) (map[rotation.Event]*mailTemplate, *mailTemplate, error) {
	set, err := loadMailTemplates(cfg.TemplatesDir)
	if err != nil {
		return nil, nil, err
	}
	notices := map[rotation.Event]*mailTemplate{}
	for _, e := range noticeEvents {
		t := set[string(e)]
		for _, sample := range sampleNoticeMails(cfg, e) {
			if _, err := t.render(sample); err != nil {
				return nil, nil, err
			}
		}
		notices[e] = t
	}
	digest := set[digestTemplateName]
	for _, d := range sampleDigests() {
		if _, err := digest.render(d); err != nil {
			return nil, nil, err
		}
	}
	return notices, digest, nil
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
	m, err := t.render(noticeMail(n.cfg, e, rec))
	if err != nil {
		return d, fmt.Errorf("render %s: %w", what, err)
	}
	d.Subject = m.Subject
	tags := []types.MessageTag{
		{Name: aws.String("keyrotor_event"), Value: aws.String(string(e.Kind))},
		{Name: aws.String("keyrotor_account"), Value: aws.String(e.AccountID)},
	}
	if e.Kind == rotation.EventHeld {
		// SES event destinations can then count holds by reason.
		tags = append(tags, types.MessageTag{Name: aws.String("keyrotor_reason"), Value: aws.String(string(e.Code))})
	}
	in := n.input(rec.To, tags)
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
	case rotation.EventHeld:
		if !vocab.KnownReason(e.Code) || e.Reason == "" {
			return fmt.Errorf("the held notice names no known reason (code %q)", e.Code)
		}
	case rotation.EventDueSoon:
		if e.RotateOn.IsZero() {
			return errors.New("the due-soon notice names no date the key becomes due")
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
