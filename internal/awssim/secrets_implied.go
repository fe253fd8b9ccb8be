package awssim

import (
	"fmt"
	"strings"
)

// Some Secrets Manager calls need more than their own permission, as in
// AWS: CreateSecret with tags also needs secretsmanager:TagResource, and a
// secret encrypted with a customer managed KMS key needs the caller to be
// allowed kms:GenerateDataKey (to write a value) or kms:Decrypt (to read
// one) on that key, which Secrets Manager uses on the caller's behalf.
// These checks wrap the handlers secrets.go registers; this file's name
// sorts after it, so its init runs second.
func init() {
	ops := services["secretsmanager"].ops
	create, put, get := ops["CreateSecret"], ops["PutSecretValue"], ops["GetSecretValue"]
	ops["CreateSecret"] = func(r *Request) (any, error) {
		var in smInput
		if err := r.DecodeJSON(&in); err != nil {
			return nil, err
		}
		if sec := r.Account.secrets[secretKey(r.Region, in.Name)]; sec == nil && secretNameRe.MatchString(in.Name) {
			// Only a secret that is created is tagged and encrypted; for an
			// existing one the handler answers ResourceExistsException.
			arn := partialSecretARN(r.Region, r.Account.ID, in.Name)
			if len(in.Tags) > 0 {
				if err := authorizeActionLocked(r, "secretsmanager:TagResource", arn, ""); err != nil {
					return nil, err
				}
			}
			if in.KmsKeyID != nil && (in.SecretString != nil || in.SecretBinary != nil) {
				if err := authorizeKMS(r, *in.KmsKeyID, "kms:GenerateDataKey", "kms:Decrypt"); err != nil {
					return nil, err
				}
			}
		}
		return create(r)
	}
	ops["PutSecretValue"] = withSecretKMS(put, "kms:GenerateDataKey")
	ops["GetSecretValue"] = withSecretKMS(get, "kms:Decrypt")
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
		if err := authorizeKMS(r, sec.KMSKeyID, action); err != nil {
			return nil, err
		}
		return h(r)
	}
}

// authorizeKMS checks the caller's permission for the KMS actions on a
// secret's key. The AWS managed key (no key, or alias/aws/secretsmanager)
// needs none: its key policy admits every principal of the account.
func authorizeKMS(r *Request, keyID string, actions ...string) error {
	arn, customer := kmsKeyARN(r, keyID)
	if !customer {
		return nil
	}
	for _, a := range actions {
		msg := fmt.Sprintf("Access to KMS is not allowed (%s is not authorized to perform: %s on resource: %s)",
			r.Cred.PrincipalARN, a, arn)
		if err := authorizeActionLocked(r, a, arn, msg); err != nil {
			return err
		}
	}
	return nil
}

// kmsKeyARN resolves a KmsKeyId (key ID, key ARN, alias name or alias ARN)
// to the key ARN IAM authorizes KMS calls on. The simulator has no KMS
// keys, so an alias stands for a key whose ID is the alias's name.
func kmsKeyARN(r *Request, keyID string) (arn string, customer bool) {
	name, isAlias := strings.CutPrefix(keyID, "alias/")
	if i := strings.Index(keyID, ":alias/"); i >= 0 && strings.HasPrefix(keyID, "arn:") {
		name, isAlias = keyID[i+len(":alias/"):], true
	}
	switch {
	case keyID == "" || isAlias && name == "aws/secretsmanager":
		return "", false
	case isAlias:
		return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", r.Region, r.Account.ID, name), true
	case strings.HasPrefix(keyID, "arn:"):
		return keyID, true
	}
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", r.Region, r.Account.ID, keyID), true
}
