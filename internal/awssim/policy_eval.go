package awssim

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Evaluating one request against one policy, as IAM's enforcement code
// does: which statements apply (action, resource, principal, conditions)
// and what they decide together. Combining several policies is authz's.

// evalPrincipal is the caller as a Principal element sees it.
type evalPrincipal struct {
	account string
	// arns are the ARNs that name this caller directly: a user's ARN; a
	// role session's role ARN and its assumed-role ARN; the root's ARN.
	arns []string
	// exact is the one ARN that NotPrincipal must list to exclude the
	// caller: the user, the assumed-role session or the root.
	exact string
}

// evalRequest is what one policy is evaluated against.
type evalRequest struct {
	action    string
	resource  string
	principal *evalPrincipal // for resource policies
	ctx       evalContext
}

// Evaluation decisions, as IAM spells them.
const (
	DecisionAllowed      = "allowed"
	DecisionImplicitDeny = "implicitDeny"
	DecisionExplicitDeny = "explicitDeny"
)

// Decisions, as IAM's simulator names them.
type decision int

const (
	implicitDeny decision = iota
	allowed
	explicitDeny
)

func (d decision) String() string {
	switch d {
	case allowed:
		return DecisionAllowed
	case explicitDeny:
		return DecisionExplicitDeny
	}
	return DecisionImplicitDeny
}

// principalMatch is how a resource policy statement names the caller.
type principalMatch int

const (
	principalNone principalMatch = iota
	// principalAccount names the caller's account (its root or its ID),
	// which in the same account delegates to identity policies.
	principalAccount
	// principalDirect names the caller itself, or everyone.
	principalDirect
)

// stmtMatch is one statement that applied to the request.
type stmtMatch struct {
	stmt  *policyStmt
	match principalMatch
	// policyID and policyType say which policy the statement is in, as
	// SimulatePrincipalPolicy's MatchedStatements do.
	policyID, policyType string
}

// policyResult is what one policy says about a request.
type policyResult struct {
	decision decision
	// allowDirect and allowAccount tell, for resource policies, whether an
	// Allow named the caller itself (or everyone) or only its account.
	allowDirect, allowAccount bool
	matched                   []stmtMatch
	// missing are condition keys a statement that otherwise applied
	// needed but the request did not carry.
	missing []string
}

// evaluate applies the policy to the request.
func (p *policy) evaluate(req *evalRequest) policyResult {
	var res policyResult
	for _, st := range p.statements {
		if !st.matchesAction(req.action) || !st.matchesResource(p, req) {
			continue
		}
		pm := principalDirect
		if st.principal != nil {
			pm = st.matchesPrincipal(req.principal)
			if pm == principalNone {
				continue
			}
		}
		ok, missing := st.conditionsHold(p, req.ctx)
		for _, k := range missing {
			if !slices.Contains(res.missing, k) {
				res.missing = append(res.missing, k)
			}
		}
		if !ok {
			continue
		}
		res.matched = append(res.matched, stmtMatch{stmt: st, match: pm, policyID: "ResourcePolicy", policyType: "resource"})
		if st.effect == "Deny" {
			res.decision = explicitDeny
			continue
		}
		if res.decision != explicitDeny {
			res.decision = allowed
		}
		if pm == principalDirect {
			res.allowDirect = true
		} else {
			res.allowAccount = true
		}
	}
	return res
}

func (st *policyStmt) matchesAction(action string) bool {
	hit := slices.ContainsFunc(st.actions, func(p string) bool { return globMatch(p, action, true) })
	return hit != st.notAction
}

func (st *policyStmt) matchesResource(p *policy, req *evalRequest) bool {
	if !st.hasResource {
		// A resource policy without Resource applies to its resource.
		return true
	}
	hit := slices.ContainsFunc(st.resources, func(pat string) bool {
		pat, ok := p.expand(pat, req.ctx)
		return ok && globMatch(pat, req.resource, false)
	})
	return hit != st.notResource
}

