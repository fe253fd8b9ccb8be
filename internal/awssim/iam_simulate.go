package awssim

import (
	"fmt"
	"strings"
)

// SimulatePrincipalPolicy lets a caller ask, before acting, whether a role
// of its own account may perform actions. keyrotor's preflight and apply
// runs ask it about their own rotation role, so a read-only deployment is
// refused before any change instead of failing halfway.

type iamStatementXML struct {
	SourcePolicyID   string `xml:"SourcePolicyId"`
	SourcePolicyType string `xml:"SourcePolicyType"`
}

type iamEvaluationResultXML struct {
	EvalActionName       string            `xml:"EvalActionName"`
	EvalResourceName     string            `xml:"EvalResourceName"`
	EvalDecision         string            `xml:"EvalDecision"`
	MatchedStatements    []iamStatementXML `xml:"MatchedStatements>member"`
	MissingContextValues []string          `xml:"MissingContextValues>member"`
}

type iamSimulatePrincipalPolicyResult struct {
	EvaluationResults []iamEvaluationResultXML `xml:"EvaluationResults>member"`
	IsTruncated       bool                     `xml:"IsTruncated"`
	Marker            string                   `xml:"Marker,omitempty"`
}

// iamSimulatePrincipalPolicy evaluates, for each action on each resource
// ("*" when none is given), what a principal of the caller's account may
// do, action by action as IAM orders its results:
//
//   - A role without identity policies is judged by its allow-list (the
//     simulator's older stand-in for its policies); without one it may do
//     everything.
//   - A user or role with identity policies (SetPrincipalPolicy) is
//     evaluated as the real call would be: its policies and its groups',
//     those of PolicyInputList, and a ResourcePolicy if one is given
//     (same-account rules: either may allow, any explicit Deny wins).
//     Conditions see the principal's own keys (aws:PrincipalArn,
//     aws:username, aws:PrincipalTag/...) and the ContextEntries, which
//     win; keys a condition needs that neither supplies are reported in
//     MissingContextValues.
//
// A user without identity policies cannot be simulated: the simulator has
// no model of its permissions.
func iamSimulatePrincipalPolicy(r *Request) (any, error) {
	source, err := requiredForm(r, "PolicySourceArn", "policySourceArn")
	if err != nil {
		return nil, err
	}
	actions := r.FormList("ActionNames")
	if len(actions) == 0 {
		if _, given := r.Form["ActionNames"]; !given {
			return nil, validationErrors([]string{"Value null at 'actionNames' failed to satisfy constraint: Member must not be null"})
		}
	}
	var violations []string
	for i, a := range actions {
		if n := len(a); n < 3 || n > 128 {
			violations = append(violations, violation(a, fmt.Sprintf("actionNames.%d.member", i+1), "have length between 3 and 128"))
		}
	}
	if violations != nil {
		return nil, validationErrors(violations)
	}
	resources := r.FormList("ResourceArns")
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	// The caller must be allowed to simulate this principal: the policies
	// narrow iam:SimulatePrincipalPolicy to the role's own ARN.
	if err := r.Authorize(source); err != nil {
		return nil, err
	}
	id, legacyRole, err := simulatedPrincipal(r, source)
	if err != nil {
		return nil, err
	}
	var resPolicy *policy
	if text := r.Form.Get("ResourcePolicy"); text != "" {
		if resPolicy, err = parsePolicy(text, resourcePolicyKind); err != nil {
			return nil, apiErr(400, "MalformedPolicyDocument", "ResourcePolicy: %s", err)
		}
	}
	if id != nil {
		for i, text := range r.FormList("PolicyInputList") {
			doc, err := parsePolicy(text, identityPolicyKind)
			if err != nil {
				return nil, apiErr(400, "MalformedPolicyDocument", "PolicyInputList.%d: %s", i+1, err)
			}
			id.docs = append(id.docs, identityDoc{doc: doc, id: fmt.Sprintf("PolicyInputList.%d", i+1), typ: "user"})
		}
	}
	ctx := evalContext{}
	if id != nil {
		principalContext(ctx, r.Sim, id)
	}
	for k, v := range contextEntries(r) {
		ctx[k] = v
	}
	type pair struct{ action, resource string }
	var pairs []pair
	for _, a := range actions {
		for _, res := range resources {
			pairs = append(pairs, pair{a, res})
		}
	}
	lo, hi, next, err := indexWindow(r, len(pairs))
	if err != nil {
		return nil, err
	}
	out := iamSimulatePrincipalPolicyResult{IsTruncated: next != "", Marker: next}
	out.EvaluationResults = make([]iamEvaluationResultXML, 0, hi-lo)
	for _, p := range pairs[lo:hi] {
		res := iamEvaluationResultXML{EvalActionName: p.action, EvalResourceName: p.resource, EvalDecision: DecisionImplicitDeny}
		if id == nil {
			if roleAllows(legacyRole, p.action, p.resource) {
				res.EvalDecision = DecisionAllowed
			}
		} else {
			v := decide(id, p.action, &authzResource{arn: p.resource, policy: resPolicy}, ctx)
			res.EvalDecision = v.decision.String()
			for _, m := range append(v.identity.matched, v.resource.matched...) {
				res.MatchedStatements = append(res.MatchedStatements, iamStatementXML{SourcePolicyID: m.policyID, SourcePolicyType: m.policyType})
			}
			missing := v.identity.missing
			for _, k := range v.resource.missing {
				missing = appendUnique(missing, k)
			}
			res.MissingContextValues = missing
		}
		out.EvaluationResults = append(out.EvaluationResults, res)
	}
	return out, nil
}

