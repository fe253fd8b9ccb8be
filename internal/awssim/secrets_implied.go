package awssim

import (
	"errors"
	"fmt"
)

// Some Secrets Manager calls need more than their own permission, as in
// AWS: CreateSecret with tags also needs secretsmanager:TagResource, and a
// secret encrypted with a customer managed KMS key needs the caller to be
// allowed kms:GenerateDataKey (to write a value) or kms:Decrypt (to read
// one) on that key, which Secrets Manager uses on the caller's behalf.
// services.go wraps the handlers of those calls with these checks.

// withCreateSecretPermissions wraps CreateSecret's handler with the
// permissions creating a secret implies: secretsmanager:TagResource for
// its tags, and the KMS permissions to encrypt its value with its key.
func withCreateSecretPermissions(create opHandler) opHandler {
	return func(r *Request) (any, error) {
		var in smInput
		if err := r.DecodeJSON(&in); err != nil {
			return nil, err
		}
		if sec := r.Account.secrets[secretKey(r.Region, in.Name)]; sec == nil && secretNameRe.MatchString(in.Name) {
			// Only a secret that is created is tagged and encrypted; for an
			// existing one the handler answers ResourceExistsException.
			arn := partialSecretARN(r.Region, r.Account.ID, in.Name)
			if len(in.Tags) > 0 {
				r.setRequestTags(smTags(in.Tags))
				if err := authorizeActionLocked(r, "secretsmanager:TagResource", arn, ""); err != nil {
					return nil, err
				}
			}
			if in.KmsKeyID != nil && *in.KmsKeyID != "" {
				// An unknown key fails the call whether or not it has a value.
				if _, err := r.Sim.resolveKMSKeyLocked(r.Account, r.Region, *in.KmsKeyID); err != nil {
					return nil, smInvalidParam("The KMS key %s is not valid or does not exist.", *in.KmsKeyID)
				}
			}
			if in.KmsKeyID != nil && (in.SecretString != nil || in.SecretBinary != nil) {
				if err := authorizeKMS(r, *in.KmsKeyID, arn, "kms:GenerateDataKey", "kms:Decrypt"); err != nil {
					return nil, err
				}
			}
		}
		return create(r)
	}
}

// withSecretKMS wraps a handler of a call on an existing secret (SecretId)
// with the KMS permission it needs when the secret has a customer managed
// key.
func withSecretKMS(h opHandler, action string) opHandler {
	return func(r *Request) (any, error) {
		_, sec, err := secretRequest(r, lookupSecret)
		if err != nil {
			return nil, err
		}
		if err := authorizeKMS(r, sec.KMSKeyID, sec.ARN, action); err != nil {
			return nil, err
		}
		return h(r)
	}
}

// authorizeKMS checks the caller's permission for the KMS actions on a
// secret's key, which Secrets Manager uses on the caller's behalf: under
// the key policy, with kms:ViaService naming Secrets Manager. The AWS
// managed key (no key, or alias/aws/secretsmanager) needs none: its key
// policy admits every principal of the account. An unknown key is
// InvalidParameterException, as Secrets Manager answers; a disabled one
// (DisableKey) is DecryptionFailure to a read and EncryptionFailure to a
// write.
func authorizeKMS(r *Request, keyID string, secretARN string, actions ...string) error {
	k, err := r.Sim.resolveKMSKeyLocked(r.Account, r.Region, keyID)
	if err != nil {
		if r.Op == "GetSecretValue" {
			return apiErr(400, "DecryptionFailure",
				"Secrets Manager can't decrypt the protected secret text using the provided KMS key: %s", err)
		}
		return smInvalidParam("The KMS key %s is not valid or does not exist.", keyID)
	}
	if k.awsManaged {
		return nil
	}
	res := k.resource()
	res.extra = evalContext{}
	res.extra.set("kms:ViaService", "secretsmanager."+r.Region+".amazonaws.com")
	res.extra.set("kms:CallerAccount", r.Account.ID)
	res.extra.set("aws:ViaAWSService", "true")
	if secretARN != "" {
		res.extra.set("kms:EncryptionContext:SecretARN", secretARN)
	}
	for _, a := range actions {
		if err := r.authorizeOn(a, res); err != nil {
			var ae *APIError
			if errors.As(err, &ae) {
				ae.Message = fmt.Sprintf("Access to KMS is not allowed (%s)", ae.Message)
			}
			return err
		}
	}
	if k.disabled {
		if r.Op == "GetSecretValue" {
			return apiErr(400, "DecryptionFailure",
				"Secrets Manager can't decrypt the protected secret text using the provided KMS key: %s is disabled.", k.arn)
		}
		return apiErr(400, "EncryptionFailure",
			"Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state: %s is disabled.", k.arn)
	}
	return nil
}

// authorizeActionLocked checks the caller for an action other than the
// request's own, as AWS does when one call needs several permissions (tags
// given to a create call). The denial uses the request's service's code;
// message, when set, replaces AWS's usual one.
func authorizeActionLocked(r *Request, action, resource, message string) error {
	err := r.authorizeOn(action, authzResource{arn: resource})
	var ae *APIError
	if message != "" && errors.As(err, &ae) {
		ae.Message = message
	}
	return err
}
