package awssim

import (
	"fmt"
	"strings"
)

// SimulatePrincipalPolicy lets a caller ask, before acting, whether a role
// of its own account may perform actions. keyrotor's preflight and apply
// runs ask it about their own rotation role, so a read-only deployment is
// refused before any change instead of failing halfway.
//
// It is registered into the IAM service that iam.go creates: this file's
// name sorts after iam.go, and Go runs a package's init functions in the
// order the files are presented to the compiler, which is by name.
func init() {
	services["iam"].ops["SimulatePrincipalPolicy"] = iamSimulatePrincipalPolicy
}

// Evaluation decisions, as IAM spells them.
const (
	DecisionAllowed      = "allowed"
	DecisionImplicitDeny = "implicitDeny"
)

type iamEvaluationResultXML struct {
	EvalActionName       string   `xml:"EvalActionName"`
	EvalResourceName     string   `xml:"EvalResourceName"`
	EvalDecision         string   `xml:"EvalDecision"`
	MatchedStatements    []string `xml:"MatchedStatements>member"`
	MissingContextValues []string `xml:"MissingContextValues>member"`
}

type iamSimulatePrincipalPolicyResult struct {
	EvaluationResults []iamEvaluationResultXML `xml:"EvaluationResults>member"`
	IsTruncated       bool                     `xml:"IsTruncated"`
	Marker            string                   `xml:"Marker,omitempty"`
}

// iamSimulatePrincipalPolicy evaluates the allow-list of a role in the
// caller's account (the simulator's stand-in for the role's policies) for
// each action on each resource ("*" when none is given), action by action
// as IAM orders its results. Only roles can be simulated: the simulator
// models no user or group policies. Context entries are accepted and
// ignored, because the simulator evaluates no conditions.
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
	role, err := simulatedRole(r, source)
	if err != nil {
		return nil, err
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
		d := DecisionImplicitDeny
		if roleAllows(role, p.action, p.resource) {
			d = DecisionAllowed
		}
		out.EvaluationResults = append(out.EvaluationResults, iamEvaluationResultXML{
			EvalActionName: p.action, EvalResourceName: p.resource, EvalDecision: d,
		})
	}
	return out, nil
}

// simulatedRole resolves PolicySourceArn to a role of the caller's account.
// IAM sees only the caller's account, so a role elsewhere does not exist.
func simulatedRole(r *Request, source string) (*Role, error) {
	if !strings.HasPrefix(source, "arn:aws:iam::") {
		return nil, apiErr(400, "InvalidInput", "Invalid ARN: %s", source)
	}
	m := roleARNRe.FindStringSubmatch(source)
	if m == nil {
		return nil, apiErr(400, "InvalidInput", "awssim simulates roles only; %s is not a role ARN", source)
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

// authorizeActionLocked checks the caller's role allow-list for an action
// other than the request's own, as AWS does when one call needs several
// permissions (Secrets Manager asking KMS on the caller's behalf, tags
// given to a create call). The denial uses the request's service's code.
func authorizeActionLocked(r *Request, action, resource, message string) error {
	c := r.Cred
	if c.Kind != CredSession {
		return nil
	}
	role := r.Account.roles[c.RoleName]
	if role == nil || roleAllows(role, action, resource) {
		return nil
	}
	svc := services[r.Service]
	if message == "" {
		message = fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", c.PrincipalARN, action, resource)
	}
	return &APIError{Code: svc.deniedCode, Message: message, Status: svc.deniedHTTP}
}
