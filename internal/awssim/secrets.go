package awssim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

func init() {
	registerService(&service{
		name: "secretsmanager", proto: protoJSON, targetPfx: "secretsmanager",
		throttleCode: "ThrottlingException", throttleHTTP: 400,
		deniedCode: "AccessDeniedException", deniedHTTP: 400,
		authCode: "UnrecognizedClientException", authHTTP: 400,
		ops: map[string]opHandler{
			"CreateSecret":      smCreateSecret,
			"PutSecretValue":    smPutSecretValue,
			"GetSecretValue":    smGetSecretValue,
			"DescribeSecret":    smDescribeSecret,
			"ListSecrets":       smListSecrets,
			"PutResourcePolicy": smPutResourcePolicy,
			"GetResourcePolicy": smGetResourcePolicy,
			"TagResource":       smTagResource,
			"DeleteSecret":      smDeleteSecret,
		},
	})
}

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
	if err := r.Authorize(sec.ARN); err != nil {
		return nil, err
	}
	return sec, nil
}

// secretRequest decodes a request on one existing secret and finds it
// with find (lookupSecret, or liveSecret for calls that refuse a secret
// scheduled for deletion).
func secretRequest(r *Request, find func(*Request, string) (*Secret, error)) (smInput, *Secret, error) {
	var in smInput
	if err := r.DecodeJSON(&in); err != nil {
		return in, nil, err
	}
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

func smCreateSecret(r *Request) (any, error) {
	var in smInput
	if err := r.DecodeJSON(&in); err != nil {
		return nil, err
	}
	if !secretNameRe.MatchString(in.Name) {
		return nil, smInvalidParam("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
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
		if err := r.Authorize(sec.ARN); err != nil {
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

func (sec *Secret) setTag(k, v string) {
	for i := range sec.Tags {
		if sec.Tags[i].Key == k {
			sec.Tags[i].Value = v
			return
		}
	}
	sec.Tags = append(sec.Tags, Tag{Key: k, Value: v})
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

func smGetSecretValue(r *Request) (any, error) {
	in, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	if err := checkSecretPolicy(r, sec, "secretsmanager:GetSecretValue"); err != nil {
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

type smDescription struct {
	ARN             string     `json:"ARN"`
	Name            string     `json:"Name"`
	Description     string     `json:"Description,omitempty"`
	KmsKeyID        string     `json:"KmsKeyId,omitempty"`
	CreatedDate     *EpochTime `json:"CreatedDate,omitempty"`
	LastChangedDate *EpochTime `json:"LastChangedDate,omitempty"`
	DeletedDate     *EpochTime `json:"DeletedDate,omitempty"`
	Tags            []smTag    `json:"Tags,omitempty"`
	// Exactly one of these is set: DescribeSecret and ListSecrets name
	// the same map differently.
	VersionIdsToStages     map[string][]string `json:"VersionIdsToStages,omitempty"`
	SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
}

func describeSecret(sec *Secret) smDescription {
	d := smDescription{
		ARN: sec.ARN, Name: sec.Name, Description: sec.Description, KmsKeyID: sec.KMSKeyID,
		CreatedDate: Epoch(sec.Created), LastChangedDate: Epoch(sec.LastChanged),
	}
	if sec.Deleted != nil {
		d.DeletedDate = Epoch(*sec.Deleted)
	}
	for _, t := range sec.Tags {
		d.Tags = append(d.Tags, smTag(t))
	}
	for _, v := range sec.Versions {
		// Versions without a label are deprecated and not reported.
		if len(v.Stages) > 0 {
			if d.VersionIdsToStages == nil {
				d.VersionIdsToStages = map[string][]string{}
			}
			d.VersionIdsToStages[v.ID] = slices.Clone(v.Stages)
		}
	}
	return d
}

func smDescribeSecret(r *Request) (any, error) {
	_, sec, err := secretRequest(r, lookupSecret)
	if err != nil {
		return nil, err
	}
	return describeSecret(sec), nil
}

func smListSecrets(r *Request) (any, error) {
	var in smInput
	if err := r.DecodeJSON(&in); err != nil {
		return nil, err
	}
	requested := 0
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			return nil, apiErr(400, "ValidationException",
				"1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100", *in.MaxResults)
		}
		requested = int(*in.MaxResults)
	}
	for _, f := range in.Filters {
		switch f.Key {
		case "name", "tag-key", "tag-value", "description", "all":
		default:
			return nil, smInvalidParam("Invalid filter key: %s", f.Key)
		}
	}
	var matched []*Secret
	for key, sec := range r.Account.secrets {
		if !strings.HasPrefix(key, r.Region+"\x00") {
			continue
		}
		if sec.Deleted != nil && !r.Now.Before(*sec.Deleted) {
			delete(r.Account.secrets, key)
			continue
		}
		if sec.Deleted != nil && (in.IncludePlannedDeletion == nil || !*in.IncludePlannedDeletion) {
			continue
		}
		ok := true
		for _, f := range in.Filters {
			if !secretMatches(sec, f.Key, f.Values) {
				ok = false
				break
			}
		}
		if ok {
			matched = append(matched, sec)
		}
	}
	if err := sortSecrets(matched, in.SortBy, in.SortOrder); err != nil {
		return nil, err
	}
	// Offsets are tied to the sort so a token cannot be replayed against a
	// differently ordered listing.
	scope := "ListSecrets/" + in.SortBy + "/" + in.SortOrder
	start := 0
	if in.NextToken != nil && *in.NextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		sc, off, found := strings.Cut(string(raw), "\x00")
		n, convErr := strconv.Atoi(off)
		if err != nil || !found || sc != scope || convErr != nil || n < 0 {
			return nil, apiErr(400, "InvalidNextTokenException", "The NextToken value is invalid.")
		}
		start = min(n, len(matched))
	}
	end := min(start+max(r.PageSize(requested), 1), len(matched))
	out := struct {
		NextToken  *string         `json:"NextToken,omitempty"`
		SecretList []smDescription `json:"SecretList"`
	}{SecretList: []smDescription{}}
	for _, sec := range matched[start:end] {
		d := describeSecret(sec)
		d.SecretVersionsToStages, d.VersionIdsToStages = d.VersionIdsToStages, nil
		out.SecretList = append(out.SecretList, d)
	}
	if end < len(matched) {
		t := base64.RawURLEncoding.EncodeToString([]byte(scope + "\x00" + strconv.Itoa(end)))
		out.NextToken = &t
	}
	return out, nil
}

// secretMatches applies one ListSecrets filter: any of the values matches
// as a prefix; a value starting with "!" excludes its matches instead.
func secretMatches(sec *Secret, key string, values []string) bool {
	var fields []string
	switch key {
	case "name":
		fields = []string{sec.Name}
	case "description":
		fields = []string{sec.Description}
	case "tag-key":
		for _, t := range sec.Tags {
			fields = append(fields, t.Key)
		}
	case "tag-value":
		for _, t := range sec.Tags {
			fields = append(fields, t.Value)
		}
	case "all":
		fields = []string{sec.Name, sec.Description}
		for _, t := range sec.Tags {
			fields = append(fields, t.Key, t.Value)
		}
	}
	prefixed := func(p string) bool {
		return slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, p) })
	}
	positive, hasPositive := false, false
	for _, v := range values {
		if neg, ok := strings.CutPrefix(v, "!"); ok {
			if prefixed(neg) {
				return false
			}
			continue
		}
		hasPositive = true
		if prefixed(v) {
			positive = true
		}
	}
	return positive || !hasPositive
}

func sortSecrets(ss []*Secret, by, order string) error {
	var less func(a, b *Secret) int
	switch by {
	case "", "created-date":
		less = func(a, b *Secret) int { return a.Created.Compare(b.Created) }
	case "last-changed-date", "last-accessed-date":
		less = func(a, b *Secret) int { return a.LastChanged.Compare(b.LastChanged) }
	case "name":
		less = func(a, b *Secret) int { return strings.Compare(a.Name, b.Name) }
	default:
		return smInvalidParam("Invalid SortBy: %s", by)
	}
	desc := false
	switch order {
	case "", "asc":
	case "desc":
		desc = true
	default:
		return smInvalidParam("Invalid SortOrder: %s", order)
	}
	sort.SliceStable(ss, func(i, j int) bool {
		c := less(ss[i], ss[j])
		if desc {
			c = -c
		}
		if c == 0 {
			// Ties (common under a stopped clock) fall back to the name so
			// pages stay stable.
			return ss[i].Name < ss[j].Name
		}
		return c < 0
	})
	return nil
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

// ---- resource policies ----

// strList is an IAM policy element that may be a string or a list.
type strList []string

func (l *strList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = strList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

type policyPrincipal struct {
	Any     bool
	AWS     strList
	Service strList
}

func (p *policyPrincipal) UnmarshalJSON(b []byte) error {
	var star string
	if err := json.Unmarshal(b, &star); err == nil {
		if star != "*" {
			return fmt.Errorf("principal %q is not *", star)
		}
		p.Any = true
		return nil
	}
	var m struct {
		AWS     strList `json:"AWS"`
		Service strList `json:"Service"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	p.AWS, p.Service = m.AWS, m.Service
	p.Any = slices.Contains(p.AWS, "*")
	return nil
}

type policyStatement struct {
	Sid       string           `json:"Sid"`
	Effect    string           `json:"Effect"`
	Principal *policyPrincipal `json:"Principal"`
	Action    strList          `json:"Action"`
	Resource  strList          `json:"Resource"`
	Condition json.RawMessage  `json:"Condition"`
}

type policyDocument struct {
	Version   string
	Statement []policyStatement
}

func (d *policyDocument) UnmarshalJSON(b []byte) error {
	var raw struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	d.Version = raw.Version
	if len(raw.Statement) > 0 && raw.Statement[0] == '{' {
		var one policyStatement
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return err
		}
		d.Statement = []policyStatement{one}
		return nil
	}
	return json.Unmarshal(raw.Statement, &d.Statement)
}

var principalARNRe = regexp.MustCompile(`^arn:aws:iam::(\d{12}):(root|user/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)|role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+))$`)

// parseSecretPolicy validates a resource policy as Secrets Manager does:
// well-formed JSON, Allow/Deny statements with actions and principals, and
// principals that exist.
func (s *Sim) parseSecretPolicy(text string) (*policyDocument, error) {
	malformed := func(why string) error {
		return apiErr(400, "MalformedPolicyDocumentException", "%s", why)
	}
	var doc policyDocument
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return nil, malformed("This resource policy contains a syntax error.")
	}
	if len(doc.Statement) == 0 {
		return nil, malformed("This resource policy contains no statements.")
	}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return nil, malformed("This resource policy contains an invalid Effect.")
		}
		if len(st.Action) == 0 {
			return nil, malformed("This resource policy contains a statement without an Action.")
		}
		if st.Principal == nil {
			return nil, malformed("This resource policy contains a statement without a Principal.")
		}
		for _, p := range st.Principal.AWS {
			if p == "*" || accountIDRe.MatchString(p) {
				continue
			}
			m := principalARNRe.FindStringSubmatch(p)
			if m == nil || !s.principalExistsLocked(m) {
				return nil, malformed("This resource policy contains an unsupported principal.")
			}
		}
	}
	return &doc, nil
}

// principalExistsLocked tells whether a principal ARN match names a user or
// role that exists. Principals in accounts the simulator does not hold are
// taken on trust.
func (s *Sim) principalExistsLocked(m []string) bool {
	a := s.accounts[m[1]]
	switch {
	case a == nil || m[2] == "root":
		return true
	case m[3] != "":
		u := a.users[m[3]]
		return u != nil && u.ARN == m[0]
	default:
		r := a.roles[m[4]]
		return r != nil && r.ARN == m[0]
	}
}

func (st *policyStatement) covers(principals []string, action, resource string) bool {
	if !slices.ContainsFunc(st.Action, func(p string) bool {
		return wildcardMatch(strings.ToLower(p), strings.ToLower(action))
	}) {
		return false
	}
	if len(st.Resource) > 0 && !slices.ContainsFunc(st.Resource, func(p string) bool { return wildcardMatch(p, resource) }) {
		return false
	}
	if st.Principal.Any {
		return true
	}
	return slices.ContainsFunc(st.Principal.AWS, func(p string) bool {
		return slices.ContainsFunc(principals, func(c string) bool { return strings.EqualFold(p, c) })
	})
}

// checkSecretPolicy enforces a secret's resource policy. An explicit Deny
// naming the caller stops anyone. IAM users have no identity policies in the
// simulator, so a policy-bearing secret is readable by a user only when the
// policy allows that user by ARN (or everyone); root and role sessions keep
// their access. Conditions are not evaluated.
func checkSecretPolicy(r *Request, sec *Secret, action string) error {
	if sec.Policy == "" {
		return nil
	}
	doc, err := r.Sim.parseSecretPolicy(sec.Policy)
	if err != nil {
		return err
	}
	principals := []string{r.Cred.PrincipalARN}
	if r.Cred.Kind == CredSession {
		if role := r.Account.roles[r.Cred.RoleName]; role != nil {
			principals = append(principals, role.ARN)
		}
	}
	allowed := false
	for i := range doc.Statement {
		st := &doc.Statement[i]
		if !st.covers(principals, action, sec.ARN) {
			continue
		}
		if st.Effect == "Deny" {
			return apiErr(400, "AccessDeniedException",
				"User: %s is not authorized to perform: %s on resource: %s with an explicit deny in a resource-based policy",
				r.Cred.PrincipalARN, action, sec.Name)
		}
		allowed = true
	}
	if allowed || r.Cred.Kind != CredUser {
		return nil
	}
	return apiErr(400, "AccessDeniedException",
		"User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action",
		r.Cred.PrincipalARN, action, sec.Name, action)
}

func smPutResourcePolicy(r *Request) (any, error) {
	in, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	if in.ResourcePolicy == nil {
		return nil, smInvalidParam("You must provide a value for ResourcePolicy.")
	}
	doc, err := r.Sim.parseSecretPolicy(*in.ResourcePolicy)
	if err != nil {
		return nil, err
	}
	// With BlockPublicPolicy (off by default) an unconditional Allow to
	// everyone is refused.
	if in.BlockPublicPolicy != nil && *in.BlockPublicPolicy {
		for _, st := range doc.Statement {
			if st.Effect == "Allow" && st.Principal.Any && len(st.Condition) == 0 {
				return nil, apiErr(400, "PublicPolicyException",
					"This resource policy will grant public access to the secret. Use BlockPublicPolicy to block this.")
			}
		}
	}
	sec.Policy = *in.ResourcePolicy
	return smNameARN{sec.ARN, sec.Name}, nil
}

func smGetResourcePolicy(r *Request) (any, error) {
	_, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	out := struct {
		smNameARN
		ResourcePolicy *string `json:"ResourcePolicy,omitempty"`
	}{smNameARN: smNameARN{sec.ARN, sec.Name}}
	if sec.Policy != "" {
		p := sec.Policy
		out.ResourcePolicy = &p
	}
	return out, nil
}
