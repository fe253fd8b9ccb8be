package rotation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// Tags keyrotor puts on the secrets it manages.
const (
	SecretTagUser        = "keyrotor:user"
	SecretTagAccessKeyID = "keyrotor:access-key-id"
	SecretTagManaged     = "keyrotor:managed"
)

// SecretStore writes new access keys into the member account's Secrets
// Manager, one secret per IAM user and one version per rotation.
type SecretStore struct {
	API SecretsAPI
	// KMSKeyID encrypts newly created secrets; "" uses the account's
	// aws/secretsmanager key. An existing secret keeps its key. With a
	// customer managed key, the user also needs kms:Decrypt on it to read
	// the secret (the key policy is the account's business, not keyrotor's).
	KMSKeyID string
	// UserReadPolicy attaches a resource policy that lets the key's IAM user
	// read its own secret, so nobody has to copy the key around.
	UserReadPolicy bool
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

// Store writes v as the current version of secret name: CreateSecret when
// the secret does not exist yet, else PutSecretValue with the same
// deterministic version token. It also tags the secret and, with
// UserReadPolicy, lets v.UserARN read it.
//
// On an existing secret the value is written last, after the policy and the
// tags, so that when Store fails the current version still holds the old key
// and the caller can delete the new one without breaking the user's reads.
// Errors name the secret and the call, never the value.
func (s SecretStore) Store(ctx context.Context, name string, v SecretValue) (StoredSecret, error) {
	if name == "" {
		return StoredSecret{}, errors.New("store secret: no secret name")
	}
	if v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return StoredSecret{}, fmt.Errorf("store secret %s: the value has no access key", name)
	}
	if s.UserReadPolicy && v.UserARN == "" {
		return StoredSecret{}, fmt.Errorf("store secret %s: no user ARN for the read policy", name)
	}
	body, err := json.Marshal(v.payload())
	if err != nil {
		// json cannot fail on strings; the error never includes the value.
		return StoredSecret{}, fmt.Errorf("store secret %s: encode value: %w", name, err)
	}
	value := string(body)
	token := ClientRequestToken(v.AccessKeyID)
	tags := []smtypes.Tag{
		{Key: aws.String(SecretTagUser), Value: aws.String(v.UserName)},
		{Key: aws.String(SecretTagAccessKeyID), Value: aws.String(v.AccessKeyID)},
		{Key: aws.String(SecretTagManaged), Value: aws.String("true")},
	}

	in := &secretsmanager.CreateSecretInput{
		Name:               aws.String(name),
		ClientRequestToken: aws.String(token),
		Description: aws.String(fmt.Sprintf(
			"Access key of IAM user %s in account %s, issued by keyrotor. JSON keys: AccessKeyId, SecretAccessKey.",
			v.UserName, v.AccountID)),
		SecretString: aws.String(value),
		Tags:         tags,
	}
	if s.KMSKeyID != "" {
		in.KmsKeyId = aws.String(s.KMSKeyID)
	}
	out, err := s.API.CreateSecret(ctx, in)
	if err == nil {
		st := StoredSecret{Name: name, ARN: aws.ToString(out.ARN), VersionID: aws.ToString(out.VersionId)}
		if err := s.putPolicy(ctx, name, v.UserARN); err != nil {
			return st, err
		}
		return st, nil
	}
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		return StoredSecret{}, fmt.Errorf("create secret %s: %w", name, err)
	}

	// The secret exists: from an earlier rotation, or from a CreateSecret of
	// this very key whose response was lost.
	if err := s.putPolicy(ctx, name, v.UserARN); err != nil {
		return StoredSecret{}, err
	}
	if _, err := s.API.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(name), Tags: tags}); err != nil {
		return StoredSecret{}, fmt.Errorf("tag secret %s: %w", name, err)
	}
	put, err := s.API.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(name),
		ClientRequestToken: aws.String(token),
		SecretString:       aws.String(value),
	})
	if err != nil {
		return StoredSecret{}, fmt.Errorf("put secret value %s: %w", name, err)
	}
	return StoredSecret{Name: name, ARN: aws.ToString(put.ARN), VersionID: aws.ToString(put.VersionId)}, nil
}

// putPolicy lets userARN read the secret.
func (s SecretStore) putPolicy(ctx context.Context, name, userARN string) error {
	if !s.UserReadPolicy {
		return nil
	}
	doc, err := UserReadPolicy(userARN)
	if err != nil {
		return fmt.Errorf("put resource policy on secret %s: %w", name, err)
	}
	_, err = s.API.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{
		SecretId:          aws.String(name),
		ResourcePolicy:    aws.String(doc),
		BlockPublicPolicy: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("put resource policy on secret %s: %w", name, err)
	}
	return nil
}

// UserReadPolicy returns the resource policy document that lets userARN call
// GetSecretValue and DescribeSecret on the secret it is attached to. The
// resource is "*", which in a secret's resource policy means that secret
// only; it lets the same document serve before the secret's ARN is known.
func UserReadPolicy(userARN string) (string, error) {
	if userARN == "" {
		return "", errors.New("no user ARN")
	}
	type principal struct {
		AWS string `json:"AWS"`
	}
	type statement struct {
		Sid       string    `json:"Sid"`
		Effect    string    `json:"Effect"`
		Principal principal `json:"Principal"`
		Action    []string  `json:"Action"`
		Resource  string    `json:"Resource"`
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{
		Version: "2012-10-17",
		Statement: []statement{{
			Sid: "KeyrotorUserReadsOwnKey", Effect: "Allow", Principal: principal{AWS: userARN},
			Action:   []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"},
			Resource: "*",
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