// contextEntries reads SimulatePrincipalPolicy's ContextEntries.
func contextEntries(r *Request) evalContext {
	ctx := evalContext{}
	for i := 1; ; i++ {
		pfx := fmt.Sprintf("ContextEntries.member.%d.", i)
		name, ok := r.Form[pfx+"ContextKeyName"]
		if !ok || len(name) == 0 {
			return ctx
		}
		ctx.set(name[0], r.FormList(pfx+"ContextKeyValues")...)
	}
}

// simulatedPrincipal resolves PolicySourceArn to a principal of the
// caller's account: a strict user or role (id), or a role judged by its
// allow-list (legacyRole). IAM sees only the caller's account, so a
// principal elsewhere does not exist.
func simulatedPrincipal(r *Request, source string) (id *callerID, legacyRole *Role, err error) {
	if !strings.HasPrefix(source, "arn:aws:iam::") {
		return nil, nil, apiErr(400, "InvalidInput", "Invalid ARN: %s", source)
	}
	if m := iamEntityARNRe.FindStringSubmatch(source); m != nil && m[2] == "user" {
		u := r.Account.users[m[4]]
		if m[1] == r.Account.ID && u != nil && u.ARN == source {
			if id := userCaller(r.Account, u); id.strict {
				return id, nil, nil
			}
		}
		return nil, nil, apiErr(400, "InvalidInput",
			"awssim simulates a user only when it has identity policies (SetPrincipalPolicy or a scenario's policies); %s has none", source)
	}
	role, err := simulatedRole(r, source)
	if err != nil {
		return nil, nil, err
	}
	if id := roleCaller(r.Account, role, "simulation"); id.strict {
		return id, nil, nil
	}
	return nil, role, nil
}

// simulatedRole resolves PolicySourceArn to a role of the caller's account.
func simulatedRole(r *Request, source string) (*Role, error) {
	m := roleARNRe.FindStringSubmatch(source)
	if m == nil {
		return nil, apiErr(400, "InvalidInput", "awssim simulates users and roles only; %s is neither", source)
	}
	path := m[2]
	if path == "" {
		path = "/"
	}
	role := r.Account.roles[m[3]]
	if m[1] != r.Account.ID || role == nil || role.Path != path {
		return nil, apiErr(404, "NoSuchEntity", "The role with name %s cannot be found.", m[3])
	}
	return role, nil
}

// roleAllows evaluates a role's allow-list for action on resource the way
// IAM matches policy elements: case-insensitive action patterns, and, for
// an action the allow-list narrows to resources, a resource matching one of
// them. "*" is a resource like any other here: it matches only a policy
// that grants the action on "*", which is how IAM's simulator treats a
// request without resource ARNs. A nil allow-list allows everything.
func roleAllows(role *Role, action, resource string) bool {
	if role.AllowedActions == nil {
		return true
	}
	action = strings.ToLower(action)
	allowed := false
	for _, p := range role.AllowedActions {
		if wildcardMatch(strings.ToLower(p), action) {
			allowed = true
			break
		}
	}
	if !allowed {
		return false
	}
	for pat, patterns := range role.ResourcePrefixes {
		if !wildcardMatch(strings.ToLower(pat), action) {
			continue
		}
		ok := false
		for _, rp := range patterns {
			if wildcardMatch(rp, resource) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
