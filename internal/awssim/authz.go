package awssim

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Authorization. Every request is checked before its handler runs, on the
// resource "*"; handlers of calls on a resource (a user, a secret, a key)
// check again on that resource. What a check decides depends on the
// caller:
//
//   - The account root may do anything its account's resource policies do
//     not explicitly deny.
//   - A role session whose role has an allow-list (RoleSpec.AllowedActions)
//     is first held to it: anything it does not list is AccessDenied,
//     whatever the policies say.
//   - A strict principal (a user or role with identity policies, see
//     identity.go) is evaluated as AWS does: an explicit Deny in an identity
//     or resource policy wins; otherwise, in the same account, an Allow in
//     either the identity policies or the resource policy (naming the
//     caller itself, not just its account) is enough. A KMS key policy must
//     allow the call itself or delegate to the identity policies through
//     the account principal.
//   - Anyone else keeps the simulator's open behaviour: allowed, unless a
//     resource policy explicitly denies. An IAM user without identity
//     policies is the one exception: reading (GetSecretValue) a secret that
//     has a resource policy needs that policy to allow the user.

// authzResource is what a check knows about its resource besides the ARN.
type authzResource struct {
	arn string
	// policy is the resource's resource-based policy, nil for none.
	policy *policy
	// keyPolicy marks policy as a KMS key policy, which must allow the
	// call (directly, or by naming the account and so delegating to the
	// caller's identity policies).
	keyPolicy bool
	// account owns the resource; "" means the caller's account.
	account string
	// tags are the resource's tags, as aws:ResourceTag/KEY and, with
	// tagPrefix, as PREFIX:ResourceTag/KEY.
	tags      []Tag
	tagPrefix string
	// extra are condition keys of this check alone, such as kms:ViaService
	// when Secrets Manager uses a key on the caller's behalf.
	extra evalContext
}

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

