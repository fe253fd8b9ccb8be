package rotation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// SecretsAPI is the part of Secrets Manager that SecretStore calls; the real
// *secretsmanager.Client satisfies it.
type SecretsAPI interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	PutResourcePolicy(ctx context.Context, in *secretsmanager.PutResourcePolicyInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutResourcePolicyOutput, error)
	TagResource(ctx context.Context, in *secretsmanager.TagResourceInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.TagResourceOutput, error)
}

// Tags keyrotor puts on the secrets it manages. The secret's resource
// policy lets only the rotation role change them, so they are evidence of
// what keyrotor stored: which key the secret holds and which key that one
// replaces.
const (
	SecretTagUser        = "keyrotor:user"
	SecretTagAccessKeyID = "keyrotor:access-key-id"
	SecretTagReplaces    = "keyrotor:replaces"
	SecretTagManaged     = "keyrotor:managed"
	// SecretTagClock mirrors when the old key was last turned off or
	// found on: "deactivated <time>" or "active <time>" (see SecretClock).
	SecretTagClock = "keyrotor:clock"
)

// SecretStore writes new access keys into the member account's Secrets
// Manager, one secret per IAM user and one version per rotation, each
// secret under a resource policy that lets its owner alone read it and the
// rotation role alone change it.
type SecretStore struct {
	API SecretsAPI
	// KMSKeyID encrypts newly created secrets; "" uses the account's
	// aws/secretsmanager key. An existing secret keeps its key. With a
	// customer managed key, the user also needs kms:Decrypt on it to read
	// the secret; the planner checks that before deactivating the old key.
	KMSKeyID string
	// UserReadPolicy adds to the resource policy a statement that lets the
	// key's IAM user read its own secret, so nobody has to copy the key
	// around. Without it the user needs an identity policy for that.
	UserReadPolicy bool
	// WriterARN is the principal that may change the secret: the rotation
	// role's ARN, which is what aws:PrincipalArn is for its sessions.
	WriterARN string
	// BreakGlass are principal ARNs (patterns with * allowed) excepted from
	// the policy's denials, for recovery (secrets.break_glass_principals).
	BreakGlass []string
}

// secretNameRe is what Secrets Manager accepts as a secret name. IAM user
// names may hold a comma, which it refuses.
var secretNameRe = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

// ValidSecretName checks that name is a name Secrets Manager accepts.
func ValidSecretName(name string) error {
	if !secretNameRe.MatchString(name) {
		return fmt.Errorf("secret name %q is not 1-512 letters, digits or /_+=.@-", name)
	}
	return nil
}

// StoredSecret locates a stored secret version. It never holds the value.
type StoredSecret struct {
	Name, ARN, VersionID string
}

// SecretValue is a new access key as stored in its user's secret. Every way
// of printing it (fmt verbs, slog, encoding/json) redacts SecretAccessKey:
// only SecretStore.Store serializes the real value, and only into the
// request that stores it.
type SecretValue struct {
	AccessKeyID     string
	SecretAccessKey string
	UserName        string
	// UserARN is the principal the secret's resource policy lets read it; it
	// is not part of the stored value.
	UserARN    string
	AccountID  string
	CreateDate time.Time
	// Replaces is the old access key ID the new key replaces.
	Replaces string
}

const redacted = "[REDACTED]"

// String implements fmt.Stringer without the secret.
func (v SecretValue) String() string {
	return fmt.Sprintf("SecretValue{AccessKeyID:%s UserName:%s AccountID:%s Replaces:%s SecretAccessKey:%s}",
		v.AccessKeyID, v.UserName, v.AccountID, v.Replaces, redacted)
}

// GoString implements fmt.GoStringer (%#v) without the secret.
func (v SecretValue) GoString() string {
	return fmt.Sprintf("rotation.SecretValue{AccessKeyID:%q, SecretAccessKey:%q, UserName:%q, UserARN:%q, AccountID:%q, Replaces:%q}",
		v.AccessKeyID, redacted, v.UserName, v.UserARN, v.AccountID, v.Replaces)
}

