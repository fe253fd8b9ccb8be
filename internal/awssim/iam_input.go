package awssim

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// What IAM's handlers share: its errors, parameter checks, the user a
// call is about, and pagination.

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

// maxListItems is the largest MaxItems IAM's list calls take.
const maxListItems = 1000

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
