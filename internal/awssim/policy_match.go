package awssim

import "strings"

// Matching in policies: the request's condition keys, wildcard patterns
// of actions and resources, ARN comparison, and the substitution of
// policy variables such as ${aws:username}.

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