// Format implements fmt.Formatter, so that no verb (%d and %x included,
// which would otherwise print the fields) reveals the secret.
func (v SecretValue) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = fmt.Fprint(f, v.GoString())
		return
	}
	_, _ = fmt.Fprint(f, v.String())
}

// LogValue implements slog.LogValuer without the secret.
func (v SecretValue) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_key_id", v.AccessKeyID),
		slog.String("user", v.UserName),
		slog.String("account", v.AccountID),
		slog.String("replaces", v.Replaces),
		slog.String("secret_access_key", redacted),
	)
}

// MarshalJSON implements json.Marshaler without the secret, so that a
// SecretValue that ends up in a JSON log or report is harmless.
func (v SecretValue) MarshalJSON() ([]byte, error) {
	p := v.payload()
	p.SecretAccessKey = redacted
	return json.Marshal(p)
}

// secretPayload is the stored JSON value; field names are part of keyrotor's
// interface with the key's users.
type secretPayload struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	UserName        string `json:"UserName"`
	AccountID       string `json:"AccountId"`
	CreateDate      string `json:"CreateDate"`
	Replaces        string `json:"Replaces,omitempty"`
}

func (v SecretValue) payload() secretPayload {
	p := secretPayload{
		AccessKeyID: v.AccessKeyID, SecretAccessKey: v.SecretAccessKey, UserName: v.UserName,
		AccountID: v.AccountID, Replaces: v.Replaces,
	}
	if !v.CreateDate.IsZero() {
		p.CreateDate = v.CreateDate.UTC().Format(time.RFC3339)
	}
	return p
}

// ClientRequestToken is the Secrets Manager version token for the secret of
// access key keyID: a UUID (version 8, RFC 9562) built from SHA-256 of
// "keyrotor:"+keyID. Because it depends only on the key, a retried or
// repeated store of the same key reuses the version instead of adding one.
func ClientRequestToken(keyID string) string {
	sum := sha256.Sum256([]byte("keyrotor:" + keyID))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// An issue writes a user's secret in three steps around CreateAccessKey,
// so that the secret is, at every moment, evidence an insider cannot forge:
//
//  1. Prepare, before the key exists: the secret is created without a value
//     (or, if it exists, taken over) and given the resource policy that
//     lets the owner alone read it and the rotation role alone change it;
//     the tags naming a key are cleared, so whatever anyone wrote there
//     before is gone.
//  2. Record, right after CreateAccessKey: the tags name the new key and the
//     key it replaces. Only the rotation role can have written them, so a
//     later run may delete that key, and it alone, if its value was never
//     stored.
//  3. Put: the value becomes the current version, with the version token
//     ClientRequestToken(key ID), which marks it as stored.
//
// Store does all three for a key that exists already.

// SecretOwner is who a secret is for: the user whose key it holds.
type SecretOwner struct {
	UserName, UserARN, AccountID string
}

// Store writes v as the current version of secret name (Prepare, Record,
// Put) and returns where. Errors name the secret and the call, never the
// value.
func (s SecretStore) Store(ctx context.Context, name string, v SecretValue) (StoredSecret, error) {
	if v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return StoredSecret{}, fmt.Errorf("store secret %s: the value has no access key", name)
	}
	if err := s.Prepare(ctx, name, SecretOwner{UserName: v.UserName, UserARN: v.UserARN, AccountID: v.AccountID}); err != nil {
		return StoredSecret{}, err
	}
	if err := s.Record(ctx, name, v.AccessKeyID, v.Replaces); err != nil {
		return StoredSecret{}, err
	}
	return s.Put(ctx, name, v)
}