func (st *policyStmt) matchesPrincipal(who *evalPrincipal) principalMatch {
	if who == nil {
		return principalNone
	}
	pr := st.principal
	if st.notPrincipal {
		excluded := slices.ContainsFunc(pr.aws, func(a string) bool {
			return strings.EqualFold(a, who.exact) || (who.exact == rootARN(who.account) && a == who.account)
		})
		if pr.any || excluded {
			return principalNone
		}
		return principalDirect
	}
	if pr.any {
		return principalDirect
	}
	best := principalNone
	for _, a := range pr.aws {
		switch {
		case slices.ContainsFunc(who.arns, func(c string) bool { return strings.EqualFold(a, c) }):
			return principalDirect
		case a == who.account || a == rootARN(who.account):
			best = principalAccount
		}
	}
	return best
}

// conditionsHold evaluates the statement's conditions (all must hold) and
// reports the keys the request lacked.
func (st *policyStmt) conditionsHold(p *policy, ctx evalContext) (bool, []string) {
	ok := true
	var missing []string
	for i := range st.conditions {
		c := &st.conditions[i]
		if _, present := ctx[c.key]; !present && c.op != "Null" {
			missing = append(missing, c.name)
		}
		if ok && !c.eval(p, ctx) {
			ok = false
		}
	}
	return ok, missing
}

// eval applies one condition. IAM's rules for a key the request does not
// carry: a positive operator is false, a negated one (StringNotEquals,
// ArnNotLike, ...) is true, ...IfExists is true, ForAllValues is true and
// ForAnyValue is false. Null tests presence itself.
func (c *policyCondition) eval(p *policy, ctx evalContext) bool {
	vals, present := ctx[c.key]
	if c.op == "Null" {
		wantAbsent := slices.ContainsFunc(c.values, func(v string) bool { return strings.EqualFold(v, "true") })
		return (!present || len(vals) == 0) == wantAbsent
	}
	neg := negatedOps[c.op]
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.qualifier == "ForAllValues":
			return true
		case c.qualifier == "ForAnyValue":
			return false
		}
		return neg
	}
	// matches tells whether a request value matches any policy value under
	// the operator's positive form.
	matches := func(v string) bool {
		for _, pv := range c.values {
			if pv2, ok := p.expandCondition(c.op, pv, ctx); ok && compareCondition(c.op, v, pv2) {
				return true
			}
		}
		return false
	}
	switch c.qualifier {
	case "ForAllValues":
		for _, v := range vals {
			if matches(v) == neg {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, v := range vals {
			if matches(v) != neg {
				return true
			}
		}
		return false
	}
	// Without a set operator, a request value matching any policy value
	// satisfies a positive operator, and a negated operator holds only when
	// no request value matches.
	any := slices.ContainsFunc(vals, matches)
	return any != neg
}

// compareCondition compares a request value with a policy value under the
// operator's positive form.
func compareCondition(op, v, pv string) bool {
	switch op {
	case "StringEquals", "StringNotEquals":
		return v == pv
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		return strings.EqualFold(v, pv)
	case "StringLike", "StringNotLike":
		return globMatch(pv, v, false)
	case "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike":
		return arnMatch(pv, v)
	case "Bool":
		return strings.EqualFold(v, pv)
	case "BinaryEquals":
		return v == pv
	case "IpAddress", "NotIpAddress":
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		if pfx, err := netip.ParsePrefix(pv); err == nil {
			return pfx.Contains(ip)
		}
		a, err := netip.ParseAddr(pv)
		return err == nil && a == ip
	}
	if strings.HasPrefix(op, "Numeric") {
		a, err1 := strconv.ParseFloat(v, 64)
		b, err2 := strconv.ParseFloat(pv, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		return compareOrdered(strings.TrimPrefix(op, "Numeric"), a, b)
	}
	if strings.HasPrefix(op, "Date") {
		a, ok1 := parsePolicyDate(v)
		b, ok2 := parsePolicyDate(pv)
		if !ok1 || !ok2 {
			return false
		}
		return compareOrdered(strings.TrimPrefix(op, "Date"), a, b)
	}
	return false
}

func compareOrdered(rel string, a, b float64) bool {
	switch rel {
	case "Equals", "NotEquals":
		return a == b
	case "LessThan":
		return a < b
	case "LessThanEquals":
		return a <= b
	case "GreaterThan":
		return a > b
	case "GreaterThanEquals":
		return a >= b
	}
	return false
}

// parsePolicyDate reads an ISO 8601 date or epoch seconds as epoch seconds.
func parsePolicyDate(s string) (float64, bool) {
	if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(n) {
		return n, true
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return float64(t.Unix()), true
		}
	}
	return 0, false
}
