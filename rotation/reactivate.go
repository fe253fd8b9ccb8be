package rotation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// ReactivateAPI is the part of IAM `keyrotor reactivate` calls.
type ReactivateAPI interface {
	ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, optFns ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	TagUser(ctx context.Context, in *iam.TagUserInput, optFns ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

var _ ReactivateAPI = (*iam.Client)(nil)

// ReactivateSecrets is the part of Secrets Manager `keyrotor reactivate`
// calls: it reads the owner's secret's metadata and mirrors the
// reactivation there; *secretsmanager.Client satisfies it.
type ReactivateSecrets interface {
	SecretMetaReader
	SecretsAPI
}

var _ ReactivateSecrets = (*secretsmanager.Client)(nil)

// ErrNotDeactivated is returned when the key is not one keyrotor deactivated.
var ErrNotDeactivated = errors.New("not deactivated by keyrotor")

// ErrStateUnverified is returned when a key's state tag says keyrotor
// deactivated it but the evidence does not agree (see evidence.go).
var ErrStateUnverified = errors.New("its keyrotor state tag does not agree with the evidence")

// ReactivateRequest names the key to reactivate and where its owner's
// secret is.
type ReactivateRequest struct {
	User, KeyID string
	// SecretName is the owner's secret, whose metadata must show that
	// keyrotor replaced the key.
	SecretName string
	Now        time.Time
}

// Reactivate rolls back a deactivation during the grace period: the old
// key is set Active again and the state records the reactivation, which
// stops the deletion clock; deactivation is re-evaluated DeactivateAfter
// later, and then only if the key is no longer used. It refuses keys
// keyrotor did not deactivate, so it cannot resurrect a key someone else
// disabled on purpose: the state tag must say keyrotor deactivated the key,
// and since anyone who may tag the user can write that, the owner's secret
// must show keyrotor issued the key's replacement, the key must exist and be
// inactive, and the tag's dates must be possible.
func Reactivate(ctx context.Context, api ReactivateAPI, secrets ReactivateSecrets, req ReactivateRequest) (State, error) {
	user, keyID := req.User, req.KeyID
	var tags []types.Tag
	p := iam.NewListUserTagsPaginator(api, &iam.ListUserTagsInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return State{}, fmt.Errorf("read tags of user %s: %w", user, err)
		}
		tags = append(tags, page.Tags...)
	}
	var value string
	found := false
	for _, t := range tags {
		if strings.EqualFold(aws.ToString(t.Key), TagKey(keyID)) {
			value, found = aws.ToString(t.Value), true
		}
	}
	if !found {
		return State{}, fmt.Errorf("key %s of user %s was %w: it has no keyrotor state tag, and reactivate only rolls back keyrotor's own deactivations (to turn it on anyway: aws iam update-access-key --user-name %s --access-key-id %s --status Active)",
			keyID, user, ErrNotDeactivated, user, keyID)
	}
	st, err := ParseState(value)
	if err != nil {
		return State{}, fmt.Errorf("key %s of user %s: %w", keyID, user, err)
	}
	if st.Phase != PhaseDeactivated {
		return State{}, fmt.Errorf("key %s of user %s was %w: its rotation is in phase %q, so there is nothing to roll back", keyID, user, ErrNotDeactivated, st.Phase)
	}
	if err := verifyDeactivation(ctx, api, secrets, req, st); err != nil {
		return State{}, err
	}
	next := st.WithReactivated(req.Now)
	enc, err := next.Encode()
	if err != nil {
		return State{}, fmt.Errorf("encode state of key %s: %w", keyID, err)
	}
	if _, err := api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(user), AccessKeyId: aws.String(keyID), Status: types.StatusTypeActive,
	}); err != nil {
		return State{}, fmt.Errorf("reactivate key %s of user %s: %w", keyID, user, err)
	}
	if err := (SecretStore{API: secrets}).SetClock(ctx, req.SecretName, SecretClock{Event: ClockActive, At: next.Reactivated}); err != nil {
		// The key is active: the next run holds it (reactivated outside
		// keyrotor) and deletes nothing.
		return State{}, fmt.Errorf("key %s of user %s is Active again, but recording it failed (run reactivate again): %w", keyID, user, err)
	}
	if _, err := api.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user), Tags: []types.Tag{{
		Key: aws.String(TagKey(keyID)), Value: aws.String(enc),
	}}}); err != nil {
		// The key is active again but the state still says deactivated: the
		// next run would hold it ("reactivated outside keyrotor") rather than
		// delete it, so nothing is lost; say what to run again.
		return State{}, fmt.Errorf("key %s of user %s is Active again, but recording it failed (run reactivate again): %w", keyID, user, err)
	}
	return next, nil
}

// verifyDeactivation checks the evidence behind a deactivated state st.
func verifyDeactivation(ctx context.Context, api ReactivateAPI, secrets ReactivateSecrets, req ReactivateRequest, st State) error {
	keys, err := listUserKeys(ctx, api, req.User)
	if err != nil {
		return err
	}
	x, ok := keyByID(keys, req.KeyID)
	switch {
	case !ok:
		return fmt.Errorf("key %s of user %s does not exist", req.KeyID, req.User)
	case x.Active():
		return fmt.Errorf("key %s of user %s is Active already; there is nothing to roll back", req.KeyID, req.User)
	}
	m, err := ReadSecretMeta(ctx, secrets, req.SecretName)
	if err != nil {
		return fmt.Errorf("key %s of user %s: %w", req.KeyID, req.User, err)
	}
	problem := rotationProblem(x, st, keys, m, req.SecretName, req.Now)
	if problem == "" && m.Clock.Event != ClockDeactivated {
		problem = fmt.Sprintf("secret %s records no deactivation of the key", req.SecretName)
	}
	if problem != "" {
		return fmt.Errorf("key %s of user %s is not reactivated: %w: %s", req.KeyID, req.User, ErrStateUnverified, problem)
	}
	return nil
}
