package rotation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"keyrotor/internal/awsclient"
	"keyrotor/vocab"
	"log/slog"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"golang.org/x/sync/errgroup"
)

// IAMWriter is the part of IAM the executor calls; *iam.Client satisfies it.
// ListUserTags is here because an issue re-reads the user's tags to detect a
// concurrent run.
type IAMWriter interface {
	CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
	TagUser(ctx context.Context, in *iam.TagUserInput, optFns ...func(*iam.Options)) (*iam.TagUserOutput, error)
	UntagUser(ctx context.Context, in *iam.UntagUserInput, optFns ...func(*iam.Options)) (*iam.UntagUserOutput, error)
	ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, optFns ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
	// ListAccessKeys re-reads a key's status right before it is deleted.
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
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

// Apply executes actions, which must come from Plan on inv with e.RunID, and
// returns one outcome per action, in the same order.
//
// A user's actions run in plan order; after one fails, the user's remaining
// actions are skipped. Once ctx is cancelled, actions not yet started are
// skipped; an action that started finishes (its calls run without the
// cancellation), so no step is left half done by Ctrl-C.
func (e *Executor) Apply(ctx context.Context, inv Inventory, actions []Action) []Outcome {
	out := make([]Outcome, len(actions))
	users := make(map[string]User, len(inv.Users))
	for _, u := range inv.Users {
		users[u.Name] = u
	}
	var order []string
	byUser := map[string][]int{}
	for i, a := range actions {
		if _, ok := byUser[a.User]; !ok {
			order = append(order, a.User)
		}
		byUser[a.User] = append(byUser[a.User], i)
	}
	g := new(errgroup.Group)
	g.SetLimit(max(1, e.Concurrency))
	for _, name := range order {
		u, ok := users[name]
		if !ok {
			u = User{Name: name}
		}
		idx := byUser[name]
		g.Go(func() error {
			r := &userRun{e: e, u: u, notified: map[string]Events{}}
			r.run(ctx, actions, idx, out)
			return nil
		})
	}
	_ = g.Wait()
	return out
}

func (e *Executor) now() time.Time {
	if e.Now == nil {
		return time.Now().UTC()
	}
	return e.Now().UTC()
}

func (e *Executor) logger() *slog.Logger { return e.Logger }

// userRun executes one user's actions, one at a time.
type userRun struct {
	e *Executor
	u User
	// notified holds, per old key, the events this run mailed and recorded,
	// so a later action on the same key (a Hold after an Adopt) does not
	// write them out of the tag again.
	notified map[string]Events
}

func (r *userRun) run(ctx context.Context, actions []Action, idx []int, out []Outcome) {
	var stop error
	for _, i := range idx {
		a := actions[i]
		if stop == nil && ctx.Err() != nil {
			stop = ErrInterrupted
		}
		if stop != nil {
			out[i] = Outcome{Action: a, Result: vocab.ResultSkipped, Err: stop, NewKeyID: a.NewKeyID}
			r.log(ctx, out[i])
			continue
		}
		// Once started, a step completes even if the run is interrupted:
		// stopping between CreateAccessKey and storing the secret would
		// leave a key nobody holds.
		out[i] = r.apply(context.WithoutCancel(ctx), a)
		r.log(ctx, out[i])
		if out[i].Result == vocab.ResultFailed {
			stop = fmt.Errorf("%w (%s of %s)", ErrEarlierStepFailed, a.Kind, a.KeyID)
		}
	}
}

func (r *userRun) log(ctx context.Context, o Outcome) {
	a := o.Action
	level := slog.LevelInfo
	switch {
	case o.Result == vocab.ResultFailed:
		level = slog.LevelWarn
	case !a.Kind.Mutates() && o.Notified == nil && o.NotifyErr == nil:
		level = slog.LevelDebug // nothing was called
	}
	attrs := []any{"account", r.e.AccountID, "user", a.User, "action", string(a.Kind), "key", a.KeyID,
		"new_key", cmp.Or(o.NewKeyID, a.NewKeyID), "result", o.Result}
	if o.Err != nil {
		attrs = append(attrs, "err", o.Err.Error())
	}
	if o.Notified != nil {
		attrs = append(attrs, "notified", string(a.Notify))
	}
	if o.NotifyErr != nil {
		attrs = append(attrs, "notify_err", o.NotifyErr.Error())
	}
	r.e.logger().Log(ctx, level, "rotation step", attrs...)
}

func (r *userRun) apply(ctx context.Context, a Action) Outcome {
	switch a.Kind {
	case ActionIssue:
		return r.issue(ctx, a)
	case ActionAdopt:
		return r.adopt(ctx, a)
	case ActionDeactivate:
		return r.deactivate(ctx, a)
	case ActionDelete:
		return r.delete(ctx, a)
	case ActionCleanup:
		return r.cleanup(ctx, a)
	case ActionForget:
		return r.forget(ctx, a)
	case ActionHold:
		return r.passive(ctx, a, vocab.ResultHeld)
	case ActionNone:
		return r.passive(ctx, a, "")
	case ActionSkip:
		return Outcome{Action: a, Result: vocab.ResultSkipped, NewKeyID: a.NewKeyID}
	case ActionExempt:
		return Outcome{Action: a}
	}
	return Outcome{Action: a, Result: vocab.ResultFailed, Err: fmt.Errorf("unknown action %q", a.Kind)}
}

// passive handles actions that change nothing but may owe a mail: a Hold's
// reminder, or a None's mail that an earlier run failed to send.
func (r *userRun) passive(ctx context.Context, a Action, result vocab.Result) Outcome {
	o := Outcome{Action: a, Result: result, NewKeyID: a.NewKeyID}
	if a.Notify != "" {
		r.notify(ctx, a, a.Next, "", true, &o)
	}
	return o
}

func failed(o Outcome, err error) Outcome {
	o.Result, o.Err = vocab.ResultFailed, err
	return o
}

func skipped(o Outcome, err error) Outcome {
	o.Result, o.Err = vocab.ResultSkipped, err
	return o
}

// issue creates a replacement key for a.KeyID and stores it, following the
// ActionIssue contract. Before CreateAccessKey it records the intent and
// checks that no other run is at the same user; after it, every failure
// leaves either a key whose secret is stored (recovered by Adopt) or no new
// key at all (the new key is deleted again), never a key nobody holds, as
// long as IAM answers.
func (r *userRun) issue(ctx context.Context, a Action) Outcome {
	e, u := r.e, r.u
	o := Outcome{Action: a, SecretName: u.SecretName}
	what := fmt.Sprintf("issue a replacement for %s of %s", a.KeyID, u.Name)
	intent := a.Next
	switch {
	case intent.Phase != PhaseIssuing:
		return failed(o, fmt.Errorf("%s: the plan's next state is %q, not an issuing intent", what, intent.Phase))
	case e.RunID != "" && intent.RunID != e.RunID:
		return failed(o, fmt.Errorf("%s: the plan was made for run %s, this is run %s", what, intent.RunID, e.RunID))
	case u.SecretName == "":
		return failed(o, fmt.Errorf("%s: no secret name for the user", what))
	case e.Secrets.UserReadPolicy && u.ARN == "":
		return failed(o, fmt.Errorf("%s: the user's ARN is unknown, so its secret's read policy cannot name it", what))
	}
	// The intent's time starts the lease and the orphan window, so it is
	// the time it is written, not when the plan was made: in a large or
	// throttled account the two can be far apart.
	intent.At = stamp(e.now())
	intentValue, err := r.encode(a.KeyID, intent)
	if err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}

	// The inventory may be minutes old: if another run moved the key on in
	// the meantime, writing the intent would overwrite its state.
	cur, present, err := r.readStateTag(ctx, a.KeyID)
	if err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}
	if !sameState(cur, present, a.State) {
		return skipped(o, fmt.Errorf("%w: the state tag %s changed since the inventory (now %s)",
			ErrConcurrentChange, TagKey(a.KeyID), describeTag(cur, present)))
	}
	if err := r.tag(ctx, a.KeyID, intentValue); err != nil {
		return failed(o, fmt.Errorf("%s: record the intent: %w", what, err))
	}
	// Two runs that wrote their intents at once both read back the
	// winner's; the loser leaves the key to it.
	cur, present, err = r.readStateTag(ctx, a.KeyID)
	if err != nil {
		return failed(o, fmt.Errorf("%s: read back the intent: %w", what, err))
	}
	if !present || cur != intentValue {
		if st, perr := ParseState(cur); present && perr == nil && st.Phase == PhaseIssuing && st.RunID != intent.RunID {
			return skipped(o, fmt.Errorf("%w: run %s recorded its own rotation intent for %s at %s",
				ErrConcurrentChange, st.RunID, a.KeyID, st.At.UTC().Format(time.RFC3339)))
		}
		return skipped(o, fmt.Errorf("%w: the state tag %s is %s right after this run wrote its intent",
			ErrConcurrentChange, TagKey(a.KeyID), describeTag(cur, present)))
	}

	// CreateAccessKey is not idempotent: a retry after a dropped
	// connection would create a second key, and the LimitExceeded that
	// follows would look like another run's doing. So only throttling,
	// which AWS rejected before acting, is retried here.
	created, err := e.IAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.Name)},
		func(o *iam.Options) { o.Retryer = awsclient.ThrottleOnlyRetryer() })
	var limit *types.LimitExceededException
	if errors.As(err, &limit) {
		// The plan counted a free slot; someone took it since: another run
		// (CreateAccessKey is never retried after a dropped connection, so
		// it is not this run's own key). The intent stays: taking it back
		// could race with the winning run's "issued" write and erase it.
		// The next run adopts the winner's key through the secret.
		return skipped(o, fmt.Errorf("%w: CreateAccessKey for %s hit the two-key limit; the old key %s is untouched",
			ErrConcurrentChange, u.Name, a.KeyID))
	}
	if err != nil {
		return failed(o, fmt.Errorf("%s: create access key: %w (the old key is untouched; a later run retries)", what, err))
	}
	if created.AccessKey == nil || aws.ToString(created.AccessKey.AccessKeyId) == "" {
		return failed(o, fmt.Errorf("%s: create access key: the response has no access key", what))
	}
	newKey := aws.ToString(created.AccessKey.AccessKeyId)
	e.logger().InfoContext(ctx, "created replacement key", "account", e.AccountID, "user", u.Name,
		"key", a.KeyID, "new_key", newKey, "secret", u.SecretName)

	value := SecretValue{
		AccessKeyID: newKey, SecretAccessKey: aws.ToString(created.AccessKey.SecretAccessKey),
		UserName: u.Name, UserARN: u.ARN, AccountID: cmp.Or(e.AccountID, a.AccountID),
		CreateDate: aws.ToTime(created.AccessKey.CreateDate), Replaces: a.KeyID,
	}
	if value.CreateDate.IsZero() {
		value.CreateDate = e.now()
	}
	stored, err := e.Secrets.Store(ctx, u.SecretName, value)
	value = SecretValue{} // the secret is not needed past this point
	if err != nil {
		storeErr := fmt.Errorf("%s: store the new key %s in secret %s: %w", what, newKey, u.SecretName, err)
		_, delErr := e.IAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(u.Name), AccessKeyId: aws.String(newKey)})
		if delErr != nil {
			o.NewKeyID = newKey
			return failed(o, fmt.Errorf("%w; deleting the new key %s failed too: %w (the next run deletes it); the old key %s is untouched",
				storeErr, newKey, delErr, a.KeyID))
		}
		return failed(o, fmt.Errorf("%w; the new key %s was deleted again and the old key %s is untouched",
			storeErr, newKey, a.KeyID))
	}
	o.NewKeyID = newKey

	t := e.now()
	issued := intent.WithIssued(newKey, t)
	if err := r.writeState(ctx, a.KeyID, issued); err != nil {
		return failed(o, fmt.Errorf("%s: record that %s replaces it: %w (the new key and its secret %s are in place; the next run adopts them)",
			what, newKey, err, u.SecretName))
	}
	o.Result = vocab.ResultDone
	if a.Notify != "" {
		r.notify(ctx, a, issued, stored.ARN, true, &o)
	}
	return o
}

