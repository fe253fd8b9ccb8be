package awssim

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// IAM is a query-protocol service. Everything here runs with the
// simulator's lock held (see Request) and acts on the caller's own account:
// IAM has no cross-account calls, so a role session sees only the users of
// the account it was issued in.

// maxListItems is the largest MaxItems IAM's list calls take.
const maxListItems = 1000

// ---- XML shapes (element names as in the IAM API reference) ----

type iamUserXML struct {
	Path             string      `xml:"Path,omitempty"`
	UserName         string      `xml:"UserName,omitempty"`
	UserID           string      `xml:"UserId"`
	Arn              string      `xml:"Arn"`
	CreateDate       string      `xml:"CreateDate"`
	PasswordLastUsed string      `xml:"PasswordLastUsed,omitempty"`
	Tags             *iamTagList `xml:"Tags,omitempty"`
}

// iamTagList is a pointer in iamUserXML so that users without tags (and
// every user in a list call) carry no Tags element at all, as in AWS.
type iamTagList struct {
	Member []Tag `xml:"member"`
}

type iamGroupXML struct {
	Path       string `xml:"Path"`
	GroupName  string `xml:"GroupName"`
	GroupID    string `xml:"GroupId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

// ListUsers, ListAccessKeys and GetGroup answer with rawXML built by the
// append* functions below: Users (members shaped as iamUserXML without
// Tags) or AccessKeyMetadata (members with UserName, AccessKeyId, Status,
// CreateDate), then IsTruncated and Marker.

type iamGetUserResult struct {
	User iamUserXML `xml:"User"`
}

type iamAccessKeyXML struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	CreateDate      string `xml:"CreateDate"`
}

type iamCreateAccessKeyResult struct {
	AccessKey iamAccessKeyXML `xml:"AccessKey"`
}

type iamAccessKeyLastUsedXML struct {
	LastUsedDate string `xml:"LastUsedDate,omitempty"`
	ServiceName  string `xml:"ServiceName"`
	Region       string `xml:"Region"`
}

type iamGetAccessKeyLastUsedResult struct {
	UserName          string                  `xml:"UserName"`
	AccessKeyLastUsed iamAccessKeyLastUsedXML `xml:"AccessKeyLastUsed"`
}

type iamListUserTagsResult struct {
	Tags        []Tag  `xml:"Tags>member"`
	IsTruncated bool   `xml:"IsTruncated"`
	Marker      string `xml:"Marker,omitempty"`
}

type iamListGroupsForUserResult struct {
	Groups      []iamGroupXML `xml:"Groups>member"`
	IsTruncated bool          `xml:"IsTruncated"`
	Marker      string        `xml:"Marker,omitempty"`
}

type iamListAccountAliasesResult struct {
	AccountAliases []string `xml:"AccountAliases>member"`
	IsTruncated    bool     `xml:"IsTruncated"`
	Marker         string   `xml:"Marker,omitempty"`
}

type iamGenerateCredentialReportResult struct {
	State       string `xml:"State"`
	Description string `xml:"Description"`
}

type iamGetCredentialReportResult struct {
	Content       string `xml:"Content"`
	ReportFormat  string `xml:"ReportFormat"`
	GeneratedTime string `xml:"GeneratedTime"`
}

// userXML renders a user as GetUser returns it: with its tags, which list
// calls leave out (see appendUserMember).
func userXML(u *User) iamUserXML {
	x := iamUserXML{Path: u.Path, UserName: u.Name, UserID: u.ID, Arn: u.ARN, CreateDate: ISO(u.Created)}
	if len(u.Tags) > 0 {
		x.Tags = &iamTagList{Member: slices.Clone(u.Tags)}
	}
	return x
}

func groupXML(g *Group) iamGroupXML {
	return iamGroupXML{Path: g.Path, GroupName: g.Name, GroupID: g.ID, Arn: g.ARN, CreateDate: ISO(g.Created)}
}

// appendText appends s escaped as XML character data, as encoding/xml
// escapes it; plain ASCII (nearly every name and ARN) is copied as is.
func appendText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '<' || c == '>' || c == '&' || c == '\'' || c == '"' {
			var buf bytes.Buffer
			_ = xml.EscapeText(&buf, []byte(s))
			return append(b, buf.Bytes()...)
		}
	}
	return append(b, s...)
}

func appendElem(b []byte, name, text string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendText(b, text)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

func appendTimeElem(b []byte, name string, t time.Time) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendISO(b, t)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// appendISO appends t as ISO(t) formats it; time.AppendFormat's layout
// parsing showed up in the list calls' profile.
func appendISO(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		return append(b, ISO(t)...)
	}
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = append(b, byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T')
	b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':')
	return append(b, byte('0'+s/10), byte('0'+s%10), 'Z')
}

// appendUserMember renders a user as list calls return it (no tags).
func appendUserMember(b []byte, u *User) []byte {
	b = append(b, "<member>"...)
	b = appendElem(b, "Path", u.Path)
	b = appendElem(b, "UserName", u.Name)
	b = appendElem(b, "UserId", u.ID)
	b = appendElem(b, "Arn", u.ARN)
	b = appendTimeElem(b, "CreateDate", u.Created)
	return append(b, "</member>"...)
}

func appendKeyMember(b []byte, userName string, k *AccessKey) []byte {
	b = append(b, "<member>"...)
	if userName != "" {
		b = appendElem(b, "UserName", userName)
	}
	b = appendElem(b, "AccessKeyId", k.ID)
	b = appendElem(b, "Status", k.Status)
	b = appendTimeElem(b, "CreateDate", k.Created)
	return append(b, "</member>"...)
}

func appendPageEnd(b []byte, next string) []byte {
	if next == "" {
		return append(b, "<IsTruncated>false</IsTruncated>"...)
	}
	b = append(b, "<IsTruncated>true</IsTruncated>"...)
	return appendElem(b, "Marker", next)
}

// ---- errors ----

func noSuchUser(name string) error {
	return apiErr(404, "NoSuchEntity", "The user with name %s cannot be found.", name)
}

func noSuchAccessKey(id string) error {
	return apiErr(404, "NoSuchEntity", "The Access Key with id %s cannot be found.", id)
}

func noSuchGroup(name string) error {
	return apiErr(404, "NoSuchEntity", "The group with name %s cannot be found.", name)
}

// validationErrors renders AWS's model-validation failure: every violation
// in one ValidationError, in request order.
func validationErrors(violations []string) error {
	if len(violations) == 1 {
		return apiErr(400, "ValidationError", "1 validation error detected: %s", violations[0])
	}
	return apiErr(400, "ValidationError", "%d validation errors detected: %s",
		len(violations), strings.Join(violations, "; "))
}

func violation(value, field, constraint string) string {
	return fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must %s", value, field, constraint)
}

// ---- input validation ----

var (
	accessKeyIDRe = regexp.MustCompile(`^\w+$`)
	tagKeyRe      = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRe    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

const (
	tagKeyPattern   = `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`
	tagValuePattern = `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
)

