package rotation

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"keyrotor/accounts"
)

// The SDK clients a run uses in a member account satisfy every narrow
// interface of this package.
var (
	_ IAMReader        = (*iam.Client)(nil)
	_ IAMWriter        = (*iam.Client)(nil)
	_ SimulateAPI      = (*iam.Client)(nil)
	_ SecretsAPI       = (*secretsmanager.Client)(nil)
	_ SecretMetaReader = (*secretsmanager.Client)(nil)
)

// NewConnector returns a Runner.Connect that assumes the rotation role
// roleFor gives in each account and builds the clients a run needs there,
// Secrets Manager's and KMS's in secretsRegion.
func NewConnector(assumer *accounts.Assumer, roleFor func(accountID string) accounts.Role, secretsRegion string) func(context.Context, AccountTarget) (AccountAPI, error) {
	return func(ctx context.Context, t AccountTarget) (AccountAPI, error) {
		role := roleFor(t.ID)
		cfg, err := assumer.ConfigFor(ctx, t.ID, role)
		if err != nil {
			return AccountAPI{}, err
		}
		client := iam.NewFromConfig(cfg)
		return AccountAPI{
			IAM: client,
			Secrets: secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
				o.Region = secretsRegion
			}),
			KMS: kms.NewFromConfig(cfg, func(o *kms.Options) {
				o.Region = secretsRegion
			}),
			Permissions: client,
			RoleARN:     role.ARN(t.ID),
		}, nil
	}
}
