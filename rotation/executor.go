package rotation

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"keyrotor/vocab"
)

// IAMWriter is the part of IAM the executor calls; *iam.Client satisfies it.
// ListUserTags is here because a step re-reads the user's tags to detect a
// concurrent run or a changed state.
type IAMWriter interface {
	CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
	TagUser(ctx context.Context, in *iam.TagUserInput, optFns ...func(*iam.Options)) (*iam.TagUserOutput, error)
	UntagUser(ctx context.Context, in *iam.UntagUserInput, optFns ...func(*iam.Options)) (*iam.UntagUserOutput, error)
	ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, optFns ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
	// ListAccessKeys re-reads the user's keys right before a key is
	// deactivated or deleted.
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	// GetAccessKeyLastUsed confirms right before an orphan is deleted
	// that nobody has used it.
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}

// Reasons for a skip decided by the executor; Outcome.Err wraps one of them
// (test with errors.Is).
var (
	// ErrEarlierStepFailed: an earlier action of the same user failed, and
	// the user's later actions may rely on it.
	ErrEarlierStepFailed = errors.New("an earlier step for this user failed")
	// ErrInterrupted: the run's context was cancelled before the action
	// started.
	ErrInterrupted = errors.New("run interrupted")
	// ErrConcurrentChange: the user changed under the executor, most
	// likely because another run works on it; the next run sorts it out.
	ErrConcurrentChange = errors.New("user changed concurrently (another run?)")
	// ErrFiltered: --user or --phase left the action out.
	ErrFiltered = errors.New("filtered out")
)

// Code is the reason code of what became of the action: the executor's
// reason for a skip or a failure, else the planner's.
func (o Outcome) Code() vocab.Reason {
	switch {
	case o.Err == nil:
		return o.Action.Code
	case errors.Is(o.Err, ErrInterrupted):
		return vocab.ReasonInterrupted
	case errors.Is(o.Err, ErrEarlierStepFailed):
		return vocab.ReasonEarlierStepFailed
	case errors.Is(o.Err, ErrConcurrentChange):
		return vocab.ReasonConcurrentChange
	case errors.Is(o.Err, ErrFiltered):
		return vocab.ReasonFiltered
	case o.Result == vocab.ResultFailed:
		return vocab.ReasonStepFailed
	}
	return o.Action.Code
}

// Executor applies the plan of one account. Each user's actions run in
// order; different users run concurrently.
type Executor struct {
	IAM     IAMWriter
	Secrets SecretStore
	// Notifier mails owners after a step; nil means mail is off for the
	// run: notices are logged and not recorded as sent.
	Notifier Notifier
	// Now stamps the steps (state tags, notices); nil means time.Now.
	Now func() time.Time
	// RunID is this run's ID; the plan's issuing intents must carry it.
	RunID                  string
	AccountID, AccountName string
	// SecretRegion is where the users' secrets live, for notices.
	SecretRegion string
	Logger       *slog.Logger
	// Concurrency bounds the users worked on at once (at least 1). IAM
	// throttles per account, so keep it small.
	Concurrency int
}

// Outcome is what became of one action.
type Outcome struct {
	Action Action
	// Result is one of vocab.ResultDone, vocab.ResultFailed, vocab.ResultSkipped, vocab.ResultHeld,
	// or "" for an action that has nothing to do (None, Exempt).
	Result vocab.Result
	// Err says why the action failed or why the executor skipped it, in
	// words fit for the report. It is nil when Result is done or held and
	// for a planned Skip (Action.Reason explains that one).
	Err error
	// NewKeyID is the replacement key created (Issue) or recorded (Adopt,
	// and the replacement named by other actions).
	NewKeyID string
	// SecretName is the secret holding NewKeyID, for Issue and Adopt.
	SecretName string
	// Notified is the mail sent after the action, if any.
	Notified *Delivery
	// NotifyErr is set when the mail failed, or when it was sent but could
	// not be recorded in the state tag (then Notified is set too, and a
	// later run may send it again). It never changes Result.
	NotifyErr error
}

func (e *Executor) now() time.Time {
	if e.Now == nil {
		return time.Now().UTC()
	}
	return e.Now().UTC()
}

func (e *Executor) logger() *slog.Logger { return e.Logger }
