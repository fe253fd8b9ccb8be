package awssim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The simulator's IAM policy language. This file parses identity and
// resource policy documents as IAM validates them; policy_match.go has the
// pattern matching and policy variables, and policy_eval.go evaluates one
// request against a document as IAM's enforcement code does. All three are
// pure: the caller builds the request (action, resource, principal,
// context keys) and combines the results of the policies that apply (see
// authz.go).

// policyKind tells identity policies from resource-based ones: only
// resource policies (and key policies) name principals.
type policyKind int

const (
	identityPolicyKind policyKind = iota
	resourcePolicyKind
)

// Policy versions. Only 2012-10-17 substitutes policy variables; an older
// or absent version treats "${...}" as literal text, as IAM does.
const (
	policyVersion2012 = "2012-10-17"
	policyVersion2008 = "2008-10-17"
)

// policy is a parsed, validated policy document.
type policy struct {
	version    string
	statements []*policyStmt
}

// policyStmt is one statement. Action and resource patterns are kept as
// written; actions compare case-insensitively, resources case-sensitively.
type policyStmt struct {
	sid    string
	index  int
	effect string // "Allow" or "Deny"
	// notAction, notResource and notPrincipal flag the Not* forms of the
	// three elements, whose lists are then the exceptions.
	actions      []string
	notAction    bool
	resources    []string
	notResource  bool
	hasResource  bool
	principal    *policyPrincipals
	notPrincipal bool
	conditions   []policyCondition
}

// policyPrincipals is a Principal (or NotPrincipal) element.
type policyPrincipals struct {
	any bool
	aws []string
	// other counts Service, Federated and CanonicalUser principals, which
	// never match an IAM caller.
	other int
}

// policyCondition is one operator/key pair of a Condition block, with its
// values (any of which may match).
type policyCondition struct {
	op        string // the base operator, canonical spelling: "StringEquals"
	qualifier string // "", "ForAllValues" or "ForAnyValue"
	ifExists  bool
	key       string // lower case: condition key names are case-insensitive
	name      string // the key as the policy spells it
	values    []string
}

// policyError is a document IAM would refuse, with IAM's kind of message.
type policyError struct{ msg string }

func (e *policyError) Error() string { return e.msg }

func malformedPolicy(format string, args ...any) error {
	return &policyError{fmt.Sprintf(format, args...)}
}

// conditionOps are the condition operators IAM knows, by lower-case name.
// Each maps to its canonical name. An operator not listed here makes the
// document malformed, as IAM refuses it when the policy is set.
var conditionOps = func() map[string]string {
	m := map[string]string{}
	for _, op := range []string{
		"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
		"StringLike", "StringNotLike",
		"NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
		"NumericGreaterThan", "NumericGreaterThanEquals",
		"DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals",
		"DateGreaterThan", "DateGreaterThanEquals",
		"Bool", "BinaryEquals", "IpAddress", "NotIpAddress",
		"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
		"Null",
	} {
		m[strings.ToLower(op)] = op
	}
	return m
}()

// negatedOps match when no policy value matches the request's value.
var negatedOps = map[string]bool{
	"StringNotEquals": true, "StringNotEqualsIgnoreCase": true, "StringNotLike": true,
	"NumericNotEquals": true, "DateNotEquals": true, "NotIpAddress": true,
	"ArnNotEquals": true, "ArnNotLike": true,
}

