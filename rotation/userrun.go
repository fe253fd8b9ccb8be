package rotation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"keyrotor/vocab"
)

// userRun executes one user's actions, one at a time.
type userRun struct {
	e *Executor
	u User
	// notified holds, per old key, the events this run mailed and recorded,
	// so a later action on the same key (a Hold after an Adopt) does not
	// write them out of the tag again.
	notified map[string]Events
}

func failed(o Outcome, err error) Outcome {
	o.Result, o.Err = vocab.ResultFailed, err
	return o
}

func skipped(o Outcome, err error) Outcome {
	o.Result, o.Err = vocab.ResultSkipped, err
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
	case EventHeld:
		n.Code, n.Reason, n.Fix, n.HoldUntil = a.Code, a.Reason, a.Fix, a.Due
	case EventDueSoon:
		n.RotateOn = a.Due
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
	if a.Notify == EventHeld || a.Notify == EventDueSoon {
		r.recordNotice(ctx, a, t, o)
		return
	}
	if err := r.writeState(ctx, a.KeyID, post.WithNotified(a.Notify, t)); err != nil {
		o.NotifyErr = fmt.Errorf("record the %s notice in %s: %w (a later run may mail it again)", a.Notify, TagKey(a.KeyID), err)
		return
	}
	r.notified[a.KeyID] = r.notified[a.KeyID].With(a.Notify)
}

// recordNotice records a sent held or due-soon notice in the key's notice
// tag, so that no later run sends it again.
func (r *userRun) recordNotice(ctx context.Context, a Action, t time.Time, o *Outcome) {
	rec := a.Mailed.WithDueSoon(t)
	if a.Notify == EventHeld {
		rec = a.Mailed.WithHeld(a.Code, t)
	}
	v, err := rec.Encode()
	if err == nil {
		_, err = r.e.IAM.TagUser(ctx, &iam.TagUserInput{
			UserName: aws.String(r.u.Name),
			Tags:     []types.Tag{{Key: aws.String(NoticeTagKey(a.KeyID)), Value: aws.String(v)}},
		})
	}
	if err != nil {
		o.NotifyErr = fmt.Errorf("record the %s notice in %s of user %s: %w (a later run may mail it again)",
			a.Notify, NoticeTagKey(a.KeyID), r.u.Name, err)
	}
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

// untag removes the state tag of keyID (with state set) and its notice tag,
// if the user has one.
func (r *userRun) untag(ctx context.Context, keyID string, state bool) error {
	var keys []string
	if state {
		keys = append(keys, TagKey(keyID))
	}
	if r.u.hasNoticeTag(keyID) {
		keys = append(keys, NoticeTagKey(keyID))
	}
	if len(keys) == 0 {
		return nil
	}
	_, err := r.e.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(r.u.Name), TagKeys: keys})
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

// listKeys reads the user's keys as they are now.
func (r *userRun) listKeys(ctx context.Context) ([]Key, error) {
	return listUserKeys(ctx, r.e.IAM, r.u.Name)
}

// listUserKeys reads a user's keys as they are now (without last use).
func listUserKeys(ctx context.Context, api iam.ListAccessKeysAPIClient, user string) ([]Key, error) {
	var keys []Key
	p := iam.NewListAccessKeysPaginator(api, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list access keys of user %s: %w", user, err)
		}
		for _, k := range page.AccessKeyMetadata {
			keys = append(keys, Key{ID: aws.ToString(k.AccessKeyId), Status: vocab.KeyStatus(k.Status), Created: aws.ToTime(k.CreateDate).UTC()})
		}
	}
	return keys, nil
}

func keyByID(keys []Key, id string) (Key, bool) {
	for _, k := range keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// otherActive tells whether keys hold an active key besides id.
func (r *userRun) otherActive(keys []Key, id string) bool {
	for _, k := range keys {
		if k.ID != id && k.Active() {
			return true
		}
	}
	return false
}

func describeKey(k Key, ok bool) string {
	if !ok {
		return "gone"
	}
	return strings.ToLower(string(k.Status))
}

// checkStateTag fails with ErrConcurrentChange when a's key's state tag is
// no longer the one the plan was made on.
func (r *userRun) checkStateTag(ctx context.Context, a Action) error {
	cur, present, err := r.readStateTag(ctx, a.KeyID)
	if err != nil {
		return err
	}
	if !sameState(cur, present, a.State) {
		return fmt.Errorf("%w: the state tag %s changed since the inventory (now %s); not going on",
			ErrConcurrentChange, TagKey(a.KeyID), describeTag(cur, present))
	}
	return nil
}

// recordUnknownKey runs after CreateAccessKey failed in a way that may hide
// its effect (a dropped connection after AWS created the key): it lists the
// keys again and records on the secret a key that was not there right
// before the call (before) and was created since the intent, so the next
// run can delete it as this run's orphan. Only one such key can be
// recorded; with none nothing is written. A key the owner creates by hand
// while the call is in flight cannot be told from keyrotor's own. It
// returns createErr, extended with what it found.
func (r *userRun) recordUnknownKey(ctx context.Context, oldID string, intent State, before []Key, createErr error) error {
	keys, err := r.listKeys(ctx)
	if err != nil {
		return fmt.Errorf("%w; listing the keys afterwards failed too: %w", createErr, err)
	}
	var fresh []Key
	for _, k := range keys {
		if _, known := keyByID(before, k.ID); !known && inIntentWindow(k, intent) {
			fresh = append(fresh, k)
		}
	}
	if len(fresh) != 1 {
		return createErr
	}
	if err := r.e.Secrets.Record(ctx, r.u.SecretName, fresh[0].ID, oldID); err != nil {
		return fmt.Errorf("%w; key %s appeared meanwhile and recording it failed: %w", createErr, fresh[0].ID, err)
	}
	return fmt.Errorf("%w; key %s appeared meanwhile and is recorded on secret %s, so the next run deletes it unless it is used",
		createErr, fresh[0].ID, r.u.SecretName)
}

// clockChange is the secret clock to mirror when a deactivated key's state
// goes from prev to next: found active, or off again.
func clockChange(prev, next State) (SecretClock, bool) {
	switch {
	case next.Phase != PhaseDeactivated:
	case !next.SeenActive.IsZero() && !next.SeenActive.Equal(prev.SeenActive):
		return SecretClock{Event: ClockActive, At: next.SeenActive}, true
	case !next.Deactivated.Equal(prev.Deactivated):
		return SecretClock{Event: ClockDeactivated, At: next.Deactivated}, true
	}
	return SecretClock{}, false
}

// record writes the state a passive action observed (a deactivated key
// found active again, or off again after that), when it differs from the
// state the plan was made on.
func (r *userRun) record(ctx context.Context, a Action, o *Outcome) {
	if a.Next.String() == a.State.String() {
		return
	}
	if err := r.checkStateTag(ctx, a); err != nil {
		o.Result, o.Err = vocab.ResultSkipped, err
		return
	}
	if c, ok := clockChange(a.State, a.Next); ok {
		if err := r.e.Secrets.SetClock(ctx, r.u.SecretName, c); err != nil {
			o.Result, o.Err = vocab.ResultFailed, fmt.Errorf("record the state of %s of %s: %w", a.KeyID, r.u.Name, err)
			return
		}
	}
	if err := r.writeState(ctx, a.KeyID, a.Next); err != nil {
		o.Result, o.Err = vocab.ResultFailed, fmt.Errorf("record the state of %s of %s: %w", a.KeyID, r.u.Name, err)
	}
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
			// IAM tag keys are case-insensitive.
			if strings.EqualFold(aws.ToString(t.Key), want) {
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
