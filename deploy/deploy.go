// Package deploy holds what it takes to run keyrotor in AWS: the IAM policy
// documents (deploy/iam/*.json, the single source of truth for every
// permission keyrotor needs), the CloudFormation templates generated from
// them (deploy/cloudformation, by `go run ./deploy/gen`), and helpers that
// turn a policy into the simulator's per-role allow-list, so tests run with
// exactly the permissions a real deployment grants.
//
// Policy files may contain placeholders, upper-case tokens such as
// CENTRAL_ACCOUNT_ID or EXTERNAL_ID that an operator (or the CloudFormation
// templates) replaces with real values; Placeholders lists them.
package deploy

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

//go:embed iam/*.json
var policyFS embed.FS

// Names of the policy documents in deploy/iam.
const (
	// MemberRotationPolicy is the rotation role's permissions for
	// `keyrotor rotate --apply`.
	MemberRotationPolicy = "member-rotation-policy"
	// MemberReadOnlyPolicy is the rotation role's permissions when the
	// account is only audited.
	MemberReadOnlyPolicy = "member-readonly-policy"
	// MemberTrustPolicy is the rotation role's trust policy.
	MemberTrustPolicy = "member-trust-policy"
	// CentralRunnerPolicy is the permissions of the runner in the central
	// security account.
	CentralRunnerPolicy = "central-runner-policy"
)

// Placeholders maps each placeholder token that may appear in a policy
// document to what replaces it.
var Placeholders = map[string]string{
	"CENTRAL_ACCOUNT_ID": "the 12-digit ID of the central security account that runs keyrotor",
	"EXTERNAL_ID":        "the sts:ExternalId the runner sends (role.external_id in accounts.yaml)",
	"ORG_ID":             "the organization's ID, o-xxxxxxxxxx",
	"SENDER_IDENTITY":    "the verified SES identity (address or domain) notifications are sent from",
	"REPORT_BUCKET":      "the S3 bucket reports are copied to (report.s3 in accounts.yaml)",
	"REPORT_PREFIX":      "the key prefix under which reports are copied (report.s3 in accounts.yaml)",
	"REPORT_KMS_KEY_ID":  "the ID of the KMS key that encrypts the report bucket, when it is not the S3 managed key",
}

// placeholderRe finds candidate placeholder tokens: upper-case words joined
// by underscores. Real values in policies (AES256, ARNs, action names) never
// look like this.
var placeholderRe = regexp.MustCompile(`[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+`)

// Document is an IAM policy document, identity-based or trust policy.
type Document struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a policy document.
type Statement struct {
	Sid    string `json:"Sid,omitempty"`
	Effect string `json:"Effect"`
	// Principal is set in trust policies only, e.g. {"AWS": [ARN]}.
	Principal map[string]Strings `json:"Principal,omitempty"`
	Action    Strings            `json:"Action"`
	// Resource is absent in trust policies.
	Resource Strings `json:"Resource,omitempty"`
	// Condition maps an operator (StringEquals, ...) to condition keys and
	// their values.
	Condition map[string]map[string]Strings `json:"Condition,omitempty"`
}

// Strings is a policy element that IAM accepts as one string or a list of
// strings. It always decodes to a list and encodes one element as a string.
type Strings []string

// UnmarshalJSON implements json.Unmarshaler.
func (s *Strings) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = Strings{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings, got %s", b)
	}
	*s = many
	return nil
}

// MarshalJSON implements json.Marshaler.
func (s Strings) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

// Names returns the names of every policy document, sorted.
func Names() []string {
	entries, err := fs.ReadDir(policyFS, "iam")
	if err != nil {
		// The directory is embedded at build time; it cannot be missing.
		panic(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	return names
}

// Raw returns the policy document's file as written.
func Raw(name string) ([]byte, error) {
	b, err := policyFS.ReadFile(path.Join("iam", strings.TrimSuffix(name, ".json")+".json"))
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", name, err)
	}
	return b, nil
}

// Policy parses and checks one policy document of deploy/iam by name
// (with or without ".json"). Unknown fields, an action that is not
// "service:Action", an Effect other than Allow or Deny and an unknown
// placeholder are errors.
func Policy(name string) (Document, error) {
	b, err := Raw(name)
	if err != nil {
		return Document{}, err
	}
	d, err := Parse(b)
	if err != nil {
		return Document{}, fmt.Errorf("policy %s: %w", name, err)
	}
	return d, nil
}

// Parse decodes and checks a policy document (see Policy).
func Parse(b []byte) (Document, error) {
	var d Document
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Document{}, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return Document{}, errors.New("decode: trailing data after the document")
	}
	if err := d.check(); err != nil {
		return Document{}, err
	}
	return d, nil
}

