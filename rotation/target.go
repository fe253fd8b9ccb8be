package rotation

import (
	"keyrotor/accounts"
)

// AccountAPI is everything a run calls in one member account.
type AccountAPI struct {
	IAM interface {
		IAMReader
		IAMWriter
	}
	Secrets interface {
		SecretMetaReader
		SecretsAPI
	}
	// KMS reads the key policy of secrets' customer managed keys, for the
	// owner decrypt check.
	KMS KeyPolicyReader
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
