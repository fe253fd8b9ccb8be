package awssim

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// IAM is a query-protocol service. Everything here runs with the
// simulator's lock held (see Request) and acts on the caller's own account:
// IAM has no cross-account calls, so a role session sees only the users of
// the account it was issued in. The XML it answers with is iam_xml.go's,
// its parameter checks and pagination iam_input.go's.

// ---- users ----

func iamListUsers(r *Request) (any, error) {
	names := r.Account.sortedUsersLocked()
	if p := r.Form.Get("PathPrefix"); p != "" && p != "/" {
		if !strings.HasPrefix(p, "/") {
			return nil, validationErrors([]string{violation(p, "pathPrefix", `satisfy regular expression pattern: \u002F[\u0021-\u007F]*`)})
		}
		var filtered []string
		for _, n := range names {
			if strings.HasPrefix(r.Account.users[n].Path, p) {
				filtered = append(filtered, n)
			}
		}
		names = filtered
	}
	lo, hi, next, err := nameWindow(r, names)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+256*(hi-lo))
	b = append(b, "<Users>"...)
	for _, n := range names[lo:hi] {
		b = appendUserMember(b, r.Account.users[n])
	}
	b = append(b, "</Users>"...)
	return rawXML{appendPageEnd(b, next)}, nil
}

func iamGetUser(r *Request) (any, error) {
	if _, given := r.Form["UserName"]; !given && r.Cred.Kind == CredRoot {
		// The root user is no IAM user: AWS answers with its account
		// identity and no name or path.
		return iamGetUserResult{User: iamUserXML{
			UserID: r.Account.ID, Arn: r.Cred.PrincipalARN, CreateDate: ISO(r.Account.JoinedAt),
		}}, nil
	}
	u, err := targetUser(r)
	if err != nil {
		return nil, err
	}
	return iamGetUserResult{User: userXML(u)}, nil
}

// ---- access keys ----

func iamListAccessKeys(r *Request) (any, error) {
	var keys []*AccessKey
	userName := ""
	if _, given := r.Form["UserName"]; !given && r.Cred.Kind == CredRoot {
		keys = rootKeysLocked(r)
	} else {
		u, err := targetUser(r)
		if err != nil {
			return nil, err
		}
		keys, userName = u.Keys, u.Name
	}
	lo, hi, next, err := indexWindow(r, len(keys))
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+192*(hi-lo))
	b = append(b, "<AccessKeyMetadata>"...)
	for _, k := range keys[lo:hi] {
		b = appendKeyMember(b, userName, k)
	}
	b = append(b, "</AccessKeyMetadata>"...)
	return rawXML{appendPageEnd(b, next)}, nil
}

// rootKeysLocked lists the account root's access keys (its own, from
// AddRootAccessKey, and those RootCredentials handed out), which carry no
// user name.
func rootKeysLocked(r *Request) []*AccessKey {
	var keys []*AccessKey
	for _, c := range r.Sim.creds {
		switch {
		case c.Kind != CredRoot || c.AccountID != r.Account.ID:
		case c.key != nil:
			if keyAttached(c.key) {
				keys = append(keys, c.key)
			}
		default:
			keys = append(keys, &AccessKey{ID: c.AccessKeyID, Status: "Active", Created: r.Account.JoinedAt})
		}
	}
	slices.SortFunc(keys, func(x, y *AccessKey) int { return strings.Compare(x.ID, y.ID) })
	return keys
}