var actionRe = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9*]+$`)

func (d Document) check() error {
	if d.Version != "2012-10-17" {
		return fmt.Errorf("version %q, want 2012-10-17 (older versions disable policy variables)", d.Version)
	}
	if len(d.Statement) == 0 {
		return errors.New("no statement")
	}
	sids := map[string]bool{}
	for i, st := range d.Statement {
		where := fmt.Sprintf("statement %d", i)
		if st.Sid != "" {
			where = fmt.Sprintf("statement %q", st.Sid)
			if sids[st.Sid] {
				return fmt.Errorf("%s: duplicate Sid", where)
			}
			sids[st.Sid] = true
		}
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return fmt.Errorf("%s: effect %q, want Allow or Deny", where, st.Effect)
		}
		if len(st.Action) == 0 {
			return fmt.Errorf("%s: no action", where)
		}
		for _, a := range st.Action {
			if !actionRe.MatchString(a) {
				return fmt.Errorf("%s: action %q is not service:Action", where, a)
			}
		}
		if st.Principal == nil && len(st.Resource) == 0 {
			return fmt.Errorf("%s: no resource", where)
		}
		for _, s := range st.strings() {
			for _, tok := range placeholderRe.FindAllString(s, -1) {
				if _, ok := Placeholders[tok]; !ok {
					return fmt.Errorf("%s: unknown placeholder %s in %q", where, tok, s)
				}
			}
		}
	}
	return nil
}

// strings returns every string value of the statement that may hold a
// placeholder: principals, resources and condition values.
func (st Statement) strings() []string {
	var out []string
	for _, v := range st.Principal {
		out = append(out, v...)
	}
	out = append(out, st.Resource...)
	for _, keys := range st.Condition {
		for _, v := range keys {
			out = append(out, v...)
		}
	}
	return out
}

// Actions returns every action the document allows, sorted, each once.
func (d Document) Actions() []string {
	var out []string
	for _, st := range d.Statement {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Action {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out
}

// AllowList converts an identity-based policy into the simulator's role
// allow-list (awssim.RoleSpec AllowedActions and ResourcePrefixes): the
// allowed actions, and for each action granted only on some resources, the
// resource patterns. Placeholders and account IDs become "*", so the list
// fits any account of a simulated organization; an action granted on "*"
// in any statement has no resource entry. Conditions and Deny statements
// are not represented: the simulator does not evaluate them.
func (d Document) AllowList() (actions []string, resources map[string][]string) {
	actions = d.Actions()
	resources = map[string][]string{}
	unrestricted := map[string]bool{}
	for _, st := range d.Statement {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Action {
			for _, r := range st.Resource {
				r = WildcardResource(r)
				if r == "*" {
					unrestricted[a] = true
					continue
				}
				if !slices.Contains(resources[a], r) {
					resources[a] = append(resources[a], r)
				}
			}
		}
	}
	for a := range unrestricted {
		delete(resources, a)
	}
	for _, rs := range resources {
		sort.Strings(rs)
	}
	return actions, resources
}

// WildcardResource turns placeholders and 12-digit account IDs of a
// resource ARN into "*".
func WildcardResource(r string) string {
	r = placeholderRe.ReplaceAllStringFunc(r, func(tok string) string {
		if _, ok := Placeholders[tok]; ok {
			return "*"
		}
		return tok
	})
	// Split on the ARN's separators, keeping them, and wildcard every
	// segment that is an account ID.
	var b strings.Builder
	seg := 0
	for i := 0; i <= len(r); i++ {
		if i < len(r) && r[i] != ':' && r[i] != '/' {
			continue
		}
		part := r[seg:i]
		if isAccountID(part) {
			part = "*"
		}
		b.WriteString(part)
		if i < len(r) {
			b.WriteByte(r[i])
		}
		seg = i + 1
	}
	return b.String()
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// SecretPrefix is the secret name prefix the shipped rotation policy allows
// (keyrotor/): the part of its Secrets Manager resource after "secret:",
// without the trailing wildcard. Secret names outside it fail every secret
// call of a run.
func SecretPrefix() (string, error) {
	doc, err := Policy(MemberRotationPolicy)
	if err != nil {
		return "", err
	}
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			if a != "secretsmanager:CreateSecret" {
				continue
			}
			for _, r := range st.Resource {
				if _, name, ok := strings.Cut(r, ":secret:"); ok {
					return strings.TrimSuffix(name, "*"), nil
				}
			}
		}
	}
	return "", fmt.Errorf("deploy/iam/%s.json grants secretsmanager:CreateSecret on no secret", MemberRotationPolicy)
}