// adopt records the replacement an interrupted issue left behind.
func (r *userRun) adopt(ctx context.Context, a Action) Outcome {
	o := Outcome{Action: a, NewKeyID: a.NewKeyID, SecretName: r.u.SecretName}
	if a.Next.Phase != PhaseIssued || a.Next.NewKeyID == "" {
		return failed(o, fmt.Errorf("adopt %s as the replacement of %s: the plan's next state is %q", a.NewKeyID, a.KeyID, a.Next.Phase))
	}
	if err := r.writeState(ctx, a.KeyID, a.Next); err != nil {
		return failed(o, fmt.Errorf("adopt %s as the replacement of %s: %w", a.NewKeyID, a.KeyID, err))
	}
	o.Result = vocab.ResultDone
	if a.Notify != "" {
		r.notify(ctx, a, a.Next, "", true, &o)
	}
	return o
}

// deactivate turns the old key off and records when.
func (r *userRun) deactivate(ctx context.Context, a Action) Outcome {
	u := r.u
	o := Outcome{Action: a, NewKeyID: a.NewKeyID}
	what := fmt.Sprintf("deactivate %s of %s", a.KeyID, u.Name)
	// The planner guarantees this; a second look costs nothing and guards
	// the invariant that matters most: never leave a user without a key.
	if repl, ok := u.Key(a.NewKeyID); !ok || a.NewKeyID == a.KeyID || !repl.Active() {
		return failed(o, fmt.Errorf("%s: refusing, the replacement %q is not another active key of the user", what, a.NewKeyID))
	}
	if a.Next.Phase != PhaseDeactivated {
		return failed(o, fmt.Errorf("%s: the plan's next state is %q", what, a.Next.Phase))
	}
	_, err := r.e.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(u.Name), AccessKeyId: aws.String(a.KeyID), Status: types.StatusTypeInactive,
	})
	if err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}
	if err := r.writeState(ctx, a.KeyID, a.Next); err != nil {
		return failed(o, fmt.Errorf("%s: the key is inactive but recording it failed: %w (the next run records it)", what, err))
	}
	o.Result = vocab.ResultDone
	if a.Notify != "" {
		r.notify(ctx, a, a.Next, "", true, &o)
	}
	return o
}

