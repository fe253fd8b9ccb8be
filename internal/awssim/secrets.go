package awssim

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

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

var principalARNRe = regexp.MustCompile(`^arn:aws:iam::(\d{12}):(root|user/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)|role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+))$`)

// parseSecretPolicy validates a resource policy as Secrets Manager does:
// a well-formed resource policy (policy.go) whose principals exist.
func (s *Sim) parseSecretPolicy(text string) (*policy, error) {
	doc, err := parsePolicy(text, resourcePolicyKind)
	if err != nil {
		return nil, apiErr(400, "MalformedPolicyDocumentException", "%s", err)
	}
	for _, st := range doc.statements {
		for _, p := range st.principal.aws {
			if accountIDRe.MatchString(p) {
				continue
			}
			if strings.HasPrefix(p, "arn:aws:sts::") && strings.Contains(p, ":assumed-role/") {
				continue
			}
			m := principalARNRe.FindStringSubmatch(p)
			if m == nil || !s.principalExistsLocked(m) {
				return nil, apiErr(400, "MalformedPolicyDocumentException", "This resource policy contains an unsupported principal.")
			}
		}
	}
	return doc, nil
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

// principalKeys are condition keys that pin a statement to known
// principals or accounts; an Allow to "*" restricted by one of them is
// not public.
var principalKeys = map[string]bool{
	"aws:principalaccount": true, "aws:principalarn": true, "aws:principalorgid": true,
	"aws:sourceaccount": true, "aws:sourcearn": true, "aws:sourceowner": true, "aws:userid": true,
	"aws:principalorgpaths": true,
}

// isPublicPolicy tells what BlockPublicPolicy refuses: an Allow to every
// principal (Principal "*" or a NotPrincipal) that no condition pins to
// known accounts or principals. A Deny is never public.
func isPublicPolicy(doc *policy) bool {
	for _, st := range doc.statements {
		if st.effect != "Allow" || st.principal == nil || !(st.principal.any || st.notPrincipal) {
			continue
		}
		if !slices.ContainsFunc(st.conditions, pinsPrincipal) {
			return true
		}
	}
	return false
}

// pinsPrincipal tells whether a condition restricts a statement to fixed
// accounts, principals or an organization.
func pinsPrincipal(c policyCondition) bool {
	if !principalKeys[c.key] || c.ifExists || c.qualifier == "ForAllValues" || negatedOps[c.op] || len(c.values) == 0 {
		return false
	}
	switch c.op {
	case "StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike":
	default:
		return false
	}
	for _, v := range c.values {
		switch c.key {
		case "aws:principalarn", "aws:sourcearn":
			f := strings.SplitN(v, ":", 6)
			if len(f) != 6 || !accountIDRe.MatchString(f[4]) {
				return false
			}
		case "aws:principalaccount", "aws:sourceaccount", "aws:sourceowner":
			if !accountIDRe.MatchString(v) {
				return false
			}
		default:
			if strings.ContainsAny(v, "*?") || v == "" {
				return false
			}
		}
	}
	return true
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
	// With BlockPublicPolicy (off by default) a policy that would let
	// anyone in is refused.
	if in.BlockPublicPolicy != nil && *in.BlockPublicPolicy && isPublicPolicy(doc) {
		return nil, apiErr(400, "PublicPolicyException",
			"This resource policy will grant public access to the secret. Use BlockPublicPolicy to block this.")
	}
	sec.Policy, sec.policyDoc = *in.ResourcePolicy, doc
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
