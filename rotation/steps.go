package rotation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awsclient"
	"keyrotor/vocab"
)

// issue creates a replacement key for a.KeyID and stores it, following the
// ActionIssue contract. Before CreateAccessKey it records the intent,
// checks that no other run is at the same user and prepares the secret
// (SecretStore.Prepare); after it, every failure leaves a key whose secret
// is stored (adopted by the next run), a key the secret records but does
// not hold (deleted by the next run), or no new key at all (deleted again
// at once), never a key nobody holds, as long as IAM answers. A crash right
// between CreateAccessKey and recording the key leaves one that the next
// run holds for a human, since nothing shows keyrotor created it.
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
	case u.ARN == "":
		return failed(o, fmt.Errorf("%s: the user's ARN is unknown, so its secret's policy cannot name it", what))
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

	// The secret is made the owner's before the key exists, so that its
	// tags, which only the rotation role can change from here on, can
	// record the key the moment it is created.
	if err := e.Secrets.Prepare(ctx, u.SecretName, SecretOwner{UserName: u.Name, UserARN: u.ARN, AccountID: cmp.Or(e.AccountID, a.AccountID)}); err != nil {
		return failed(o, fmt.Errorf("%s: prepare secret %s: %w (no key was created; the old key is untouched)", what, u.SecretName, err))
	}

	// Should CreateAccessKey's answer be lost, only a key that is not here
	// yet can be the one it created: a key the owner made meanwhile, by
	// hand, is here and is never taken for keyrotor's.
	before, err := r.listKeys(ctx)
	if err != nil {
		return failed(o, fmt.Errorf("%s: %w (no key was created; the old key is untouched)", what, err))
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
		// it is not this run's own key) or the owner. The intent stays:
		// taking it back could race with the winning run's "issued" write
		// and erase it. The next run adopts the winner's key through the
		// secret, and leaves any other key alone.
		return skipped(o, fmt.Errorf("%w: CreateAccessKey for %s hit the two-key limit; the old key %s is untouched",
			ErrConcurrentChange, u.Name, a.KeyID))
	}
	if err != nil {
		createErr := fmt.Errorf("%s: create access key: %w (the old key is untouched; a later run retries)", what, err)
		var answered smithy.APIError
		if errors.As(err, &answered) {
			// AWS answered with an error: it created nothing.
			return failed(o, createErr)
		}
		return failed(o, r.recordUnknownKey(ctx, a.KeyID, intent, before, createErr))
	}
	if created.AccessKey == nil || aws.ToString(created.AccessKey.AccessKeyId) == "" {
		return failed(o, fmt.Errorf("%s: create access key: the response has no access key", what))
	}
	newKey := aws.ToString(created.AccessKey.AccessKeyId)
	e.logger().InfoContext(ctx, "created replacement key", "account", e.AccountID, "user", u.Name,
		"key", a.KeyID, "new_key", newKey, "secret", u.SecretName)

	// The key is recorded on the secret before anything else: should this
	// run die before the value is stored, the record is what lets the next
	// run delete it, and it alone, as keyrotor's orphan. A key keyrotor
	// cannot show it created is never deleted.
	if err := e.Secrets.Record(ctx, u.SecretName, newKey, a.KeyID); err != nil {
		return failed(o, r.dropNewKey(ctx, &o, newKey, a.KeyID, fmt.Errorf("%s: record the new key %s: %w", what, newKey, err),
			"nobody holds it and nothing records it: delete it by hand"))
	}
	value := SecretValue{
		AccessKeyID: newKey, SecretAccessKey: aws.ToString(created.AccessKey.SecretAccessKey),
		UserName: u.Name, UserARN: u.ARN, AccountID: cmp.Or(e.AccountID, a.AccountID),
		CreateDate: aws.ToTime(created.AccessKey.CreateDate), Replaces: a.KeyID,
	}
	if value.CreateDate.IsZero() {
		value.CreateDate = e.now()
	}
	stored, err := e.Secrets.Put(ctx, u.SecretName, value)
	value = SecretValue{} // the secret is not needed past this point
	if err != nil {
		return failed(o, r.dropNewKey(ctx, &o, newKey, a.KeyID,
			fmt.Errorf("%s: store the new key %s in secret %s: %w", what, newKey, u.SecretName, err), "the next run deletes it"))
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

// dropNewKey deletes newKey after a failed issue step and returns the step's
// error, cause, saying what became of the key; leftover says what happens
// to it if the deletion fails too.
func (r *userRun) dropNewKey(ctx context.Context, o *Outcome, newKey, oldKey string, cause error, leftover string) error {
	if err := r.deleteKey(ctx, newKey); err != nil {
		o.NewKeyID = newKey
		return fmt.Errorf("%w; deleting the new key %s failed too: %w (%s); the old key %s is untouched", cause, newKey, err, leftover, oldKey)
	}
	return fmt.Errorf("%w; the new key %s was deleted again and the old key %s is untouched", cause, newKey, oldKey)
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

// deactivate turns the old key off and records when. The keys and the state
// tag are read again right before: the inventory may be minutes old, and
// the replacement may have gone since (the owner deleted it), which would
// leave the user without a working key.
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
	keys, err := r.listKeys(ctx)
	if err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}
	if repl, ok := keyByID(keys, a.NewKeyID); !ok || !repl.Active() {
		return skipped(o, fmt.Errorf("%w: the replacement %s of %s is %s now; not deactivating %s",
			ErrConcurrentChange, a.NewKeyID, u.Name, describeKey(repl, ok), a.KeyID))
	}
	if _, ok := keyByID(keys, a.KeyID); !ok {
		return skipped(o, fmt.Errorf("%w: %s of %s is gone", ErrConcurrentChange, a.KeyID, u.Name))
	}
	if err := r.checkStateTag(ctx, a); err != nil {
		return skipped(o, err)
	}
	_, err = r.e.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(u.Name), AccessKeyId: aws.String(a.KeyID), Status: types.StatusTypeInactive,
	})
	if err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}
	// IAM has no conditional update: the replacement may have gone between
	// the look above and the call. Look once more, and undo at once if so.
	if err := r.checkReplacementAfter(ctx, a); errors.Is(err, ErrConcurrentChange) {
		return skipped(o, err)
	} else if err != nil {
		return failed(o, err)
	}
	// The deletion clock starts when the key went off, not when the plan
	// was made: in a slow account the two can be far apart. It is mirrored
	// on the owner's secret first, where no insider can set it back.
	next := a.Next
	next.Deactivated, next.At = stamp(r.e.now()), stamp(r.e.now())
	if err := r.e.Secrets.SetClock(ctx, u.SecretName, SecretClock{Event: ClockDeactivated, At: next.Deactivated}); err != nil {
		return failed(o, fmt.Errorf("%s: the key is inactive but recording it failed: %w (the next run records it)", what, err))
	}
	if err := r.writeState(ctx, a.KeyID, next); err != nil {
		return failed(o, fmt.Errorf("%s: the key is inactive but recording it failed: %w (the next run records it)", what, err))
	}
	o.Result = vocab.ResultDone
	if a.Notify != "" {
		r.notify(ctx, a, next, "", true, &o)
	}
	return o
}