// delete removes an inactive key and, if keyrotor tracked it, its state.
func (r *userRun) delete(ctx context.Context, a Action) Outcome {
	u := r.u
	o := Outcome{Action: a, NewKeyID: a.NewKeyID}
	what := fmt.Sprintf("delete %s of %s", a.KeyID, u.Name)
	if k, ok := u.Key(a.KeyID); ok && k.Active() {
		return failed(o, fmt.Errorf("%s: refusing, the key is active", what))
	}
	// The inventory may be minutes old, and IAM deletes active keys too:
	// someone may have reactivated the key since (keyrotor reactivate, or
	// by hand). Look again right before deleting.
	status, err := r.keyStatus(ctx, a.KeyID)
	if err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}
	if status == vocab.KeyActive {
		return skipped(o, fmt.Errorf("%w: %s of %s is Active again; not deleting it", ErrConcurrentChange, a.KeyID, u.Name))
	}
	if a.State.Phase != "" {
		cur, present, err := r.readStateTag(ctx, a.KeyID)
		if err != nil {
			return failed(o, fmt.Errorf("%s: %w", what, err))
		}
		if !sameState(cur, present, a.State) {
			return skipped(o, fmt.Errorf("%w: the state tag %s changed since the inventory (now %s); not deleting",
				ErrConcurrentChange, TagKey(a.KeyID), describeTag(cur, present)))
		}
	}
	if err := r.deleteKey(ctx, a.KeyID); err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}
	if a.State.Phase != "" {
		if err := r.untag(ctx, a.KeyID); err != nil {
			return failed(o, fmt.Errorf("%s: the key is deleted but removing its state tag failed: %w (the next run removes it)", what, err))
		}
	}
	o.Result = vocab.ResultDone
	if a.Notify != "" {
		// The state tag is gone, so there is nowhere to record this mail.
		r.notify(ctx, a, a.State, "", false, &o)
	}
	return o
}

