package awssim

import "fmt"

// The principal an authorization check is about, as the policy language
// sees it: its account, the ARNs that name it, the identity policies that
// apply to it (identity.go) and the condition keys that describe it.

// authzState is a request's authorization bookkeeping.
type authzState struct {
	id *callerID
	// extra are condition keys the handler knows from the request, such as
	// the tags a call adds.
	extra evalContext
	// pending is set when the check of a strict principal's call is left to
	// the handler, which knows the resource; serve refuses a handler that
	// succeeds without making it.
	pending bool
}

// callerID is the principal a check is about: the request's caller, or
// the principal SimulatePrincipalPolicy simulates.
type callerID struct {
	account *Account
	// arn is the principal as error messages name it (for a session, the
	// assumed-role ARN).
	arn  string
	user *User
	role *Role
	// session is the role session's name.
	session string
	root    bool
	strict  bool
	docs    []identityDoc
	who     evalPrincipal
}

func rootCaller(a *Account) *callerID {
	arn := rootARN(a.ID)
	return &callerID{account: a, arn: arn, root: true,
		who: evalPrincipal{account: a.ID, arns: []string{arn}, exact: arn}}
}

func userCaller(a *Account, u *User) *callerID {
	id := &callerID{account: a, arn: u.ARN, user: u,
		who: evalPrincipal{account: a.ID, arns: []string{u.ARN}, exact: u.ARN}}
	id.docs, id.strict = identityDocsLocked(a, u, nil)
	return id
}

// roleCaller is a session of role (nil when the role is gone).
func roleCaller(a *Account, role *Role, session string) *callerID {
	id := &callerID{account: a, role: role, session: session}
	if role == nil {
		return id
	}
	sessionARN := fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", a.ID, role.Name, session)
	id.arn = sessionARN
	id.who = evalPrincipal{account: a.ID, arns: []string{role.ARN, sessionARN}, exact: sessionARN}
	id.docs, id.strict = identityDocsLocked(a, nil, role)
	return id
}

// principalARN is aws:PrincipalArn: for a role session, the role's ARN.
func (id *callerID) principalARN() string {
	switch {
	case id.root:
		return rootARN(id.account.ID)
	case id.user != nil:
		return id.user.ARN
	case id.role != nil:
		return id.role.ARN
	}
	return id.arn
}

// principalContext sets the keys that describe the principal. Simulations
// use it too, so that they see what the real call would.
func principalContext(ctx evalContext, s *Sim, id *callerID) {
	a := id.account
	ctx.set("aws:PrincipalAccount", a.ID)
	ctx.set("aws:PrincipalArn", id.principalARN())
	ctx.set("aws:PrincipalIsAWSService", "false")
	if s.org != nil && s.inOrgLocked(a) {
		ctx.set("aws:PrincipalOrgID", s.org.ID)
	}
	switch {
	case id.root:
		ctx.set("aws:PrincipalType", "Account")
		ctx.set("aws:userid", a.ID)
	case id.user != nil:
		ctx.set("aws:PrincipalType", "User")
		ctx.set("aws:username", id.user.Name)
		ctx.set("aws:userid", id.user.ID)
		for _, t := range id.user.Tags {
			ctx.set("aws:PrincipalTag/"+t.Key, t.Value)
		}
	case id.role != nil:
		ctx.set("aws:PrincipalType", "AssumedRole")
		ctx.set("aws:userid", id.role.ID+":"+id.session)
	}
}
