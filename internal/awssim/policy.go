package awssim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is the simulator's IAM policy language: parsing identity and
// resource policy documents as IAM validates them, and evaluating one
// request against them as IAM's enforcement code does. It is pure: the
// caller builds the request (action, resource, principal, context keys)
// and combines the results of the policies that apply (see authz.go).

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

// ---- evaluation ----

// evalContext holds a request's condition keys, by lower-case name. A key
// that is present with no values (aws:TagKeys of an empty tag list) is
// different from an absent one.
type evalContext map[string][]string

func (c evalContext) set(key string, values ...string) { c[strings.ToLower(key)] = values }

// first returns the key's single value.
func (c evalContext) first(key string) (string, bool) {
	v, ok := c[strings.ToLower(key)]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

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

// arnMatch compares ARNs component by component, each with wildcards, as
// ArnLike and ArnEquals do. The resource part after the fifth colon is one
// component.
func arnMatch(pattern, arn string) bool {
	pp := strings.SplitN(pattern, ":", 6)
	ap := strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return false
	}
	for i := range pp {
		if !globMatch(pp[i], ap[i], false) {
			return false
		}
	}
	return true
}

// globMatch matches s against a pattern with * (any run) and ? (one
// character). Policy variables are expanded before matching, and a
// variable's value is literal: expand escapes * and ? in it with a
// backslash, which only globMatch reads.
func globMatch(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	return globTokens(pattern, s)
}

func globTokens(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			if p == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if globTokens(p, s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			p, s = p[1:], s[1:]
			continue
		case '\\':
			if len(p) > 1 {
				p = p[1:]
			}
		}
		if s == "" || s[0] != p[0] {
			return false
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}

// globEscape makes text literal for globMatch.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '*' || c == '?' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// expand substitutes policy variables (${aws:username}, ${aws:PrincipalTag/team},
// ${key, 'default'}, and the escapes ${*}, ${?} and ${$}) in a pattern.
// The result is a globMatch pattern; ok is false when a variable has no
// value and no default, which makes the element match nothing. Policies
// older than 2012-10-17 have no variables.
func (p *policy) expand(s string, ctx evalContext) (string, bool) {
	if p.version != policyVersion2012 || !strings.Contains(s, "${") {
		return s, true
	}
	return expandVars(s, ctx, globEscape)
}

// expandCondition expands variables in a condition value. Only the string
// and ARN operators take variables; for the wildcard operators a value is
// made literal, for the exact ones it is used as is.
func (p *policy) expandCondition(op, s string, ctx evalContext) (string, bool) {
	if p.version != policyVersion2012 || !strings.Contains(s, "${") {
		return s, true
	}
	switch op {
	case "StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals":
		return expandVars(s, ctx, globEscape)
	case "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		return expandVars(s, ctx, func(v string) string { return v })
	}
	return s, true
}

func expandVars(s string, ctx evalContext, literal func(string) string) (string, bool) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:i])
		name := strings.TrimSpace(s[i+2 : i+j])
		s = s[i+j+1:]
		switch name {
		case "*", "?", "$":
			b.WriteString(literal(name))
			continue
		}
		def, hasDef := "", false
		if k, d, ok := strings.Cut(name, ","); ok {
			d = strings.TrimSpace(d)
			if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
				name, def, hasDef = strings.TrimSpace(k), d[1:len(d)-1], true
			}
		}
		v, ok := ctx.first(name)
		if !ok {
			if !hasDef {
				return "", false
			}
			v = def
		}
		b.WriteString(literal(v))
	}
}

func rootARN(account string) string { return "arn:aws:iam::" + account + ":root" }
