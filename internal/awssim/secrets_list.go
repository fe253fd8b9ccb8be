package awssim

import (
	"encoding/base64"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Secrets Manager's DescribeSecret and ListSecrets: what a secret looks
// like without its value.

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