// parsePolicy validates a policy document the way IAM (identity policies)
// or Secrets Manager and KMS (resource policies) do: exact element names,
// Allow or Deny, actions with a service prefix, resources that are ARNs or
// "*", principals only in resource policies, and known condition operators.
// Unknown condition keys are accepted, as IAM accepts them; they are simply
// absent from every request (see policyCondition.eval).
func parsePolicy(text string, kind policyKind) (*policy, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(text))
	if err := dec.Decode(&top); err != nil || dec.More() {
		return nil, malformedPolicy("Syntax errors in policy.")
	}
	p := &policy{}
	for k, v := range top {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.version); err != nil {
				return nil, malformedPolicy("The policy Version must be a string.")
			}
			if p.version != policyVersion2012 && p.version != policyVersion2008 {
				return nil, malformedPolicy("The policy failed legacy parsing: unknown Version %q.", p.version)
			}
		case "Id":
		case "Statement":
		default:
			return nil, malformedPolicy("Syntax errors in policy: unknown element %q.", k)
		}
	}
	raw := bytes.TrimSpace(top["Statement"])
	var stmts []json.RawMessage
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, malformedPolicy("The policy contains no statements.")
	case raw[0] == '{':
		stmts = []json.RawMessage{raw}
	default:
		if err := json.Unmarshal(raw, &stmts); err != nil {
			return nil, malformedPolicy("Syntax errors in policy: Statement must be an object or a list.")
		}
	}
	if len(stmts) == 0 {
		return nil, malformedPolicy("The policy contains no statements.")
	}
	for i, sraw := range stmts {
		st, err := parseStatement(sraw, kind)
		if err != nil {
			return nil, err
		}
		st.index = i
		p.statements = append(p.statements, st)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage, kind policyKind) (*policyStmt, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, malformedPolicy("Syntax errors in policy: a statement must be an object.")
	}
	st := &policyStmt{}
	has := func(k string) bool { _, ok := m[k]; return ok }
	for k := range m {
		switch k {
		case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition":
		default:
			return nil, malformedPolicy("Syntax errors in policy: unknown statement element %q.", k)
		}
	}
	if has("Sid") {
		if err := json.Unmarshal(m["Sid"], &st.sid); err != nil {
			return nil, malformedPolicy("Statement IDs (SID) must be strings.")
		}
	}
	if err := json.Unmarshal(m["Effect"], &st.effect); err != nil || (st.effect != "Allow" && st.effect != "Deny") {
		return nil, malformedPolicy("Invalid effect: the Effect of a statement must be Allow or Deny.")
	}

	switch {
	case has("Action") && has("NotAction"):
		return nil, malformedPolicy("A statement cannot have both Action and NotAction.")
	case has("NotAction"):
		st.notAction = true
		st.actions = nil
	case !has("Action"):
		return nil, malformedPolicy("Policy statement must contain actions.")
	}
	field := "Action"
	if st.notAction {
		field = "NotAction"
	}
	actions, err := policyStrings(m[field])
	if err != nil || len(actions) == 0 {
		return nil, malformedPolicy("Syntax errors in policy: %s must be a string or a list of strings.", field)
	}
	for _, a := range actions {
		if a != "*" && !validActionPattern(a) {
			return nil, malformedPolicy("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.: %q", a)
		}
	}
	st.actions = actions

	switch {
	case has("Resource") && has("NotResource"):
		return nil, malformedPolicy("A statement cannot have both Resource and NotResource.")
	case has("Resource") || has("NotResource"):
		st.hasResource = true
		st.notResource = has("NotResource")
		field := "Resource"
		if st.notResource {
			field = "NotResource"
		}
		res, err := policyStrings(m[field])
		if err != nil || len(res) == 0 {
			return nil, malformedPolicy("Syntax errors in policy: %s must be a string or a list of strings.", field)
		}
		for _, r := range res {
			if r != "*" && !strings.HasPrefix(r, "arn:") {
				return nil, malformedPolicy("Resource %s must be in ARN format or \"*\".", r)
			}
		}
		st.resources = res
	case kind == identityPolicyKind:
		return nil, malformedPolicy("Policy statement must contain resources.")
	}

	switch {
	case has("Principal") && has("NotPrincipal"):
		return nil, malformedPolicy("A statement cannot have both Principal and NotPrincipal.")
	case kind == identityPolicyKind && (has("Principal") || has("NotPrincipal")):
		return nil, malformedPolicy("Policy document should not specify a principal.")
	case kind == resourcePolicyKind && !has("Principal") && !has("NotPrincipal"):
		return nil, malformedPolicy("This resource policy contains a statement without a Principal.")
	case has("Principal") || has("NotPrincipal"):
		field := "Principal"
		if has("NotPrincipal") {
			field, st.notPrincipal = "NotPrincipal", true
		}
		pr, err := parsePrincipals(m[field])
		if err != nil {
			return nil, err
		}
		st.principal = pr
	}

	if has("Condition") {
		conds, err := parseConditions(m["Condition"])
		if err != nil {
			return nil, err
		}
		st.conditions = conds
	}
	return st, nil
}