// Prepare makes sure secret name exists under its resource policy, with no
// tag naming a key. Nothing is readable in it that was not there before.
func (s SecretStore) Prepare(ctx context.Context, name string, o SecretOwner) error {
	if name == "" {
		return errors.New("store secret: no secret name")
	}
	doc, err := SecretPolicy(SecretAccess{OwnerARN: o.UserARN, OwnerAllow: s.UserReadPolicy, WriterARN: s.WriterARN, BreakGlass: s.BreakGlass})
	if err != nil {
		return fmt.Errorf("store secret %s: %w", name, err)
	}
	in := &secretsmanager.CreateSecretInput{
		Name: aws.String(name),
		Description: aws.String(fmt.Sprintf(
			"Access key of IAM user %s in account %s, issued by keyrotor. JSON keys: AccessKeyId, SecretAccessKey.",
			o.UserName, o.AccountID)),
		Tags: []smtypes.Tag{
			{Key: aws.String(SecretTagUser), Value: aws.String(o.UserName)},
			{Key: aws.String(SecretTagManaged), Value: aws.String("true")},
		},
	}
	if s.KMSKeyID != "" {
		in.KmsKeyId = aws.String(s.KMSKeyID)
	}
	_, err = s.API.CreateSecret(ctx, in)
	var exists *smtypes.ResourceExistsException
	created := err == nil
	switch {
	case created:
	case errors.As(err, &exists):
		// From an earlier rotation, or from a CreateSecret of this very
		// step whose response was lost.
	default:
		return fmt.Errorf("create secret %s: %w", name, err)
	}
	if err := s.putPolicy(ctx, name, doc); err != nil {
		return err
	}
	if created {
		return nil
	}
	// Someone may have created the secret before keyrotor and tagged it;
	// from now on only the rotation role can tag it.
	tags := slices.Concat(in.Tags, []smtypes.Tag{{Key: aws.String(SecretTagAccessKeyID), Value: aws.String("")},
		{Key: aws.String(SecretTagReplaces), Value: aws.String("")}, {Key: aws.String(SecretTagClock), Value: aws.String("")}})
	if _, err := s.API.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(name), Tags: tags}); err != nil {
		return fmt.Errorf("tag secret %s: %w", name, err)
	}
	return nil
}

// Record tags secret name with the key it is about to hold and the key that
// one replaces.
func (s SecretStore) Record(ctx context.Context, name, keyID, replaces string) error {
	_, err := s.API.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(name), Tags: []smtypes.Tag{
		{Key: aws.String(SecretTagAccessKeyID), Value: aws.String(keyID)},
		{Key: aws.String(SecretTagReplaces), Value: aws.String(replaces)},
	}})
	if err != nil {
		return fmt.Errorf("tag secret %s with new key %s: %w", name, keyID, err)
	}
	return nil
}

// SetClock mirrors on secret name when the old key of its rotation was
// turned off (or found on): the deletion clock, which an IAM tag alone could
// set back.
func (s SecretStore) SetClock(ctx context.Context, name string, c SecretClock) error {
	_, err := s.API.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(name), Tags: []smtypes.Tag{
		{Key: aws.String(SecretTagClock), Value: aws.String(c.String())},
	}})
	if err != nil {
		return fmt.Errorf("tag secret %s with %s: %w", name, c, err)
	}
	return nil
}

// Put writes v as the current version of secret name, with the version
// token of v's key, so a retried or repeated put adds no version.
func (s SecretStore) Put(ctx context.Context, name string, v SecretValue) (StoredSecret, error) {
	if v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return StoredSecret{}, fmt.Errorf("store secret %s: the value has no access key", name)
	}
	body, err := json.Marshal(v.payload())
	if err != nil {
		// json cannot fail on strings; the error never includes the value.
		return StoredSecret{}, fmt.Errorf("store secret %s: encode value: %w", name, err)
	}
	put, err := s.API.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(name),
		ClientRequestToken: aws.String(ClientRequestToken(v.AccessKeyID)),
		SecretString:       aws.String(string(body)),
	})
	if err != nil {
		return StoredSecret{}, fmt.Errorf("put secret value %s: %w", name, err)
	}
	return StoredSecret{Name: name, ARN: aws.ToString(put.ARN), VersionID: aws.ToString(put.VersionId)}, nil
}

