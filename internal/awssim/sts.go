package awssim

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

type stsCallerIdentity struct {
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
}

func stsGetCallerIdentity(r *Request) (any, error) {
	return stsCallerIdentity{Account: r.Cred.AccountID, Arn: r.Cred.PrincipalARN, UserID: r.Cred.AccessKeyID}, nil
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type stsAssumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

type stsAssumeRoleResult struct {
	Credentials     stsCredentials     `xml:"Credentials"`
	AssumedRoleUser stsAssumedRoleUser `xml:"AssumedRoleUser"`
}

var sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

func stsAssumeRole(r *Request) (any, error) {
	roleARN := r.Form.Get("RoleArn")
	session := r.Form.Get("RoleSessionName")
	if !sessionNameRe.MatchString(session) {
		return nil, apiErr(400, "ValidationError",
			"1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", session)
	}
	m := roleARNRe.FindStringSubmatch(roleARN)
	if m == nil {
		return nil, apiErr(400, "ValidationError", "%s is invalid", roleARN)
	}
	denied := apiErr(403, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s",
		r.Cred.PrincipalARN, roleARN)
	target := r.Sim.accounts[m[1]]
	if target == nil {
		return nil, denied
	}
	role := target.roles[m[3]]
	path := m[2]
	if path == "" {
		path = "/"
	}
	if role == nil || role.Path != path {
		return nil, denied
	}
	if target.Status == StatusSuspended {
		return nil, apiErr(403, "AccessDenied", "%s: the account %s is suspended", denied.Message, target.ID)
	}
	direct, viaAccount := r.Sim.trustMatchLocked(role, r.Cred)
	if !direct && !viaAccount {
		return nil, denied
	}
	// The caller's own policies: a strict caller needs sts:AssumeRole on
	// the role unless the trust policy names it (in the role's account);
	// anyone's explicit Deny stops it.
	if err := r.authorizeAssumeRole(role, target.ID, direct); err != nil {
		return nil, err
	}
	if role.ExternalID != "" && r.Form.Get("ExternalId") != role.ExternalID {
		return nil, denied
	}
	d := 3600
	if v := r.Form.Get("DurationSeconds"); v != "" {
		n, err := r.FormInt("DurationSeconds")
		if err != nil {
			return nil, err
		}
		d = n
	}
	if d < 900 || d > 43200 {
		return nil, apiErr(400, "ValidationError",
			"1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", d)
	}
	if time.Duration(d)*time.Second > role.MaxSessionDuration {
		return nil, apiErr(400, "ValidationError",
			"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	expires := r.Now.Add(time.Duration(d) * time.Second)
	c := r.Sim.newSessionLocked(target.ID, role, session, expires)
	return stsAssumeRoleResult{
		Credentials: stsCredentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
			SessionToken: c.SessionToken, Expiration: ISO(expires)},
		AssumedRoleUser: stsAssumedRoleUser{AssumedRoleID: role.ID + ":" + session, Arn: c.PrincipalARN},
	}, nil
}

// authorizeAssumeRole applies the caller's identity policies to
// sts:AssumeRole on role, whose trust policy has already admitted it
// (directly, or through its account). Callers without identity policies
// need nothing more.
func (r *Request) authorizeAssumeRole(role *Role, targetAccount string, trustedDirectly bool) error {
	r.authz.pending = false
	id := r.caller()
	if !id.strict {
		return nil
	}
	v := decide(id, "sts:AssumeRole", &authzResource{arn: role.ARN, account: targetAccount}, r.Sim.evalContextLocked(r, id, &authzResource{arn: role.ARN, account: targetAccount}))
	switch {
	case v.decision == explicitDeny:
		return r.deniedError("sts:AssumeRole", role.ARN, v.why)
	case v.allowed:
		return nil
	case trustedDirectly && targetAccount == id.account.ID:
		return nil
	}
	return r.deniedError("sts:AssumeRole", role.ARN, v.why)
}

// trustMatchLocked tells whether the role's trust policy names the caller
// itself or only its account (which, like any account principal, leaves
// the decision to the caller's identity policies).
func (s *Sim) trustMatchLocked(role *Role, c *Credential) (direct, viaAccount bool) {
	if role.TrustOrgID != "" {
		if s.org == nil || role.TrustOrgID != s.org.ID {
			return false, false
		}
		ca := s.accounts[c.AccountID]
		if ca == nil || !s.inOrgLocked(ca) {
			return false, false
		}
	}
	caller := c.PrincipalARN
	if c.Kind == CredSession {
		// A session is trusted through its role's ARN.
		if r := s.accounts[c.AccountID].roles[c.RoleName]; r != nil {
			caller = r.ARN
		}
	}
	for _, p := range role.TrustedPrincipals {
		switch {
		case strings.EqualFold(p, caller) || (c.Kind == CredSession && strings.EqualFold(p, c.PrincipalARN)):
			direct = true
		case p == c.AccountID || p == fmt.Sprintf("arn:aws:iam::%s:root", c.AccountID):
			viaAccount = true
		}
	}
	return direct, viaAccount
}
