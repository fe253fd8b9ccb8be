package awssim

import (
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
//
// This file makes the decisions, from the caller (principal.go), the
// resource and the request's condition keys; authz_request.go is how a
// request asks for them.

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

// wildcardMatch matches s against a pattern with * (any run) and ? (one char).
func wildcardMatch(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for len(pattern) > 0 && pattern[0] == '*' {
				pattern = pattern[1:]
			}
			if pattern == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if wildcardMatch(pattern, s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
		}
		pattern, s = pattern[1:], s[1:]
	}
	return s == ""
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