// putPolicy attaches the secret's resource policy doc. BlockPublicPolicy
// makes Secrets Manager refuse a policy that would let anyone outside the
// account in; it does nothing against principals of the account whose
// identity policies allow secretsmanager:GetSecretValue, which is what the
// policy's explicit denials are for.
func (s SecretStore) putPolicy(ctx context.Context, name, doc string) error {
	_, err := s.API.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{
		SecretId:          aws.String(name),
		ResourcePolicy:    aws.String(doc),
		BlockPublicPolicy: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("put resource policy on secret %s: %w", name, err)
	}
	return nil
}

// SecretAccess says who may do what with one user's secret.
type SecretAccess struct {
	// OwnerARN is the IAM user whose key the secret holds: the only
	// principal, break-glass ones aside, that may read it.
	OwnerARN string
	// OwnerAllow adds a statement allowing the owner to read the secret
	// (GetSecretValue, DescribeSecret), so no identity policy is needed.
	OwnerAllow bool
	// WriterARN is the only principal, break-glass ones aside, that may
	// change the secret, its tags or its policy, or delete it.
	WriterARN string
	// BreakGlass are principal ARN patterns excepted from both denials.
	BreakGlass []string
}

// secretReadActions are what the write denial leaves to everyone: reading
// the metadata and the policy. GetSecretValue is denied separately, to all
// but the owner.
var secretReadActions = []string{
	"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
	"secretsmanager:GetResourcePolicy", "secretsmanager:ListSecretVersionIds",
}

// SecretPolicy returns the resource policy of a user's secret. In the
// secret's own account an identity policy allowing
// secretsmanager:GetSecretValue on "*" (PowerUserAccess does) is enough to
// read any secret that does not deny it, so the policy denies:
//
//   - GetSecretValue to every principal but the owner (and the break-glass
//     principals): no keyrotor role, no administrator, nobody else;
//   - every other call but the metadata reads to every principal but the
//     rotation role (and the break-glass principals): nobody else can put a
//     value, move a version stage, change the tags the planner trusts,
//     replace or remove the policy, or delete the secret.
//
// The denials match aws:PrincipalArn, which for a role session is the
// role's ARN. The resource is "*", which in a secret's resource policy
// means that secret only; it lets the same document serve before the
// secret's ARN is known.
func SecretPolicy(a SecretAccess) (string, error) {
	switch {
	case a.OwnerARN == "":
		return "", errors.New("no user ARN for the secret's policy")
	case a.WriterARN == "":
		return "", errors.New("no rotation role ARN for the secret's policy")
	}
	type statement struct {
		Sid       string         `json:"Sid"`
		Effect    string         `json:"Effect"`
		Principal any            `json:"Principal"`
		Action    []string       `json:"Action,omitempty"`
		NotAction []string       `json:"NotAction,omitempty"`
		Resource  string         `json:"Resource"`
		Condition map[string]any `json:"Condition,omitempty"`
	}
	except := func(arns ...string) map[string]any {
		return map[string]any{"ArnNotLike": map[string][]string{"aws:PrincipalArn": append(arns, a.BreakGlass...)}}
	}
	var stmts []statement
	if a.OwnerAllow {
		stmts = append(stmts, statement{
			Sid: "KeyrotorUserReadsOwnKey", Effect: "Allow", Principal: map[string]string{"AWS": a.OwnerARN},
			Action: []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, Resource: "*",
		})
	}
	stmts = append(stmts,
		statement{
			Sid: "KeyrotorOnlyOwnerReads", Effect: "Deny", Principal: "*",
			Action: []string{"secretsmanager:GetSecretValue"}, Resource: "*", Condition: except(a.OwnerARN),
		},
		statement{
			Sid: "KeyrotorOnlyRotationRoleWrites", Effect: "Deny", Principal: "*",
			NotAction: secretReadActions, Resource: "*", Condition: except(a.WriterARN),
		})
	b, err := json.Marshal(struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{"2012-10-17", stmts})
	if err != nil {
		return "", err
	}
	return string(b), nil
}
