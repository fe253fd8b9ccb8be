package awssim

import (
	"fmt"
	"strings"
)

// KMS, as far as Secrets Manager needs it: customer managed keys with key
// policies, which decide who may decrypt (read) a secret encrypted with
// them. The service answers DescribeKey and GetKeyPolicy (JSON 1.1,
// TrentService), so a tool can check a key before using it. The keys
// themselves, and how a KmsKeyId resolves, are kms_keys.go's.

// resource describes the key for an authorization check.
func (k *kmsKey) resource() authzResource {
	return authzResource{arn: k.arn, policy: k.policy, keyPolicy: true, account: k.account, tags: k.tags}
}

// ---- the KMS service ----

type kmsKeyInput struct {
	KeyID      string `json:"KeyId"`
	PolicyName string `json:"PolicyName"`
}

func kmsNotFound(id string) error {
	if strings.Contains(id, "alias/") {
		return apiErr(400, "NotFoundException", "Alias %s is not found.", id)
	}
	return apiErr(400, "NotFoundException", "Key '%s' does not exist", id)
}

// kmsRequestKey decodes a request naming one key, finds the key (only real
// keys: implicit ones exist for Secrets Manager's sake alone) and checks
// the caller under the key policy.
func kmsRequestKey(r *Request) (kmsKeyInput, *kmsKey, error) {
	var in kmsKeyInput
	if err := r.DecodeJSON(&in); err != nil {
		return in, nil, err
	}
	if in.KeyID == "" {
		return in, nil, apiErr(400, "ValidationException",
			"1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	k, err := r.Sim.resolveKMSKeyLocked(r.Account, r.Region, in.KeyID)
	if err != nil || k.implicit {
		return in, nil, kmsNotFound(in.KeyID)
	}
	if k.awsManaged {
		// The AWS managed key's policy admits the account's principals;
		// their identity policies decide.
		return in, k, r.Authorize(k.arn)
	}
	return in, k, r.authorizeOn(r.action(), k.resource())
}

type kmsKeyMetadata struct {
	AWSAccountID          string     `json:"AWSAccountId"`
	KeyID                 string     `json:"KeyId"`
	Arn                   string     `json:"Arn"`
	CreationDate          *EpochTime `json:"CreationDate,omitempty"`
	Enabled               bool       `json:"Enabled"`
	Description           string     `json:"Description"`
	KeyUsage              string     `json:"KeyUsage"`
	KeyState              string     `json:"KeyState"`
	Origin                string     `json:"Origin"`
	KeyManager            string     `json:"KeyManager"`
	CustomerMasterKeySpec string     `json:"CustomerMasterKeySpec"`
	KeySpec               string     `json:"KeySpec"`
	EncryptionAlgorithms  []string   `json:"EncryptionAlgorithms"`
	MultiRegion           bool       `json:"MultiRegion"`
}

func kmsDescribeKey(r *Request) (any, error) {
	_, k, err := kmsRequestKey(r)
	if err != nil {
		return nil, err
	}
	md := kmsKeyMetadata{AWSAccountID: k.account, KeyID: k.id, Arn: k.arn, CreationDate: Epoch(k.created),
		Enabled: true, Description: k.description, KeyUsage: "ENCRYPT_DECRYPT", KeyState: "Enabled",
		Origin: "AWS_KMS", KeyManager: "CUSTOMER", CustomerMasterKeySpec: "SYMMETRIC_DEFAULT",
		KeySpec: "SYMMETRIC_DEFAULT", EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"}}
	if k.disabled {
		md.Enabled, md.KeyState = false, "Disabled"
	}
	if k.awsManaged {
		// The AWS managed key: its real ID is an account's secret, so the
		// simulator names it by a stable ID derived from its ARN.
		md.KeyManager = "AWS"
		md.Description = "Default key that protects my Secrets Manager data when no other key is defined"
		md.KeyID = strings.ToLower(stableID(k.arn, 8)) + "-0000-4000-8000-" + strings.ToLower(stableID(k.arn+"/", 12))
		md.Arn = fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", k.region, k.account, md.KeyID)
	}
	return struct {
		KeyMetadata kmsKeyMetadata `json:"KeyMetadata"`
	}{md}, nil
}

func kmsGetKeyPolicy(r *Request) (any, error) {
	in, k, err := kmsRequestKey(r)
	if err != nil {
		return nil, err
	}
	if in.PolicyName != "" && in.PolicyName != "default" {
		return nil, kmsNotFound(in.PolicyName)
	}
	text := k.policyText
	if k.awsManaged {
		text = defaultKeyPolicy(k.account)
	}
	return struct {
		Policy     string `json:"Policy"`
		PolicyName string `json:"PolicyName"`
	}{text, "default"}, nil
}

// kmsSetEnabled serves DisableKey (enabled false) and EnableKey: a disabled
// key encrypts and decrypts nothing, so Secrets Manager can neither write
// nor read the secrets it protects. The AWS managed key cannot be changed.
func kmsSetEnabled(enabled bool) opHandler {
	return func(r *Request) (any, error) {
		_, k, err := kmsRequestKey(r)
		if err != nil {
			return nil, err
		}
		if k.awsManaged {
			return nil, apiErr(400, "NotFoundException", "Key '%s' does not exist", k.arn)
		}
		k.disabled = !enabled
		return struct{}{}, nil
	}
}
