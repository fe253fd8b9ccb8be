package awssim

import (
	"regexp"
	"slices"
	"strings"
)

// Secrets Manager resource policies: validating them as Secrets Manager
// does (principals must exist; BlockPublicPolicy refuses public ones), and
// the calls that set, read and remove them.

var principalARNRe = regexp.MustCompile(`^arn:aws:iam::(\d{12}):(root|user/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)|role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+))$`)

// parseSecretPolicy validates a resource policy as Secrets Manager does:
// a well-formed resource policy (policy.go) whose principals exist.
func (s *Sim) parseSecretPolicy(text string) (*policy, error) {
	doc, err := parsePolicy(text, resourcePolicyKind)
	if err != nil {
		return nil, apiErr(400, "MalformedPolicyDocumentException", "%s", err)
	}
	for _, st := range doc.statements {
		for _, p := range st.principal.aws {
			if accountIDRe.MatchString(p) {
				continue
			}
			if strings.HasPrefix(p, "arn:aws:sts::") && strings.Contains(p, ":assumed-role/") {
				continue
			}
			m := principalARNRe.FindStringSubmatch(p)
			if m == nil || !s.principalExistsLocked(m) {
				return nil, apiErr(400, "MalformedPolicyDocumentException", "This resource policy contains an unsupported principal.")
			}
		}
	}
	return doc, nil
}

// principalExistsLocked tells whether a principal ARN match names a user or
// role that exists. Principals in accounts the simulator does not hold are
// taken on trust.
func (s *Sim) principalExistsLocked(m []string) bool {
	a := s.accounts[m[1]]
	switch {
	case a == nil || m[2] == "root":
		return true
	case m[3] != "":
		u := a.users[m[3]]
		return u != nil && u.ARN == m[0]
	default:
		r := a.roles[m[4]]
		return r != nil && r.ARN == m[0]
	}
}

// principalKeys are condition keys that pin a statement to known
// principals or accounts; an Allow to "*" restricted by one of them is
// not public.
var principalKeys = map[string]bool{
	"aws:principalaccount": true, "aws:principalarn": true, "aws:principalorgid": true,
	"aws:sourceaccount": true, "aws:sourcearn": true, "aws:sourceowner": true, "aws:userid": true,
	"aws:principalorgpaths": true,
}

// isPublicPolicy tells what BlockPublicPolicy refuses: an Allow to every
// principal (Principal "*" or a NotPrincipal) that no condition pins to
// known accounts or principals. A Deny is never public.
func isPublicPolicy(doc *policy) bool {
	for _, st := range doc.statements {
		if st.effect != "Allow" || st.principal == nil || !(st.principal.any || st.notPrincipal) {
			continue
		}
		if !slices.ContainsFunc(st.conditions, pinsPrincipal) {
			return true
		}
	}
	return false
}

// pinsPrincipal tells whether a condition restricts a statement to fixed
// accounts, principals or an organization.
func pinsPrincipal(c policyCondition) bool {
	if !principalKeys[c.key] || c.ifExists || c.qualifier == "ForAllValues" || negatedOps[c.op] || len(c.values) == 0 {
		return false
	}
	switch c.op {
	case "StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike":
	default:
		return false
	}
	for _, v := range c.values {
		switch c.key {
		case "aws:principalarn", "aws:sourcearn":
			f := strings.SplitN(v, ":", 6)
			if len(f) != 6 || !accountIDRe.MatchString(f[4]) {
				return false
			}
		case "aws:principalaccount", "aws:sourceaccount", "aws:sourceowner":
			if !accountIDRe.MatchString(v) {
				return false
			}
		default:
			if strings.ContainsAny(v, "*?") || v == "" {
				return false
			}
		}
	}
	return true
}

func smPutResourcePolicy(r *Request) (any, error) {
	in, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	if in.ResourcePolicy == nil {
		return nil, smInvalidParam("You must provide a value for ResourcePolicy.")
	}
	doc, err := r.Sim.parseSecretPolicy(*in.ResourcePolicy)
	if err != nil {
		return nil, err
	}
	// With BlockPublicPolicy (off by default) a policy that would let
	// anyone in is refused.
	if in.BlockPublicPolicy != nil && *in.BlockPublicPolicy && isPublicPolicy(doc) {
		return nil, apiErr(400, "PublicPolicyException",
			"This resource policy will grant public access to the secret. Use BlockPublicPolicy to block this.")
	}
	sec.Policy, sec.policyDoc = *in.ResourcePolicy, doc
	return smNameARN{sec.ARN, sec.Name}, nil
}

func smGetResourcePolicy(r *Request) (any, error) {
	_, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	out := struct {
		smNameARN
		ResourcePolicy *string `json:"ResourcePolicy,omitempty"`
	}{smNameARN: smNameARN{sec.ARN, sec.Name}}
	if sec.Policy != "" {
		p := sec.Policy
		out.ResourcePolicy = &p
	}
	return out, nil
}

func smDeleteResourcePolicy(r *Request) (any, error) {
	_, sec, err := secretRequest(r, liveSecret)
	if err != nil {
		return nil, err
	}
	sec.Policy, sec.policyDoc = "", nil
	return smNameARN{sec.ARN, sec.Name}, nil
}
