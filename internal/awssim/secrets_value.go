package awssim

import (
	"slices"
	"time"
)

// Secrets Manager calls on a secret's life: creating it, writing and
// reading its value, tagging it and deleting it.

func smCreateSecret(r *Request) (any, error) {
	var in smInput
	if err := r.DecodeJSON(&in); err != nil {
		return nil, err
	}
	if !secretNameRe.MatchString(in.Name) {
		return nil, smInvalidParam("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	smRequestContext(r, &in)
	tok, err := versionToken(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	str, bin, hasValue, err := secretValue(&in)
	if err != nil {
		return nil, err
	}
	key := secretKey(r.Region, in.Name)
	if sec := r.Account.secrets[key]; sec != nil && (sec.Deleted == nil || r.Now.Before(*sec.Deleted)) {
		if err := r.authorizeSecret(sec); err != nil {
			return nil, err
		}
		if sec.Deleted != nil {
			return nil, apiErr(400, "InvalidRequestException",
				"You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		// A retry of the same request (same token, same value) is answered
		// as the first one was.
		if v := sec.version(tok); v != nil {
			if hasValue && sameValue(v, str, bin) {
				return struct {
					smNameARN
					VersionID string `json:"VersionId"`
				}{smNameARN{sec.ARN, sec.Name}, v.ID}, nil
			}
			return nil, apiErr(400, "ResourceExistsException",
				"You can't modify an existing version, you can only create a new version.")
		}
		return nil, apiErr(400, "ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
	}
	arn := partialSecretARN(r.Region, r.Account.ID, in.Name) + "-" + r.Sim.randFrom(arnSuffixChars, 6)
	if err := r.Authorize(arn); err != nil {
		return nil, err
	}
	sec := &Secret{
		Name: in.Name, ARN: arn, Region: r.Region,
		Created: r.Now, LastChanged: r.Now,
	}
	if in.KmsKeyID != nil {
		sec.KMSKeyID = *in.KmsKeyID
	}
	if in.Description != nil {
		sec.Description = *in.Description
	}
	for _, t := range in.Tags {
		sec.setTag(t.Key, t.Value)
	}
	out := struct {
		smNameARN
		VersionID string `json:"VersionId,omitempty"`
	}{smNameARN: smNameARN{sec.ARN, sec.Name}}
	if hasValue {
		v := &SecretVersion{ID: tok, String: str, Binary: bin, Created: r.Now}
		sec.Versions = append(sec.Versions, v)
		sec.moveStage(v, StageCurrent)
		out.VersionID = tok
	}
	r.Account.secrets[key] = sec
	return out, nil
}

type smPutResult struct {
	smNameARN
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
}

func smPutSecretValue(r *Request) (any, error) {
	in, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	tok, err := versionToken(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	str, bin, hasValue, err := secretValue(&in)
	if err != nil {
		return nil, err
	}
	if !hasValue {
		return nil, smInvalidParam("You must provide either SecretString or SecretBinary.")
	}
	if v := sec.version(tok); v != nil {
		if !sameValue(v, str, bin) {
			return nil, apiErr(400, "ResourceExistsException",
				"You can't modify an existing version, you can only create a new version.")
		}
		return smPutResult{smNameARN{sec.ARN, sec.Name}, v.ID, slices.Clone(v.Stages)}, nil
	}
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{StageCurrent}
	}
	v := &SecretVersion{ID: tok, String: str, Binary: bin, Created: r.Now}
	sec.Versions = append(sec.Versions, v)
	for _, st := range stages {
		sec.moveStage(v, st)
	}
	sec.LastChanged = r.Now
	return smPutResult{smNameARN{sec.ARN, sec.Name}, v.ID, slices.Clone(v.Stages)}, nil
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

func smGetSecretValue(r *Request) (any, error) {
	in, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	var v *SecretVersion
	switch {
	case in.VersionID != nil:
		v = sec.version(*in.VersionID)
		if v == nil || (in.VersionStage != nil && !slices.Contains(v.Stages, *in.VersionStage)) {
			return nil, apiErr(400, "ResourceNotFoundException",
				"Secrets Manager can't find the specified secret value for VersionId: %s", *in.VersionID)
		}
	default:
		stage := StageCurrent
		if in.VersionStage != nil {
			stage = *in.VersionStage
		}
		v = sec.staged(stage)
		if v == nil {
			return nil, apiErr(400, "ResourceNotFoundException",
				"Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	out := struct {
		smNameARN
		CreatedDate   *EpochTime `json:"CreatedDate,omitempty"`
		SecretBinary  []byte     `json:"SecretBinary,omitempty"`
		SecretString  *string    `json:"SecretString,omitempty"`
		VersionID     string     `json:"VersionId"`
		VersionStages []string   `json:"VersionStages"`
	}{smNameARN: smNameARN{sec.ARN, sec.Name}, CreatedDate: Epoch(v.Created), VersionID: v.ID, VersionStages: slices.Clone(v.Stages)}
	if v.Binary != nil {
		out.SecretBinary = v.Binary
	} else {
		s := v.String
		out.SecretString = &s
	}
	return out, nil
}

func smTagResource(r *Request) (any, error) {
	in, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, smInvalidParam("You must provide at least one tag.")
	}
	for _, t := range in.Tags {
		sec.setTag(t.Key, t.Value)
	}
	return nil, nil
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

func smDeleteSecret(r *Request) (any, error) {
	in, sec, err := secretRequest(r, lookupSecret)
	if err != nil {
		return nil, err
	}
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	if force && in.RecoveryWindowInDays != nil {
		return nil, smInvalidParam("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, smInvalidParam("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	out := struct {
		smNameARN
		DeletionDate *EpochTime `json:"DeletionDate"`
	}{smNameARN: smNameARN{sec.ARN, sec.Name}}
	if force {
		delete(r.Account.secrets, secretKey(sec.Region, sec.Name))
		out.DeletionDate = Epoch(r.Now)
		return out, nil
	}
	if sec.Deleted != nil {
		return nil, apiErr(400, "InvalidRequestException",
			"You can't delete secret %s that is already scheduled for deletion.", sec.Name)
	}
	// Deleted holds when the secret goes for good; until then it can be
	// described and listed but not read or written.
	when := r.Now.Add(time.Duration(days) * 24 * time.Hour)
	sec.Deleted = &when
	out.DeletionDate = Epoch(when)
	return out, nil
}