func checkName(field, v string, re *regexp.Regexp, pattern string, maxLen int) []string {
	var out []string
	if n := utf8.RuneCountInString(v); n < 1 {
		out = append(out, violation(v, field, "have length greater than or equal to 1"))
	} else if n > maxLen {
		out = append(out, violation(v, field, fmt.Sprintf("have length less than or equal to %d", maxLen)))
	}
	if v != "" && !re.MatchString(v) {
		out = append(out, violation(v, field, "satisfy regular expression pattern: "+pattern))
	}
	return out
}

func validUserName(name string) error {
	if v := checkName("userName", name, userNameRe, `[\w+=,.@-]+`, 128); v != nil {
		return validationErrors(v)
	}
	return nil
}

// requiredForm reads a required parameter, answering AWS's null-member
// error when it is missing.
func requiredForm(r *Request, param, field string) (string, error) {
	v, ok := r.Form[param]
	if !ok || len(v) == 0 {
		return "", validationErrors([]string{fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", field)})
	}
	return v[0], nil
}

func accessKeyIDParam(r *Request) (string, error) {
	id, err := requiredForm(r, "AccessKeyId", "accessKeyId")
	if err != nil {
		return "", err
	}
	var v []string
	if n := len(id); n < 16 {
		v = append(v, violation(id, "accessKeyId", "have length greater than or equal to 16"))
	} else if n > 128 {
		v = append(v, violation(id, "accessKeyId", "have length less than or equal to 128"))
	}
	if id != "" && !accessKeyIDRe.MatchString(id) {
		v = append(v, violation(id, "accessKeyId", `satisfy regular expression pattern: [\w]+`))
	}
	if v != nil {
		return "", validationErrors(v)
	}
	return id, nil
}

// ---- lookups ----

// errNonUserCaller is what IAM answers when a call that defaults to the
// caller's own user is made by a role session (or the root user, for the
// key-management calls the simulator does not emulate for root).
func errNonUserCaller() error {
	return apiErr(400, "ValidationError", "Must specify userName when calling with non-User credentials")
}

// targetUser resolves the UserName parameter, or the calling IAM user when
// it is absent, and checks the caller's resource-level permissions on it.
func targetUser(r *Request) (*User, error) {
	name, given := r.Form["UserName"]
	var u *User
	if given && len(name) > 0 {
		if err := validUserName(name[0]); err != nil {
			return nil, err
		}
		u = r.Account.users[name[0]]
		if u == nil {
			return nil, noSuchUser(name[0])
		}
	} else {
		if r.Cred.Kind != CredUser || r.Cred.key == nil {
			return nil, errNonUserCaller()
		}
		u = r.Cred.key.user
	}
	if err := r.authorizeUser(u); err != nil {
		return nil, err
	}
	return u, nil
}

// ---- pagination ----

// Markers are opaque to clients, as AWS's are; the prefix lets the
// simulator tell its own markers from garbage.
const markerPrefix = "awssim1:"

func encodeMarker(key string) string {
	return base64.StdEncoding.EncodeToString([]byte(markerPrefix + key))
}

func decodeMarker(m string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(m)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(b), markerPrefix)
}

// pageWindow picks the slice [lo, hi) of an n-item list for this request's
// MaxItems and Marker. keyAt names the item a marker resumes at; startAt
// finds that item again (false for a marker that cannot be from this list).
func pageWindow(r *Request, n int, keyAt func(int) string, startAt func(string) (int, bool)) (lo, hi int, next string, err error) {
	maxItems, err := r.FormInt("MaxItems")
	if err != nil {
		return 0, 0, "", err
	}
	if _, given := r.Form["MaxItems"]; given && (maxItems < 1 || maxItems > maxListItems) {
		c := "have value greater than or equal to 1"
		if maxItems > maxListItems {
			c = "have value less than or equal to 1000"
		}
		return 0, 0, "", validationErrors([]string{violation(strconv.Itoa(maxItems), "maxItems", c)})
	}
	if m := r.Form.Get("Marker"); m != "" {
		key, ok := decodeMarker(m)
		if ok {
			lo, ok = startAt(key)
		}
		if !ok {
			return 0, 0, "", apiErr(400, "InvalidInput", "Invalid Marker.")
		}
	}
	hi = min(lo+r.PageSize(maxItems), n)
	if hi < n {
		next = encodeMarker(keyAt(hi))
	}
	return lo, hi, next, nil
}

// indexWindow paginates a short list by position.
func indexWindow(r *Request, n int) (lo, hi int, next string, err error) {
	return pageWindow(r, n, strconv.Itoa, func(k string) (int, bool) {
		i, err := strconv.Atoi(k)
		return i, err == nil && i >= 0 && i <= n
	})
}

// nameWindow paginates an alphabetical list by name, so that a marker still
// resumes at the right place when entries come and go between pages.
func nameWindow(r *Request, names []string) (lo, hi int, next string, err error) {
	return pageWindow(r, len(names), func(i int) string { return names[i] }, func(k string) (int, bool) {
		return sort.SearchStrings(names, k), true
	})
}

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

// ---- credential report ----

// Credential report states, as GenerateCredentialReport reports them.
const (
	ReportStarted    = "STARTED"
	ReportInProgress = "INPROGRESS"
	ReportComplete   = "COMPLETE"
)

func iamGenerateCredentialReport(r *Request) (any, error) {
	a := r.Account
	rep := a.credRep
	switch {
	case rep == nil || rep.stale(r.Now):
		a.credRep = newCredentialReport(a, r.Now, r.Sim.credReportDelay)
		return iamGenerateCredentialReportResult{State: ReportStarted,
			Description: "No report exists. Starting a new report generation task"}, nil
	case !rep.ready(r.Now):
		return iamGenerateCredentialReportResult{State: ReportInProgress,
			Description: "Report generation task is in progress"}, nil
	default:
		return iamGenerateCredentialReportResult{State: ReportComplete,
			Description: "Report is complete"}, nil
	}
}

func iamGetCredentialReport(r *Request) (any, error) {
	rep := r.Account.credRep
	if rep == nil {
		return nil, apiErr(410, "ReportNotPresent",
			"Credential report not present. Generate a credential report with GenerateCredentialReport.")
	}
	if !rep.ready(r.Now) {
		return nil, apiErr(404, "ReportInProgress", "Credential report generation is in progress. Try again later.")
	}
	return iamGetCredentialReportResult{
		Content:       base64.StdEncoding.EncodeToString(rep.content),
		ReportFormat:  "text/csv",
		GeneratedTime: ISO(rep.generated),
	}, nil
}

// reportTime formats a credential-report timestamp: ISO 8601 with an
// explicit +00:00 offset, as AWS writes them.
func reportTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }
