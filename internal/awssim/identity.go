package awssim

import (
	"fmt"
	"slices"
	"time"
)

// Identity policies. An IAM user, role or group can carry inline policy
// documents and attached managed policies, as in IAM. A principal that has
// identity policies set (for a user: on itself or on one of its groups) is
// evaluated strictly, as AWS does: implicitly denied unless a policy allows
// the call. A principal without any keeps the simulator's older, open
// behaviour: users may do anything, and role sessions what their optional
// allow-list (RoleSpec.AllowedActions) lets them. See authz.go.

func (s *Sim) iamExtLocked(a *Account) *accountIAM {
	if a.iamx == nil {
		a.iamx = &accountIAM{entities: map[string]*entityPolicies{}, managed: map[string]*managedPolicy{}}
	}
	return a.iamx
}

// AWS managed policies the simulator can attach, with their current
// documents. PowerUserAccess is the insider every account has: it reads
// any secret its resource policy does not deny, but cannot touch IAM.
var awsManagedPolicies = func() map[string]*managedPolicy {
	docs := map[string]string{
		"AdministratorAccess": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
		"PowerUserAccess": `{"Version":"2012-10-17","Statement":[` +
			`{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},` +
			`{"Effect":"Allow","Action":["account:GetAccountInformation","account:GetPrimaryEmail","account:ListRegions",` +
			`"iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization"],"Resource":"*"}]}`,
		"IAMUserChangePassword": `{"Version":"2012-10-17","Statement":[` +
			`{"Effect":"Allow","Action":["iam:ChangePassword"],"Resource":["arn:aws:iam::*:user/${aws:username}"]},` +
			`{"Effect":"Allow","Action":["iam:GetAccountPasswordPolicy"],"Resource":"*"}]}`,
	}
	out := map[string]*managedPolicy{}
	for name, text := range docs {
		doc, err := parsePolicy(text, identityPolicyKind)
		if err != nil {
			panic(fmt.Sprintf("awssim: AWS managed policy %s: %v", name, err))
		}
		arn := "arn:aws:iam::aws:policy/" + name
		out[arn] = &managedPolicy{name: name, arn: arn, id: "ANPA" + stableID(name, 17),
			path: "/", text: text, doc: doc, awsManaged: true,
			created: time.Date(2015, 2, 6, 18, 39, 46, 0, time.UTC)}
	}
	return out
}()

// AWSManagedPolicyARN returns the ARN of an AWS managed policy the
// simulator knows ("AdministratorAccess", "PowerUserAccess" or
// "IAMUserChangePassword"), for AttachPrincipalPolicy and scenarios.
func AWSManagedPolicyARN(name string) string { return "arn:aws:iam::aws:policy/" + name }

// entityKey resolves a user, role or group ARN to its account and key in
// accountIAM.entities. The entity must exist at the ARN's path.
func (s *Sim) entityKeyLocked(arn string) (*Account, string, error) {
	m := iamEntityARNRe.FindStringSubmatch(arn)
	if m == nil {
		return nil, "", fmt.Errorf("awssim: %q is not the ARN of an IAM user, role or group", arn)
	}
	a := s.accounts[m[1]]
	if a == nil {
		return nil, "", fmt.Errorf("awssim: no account %s for %s", m[1], arn)
	}
	var found string
	switch m[2] {
	case "user":
		if u := a.users[m[4]]; u != nil {
			found = u.ARN
		}
	case "role":
		if r := a.roles[m[4]]; r != nil {
			found = r.ARN
		}
	case "group":
		if g := a.groups[m[4]]; g != nil {
			found = g.ARN
		}
	}
	if found != arn {
		return nil, "", fmt.Errorf("awssim: no %s %s in account %s", m[2], arn, m[1])
	}
	return a, m[2] + "/" + m[4], nil
}

// SetPrincipalPolicy replaces the inline identity policies of an IAM user,
// role or group (named by ARN) with docs, named inline-1, inline-2, ...
// From then on the principal (for a group: each of its members) is
// evaluated strictly, even with no documents at all: a user whose
// policies are set to nothing may do nothing, as in IAM. Each document is
// validated as IAM validates identity policies; the first invalid one is
// the error and nothing changes.
func (s *Sim) SetPrincipalPolicy(principalARN string, docs ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, key, err := s.entityKeyLocked(principalARN)
	if err != nil {
		return err
	}
	inline := make([]namedPolicy, 0, len(docs))
	for i, text := range docs {
		doc, err := parsePolicy(text, identityPolicyKind)
		if err != nil {
			return fmt.Errorf("awssim: policy %d for %s: MalformedPolicyDocument: %w", i+1, principalARN, err)
		}
		inline = append(inline, namedPolicy{name: fmt.Sprintf("inline-%d", i+1), text: text, doc: doc})
	}
	x := s.iamExtLocked(a)
	e := x.entities[key]
	if e == nil {
		e = &entityPolicies{}
		x.entities[key] = e
	}
	e.inline = inline
	return nil
}

// CreateManagedPolicy creates a customer managed policy in accountID and
// returns its ARN (arn:aws:iam::ACCOUNT:policy/NAME), for
// AttachPrincipalPolicy. The document is validated as IAM does.
func (s *Sim) CreateManagedPolicy(accountID, name, doc string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountID]
	if a == nil {
		return "", fmt.Errorf("awssim: no account %s", accountID)
	}
	if !userNameRe.MatchString(name) || len(name) > 128 {
		return "", fmt.Errorf("awssim: %q is not a valid policy name", name)
	}
	p, err := parsePolicy(doc, identityPolicyKind)
	if err != nil {
		return "", fmt.Errorf("awssim: managed policy %s: MalformedPolicyDocument: %w", name, err)
	}
	arn := fmt.Sprintf("arn:aws:iam::%s:policy/%s", accountID, name)
	x := s.iamExtLocked(a)
	if _, exists := x.managed[arn]; exists {
		return "", fmt.Errorf("awssim: EntityAlreadyExists: a policy called %s already exists in %s", name, accountID)
	}
	x.managed[arn] = &managedPolicy{name: name, arn: arn, id: "ANPA" + s.randUpper(17), path: "/",
		text: doc, doc: p, created: s.clock.Now()}
	return arn, nil
}

// AttachPrincipalPolicy attaches a managed policy (a customer managed
// policy of the principal's account, or an AWS managed one, see
// AWSManagedPolicyARN) to an IAM user, role or group, which makes the
// principal strict like SetPrincipalPolicy does.
func (s *Sim) AttachPrincipalPolicy(principalARN, policyARN string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, key, err := s.entityKeyLocked(principalARN)
	if err != nil {
		return err
	}
	x := s.iamExtLocked(a)
	if awsManagedPolicies[policyARN] == nil && x.managed[policyARN] == nil {
		return fmt.Errorf("awssim: NoSuchEntity: policy %s does not exist or is not attachable in %s", policyARN, a.ID)
	}
	e := x.entities[key]
	if e == nil {
		e = &entityPolicies{}
		x.entities[key] = e
	}
	if !slices.Contains(e.attached, policyARN) {
		e.attached = append(e.attached, policyARN)
	}
	return nil
}

// ClearPrincipalPolicies removes a principal's inline and attached
// policies and returns it to the open, non-strict behaviour.
func (s *Sim) ClearPrincipalPolicies(principalARN string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, key, err := s.entityKeyLocked(principalARN)
	if err != nil {
		return err
	}
	if a.iamx != nil {
		delete(a.iamx.entities, key)
	}
	return nil
}

// managedPolicyLocked finds an attachable policy by ARN.
func (x *accountIAM) managedPolicyLocked(arn string) *managedPolicy {
	if p := awsManagedPolicies[arn]; p != nil {
		return p
	}
	return x.managed[arn]
}

// identityDoc is one policy that applies to a principal, with where it
// came from, as SimulatePrincipalPolicy reports it.
type identityDoc struct {
	doc *policy
	// id names the policy: the inline policy's name or the managed
	// policy's ARN.
	id string
	// typ is IAM's SourcePolicyType: user, group, role, aws-managed or
	// user-managed.
	typ string
}

// identityDocsLocked returns the identity policies of a user (its own and
// its groups') or role, and whether it is strict at all.
func identityDocsLocked(a *Account, u *User, r *Role) (docs []identityDoc, strict bool) {
	x := a.iamx
	if x == nil || len(x.entities) == 0 {
		return nil, false
	}
	add := func(key, typ string) {
		e := x.entities[key]
		if e == nil {
			return
		}
		strict = true
		for _, p := range e.inline {
			docs = append(docs, identityDoc{doc: p.doc, id: p.name, typ: typ})
		}
		for _, arn := range e.attached {
			if mp := x.managedPolicyLocked(arn); mp != nil {
				t := "user-managed"
				if mp.awsManaged {
					t = "aws-managed"
				}
				docs = append(docs, identityDoc{doc: mp.doc, id: mp.arn, typ: t})
			}
		}
	}
	switch {
	case u != nil:
		add("user/"+u.Name, "user")
		for _, g := range u.Groups {
			add("group/"+g, "group")
		}
	case r != nil:
		add("role/"+r.Name, "role")
	}
	return docs, strict
}
