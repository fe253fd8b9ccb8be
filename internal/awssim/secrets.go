package awssim

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Secrets Manager, as keyrotor uses it to hand new keys to their owners.
// This file is what its calls share: inputs, errors, finding the secret a
// SecretId names and checking the caller on it, and its versions. The
// calls are in secrets_value.go, secrets_list.go and secrets_policy.go;
// secrets_implied.go adds the permissions some of them imply.

// Secrets Manager staging labels.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
)

func smNotFound() error {
	return apiErr(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func smInvalidParam(format string, args ...any) error {
	return apiErr(400, "InvalidParameterException", format, args...)
}

func smMarkedForDeletion() error {
	return apiErr(400, "InvalidRequestException",
		"You can't perform this operation on the secret because it was marked for deletion.")
}

type smTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type smInput struct {
	SecretID                   string   `json:"SecretId"`
	Name                       string   `json:"Name"`
	ClientRequestToken         *string  `json:"ClientRequestToken"`
	Description                *string  `json:"Description"`
	KmsKeyID                   *string  `json:"KmsKeyId"`
	SecretString               *string  `json:"SecretString"`
	SecretBinary               []byte   `json:"SecretBinary"`
	Tags                       []smTag  `json:"Tags"`
	TagKeys                    []string `json:"TagKeys"`
	VersionID                  *string  `json:"VersionId"`
	VersionStage               *string  `json:"VersionStage"`
	VersionStages              []string `json:"VersionStages"`
	ResourcePolicy             *string  `json:"ResourcePolicy"`
	BlockPublicPolicy          *bool    `json:"BlockPublicPolicy"`
	RecoveryWindowInDays       *int64   `json:"RecoveryWindowInDays"`
	ForceDeleteWithoutRecovery *bool    `json:"ForceDeleteWithoutRecovery"`
	Filters                    []struct {
		Key    string   `json:"Key"`
		Values []string `json:"Values"`
	} `json:"Filters"`
	IncludePlannedDeletion *bool   `json:"IncludePlannedDeletion"`
	MaxResults             *int32  `json:"MaxResults"`
	NextToken              *string `json:"NextToken"`
	SortBy                 string  `json:"SortBy"`
	SortOrder              string  `json:"SortOrder"`
}

type smNameARN struct {
	ARN  string `json:"ARN"`
	Name string `json:"Name"`
}

var secretNameRe = regexp.MustCompile(`^[A-Za-z0-9/_+=.@!-]{1,512}$`)

const arnSuffixChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func secretKey(region, name string) string { return region + "\x00" + name }

// partialSecretARN is a secret's ARN without the random suffix, which AWS
// accepts as a SecretId and which policies may name.
func partialSecretARN(region, account, name string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s", region, account, name)
}

// lookupSecret finds the secret a SecretId (name, full or partial ARN)
// names in the caller's account and region, purging secrets whose recovery
// window has passed. When there is none, it still authorizes the would-be
// ARN, so a narrowed role sees AccessDenied rather than learning whether
// the secret exists.
func lookupSecret(r *Request, id string) (*Secret, error) {
	if id == "" {
		return nil, smInvalidParam("You must provide a value for SecretId.")
	}
	name := id
	if strings.HasPrefix(id, "arn:") {
		f := strings.SplitN(id, ":", 7)
		if len(f) != 7 || f[2] != "secretsmanager" || f[5] != "secret" {
			return nil, smInvalidParam("The ARN %s is not valid.", id)
		}
		if f[4] != r.Account.ID {
			return nil, apiErr(400, "AccessDeniedException",
				"User: %s is not authorized to perform: secretsmanager:%s on resource: %s because no resource-based policy allows the secretsmanager:%s action",
				r.Cred.PrincipalARN, r.Op, id, r.Op)
		}
		if f[3] != r.Region {
			return nil, smNotFound()
		}
		name = f[6]
		if sec := r.Account.secrets[secretKey(r.Region, name)]; sec == nil || sec.ARN != id {
			// A full ARN: strip the "-XXXXXX" suffix to get the name.
			if i := len(name) - 7; i > 0 && name[i] == '-' {
				if sec := r.Account.secrets[secretKey(r.Region, name[:i])]; sec != nil && sec.ARN == id {
					name = name[:i]
				}
			}
		}
	}
	key := secretKey(r.Region, name)
	sec := r.Account.secrets[key]
	if sec != nil && sec.Deleted != nil && !r.Now.Before(*sec.Deleted) {
		delete(r.Account.secrets, key)
		sec = nil
	}
	if sec == nil {
		if err := r.Authorize(partialSecretARN(r.Region, r.Account.ID, name)); err != nil {
			return nil, err
		}
		return nil, smNotFound()
	}
	if err := r.authorizeSecret(sec); err != nil {
		return nil, err
	}
	return sec, nil
}

// authorizeSecret checks the request's action on an existing secret: its
// resource policy applies, and its tags are secretsmanager:ResourceTag/KEY.
func (r *Request) authorizeSecret(sec *Secret) error {
	return r.authorizeOn(r.action(), authzResource{arn: sec.ARN, policy: sec.resourcePolicy(),
		tags: sec.Tags, tagPrefix: "secretsmanager"})
}

// resourcePolicy is the secret's parsed resource policy (nil for none).
func (sec *Secret) resourcePolicy() *policy {
	if sec.Policy == "" {
		return nil
	}
	if sec.policyDoc == nil {
		doc, err := parsePolicy(sec.Policy, resourcePolicyKind)
		if err != nil {
			// Only validated documents are stored; one that no longer
			// parses denies everything rather than nothing.
			doc, _ = parsePolicy(`{"Statement":{"Effect":"Deny","Principal":"*","Action":"*"}}`, resourcePolicyKind)
		}
		sec.policyDoc = doc
	}
	return sec.policyDoc
}

func smTags(in []smTag) []Tag {
	out := make([]Tag, len(in))
	for i, t := range in {
		out[i] = Tag(t)
	}
	return out
}

// smRequestContext records the condition keys a request carries before
// any check: the secret it names, and what it adds or changes.
func smRequestContext(r *Request, in *smInput) {
	if in.SecretID != "" {
		r.setContext("secretsmanager:SecretId", in.SecretID)
	}
	if in.Name != "" {
		r.setContext("secretsmanager:Name", in.Name)
	}
	if in.KmsKeyID != nil {
		r.setContext("secretsmanager:KmsKeyId", *in.KmsKeyID)
	}
	if in.Description != nil {
		r.setContext("secretsmanager:Description", *in.Description)
	}
	switch r.Op {
	case "PutResourcePolicy":
		r.setContext("secretsmanager:BlockPublicPolicy", fmt.Sprint(in.BlockPublicPolicy != nil && *in.BlockPublicPolicy))
	case "TagResource", "CreateSecret":
		if len(in.Tags) > 0 {
			r.setRequestTags(smTags(in.Tags))
		}
	case "UntagResource":
		r.setContext("aws:TagKeys", in.TagKeys...)
	}
}

// secretRequest decodes a request on one existing secret and finds it
// with find (lookupSecret, or liveSecret for calls that refuse a secret
// scheduled for deletion).
func secretRequest(r *Request, find func(*Request, string) (*Secret, error)) (smInput, *Secret, error) {
	var in smInput
	if err := r.DecodeJSON(&in); err != nil {
		return in, nil, err
	}
	smRequestContext(r, &in)
	sec, err := find(r, in.SecretID)
	return in, sec, err
}

// liveSecret is lookupSecret for operations AWS refuses on a secret that
// is scheduled for deletion.
func liveSecret(r *Request, id string) (*Secret, error) {
	sec, err := lookupSecret(r, id)
	if err != nil {
		return nil, err
	}
	if sec.Deleted != nil {
		return nil, smMarkedForDeletion()
	}
	return sec, nil
}

// versionToken validates a ClientRequestToken, which becomes the version ID.
// The SDK fills one in when the caller does not.
func versionToken(tok *string) (string, error) {
	if tok == nil || *tok == "" {
		return "", apiErr(400, "ValidationException",
			"1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must not be null")
	}
	if n := len(*tok); n < 32 || n > 64 {
		return "", apiErr(400, "ValidationException",
			"1 validation error detected: Value '%s' at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64", *tok)
	}
	return *tok, nil
}

func secretValue(in *smInput) (str string, bin []byte, ok bool, err error) {
	if in.SecretString != nil && in.SecretBinary != nil {
		return "", nil, false, smInvalidParam("You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if in.SecretString != nil {
		return *in.SecretString, nil, true, nil
	}
	if in.SecretBinary != nil {
		return "", in.SecretBinary, true, nil
	}
	return "", nil, false, nil
}

func sameValue(v *SecretVersion, str string, bin []byte) bool {
	return v.String == str && bytes.Equal(v.Binary, bin)
}

func (sec *Secret) version(id string) *SecretVersion {
	for _, v := range sec.Versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

func (sec *Secret) staged(stage string) *SecretVersion {
	for _, v := range sec.Versions {
		if slices.Contains(v.Stages, stage) {
			return v
		}
	}
	return nil
}

// moveStage attaches stage to v, taking it from whichever version had it.
// Moving AWSCURRENT hands AWSPREVIOUS to the version that lost it.
func (sec *Secret) moveStage(v *SecretVersion, stage string) {
	old := sec.staged(stage)
	if old == v {
		return
	}
	if old != nil {
		old.Stages = slices.DeleteFunc(old.Stages, func(s string) bool { return s == stage })
	}
	v.Stages = append(v.Stages, stage)
	if stage == StageCurrent && old != nil {
		sec.moveStage(old, StagePrevious)
	}
}

func (sec *Secret) setTag(k, v string) {
	for i := range sec.Tags {
		if sec.Tags[i].Key == k {
			sec.Tags[i].Value = v
			return
		}
	}
	sec.Tags = append(sec.Tags, Tag{Key: k, Value: v})
}