func iamCreateAccessKey(r *Request) (any, error) {
	u, err := targetUser(r)
	if err != nil {
		return nil, err
	}
	if len(u.Keys) >= maxKeysPerUser {
		return nil, apiErr(409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: %d", maxKeysPerUser)
	}
	k, c := r.Sim.newAccessKeyLocked(r.Account, u, r.Now)
	return iamCreateAccessKeyResult{AccessKey: iamAccessKeyXML{
		UserName: u.Name, AccessKeyID: k.ID, Status: k.Status, SecretAccessKey: c.SecretAccessKey, CreateDate: ISO(k.Created),
	}}, nil
}

// userKey finds one of u's keys by ID.
func userKey(u *User, id string) (int, *AccessKey) {
	for i, k := range u.Keys {
		if k.ID == id {
			return i, k
		}
	}
	return -1, nil
}

func iamUpdateAccessKey(r *Request) (any, error) {
	id, err := accessKeyIDParam(r)
	if err != nil {
		return nil, err
	}
	status, err := requiredForm(r, "Status", "status")
	if err != nil {
		return nil, err
	}
	if status != "Active" && status != "Inactive" {
		if status == "Expired" {
			return nil, apiErr(400, "InvalidInput", "Status Expired cannot be set on an access key.")
		}
		return nil, validationErrors([]string{violation(status, "status", "satisfy enum value set: [Active, Inactive, Expired]")})
	}
	u, err := targetUser(r)
	if err != nil {
		return nil, err
	}
	_, k := userKey(u, id)
	if k == nil {
		return nil, noSuchAccessKey(id)
	}
	k.Status = status
	return nil, nil
}

func iamDeleteAccessKey(r *Request) (any, error) {
	id, err := accessKeyIDParam(r)
	if err != nil {
		return nil, err
	}
	u, err := targetUser(r)
	if err != nil {
		return nil, err
	}
	i, k := userKey(u, id)
	if k == nil {
		return nil, noSuchAccessKey(id)
	}
	// The credential stays in the simulator's table (IssuedSecrets must
	// still know it); authentication rejects keys no longer on their user.
	u.Keys = slices.Delete(u.Keys, i, i+1)
	return nil, nil
}

func iamGetAccessKeyLastUsed(r *Request) (any, error) {
	id, err := accessKeyIDParam(r)
	if err != nil {
		return nil, err
	}
	c := r.Sim.creds[id]
	// A root user's key is no IAM user's: the credential report, not this
	// call, tells its last use.
	if c == nil || c.key == nil || c.key.account != r.Account || !keyAttached(c.key) || c.Kind == CredRoot {
		return nil, noSuchAccessKey(id)
	}
	k := c.key
	if err := r.authorizeUser(k.user); err != nil {
		return nil, err
	}
	last := iamAccessKeyLastUsedXML{ServiceName: "N/A", Region: "N/A"}
	if k.LastUsed != nil {
		last = iamAccessKeyLastUsedXML{LastUsedDate: ISO(*k.LastUsed), ServiceName: k.LastService, Region: k.LastRegion}
	}
	return iamGetAccessKeyLastUsedResult{UserName: k.user.Name, AccessKeyLastUsed: last}, nil
}

// ---- tags ----

func iamListUserTags(r *Request) (any, error) {
	u, err := targetUser(r)
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := indexWindow(r, len(u.Tags))
	if err != nil {
		return nil, err
	}
	return iamListUserTagsResult{Tags: slices.Clone(u.Tags[lo:hi]), IsTruncated: next != "", Marker: next}, nil
}

// checkTagKeys applies the model constraints on tag keys; field formats
// the position of the i-th key the way AWS reports it.
func checkTagKeys(keys []string, field func(i int) string) []string {
	var v []string
	for i, k := range keys {
		v = append(v, checkName(field(i), k, tagKeyRe, tagKeyPattern, 128)...)
	}
	return v
}

func iamTagUser(r *Request) (any, error) {
	name, err := requiredForm(r, "UserName", "userName")
	if err != nil {
		return nil, err
	}
	tags := r.FormTags("Tags")
	var v []string
	if len(tags) > maxTagsPerUser {
		v = append(v, violation(fmt.Sprint(tags), "tags", fmt.Sprintf("have length less than or equal to %d", maxTagsPerUser)))
	}
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = t.Key
	}
	v = append(v, checkTagKeys(keys, func(i int) string { return fmt.Sprintf("tags.%d.member.key", i+1) })...)
	for i, t := range tags {
		field := fmt.Sprintf("tags.%d.member.value", i+1)
		if utf8.RuneCountInString(t.Value) > 256 {
			v = append(v, violation(t.Value, field, "have length less than or equal to 256"))
		}
		if !tagValueRe.MatchString(t.Value) {
			v = append(v, violation(t.Value, field, "satisfy regular expression pattern: "+tagValuePattern))
		}
	}
	if v != nil {
		return nil, validationErrors(v)
	}
	for i, t := range tags {
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return nil, apiErr(400, "InvalidInput", "Tag keys starting with 'aws:' are reserved for AWS use.")
		}
		if tagIndex(tags[:i], t.Key) >= 0 {
			return nil, apiErr(400, "InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
	}
	if err := validUserName(name); err != nil {
		return nil, err
	}
	u := r.Account.users[name]
	if u == nil {
		return nil, noSuchUser(name)
	}
	r.setRequestTags(tags)
	if err := r.authorizeUser(u); err != nil {
		return nil, err
	}
	added := 0
	for _, t := range tags {
		if tagIndex(u.Tags, t.Key) < 0 {
			added++
		}
	}
	if len(u.Tags)+added > maxTagsPerUser {
		return nil, apiErr(409, "LimitExceeded", "Cannot exceed quota for TagsPerUser: %d", maxTagsPerUser)
	}
	for _, t := range tags {
		// A key matching an existing one but for case replaces it, key
		// spelling included: IAM keeps the case of the latest TagUser.
		if i := tagIndex(u.Tags, t.Key); i >= 0 {
			u.Tags[i] = t
		} else {
			u.Tags = append(u.Tags, t)
		}
	}
	return nil, nil
}

func iamUntagUser(r *Request) (any, error) {
	name, err := requiredForm(r, "UserName", "userName")
	if err != nil {
		return nil, err
	}
	keys := r.FormList("TagKeys")
	var v []string
	if len(keys) > maxTagsPerUser {
		v = append(v, violation(fmt.Sprint(keys), "tagKeys", fmt.Sprintf("have length less than or equal to %d", maxTagsPerUser)))
	}
	v = append(v, checkTagKeys(keys, func(i int) string { return fmt.Sprintf("tagKeys.%d.member", i+1) })...)
	if v != nil {
		return nil, validationErrors(v)
	}
	if err := validUserName(name); err != nil {
		return nil, err
	}
	u := r.Account.users[name]
	if u == nil {
		return nil, noSuchUser(name)
	}
	r.setContext("aws:TagKeys", keys...)
	if err := r.authorizeUser(u); err != nil {
		return nil, err
	}
	// Keys the user does not carry are ignored, as AWS ignores them.
	u.Tags = slices.DeleteFunc(u.Tags, func(t Tag) bool {
		return slices.ContainsFunc(keys, func(k string) bool { return strings.EqualFold(k, t.Key) })
	})
	return nil, nil
}

// ---- groups ----

func iamListGroupsForUser(r *Request) (any, error) {
	name, err := requiredForm(r, "UserName", "userName")
	if err != nil {
		return nil, err
	}
	if err := validUserName(name); err != nil {
		return nil, err
	}
	u := r.Account.users[name]
	if u == nil {
		return nil, noSuchUser(name)
	}
	if err := r.authorizeUser(u); err != nil {
		return nil, err
	}
	lo, hi, next, err := indexWindow(r, len(u.Groups))
	if err != nil {
		return nil, err
	}
	res := iamListGroupsForUserResult{Groups: make([]iamGroupXML, 0, hi-lo), IsTruncated: next != "", Marker: next}
	for _, g := range u.Groups[lo:hi] {
		if grp := r.Account.groups[g]; grp != nil {
			res.Groups = append(res.Groups, groupXML(grp))
		}
	}
	return res, nil
}

func iamGetGroup(r *Request) (any, error) {
	name, err := requiredForm(r, "GroupName", "groupName")
	if err != nil {
		return nil, err
	}
	if v := checkName("groupName", name, userNameRe, `[\w+=,.@-]+`, 128); v != nil {
		return nil, validationErrors(v)
	}
	g := r.Account.groups[name]
	if g == nil {
		return nil, noSuchGroup(name)
	}
	if err := r.Authorize(g.ARN); err != nil {
		return nil, err
	}
	var members []string
	for _, n := range r.Account.sortedUsersLocked() {
		if slices.Contains(r.Account.users[n].Groups, name) {
			members = append(members, n)
		}
	}
	lo, hi, next, err := nameWindow(r, members)
	if err != nil {
		return nil, err
	}
	// Group is small and fixed; encoding/xml renders it into the raw result.
	group, err := xml.Marshal(struct {
		iamGroupXML
		XMLName xml.Name `xml:"Group"`
	}{iamGroupXML: groupXML(g)})
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(group)+64+256*(hi-lo))
	b = append(b, group...)
	b = append(b, "<Users>"...)
	for _, n := range members[lo:hi] {
		b = appendUserMember(b, r.Account.users[n])
	}
	b = append(b, "</Users>"...)
	return rawXML{appendPageEnd(b, next)}, nil
}

// ---- account ----

func iamListAccountAliases(r *Request) (any, error) {
	aliases := r.Account.Aliases
	lo, hi, next, err := indexWindow(r, len(aliases))
	if err != nil {
		return nil, err
	}
	return iamListAccountAliasesResult{AccountAliases: slices.Clone(aliases[lo:hi]), IsTruncated: next != "", Marker: next}, nil
}
