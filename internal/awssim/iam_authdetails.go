package awssim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// GetAccountAuthorizationDetails lists an account's users (with their tags,
// groups and policies), groups, roles and managed policies in one paginated
// call: the bulk inventory a tool uses instead of a call per user.

// Entity types of GetAccountAuthorizationDetails' Filter.
var authDetailsFilters = []string{"User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"}

type iamPolicyDetailXML struct {
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

type iamAttachedPolicyXML struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type iamUserDetailXML struct {
	Path                    string                 `xml:"Path"`
	UserName                string                 `xml:"UserName"`
	UserID                  string                 `xml:"UserId"`
	Arn                     string                 `xml:"Arn"`
	CreateDate              string                 `xml:"CreateDate"`
	UserPolicyList          []iamPolicyDetailXML   `xml:"UserPolicyList>member"`
	GroupList               []string               `xml:"GroupList>member"`
	AttachedManagedPolicies []iamAttachedPolicyXML `xml:"AttachedManagedPolicies>member"`
	Tags                    *iamTagList            `xml:"Tags,omitempty"`
}

type iamGroupDetailXML struct {
	Path                    string                 `xml:"Path"`
	GroupName               string                 `xml:"GroupName"`
	GroupID                 string                 `xml:"GroupId"`
	Arn                     string                 `xml:"Arn"`
	CreateDate              string                 `xml:"CreateDate"`
	GroupPolicyList         []iamPolicyDetailXML   `xml:"GroupPolicyList>member"`
	AttachedManagedPolicies []iamAttachedPolicyXML `xml:"AttachedManagedPolicies>member"`
}

type iamRoleDetailXML struct {
	Path                     string                 `xml:"Path"`
	RoleName                 string                 `xml:"RoleName"`
	RoleID                   string                 `xml:"RoleId"`
	Arn                      string                 `xml:"Arn"`
	CreateDate               string                 `xml:"CreateDate"`
	AssumeRolePolicyDocument string                 `xml:"AssumeRolePolicyDocument"`
	InstanceProfileList      struct{}               `xml:"InstanceProfileList"`
	RolePolicyList           []iamPolicyDetailXML   `xml:"RolePolicyList>member"`
	AttachedManagedPolicies  []iamAttachedPolicyXML `xml:"AttachedManagedPolicies>member"`
}

type iamPolicyVersionXML struct {
	Document         string `xml:"Document"`
	VersionID        string `xml:"VersionId"`
	IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	CreateDate       string `xml:"CreateDate"`
}

type iamManagedPolicyDetailXML struct {
	PolicyName                    string                `xml:"PolicyName"`
	PolicyID                      string                `xml:"PolicyId"`
	Arn                           string                `xml:"Arn"`
	Path                          string                `xml:"Path"`
	DefaultVersionID              string                `xml:"DefaultVersionId"`
	AttachmentCount               int                   `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int                   `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool                  `xml:"IsAttachable"`
	CreateDate                    string                `xml:"CreateDate"`
	UpdateDate                    string                `xml:"UpdateDate"`
	PolicyVersionList             []iamPolicyVersionXML `xml:"PolicyVersionList>member"`
}

type iamGetAccountAuthorizationDetailsResult struct {
	UserDetailList  []iamUserDetailXML          `xml:"UserDetailList>member"`
	GroupDetailList []iamGroupDetailXML         `xml:"GroupDetailList>member"`
	RoleDetailList  []iamRoleDetailXML          `xml:"RoleDetailList>member"`
	Policies        []iamManagedPolicyDetailXML `xml:"Policies>member"`
	IsTruncated     bool                        `xml:"IsTruncated"`
	Marker          string                      `xml:"Marker,omitempty"`
}

// urlEncodePolicy encodes a policy document as IAM returns documents from
// this call: URL-encoded per RFC 3986, every byte but the unreserved ones
// percent-escaped.
func urlEncodePolicy(doc string) string {
	var b strings.Builder
	b.Grow(len(doc) * 2)
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// iamGetAccountAuthorizationDetails pages through the entities the Filter
// selects (all kinds without one), in the order users, groups, roles,
// customer managed policies, AWS managed policies, each sorted by name.
// Pages hold the request's MaxItems (default 100, at most 1000) or the
// simulator's page size, whichever is smaller.
func iamGetAccountAuthorizationDetails(r *Request) (any, error) {
	filter := r.FormList("Filter")
	want := map[string]bool{}
	for _, f := range filter {
		if !slices.Contains(authDetailsFilters, f) {
			return nil, validationErrors([]string{violation(fmt.Sprint(filter), "filter",
				"satisfy constraint: [Member must satisfy enum value set: ["+strings.Join(authDetailsFilters, ", ")+"]]")})
		}
		want[f] = true
	}
	all := len(want) == 0
	a := r.Account
	x := a.iamx
	var entities []string // "kind/name", in listing order
	if all || want["User"] {
		for _, n := range a.sortedUsersLocked() {
			entities = append(entities, "1u/"+n)
		}
	}
	if all || want["Group"] {
		for _, n := range sortedKeys(a.groups) {
			entities = append(entities, "2g/"+n)
		}
	}
	if all || want["Role"] {
		for _, n := range sortedKeys(a.roles) {
			entities = append(entities, "3r/"+n)
		}
	}
	attachments := map[string]int{}
	if x != nil {
		for _, e := range x.entities {
			for _, arn := range e.attached {
				attachments[arn]++
			}
		}
	}
	if (all || want["LocalManagedPolicy"]) && x != nil {
		for _, arn := range sortedKeys(x.managed) {
			entities = append(entities, "4p/"+arn)
		}
	}
	if all || want["AWSManagedPolicy"] {
		// Only the AWS managed policies in use, as IAM lists them.
		for _, arn := range sortedKeys(awsManagedPolicies) {
			if attachments[arn] > 0 {
				entities = append(entities, "5a/"+arn)
			}
		}
	}
	lo, hi, next, err := nameWindow(r, entities)
	if err != nil {
		return nil, err
	}
	out := iamGetAccountAuthorizationDetailsResult{IsTruncated: next != "", Marker: next,
		UserDetailList: []iamUserDetailXML{}, GroupDetailList: []iamGroupDetailXML{},
		RoleDetailList: []iamRoleDetailXML{}, Policies: []iamManagedPolicyDetailXML{}}
	for _, e := range entities[lo:hi] {
		kind, name, _ := strings.Cut(e, "/")
		switch kind {
		case "1u":
			u := a.users[name]
			inline, attached := entityPoliciesXML(x, "user/"+name)
			d := iamUserDetailXML{Path: u.Path, UserName: u.Name, UserID: u.ID, Arn: u.ARN, CreateDate: ISO(u.Created),
				UserPolicyList: inline, GroupList: slices.Clone(u.Groups), AttachedManagedPolicies: attached}
			if len(u.Tags) > 0 {
				d.Tags = &iamTagList{Member: slices.Clone(u.Tags)}
			}
			out.UserDetailList = append(out.UserDetailList, d)
		case "2g":
			g := a.groups[name]
			inline, attached := entityPoliciesXML(x, "group/"+name)
			out.GroupDetailList = append(out.GroupDetailList, iamGroupDetailXML{Path: g.Path, GroupName: g.Name, GroupID: g.ID,
				Arn: g.ARN, CreateDate: ISO(g.Created), GroupPolicyList: inline, AttachedManagedPolicies: attached})
		case "3r":
			role := a.roles[name]
			inline, attached := entityPoliciesXML(x, "role/"+name)
			out.RoleDetailList = append(out.RoleDetailList, iamRoleDetailXML{Path: role.Path, RoleName: role.Name, RoleID: role.ID,
				Arn: role.ARN, CreateDate: ISO(role.Created), AssumeRolePolicyDocument: urlEncodePolicy(trustPolicyDocument(role)),
				RolePolicyList: inline, AttachedManagedPolicies: attached})
		case "4p", "5a":
			p := x.managedPolicyLocked(name)
			if p == nil {
				p = awsManagedPolicies[name]
			}
			created := ISO(p.created)
			out.Policies = append(out.Policies, iamManagedPolicyDetailXML{PolicyName: p.name, PolicyID: p.id, Arn: p.arn,
				Path: p.path, DefaultVersionID: "v1", AttachmentCount: attachments[p.arn], IsAttachable: true,
				CreateDate: created, UpdateDate: created,
				PolicyVersionList: []iamPolicyVersionXML{{Document: urlEncodePolicy(p.text), VersionID: "v1", IsDefaultVersion: true, CreateDate: created}}})
		}
	}
	return out, nil
}

// entityPoliciesXML renders an entity's inline and attached policies.
func entityPoliciesXML(x *accountIAM, key string) ([]iamPolicyDetailXML, []iamAttachedPolicyXML) {
	if x == nil || x.entities[key] == nil {
		return nil, nil
	}
	e := x.entities[key]
	var inline []iamPolicyDetailXML
	for _, p := range e.inline {
		inline = append(inline, iamPolicyDetailXML{PolicyName: p.name, PolicyDocument: urlEncodePolicy(p.text)})
	}
	var attached []iamAttachedPolicyXML
	for _, arn := range e.attached {
		if p := x.managedPolicyLocked(arn); p != nil {
			attached = append(attached, iamAttachedPolicyXML{PolicyName: p.name, PolicyArn: p.arn})
		}
	}
	return inline, attached
}

// trustPolicyDocument renders a role's trust policy as IAM stores it:
// account IDs written as their root ARNs, the external ID and
// organization as conditions.
func trustPolicyDocument(role *Role) string {
	principals := make([]string, 0, len(role.TrustedPrincipals))
	for _, p := range role.TrustedPrincipals {
		if accountIDRe.MatchString(p) {
			p = rootARN(p)
		}
		principals = append(principals, p)
	}
	st := map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": principals}, "Action": "sts:AssumeRole"}
	cond := map[string]map[string]string{}
	if role.ExternalID != "" {
		cond["StringEquals"] = map[string]string{"sts:ExternalId": role.ExternalID}
	}
	if role.TrustOrgID != "" {
		if cond["StringEquals"] == nil {
			cond["StringEquals"] = map[string]string{}
		}
		cond["StringEquals"]["aws:PrincipalOrgID"] = role.TrustOrgID
	}
	if len(cond) > 0 {
		st["Condition"] = cond
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{st}})
	return string(b)
}