// checkReplacementAfter lists the keys right after a.KeyID was turned off;
// when a.NewKeyID is no longer an active key it turns a.KeyID on again and
// says so (wrapping ErrConcurrentChange), so that the user keeps a working
// key. A failure to look or to undo is an error too.
func (r *userRun) checkReplacementAfter(ctx context.Context, a Action) error {
	keys, err := r.listKeys(ctx)
	if err == nil {
		if repl, ok := keyByID(keys, a.NewKeyID); ok && repl.Active() {
			return nil
		}
	}
	_, uerr := r.e.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(r.u.Name), AccessKeyId: aws.String(a.KeyID), Status: types.StatusTypeActive,
	})
	switch {
	case uerr != nil:
		return fmt.Errorf("deactivate %s of %s: the replacement %s could not be confirmed afterwards (%v) and turning the old key on again failed: %w; turn it on: %s",
			a.KeyID, r.u.Name, a.NewKeyID, err, uerr, cmdSetStatus(r.u.Name, a.KeyID, vocab.KeyActive))
	case err != nil:
		return fmt.Errorf("%w: the replacement %s of %s could not be confirmed after deactivating %s (%v); the old key is Active again",
			ErrConcurrentChange, a.NewKeyID, r.u.Name, a.KeyID, err)
	}
	return fmt.Errorf("%w: the replacement %s of %s went away while %s was being deactivated; the old key is Active again",
		ErrConcurrentChange, a.NewKeyID, r.u.Name, a.KeyID)
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
	keys, err := r.listKeys(ctx)
	if err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}
	k, _ := keyByID(keys, a.KeyID)
	status := k.Status
	if status == vocab.KeyActive {
		return skipped(o, fmt.Errorf("%w: %s of %s is Active again; not deleting it", ErrConcurrentChange, a.KeyID, u.Name))
	}
	if a.State.Phase != "" && !r.otherActive(keys, a.KeyID) {
		return skipped(o, fmt.Errorf("%w: %s has no other active key now; not deleting %s", ErrConcurrentChange, u.Name, a.KeyID))
	}
	if a.State.Phase != "" {
		if err := r.checkStateTag(ctx, a); err != nil {
			return skipped(o, err)
		}
	}
	if err := r.deleteKey(ctx, a.KeyID); err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}
	if err := r.untag(ctx, a.KeyID, a.State.Phase != ""); err != nil {
		return failed(o, fmt.Errorf("%s: the key is deleted but removing its keyrotor tags failed: %w (the next run removes them)", what, err))
	}
	o.Result = vocab.ResultDone
	if a.Notify != "" {
		// The state tag is gone, so there is nowhere to record this mail.
		r.notify(ctx, a, a.State, "", false, &o)
	}
	return o
}