// cleanup deletes a key an interrupted issue created but never stored.
func (r *userRun) cleanup(ctx context.Context, a Action) Outcome {
	o := Outcome{Action: a}
	if err := r.deleteKey(ctx, a.KeyID); err != nil {
		return failed(o, fmt.Errorf("delete orphan key %s of %s: %w", a.KeyID, r.u.Name, err))
	}
	o.Result = vocab.ResultDone
	return o
}

// forget removes the state tag of a key that is gone or whose intent cannot
// complete.
func (r *userRun) forget(ctx context.Context, a Action) Outcome {
	o := Outcome{Action: a}
	if err := r.untag(ctx, a.KeyID); err != nil {
		return failed(o, fmt.Errorf("remove state tag %s of %s: %w", TagKey(a.KeyID), r.u.Name, err))
	}
	o.Result = vocab.ResultDone
	return o
}

// notify mails a.Notify about a step whose resulting state is post, and,
// when record is set, records the mail in the key's state tag so no later
// run sends it again. Failures go to o.NotifyErr only.
func (r *userRun) notify(ctx context.Context, a Action, post State, secretARN string, record bool, o *Outcome) {
	e, u := r.e, r.u
	t := e.now()
	n := Notice{
		Kind: a.Notify, AccountID: cmp.Or(e.AccountID, a.AccountID), AccountName: e.AccountName,
		User: u.Name, UserARN: u.ARN, UserTags: maps.Clone(u.Tags),
		OldKeyID: a.KeyID, NewKeyID: cmp.Or(o.NewKeyID, post.NewKeyID, a.NewKeyID),
		SecretName: u.SecretName, SecretARN: secretARN, SecretRegion: e.SecretRegion,
		Time: t,
	}
	switch a.Notify {
	case EventIssued:
		n.DeactivateOn = post.Since().Add(a.Grace)
	case EventReminder:
		// A hard deadline, if any, is the planner's Due.
		n.DeactivateOn, n.HardDeadline = a.NextOn, a.Due
	case EventDeactivated:
		n.DeleteOn = post.Deactivated.Add(a.Grace)
	}
	if k, ok := u.Key(a.KeyID); ok && k.LastUsed != nil {
		lu := *k.LastUsed
		n.LastUsed, n.LastUsedService, n.LastUsedRegion = &lu, k.LastUsedService, k.LastUsedRegion
	}
	if e.Notifier == nil {
		// Mail is off for this run: log the notice but record nothing, so
		// the first run with mail on still tells the owner.
		_, _ = LogNotifier{Logger: e.logger()}.Notify(ctx, n)
		return
	}
	d, err := e.Notifier.Notify(ctx, n)
	if err != nil {
		o.NotifyErr = fmt.Errorf("mail %s notice for %s of %s: %w (a later run retries)", a.Notify, a.KeyID, u.Name, err)
		return
	}
	o.Notified = &d
	if !record {
		return
	}
	if err := r.writeState(ctx, a.KeyID, post.WithNotified(a.Notify, t)); err != nil {
		o.NotifyErr = fmt.Errorf("record the %s notice in %s: %w (a later run may mail it again)", a.Notify, TagKey(a.KeyID), err)
		return
	}
	r.notified[a.KeyID] = r.notified[a.KeyID].With(a.Notify)
}

