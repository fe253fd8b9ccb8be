package rotation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"

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