// validActionPattern accepts "service:Pattern" with a lower-case service
// prefix, as IAM requires.
func validActionPattern(a string) bool {
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" {
		return false
	}
	for _, c := range svc {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// policyStrings reads an element that is a string or a list of strings.
func policyStrings(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, err
	}
	return many, nil
}

func parsePrincipals(raw json.RawMessage) (*policyPrincipals, error) {
	var star string
	if err := json.Unmarshal(raw, &star); err == nil {
		if star != "*" {
			return nil, malformedPolicy("Invalid principal in policy: %q.", star)
		}
		return &policyPrincipals{any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return nil, malformedPolicy("Invalid principal in policy.")
	}
	p := &policyPrincipals{}
	for k, v := range m {
		vals, err := policyStrings(v)
		if err != nil || len(vals) == 0 {
			return nil, malformedPolicy("Invalid principal in policy: %s must be a string or a list of strings.", k)
		}
		switch k {
		case "AWS":
			for _, a := range vals {
				switch {
				case a == "*":
					p.any = true
				case strings.Contains(a, "*"):
					return nil, malformedPolicy("Invalid principal in policy: wildcards are not allowed in %q.", a)
				default:
					p.aws = append(p.aws, a)
				}
			}
		case "Service", "Federated", "CanonicalUser":
			p.other += len(vals)
		default:
			return nil, malformedPolicy("Invalid principal in policy: unknown principal type %q.", k)
		}
	}
	return p, nil
}

func parseConditions(raw json.RawMessage) ([]policyCondition, error) {
	var ops map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, malformedPolicy("Syntax errors in policy: a Condition maps operators to key-value objects.")
	}
	var out []policyCondition
	for rawOp, keys := range ops {
		c := policyCondition{}
		op := rawOp
		if q, rest, ok := strings.Cut(op, ":"); ok {
			switch strings.ToLower(q) {
			case "forallvalues":
				c.qualifier = "ForAllValues"
			case "foranyvalue":
				c.qualifier = "ForAnyValue"
			default:
				return nil, malformedPolicy("Invalid Condition type : %s.", rawOp)
			}
			op = rest
		}
		if base, ok := strings.CutSuffix(strings.ToLower(op), "ifexists"); ok && base != "null" {
			c.ifExists = true
			op = op[:len(base)]
		}
		canon, ok := conditionOps[strings.ToLower(op)]
		if !ok {
			return nil, malformedPolicy("Invalid Condition type : %s.", rawOp)
		}
		c.op = canon
		for key, v := range keys {
			if !strings.Contains(key, ":") {
				return nil, malformedPolicy("Invalid Condition key %q: it must be prefixed, e.g. aws:PrincipalArn.", key)
			}
			vals, err := conditionValues(v)
			if err != nil {
				return nil, malformedPolicy("Invalid value for condition key %q: %v", key, err)
			}
			cc := c
			cc.key, cc.name = strings.ToLower(key), key
			cc.values = vals
			out = append(out, cc)
		}
	}
	// Maps iterate in random order; a fixed order keeps evaluation and
	// MissingContextValues reproducible.
	slices.SortFunc(out, func(a, b policyCondition) int {
		return strings.Compare(a.op+"\x00"+a.key, b.op+"\x00"+b.key)
	})
	return out, nil
}

// conditionValues reads a condition value: a string, boolean or number, or
// a list of them, as text.
func conditionValues(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		list = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		var s string
		if err := json.Unmarshal(item, &s); err == nil {
			out = append(out, s)
			continue
		}
		var b bool
		if err := json.Unmarshal(item, &b); err == nil {
			out = append(out, strconv.FormatBool(b))
			continue
		}
		var n json.Number
		if err := json.Unmarshal(item, &n); err == nil {
			out = append(out, n.String())
			continue
		}
		return nil, errors.New("values must be strings, booleans or numbers")
	}
	return out, nil
}
