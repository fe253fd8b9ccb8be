package awssim

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Authorization as a request sees it: who its caller is, the checks
// before and inside the handler, the condition keys the request carries,
// and the service's AccessDenied. The decisions themselves are authz.go's.

// handlerAuthorized lists the operations whose handlers check the caller
// on the resource they act on. For a strict principal the check on "*"
// before the handler would be wrong for them (a policy may allow
// iam:CreateAccessKey on the caller's own user only), so it is left to the
// handler.
var handlerAuthorized = func() map[string]bool {
	m := map[string]bool{}
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
			m[svc+":"+op] = true
		}
	}
	return m
}()

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
func (r *Request) action() string { return r.svc.actionPrefix() + ":" + r.Op }

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
	svc := r.svc
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", r.Cred.PrincipalARN, action, resource)
	if why != "" {
		msg += " " + why
	}
	return &APIError{Code: svc.deniedCode, Message: msg, Status: svc.deniedHTTP}
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

// Authorize checks the caller for the request's action on resource (an
// ARN, or "*"): its role's allow-list, and for strict principals its
// identity policies (see authz.go). Handlers call it when a policy may
// narrow the action to resources.
func (r *Request) Authorize(resource string) error {
	if r.open() {
		return nil
	}
	return r.authorizeOn(r.action(), authzResource{arn: resource})
}
