package rotation

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KeyPolicyReader is the part of KMS the decrypt check reads;
// *kms.Client satisfies it.
type KeyPolicyReader interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, optFns ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
}

var _ KeyPolicyReader = (*kms.Client)(nil)

// SimulateAPI is the IAM call a permission check makes, of the rotation
// role (permissions.go) or of a key's owner (here); *iam.Client satisfies
// it.
type SimulateAPI interface {
	SimulatePrincipalPolicy(ctx context.Context, in *iam.SimulatePrincipalPolicyInput, optFns ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error)
}

// CheckOwnerDecrypt asks IAM whether u may decrypt its secret, whose
// metadata names a customer managed KMS key: iam:SimulatePrincipalPolicy
// for u with kms:Decrypt on the key, the key policy as the resource policy
// and the context Secrets Manager's call would carry (kms:ViaService, the
// encryption context naming the secret), once DescribeKey has shown the key
// enabled. With a customer key the owner needs both to read the new key,
// and keyrotor will not deactivate or delete the old key before the owner
// can. The check never fails: what stops it goes into Problem, and the
// planner holds the key.
func CheckOwnerDecrypt(ctx context.Context, keys KeyPolicyReader, sim SimulateAPI, region string, u User) DecryptCheck {
	d := DecryptCheck{Checked: true}
	key := u.Secret.KMSKeyID
	desc, err := keys.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
	if err != nil || desc.KeyMetadata == nil {
		d.Problem = fmt.Sprintf("describe KMS key %s: %v", key, err)
		return d
	}
	d.KeyARN = aws.ToString(desc.KeyMetadata.Arn)
	if md := desc.KeyMetadata; !md.Enabled || md.KeyState != kmstypes.KeyStateEnabled {
		// Whoever may disable the key (or schedule its deletion) would
		// otherwise leave the owner without a key it can read: no policy
		// lets anyone decrypt with a key that is not enabled.
		d.Problem = fmt.Sprintf("KMS key %s is not enabled (state %s)", d.KeyARN, md.KeyState)
		d.KeyDisabled = true
		return d
	}
	pol, err := keys.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(d.KeyARN), PolicyName: aws.String("default")})
	if err != nil {
		d.Problem = fmt.Sprintf("read the key policy of %s: %v", d.KeyARN, err)
		return d
	}
	str := func(k, v string) iamtypes.ContextEntry {
		return iamtypes.ContextEntry{ContextKeyName: aws.String(k), ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{v}}
	}
	out, err := sim.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(u.ARN),
		ActionNames:     []string{"kms:Decrypt"},
		ResourceArns:    []string{d.KeyARN},
		ResourcePolicy:  pol.Policy,
		ContextEntries: []iamtypes.ContextEntry{
			str("kms:ViaService", "secretsmanager."+region+".amazonaws.com"),
			str("kms:EncryptionContext:SecretARN", u.Secret.ARN),
		},
	})
	if err != nil {
		d.Problem = fmt.Sprintf("simulate kms:Decrypt for %s: %v", u.ARN, err)
		return d
	}
	if len(out.EvaluationResults) == 0 {
		d.Problem = "IAM's policy simulation gave no answer for kms:Decrypt"
		return d
	}
	for _, r := range out.EvaluationResults {
		if r.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed {
			d.Problem = fmt.Sprintf("IAM's policy simulation answers %s for kms:Decrypt on %s", r.EvalDecision, d.KeyARN)
			return d
		}
	}
	d.Allowed = true
	return d
}
