package rotation

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"keyrotor/accounts"
)

// AccountAPI is everything a run calls in one member account.
type AccountAPI struct {
	IAM interface {
		IAMReader
		IAMWriter
	}
	Secrets interface {
		SecretReader
		SecretsAPI
	}
	// Permissions, when set, lets an apply run check with
	// iam:SimulatePrincipalPolicy that RoleARN may rotate before it calls
	// anything else in the account.
	Permissions SimulateAPI
	// RoleARN is the role the clients act as.
	RoleARN string
}

// AccountTarget is one account to work on, with its settings resolved.
type AccountTarget struct {
	accounts.Target
	Policy      Policy
	ExemptUsers []string
}

// SimulateAPI is the IAM call a permission check makes; *iam.Client
// satisfies it.
type SimulateAPI interface {
	SimulatePrincipalPolicy(ctx context.Context, in *iam.SimulatePrincipalPolicyInput, optFns ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error)
}
