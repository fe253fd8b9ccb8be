package rotation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// SecretMetaReader reads a secret's metadata, never its value;
// *secretsmanager.Client satisfies it. No keyrotor role may read a secret's
// value: the secret's resource policy denies it to all but the owner.
type SecretMetaReader interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

var _ SecretMetaReader = (*secretsmanager.Client)(nil)

// stageCurrent is Secrets Manager's label of a secret's current version.
const stageCurrent = "AWSCURRENT"

// awsManagedSecretsKey is the AWS managed key Secrets Manager uses when a
// secret names none; anyone the secret's policies let read may decrypt it.
const awsManagedSecretsKey = "alias/aws/secretsmanager"

// customerKey tells whether a secret's KmsKeyId names a customer managed
// key, whose key policy decides who may decrypt the secret.
func customerKey(kmsKeyID string) bool {
	return kmsKeyID != "" && kmsKeyID != awsManagedSecretsKey
}

// ReadSecretMeta reads the metadata of secret name with DescribeSecret: its
// keyrotor tags, current version, last write, deletion date and KMS key. A
// secret that does not exist is no error (Exists is false); anything else
// that stops the read is.
func ReadSecretMeta(ctx context.Context, api SecretMetaReader, name string) (SecretMeta, error) {
	out, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var missing *smtypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		return SecretMeta{Read: true}, nil
	}
	if err != nil {
		return SecretMeta{}, fmt.Errorf("describe secret %s: %w", name, err)
	}
	m := SecretMeta{Read: true, Exists: true, ARN: aws.ToString(out.ARN), KMSKeyID: aws.ToString(out.KmsKeyId)}
	for _, t := range out.Tags {
		// Secrets Manager tag keys are case-sensitive; keyrotor writes
		// these exactly.
		switch aws.ToString(t.Key) {
		case SecretTagAccessKeyID:
			m.AccessKeyID = aws.ToString(t.Value)
		case SecretTagReplaces:
			m.Replaces = aws.ToString(t.Value)
		case SecretTagClock:
			m.Clock = parseSecretClock(aws.ToString(t.Value))
		}
	}
	for id, stages := range out.VersionIdsToStages {
		for _, s := range stages {
			if s == stageCurrent {
				m.CurrentVersion = id
			}
		}
	}
	m.Changed = aws.ToTime(out.LastChangedDate).UTC()
	if out.LastChangedDate == nil {
		m.Changed = aws.ToTime(out.CreatedDate).UTC()
	}
	if out.DeletedDate != nil {
		m.Deleted = out.DeletedDate.UTC()
	}
	return m, nil
}

// parseSecretClock decodes a keyrotor:clock tag; anything else than what
// String writes is the zero clock.
func parseSecretClock(v string) SecretClock {
	ev, at, ok := strings.Cut(v, " ")
	if !ok || (ev != ClockDeactivated && ev != ClockActive) {
		return SecretClock{}
	}
	t, err := time.Parse(stateTimeFmt, at)
	if err != nil || t.Format(stateTimeFmt) != at {
		return SecretClock{}
	}
	return SecretClock{Event: ev, At: t}
}