// encode returns the tag value for st, with the mails this run already
// recorded for the key kept in it.
func (r *userRun) encode(keyID string, st State) (string, error) {
	st.Notified |= r.notified[keyID]
	v, err := st.Encode()
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", keyID, err)
	}
	return v, nil
}

func (r *userRun) writeState(ctx context.Context, keyID string, st State) error {
	v, err := r.encode(keyID, st)
	if err != nil {
		return err
	}
	return r.tag(ctx, keyID, v)
}

func (r *userRun) tag(ctx context.Context, keyID, value string) error {
	_, err := r.e.IAM.TagUser(ctx, &iam.TagUserInput{
		UserName: aws.String(r.u.Name),
		Tags:     []types.Tag{{Key: aws.String(TagKey(keyID)), Value: aws.String(value)}},
	})
	if err != nil {
		return fmt.Errorf("tag user %s with %s: %w", r.u.Name, TagKey(keyID), err)
	}
	return nil
}

func (r *userRun) untag(ctx context.Context, keyID string) error {
	_, err := r.e.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(r.u.Name), TagKeys: []string{TagKey(keyID)}})
	if err != nil {
		return fmt.Errorf("untag user %s: %w", r.u.Name, err)
	}
	return nil
}

// deleteKey deletes an access key; a key that is already gone counts as
// deleted, so a retried step converges.
func (r *userRun) deleteKey(ctx context.Context, keyID string) error {
	_, err := r.e.IAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(r.u.Name), AccessKeyId: aws.String(keyID)})
	var gone *types.NoSuchEntityException
	if errors.As(err, &gone) {
		r.e.logger().InfoContext(ctx, "access key already deleted", "account", r.e.AccountID, "user", r.u.Name, "key", keyID)
		return nil
	}
	return err
}

// keyStatus reads a key's current status ("" if the key is gone).
func (r *userRun) keyStatus(ctx context.Context, keyID string) (vocab.KeyStatus, error) {
	p := iam.NewListAccessKeysPaginator(r.e.IAM, &iam.ListAccessKeysInput{UserName: aws.String(r.u.Name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list access keys of user %s: %w", r.u.Name, err)
		}
		for _, k := range page.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == keyID {
				return vocab.KeyStatus(k.Status), nil
			}
		}
	}
	return "", nil
}

// readStateTag reads the user's current state tag of keyID.
func (r *userRun) readStateTag(ctx context.Context, keyID string) (value string, present bool, err error) {
	want := TagKey(keyID)
	p := iam.NewListUserTagsPaginator(r.e.IAM, &iam.ListUserTagsInput{UserName: aws.String(r.u.Name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", false, fmt.Errorf("list tags of user %s: %w", r.u.Name, err)
		}
		for _, t := range page.Tags {
			if aws.ToString(t.Key) == want {
				return aws.ToString(t.Value), true, nil
			}
		}
	}
	return "", false, nil
}

// sameState tells whether a tag read from AWS holds st (absent for a zero
// State). It compares decoded states, so an equivalent spelling matches.
func sameState(value string, present bool, st State) bool {
	if st.Phase == "" {
		return !present
	}
	if !present {
		return false
	}
	got, err := ParseState(value)
	return err == nil && got.String() == st.String()
}

func describeTag(value string, present bool) string {
	if !present {
		return "absent"
	}
	return fmt.Sprintf("%q", value)
}
