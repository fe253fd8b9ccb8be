package awssim

import "slices"

// Secrets Manager calls that change a secret beyond its value: removing
// its resource policy or tags, and UpdateSecret.

func smDeleteResourcePolicy(r *Request) (any, error) {
	_, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	sec.Policy, sec.policyDoc = "", nil
	return smNameARN{sec.ARN, sec.Name}, nil
}

func smUntagResource(r *Request) (any, error) {
	in, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	if in.TagKeys == nil {
		return nil, apiErr(400, "ValidationException",
			"1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	// Secrets Manager tag keys are case-sensitive; keys the secret does
	// not carry are ignored.
	sec.Tags = slices.DeleteFunc(sec.Tags, func(t Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
	return nil, nil
}

// smUpdateSecret changes a secret's description, key or value. A new value
// becomes AWSCURRENT, as with PutSecretValue; a new key needs the KMS
// permissions to encrypt with it.
func smUpdateSecret(r *Request) (any, error) {
	in, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	str, bin, hasValue, err := secretValue(&in)
	if err != nil {
		return nil, err
	}
	key := sec.KMSKeyID
	if in.KmsKeyID != nil {
		key = *in.KmsKeyID
	}
	switch {
	case in.KmsKeyID != nil && *in.KmsKeyID != sec.KMSKeyID:
		if err := authorizeKMS(r, key, sec.ARN, "kms:GenerateDataKey", "kms:Decrypt"); err != nil {
			return nil, err
		}
	case hasValue:
		if err := authorizeKMS(r, key, sec.ARN, "kms:GenerateDataKey"); err != nil {
			return nil, err
		}
	}
	out := struct {
		smNameARN
		VersionID string `json:"VersionId,omitempty"`
	}{smNameARN: smNameARN{sec.ARN, sec.Name}}
	if hasValue {
		tok, err := versionToken(in.ClientRequestToken)
		if err != nil {
			return nil, err
		}
		if v := sec.version(tok); v != nil {
			if !sameValue(v, str, bin) {
				return nil, apiErr(400, "ResourceExistsException",
					"You can't modify an existing version, you can only create a new version.")
			}
			out.VersionID = v.ID
			return out, nil
		}
		v := &SecretVersion{ID: tok, String: str, Binary: bin, Created: r.Now}
		sec.Versions = append(sec.Versions, v)
		sec.moveStage(v, StageCurrent)
		out.VersionID = tok
	}
	if in.KmsKeyID != nil {
		sec.KMSKeyID = *in.KmsKeyID
	}
	if in.Description != nil {
		sec.Description = *in.Description
	}
	sec.LastChanged = r.Now
	return out, nil
}
