package rotation

import (
	"context"
	"log/slog"
	"time"

	"keyrotor/vocab"
)

// Notice is one lifecycle step of one key, as a Notifier sees it, or a
// notice about the key beyond the steps (held, due soon; OldKeyID is then
// the key it is about). It never carries a secret: only where the secret is
// and how to fetch it.
type Notice struct {
	Kind        Event
	AccountID   string
	AccountName string
	User        string
	UserARN     string
	// UserTags are the user's IAM tags, for recipient resolution.
	UserTags map[string]string
	OldKeyID string
	NewKeyID string
	// SecretName, SecretARN and SecretRegion locate the new key's secret.
	SecretName   string
	SecretARN    string
	SecretRegion string
	// DeactivateOn is when the old key will be deactivated: for issued, if
	// unused by then; for a reminder, if not used again before it.
	DeactivateOn time.Time
	// HardDeadline, on a reminder, is when the old key is deactivated even
	// if still in use (zero when policy.hard_deadline is off).
	HardDeadline time.Time
	// DeleteOn is when the old key will be deleted (deactivated).
	DeleteOn time.Time
	// LastUsed describes the old key's latest use (reminder).
	LastUsed        *time.Time
	LastUsedService string
	LastUsedRegion  string
	// Code, Reason and Fix say, on a held notice, why OldKeyID is held
	// (vocab.Reason, in words with dates) and the command that resolves it
	// ("" when nothing is for a human to run).
	Code   vocab.Reason
	Reason string
	Fix    string
	// HoldUntil, on a held notice, is when the hold clears by itself (zero
	// when it does not).
	HoldUntil time.Time
	// RotateOn, on a due-soon notice, is when OldKeyID becomes due for
	// rotation.
	RotateOn time.Time
	// Time is when the step happened.
	Time time.Time
}

// Delivery describes a message a Notifier sent.
type Delivery struct {
	To      []string
	Subject string
	// Source says where To came from, in words for the report: "tag
	// email", "address_template", "contacts" or "security_team".
	Source string
	// Skipped lists candidate addresses passed over, each with its reason
	// (`tag email: invalid address "bob": not an email address`), so that
	// the report can say what to fix even when the mail went elsewhere.
	Skipped []string
	// MessageID is the ID SES gave the message, for tracing a bounce.
	MessageID string
}

// Notifier tells a key's owner about a lifecycle event. A failed
// notification never undoes a rotation step: the executor records what was
// delivered and retries the rest on the next run.
type Notifier interface {
	Notify(ctx context.Context, e Notice) (Delivery, error)
}

// LogNotifier is the notifier used when mail is off: it logs the event
// (never a secret, which events do not carry) and reports no recipients.
type LogNotifier struct {
	Logger *slog.Logger
}

// Notify implements Notifier.
func (n LogNotifier) Notify(ctx context.Context, e Notice) (Delivery, error) {
	n.Logger.InfoContext(ctx, "notification (mail off)", "event", string(e.Kind), "account", e.AccountID,
		"user", e.User, "old_key", e.OldKeyID, "new_key", e.NewKeyID, "secret", e.SecretName)
	return Delivery{}, nil
}