// cleanup deletes a key an interrupted issue created and recorded but
// never stored. It looks again right before: the key must still be unused,
// and the user must keep another active key.
func (r *userRun) cleanup(ctx context.Context, a Action) Outcome {
	o := Outcome{Action: a}
	what := fmt.Sprintf("delete orphan key %s of %s", a.KeyID, r.u.Name)
	keys, err := r.listKeys(ctx)
	if err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}
	if _, ok := keyByID(keys, a.KeyID); !ok {
		o.Result = vocab.ResultDone // gone already: a retried step converges
		return o
	}
	if !r.otherActive(keys, a.KeyID) {
		return skipped(o, fmt.Errorf("%w: %s is the only active key of %s now; not deleting it", ErrConcurrentChange, a.KeyID, r.u.Name))
	}
	used, err := r.e.IAM.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(a.KeyID)})
	if err != nil {
		return failed(o, fmt.Errorf("%s: get its last use: %w", what, err))
	}
	if lu := used.AccessKeyLastUsed; lu != nil && lu.LastUsedDate != nil {
		return skipped(o, fmt.Errorf("%w: %s was used %s since the inventory; someone holds it, not deleting it",
			ErrConcurrentChange, a.KeyID, lu.LastUsedDate.UTC().Format(time.RFC3339)))
	}
	if err := r.deleteKey(ctx, a.KeyID); err != nil {
		return failed(o, fmt.Errorf("%s: %w", what, err))
	}
	o.Result = vocab.ResultDone
	return o
}

// forget removes the state tag of a key that is gone or whose intent cannot
// complete.
func (r *userRun) forget(ctx context.Context, a Action) Outcome {
	o := Outcome{Action: a}
	if err := r.untag(ctx, a.KeyID, true); err != nil {
		return failed(o, fmt.Errorf("remove state tag %s of %s: %w", TagKey(a.KeyID), r.u.Name, err))
	}
	o.Result = vocab.ResultDone
	return o
}