// caller returns the request's caller, built once per request.
func (r *Request) caller() *callerID {
	if r.authz.id == nil {
		c := r.Cred
		var id *callerID
		switch {
		case c.Kind == CredRoot:
			id = rootCaller(r.Account)
		case c.Kind == CredUser && c.key != nil:
			id = userCaller(r.Account, c.key.user)
		default:
			role := r.Account.roles[c.RoleName]
			session := c.PrincipalARN[strings.LastIndexByte(c.PrincipalARN, '/')+1:]
			id = roleCaller(r.Account, role, session)
			id.arn = c.PrincipalARN
		}
		r.authz.id = id
	}
	return r.authz.id
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

// handlerAuthorized lists the operations whose handlers check the caller
// on the resource they act on. For a strict principal the check on "*"
// before the handler would be wrong for them (a policy may allow
// iam:CreateAccessKey on the caller's own user only), so it is left to the
// handler.
var handlerAuthorized = map[string]bool{}

func init() {
	for svc, ops := range map[string][]string{
		"iam": {"GetUser", "ListAccessKeys", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
			"GetAccessKeyLastUsed", "ListUserTags", "TagUser", "UntagUser", "ListGroupsForUser", "GetGroup",
			"SimulatePrincipalPolicy"},
		"sts": {"AssumeRole"},
		"secretsmanager": {"CreateSecret", "PutSecretValue", "GetSecretValue", "DescribeSecret", "UpdateSecret",
			"PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy", "TagResource", "UntagResource", "DeleteSecret"},
		"s3":  {"PutObject", "GetObject", "HeadObject"},
		"ses": {"SendEmail", "CreateEmailIdentity", "GetEmailIdentity"},
		"kms": {"DescribeKey", "GetKeyPolicy"},
	} {
		for _, op := range ops {
			handlerAuthorized[svc+":"+op] = true
		}
	}
}

// open tells, without building anything, that a check on a resource
// without a resource policy cannot deny: the caller is the root, or an IAM
// user of an account where nobody has identity policies. It keeps the
// per-call cost of authorization near zero for the common case.
func (r *Request) open() bool {
	switch r.Cred.Kind {
	case CredRoot:
		return true
	case CredUser:
		return r.noIdentityPolicies()
	}
	role := r.openRole()
	return role != nil && role.AllowedActions == nil
}

// noIdentityPolicies tells that nobody in the caller's account has
// identity policies.
func (r *Request) noIdentityPolicies() bool {
	x := r.Account.iamx
	return x == nil || len(x.entities) == 0
}

// openRole is a session's role when no identity policy can apply to it,
// so that only its allow-list decides; nil otherwise.
func (r *Request) openRole() *Role {
	if r.Cred.Kind != CredSession || !r.noIdentityPolicies() {
		return nil
	}
	return r.Account.roles[r.Cred.RoleName]
}

// preauthorizeLocked is the check before the handler runs.
func (s *Sim) preauthorizeLocked(r *Request, svc *service) error {
	if r.open() {
		return nil
	}
	if r.openRole() == nil && r.caller().strict && handlerAuthorized[svc.name+":"+r.Op] {
		r.authz.pending = true
		return nil
	}
	return r.authorizeOn(svc.actionPrefix()+":"+r.Op, authzResource{arn: "*"})
}

// action is the request's own IAM action.
func (r *Request) action() string { return services[r.Service].actionPrefix() + ":" + r.Op }

// authorizeOn checks the caller for action on a resource and returns the
// service's AccessDenied when it is not allowed.
func (r *Request) authorizeOn(action string, res authzResource) error {
	r.authz.pending = false
	if res.policy == nil {
		if r.open() {
			return nil
		}
		if role := r.openRole(); role != nil {
			if !allowListAllows(role, action, res.arn) {
				return r.deniedError(action, res.arn, "")
			}
			return nil
		}
	}
	id := r.caller()
	if !id.strict && res.policy == nil {
		// The common case, kept cheap: only an allow-list can say no.
		if !allowListAllows(id.role, action, res.arn) {
			return r.deniedError(action, res.arn, "")
		}
		return nil
	}
	v := decide(id, action, &res, r.Sim.evalContextLocked(r, id, &res))
	if v.allowed {
		return nil
	}
	return r.deniedError(action, res.arn, v.why)
}

// deniedError is the service's AccessDenied for the request's caller; why
// ends AWS's message ("because no identity-based policy allows ...").
func (r *Request) deniedError(action, resource, why string) error {
	svc := services[r.Service]
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", r.Cred.PrincipalARN, action, resource)
	if why != "" {
		msg += " " + why
	}
	return &APIError{Code: svc.deniedCode, Message: msg, Status: svc.deniedHTTP}
}

// allowListAllows applies a role's allow-list: action patterns
// (case-insensitive), and for actions it narrows to resources, resource
// patterns. The check on "*" before a handler runs looks at actions only.
// A nil role or allow-list allows everything.
func allowListAllows(role *Role, action, resource string) bool {
	if role == nil || role.AllowedActions == nil {
		return true
	}
	la := strings.ToLower(action)
	ok := false
	for _, p := range role.AllowedActions {
		if wildcardMatch(strings.ToLower(p), la) {
			ok = true
			break
		}
	}
	if !ok || resource == "*" {
		return ok
	}
	for pat, resources := range role.ResourcePrefixes {
		if !wildcardMatch(strings.ToLower(pat), la) {
			continue
		}
		hit := false
		for _, rp := range resources {
			if wildcardMatch(rp, resource) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// verdict is a check's outcome.
type verdict struct {
	allowed bool
	// why ends the denial message; "" for an allow-list denial, whose
	// message is the simulator's original one.
	why string
	// decision is IAM's name for the outcome, for the simulator.
	decision decision
	// identity and resource are what each kind of policy said.
	identity, resource policyResult
}

// decide combines what the policies say about a call (see the comment at
// the top of this file).
func decide(id *callerID, action string, res *authzResource, ctx evalContext) verdict {
	if !allowListAllows(id.role, action, res.arn) {
		return verdict{decision: implicitDeny}
	}
	v := verdict{}
	idDec := allowed
	if id.strict {
		v.identity = evaluateAll(id.docs, &evalRequest{action: action, resource: res.arn, ctx: ctx})
		idDec = v.identity.decision
	}
	noIdentity := "because no identity-based policy allows the " + action + " action"
	noResource := "because no resource-based policy allows the " + action + " action"
	deny := func(why string) verdict {
		v.why, v.decision = why, explicitDeny
		return v
	}
	allow := func() verdict {
		v.allowed, v.decision = true, allowed
		return v
	}
	if idDec == explicitDeny {
		return deny("with an explicit deny in an identity-based policy")
	}
	if res.policy == nil {
		if idDec == allowed {
			return allow()
		}
		v.why = noIdentity
		return v
	}
	v.resource = res.policy.evaluate(&evalRequest{action: action, resource: res.arn, principal: &id.who, ctx: ctx})
	rp := v.resource
	if rp.decision == explicitDeny {
		return deny("with an explicit deny in a resource-based policy")
	}
	same := res.account == "" || res.account == id.account.ID
	switch {
	case res.keyPolicy:
		// A key policy must allow the call: naming the caller (enough in
		// the key's account) or its account (which leaves it to the
		// identity policies, as does every cross-account grant).
		switch {
		case same && rp.allowDirect:
			return allow()
		case (rp.allowAccount || rp.allowDirect) && idDec == allowed:
			return allow()
		case rp.allowAccount || (rp.allowDirect && !same):
			v.why = noIdentity
		default:
			v.why = noResource
		}
		return v
	case !same:
		if (rp.allowDirect || rp.allowAccount) && idDec == allowed {
			return allow()
		}
		v.why = noResource
		return v
	case rp.allowDirect:
		return allow()
	case id.user != nil && !id.strict && action == "secretsmanager:GetSecretValue":
		// A user without identity policies reads a policy-bearing secret
		// only when the policy allows it: the simulator's older model of
		// users, which had no identity policies at all.
		v.why = noResource
		return v
	case idDec == allowed:
		return allow()
	}
	v.why = noIdentity
	return v
}

// evaluateAll evaluates a principal's identity policies together: any
// explicit Deny wins, then any Allow.
func evaluateAll(docs []identityDoc, req *evalRequest) policyResult {
	var out policyResult
	for _, d := range docs {
		r := d.doc.evaluate(req)
		switch {
		case r.decision == explicitDeny:
			out.decision = explicitDeny
		case r.decision == allowed && out.decision != explicitDeny:
			out.decision = allowed
		}
		for _, m := range r.matched {
			m.policyID, m.policyType = d.id, d.typ
			out.matched = append(out.matched, m)
		}
		for _, k := range r.missing {
			out.missing = appendUnique(out.missing, k)
		}
	}
	return out
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// evalContextLocked builds the condition keys of a request: who calls,
// from where and when, what the resource carries, and what the handler
// added (extra keys win).
func (s *Sim) evalContextLocked(r *Request, id *callerID, res *authzResource) evalContext {
	ctx := evalContext{}
	principalContext(ctx, s, id)
	ctx.set("aws:RequestedRegion", r.Region)
	ctx.set("aws:SecureTransport", "true")
	ctx.set("aws:ViaAWSService", "false")
	ctx.set("aws:CurrentTime", ISO(r.Now))
	ctx.set("aws:EpochTime", strconv.FormatInt(r.Now.Unix(), 10))
	if r.HTTP != nil {
		if host, _, err := net.SplitHostPort(r.HTTP.RemoteAddr); err == nil {
			ctx.set("aws:SourceIp", host)
		}
	}
	resourceContext(ctx, id, res)
	for k, v := range r.authz.extra {
		ctx[k] = v
	}
	for k, v := range res.extra {
		ctx[k] = v
	}
	return ctx
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

func resourceContext(ctx evalContext, id *callerID, res *authzResource) {
	owner := res.account
	if owner == "" {
		owner = id.account.ID
	}
	if res.arn != "*" {
		ctx.set("aws:ResourceAccount", owner)
	}
	for _, t := range res.tags {
		ctx.set("aws:ResourceTag/"+t.Key, t.Value)
		if res.tagPrefix != "" {
			ctx.set(res.tagPrefix+":ResourceTag/"+t.Key, t.Value)
		}
	}
}

// setContext records a condition key the request carries, for the
// handler's later checks.
func (r *Request) setContext(key string, values ...string) {
	if r.authz.extra == nil {
		r.authz.extra = evalContext{}
	}
	r.authz.extra.set(key, values...)
}

// setRequestTags records the tags a call adds (aws:RequestTag/KEY and
// aws:TagKeys).
func (r *Request) setRequestTags(tags []Tag) {
	keys := make([]string, len(tags))
	for i, t := range tags {
		r.setContext("aws:RequestTag/"+t.Key, t.Value)
		keys[i] = t.Key
	}
	r.setContext("aws:TagKeys", keys...)
}

// authorizeUser checks the request's action on an IAM user, whose tags
// are iam:ResourceTag/KEY and aws:ResourceTag/KEY.
func (r *Request) authorizeUser(u *User) error {
	if r.open() {
		return nil
	}
	return r.authorizeOn(r.action(), authzResource{arn: u.ARN, tags: u.Tags, tagPrefix: "iam"})
}
