package awssim

import (
	"strings"
	"testing"
	"time"
)

// Pure tests of the policy language: parsing as IAM validates documents,
// and evaluation as IAM's enforcement code decides.

func TestParsePolicyRejects(t *testing.T) {
	tests := []struct {
		name string
		kind policyKind
		doc  string
		want string
	}{
		{"not JSON", identityPolicyKind, `{"Version":`, "Syntax errors"},
		{"trailing data", identityPolicyKind, `{"Statement":[]} {}`, "Syntax errors"},
		{"unknown top-level element", identityPolicyKind, `{"Version":"2012-10-17","Statment":[]}`, `unknown element "Statment"`},
		{"bad version", identityPolicyKind, `{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "Version"},
		{"no statements", identityPolicyKind, `{"Version":"2012-10-17","Statement":[]}`, "no statements"},
		{"bad effect", identityPolicyKind, `{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`, "Effect"},
		{"no action", identityPolicyKind, `{"Statement":{"Effect":"Allow","Resource":"*"}}`, "must contain actions"},
		{"action and notaction", identityPolicyKind, `{"Statement":{"Effect":"Allow","Action":"*","NotAction":"iam:*","Resource":"*"}}`, "both Action and NotAction"},
		{"action without vendor", identityPolicyKind, `{"Statement":{"Effect":"Allow","Action":"ListUsers","Resource":"*"}}`, "prefaced by a vendor"},
		{"identity policy without resource", identityPolicyKind, `{"Statement":{"Effect":"Allow","Action":"iam:*"}}`, "must contain resources"},
		{"resource not an ARN", identityPolicyKind, `{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"user/bob"}}`, "ARN format"},
		{"principal in identity policy", identityPolicyKind, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"iam:*","Resource":"*"}}`, "should not specify a principal"},
		{"resource policy without principal", resourcePolicyKind, `{"Statement":{"Effect":"Allow","Action":"secretsmanager:*"}}`, "without a Principal"},
		{"wildcard inside a principal ARN", resourcePolicyKind, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"secretsmanager:*"}}`, "wildcards are not allowed"},
		{"unknown principal type", resourcePolicyKind, `{"Statement":{"Effect":"Allow","Principal":{"Human":"bob"},"Action":"secretsmanager:*"}}`, "unknown principal type"},
		{"unknown condition operator", identityPolicyKind, `{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"StringSorta":{"aws:username":"bob"}}}}`, "Invalid Condition type : StringSorta"},
		{"unknown set operator", identityPolicyKind, `{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"ForSomeValues:StringLike":{"aws:TagKeys":"a"}}}}`, "Invalid Condition type"},
		{"unprefixed condition key", identityPolicyKind, `{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"StringEquals":{"username":"bob"}}}}`, "must be prefixed"},
		{"unknown statement element", identityPolicyKind, `{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*","Conditions":{}}}`, `unknown statement element "Conditions"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePolicy(tt.doc, tt.kind)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParsePolicyAccepts(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown condition key":     `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"acme:Team":"a"}}}}`,
		"IfExists and set operator": `{"Statement":[{"Effect":"Allow","Action":"iam:TagUser","Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["keyrotor:*"]},"StringEqualsIfExists":{"aws:RequestTag/x":"1"}}}]}`,
		"booleans and numbers":      `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10}}}}`,
		"service principal":         `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"secretsmanager:GetSecretValue"}}`,
	} {
		kind := identityPolicyKind
		if strings.Contains(doc, "Principal") {
			kind = resourcePolicyKind
		}
		if _, err := parsePolicy(doc, kind); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// ctxOf builds a request context; keys are given as IAM spells them.
func ctxOf(kv ...any) evalContext {
	ctx := evalContext{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			ctx.set(kv[i].(string), v)
		case []string:
			ctx.set(kv[i].(string), v...)
		}
	}
	return ctx
}

func TestPolicyEvaluate(t *testing.T) {
	const acct = "222222222222"
	alice := "arn:aws:iam::" + acct + ":user/alice"
	bob := "arn:aws:iam::" + acct + ":user/bob"
	ownKeys := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:DeleteAccessKey","iam:UpdateAccessKey","iam:ListAccessKeys"],"Resource":"arn:aws:iam::*:user/${aws:username}"}}`
	tests := []struct {
		name     string
		doc      string
		action   string
		resource string
		ctx      evalContext
		want     decision
	}{
		{"action wildcard, case-insensitive", `{"Statement":{"Effect":"Allow","Action":"IAM:list*","Resource":"*"}}`, "iam:ListUsers", "*", nil, allowed},
		{"other action", `{"Statement":{"Effect":"Allow","Action":"iam:List*","Resource":"*"}}`, "iam:TagUser", "*", nil, implicitDeny},
		{"NotAction", `{"Statement":{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}}`, "secretsmanager:GetSecretValue", "*", nil, allowed},
		{"NotAction excludes", `{"Statement":{"Effect":"Allow","NotAction":["iam:*"],"Resource":"*"}}`, "iam:TagUser", alice, nil, implicitDeny},
		{"resource narrows", `{"Statement":{"Effect":"Allow","Action":"iam:TagUser","Resource":"arn:aws:iam::*:user/service/*"}}`, "iam:TagUser", alice, nil, implicitDeny},
		{"resources are case-sensitive", `{"Statement":{"Effect":"Allow","Action":"iam:TagUser","Resource":"arn:aws:iam::*:user/Alice"}}`, "iam:TagUser", alice, nil, implicitDeny},
		{"a specific resource does not cover *", `{"Statement":{"Effect":"Allow","Action":"iam:ListUsers","Resource":"arn:aws:iam::*:user/*"}}`, "iam:ListUsers", "*", nil, implicitDeny},
		{"NotResource", `{"Statement":{"Effect":"Allow","Action":"iam:*","NotResource":"arn:aws:iam::*:user/admin"}}`, "iam:TagUser", alice, nil, allowed},
		{"deny wins", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:TagUser","Resource":"*"}]}`, "iam:TagUser", alice, nil, explicitDeny},
		{"own keys: self", ownKeys, "iam:CreateAccessKey", alice, ctxOf("aws:username", "alice"), allowed},
		{"own keys: someone else", ownKeys, "iam:CreateAccessKey", bob, ctxOf("aws:username", "alice"), implicitDeny},
		{"own keys: variable missing", ownKeys, "iam:CreateAccessKey", alice, nil, implicitDeny},
		{"variables need version 2012-10-17", `{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:user/${aws:username}"}}`, "iam:TagUser", alice, ctxOf("aws:username", "alice"), implicitDeny},
		{"variable default", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:user/${aws:username, 'alice'}"}}`, "iam:TagUser", alice, nil, allowed},
		{"variable value is literal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:user/${aws:username}"}}`, "iam:TagUser", alice, ctxOf("aws:username", "*"), implicitDeny},
		{"StringEquals", cond(`"StringEquals":{"aws:PrincipalArn":"` + alice + `"}`), "s:A", "*", ctxOf("aws:PrincipalArn", alice), allowed},
		{"StringEquals is case-sensitive", cond(`"StringEquals":{"aws:PrincipalTag/team":"Red"}`), "s:A", "*", ctxOf("aws:PrincipalTag/team", "red"), implicitDeny},
		{"condition key names are case-insensitive", cond(`"StringEquals":{"AWS:PRINCIPALTAG/TEAM":"red"}`), "s:A", "*", ctxOf("aws:PrincipalTag/team", "red"), allowed},
		{"StringEqualsIgnoreCase", cond(`"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"RED"}`), "s:A", "*", ctxOf("aws:PrincipalTag/team", "red"), allowed},
		{"StringNotEquals, one of the values", cond(`"StringNotEquals":{"aws:PrincipalArn":["` + alice + `","` + bob + `"]}`), "s:A", "*", ctxOf("aws:PrincipalArn", bob), implicitDeny},
		{"StringNotEquals, none of the values", cond(`"StringNotEquals":{"aws:PrincipalArn":["` + alice + `"]}`), "s:A", "*", ctxOf("aws:PrincipalArn", bob), allowed},
		{"StringLike", cond(`"StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a*"}`), "s:A", "*", ctxOf("aws:PrincipalArn", alice), allowed},
		{"StringNotLike", cond(`"StringNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a*"}`), "s:A", "*", ctxOf("aws:PrincipalArn", alice), implicitDeny},
		{"ArnEquals", cond(`"ArnEquals":{"aws:PrincipalArn":"` + alice + `"}`), "s:A", "*", ctxOf("aws:PrincipalArn", alice), allowed},
		{"ArnLike per component", cond(`"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Keyrotor*"}`), "s:A", "*", ctxOf("aws:PrincipalArn", "arn:aws:iam::"+acct+":role/KeyrotorRotationRole"), allowed},
		{"ArnLike needs six components", cond(`"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*"}`), "s:A", "*", ctxOf("aws:PrincipalArn", alice), implicitDeny},
		{"ArnNotLike", cond(`"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Keyrotor*"}`), "s:A", "*", ctxOf("aws:PrincipalArn", alice), allowed},
		{"ArnNotEquals", cond(`"ArnNotEquals":{"aws:PrincipalArn":"` + alice + `"}`), "s:A", "*", ctxOf("aws:PrincipalArn", alice), implicitDeny},
		{"Bool", cond(`"Bool":{"aws:SecureTransport":"true"}`), "s:A", "*", ctxOf("aws:SecureTransport", "true"), allowed},
		{"Bool false", cond(`"Bool":{"secretsmanager:BlockPublicPolicy":true}`), "s:A", "*", ctxOf("secretsmanager:BlockPublicPolicy", "false"), implicitDeny},
		// AWS: a missing key makes positive operators false and negated ones true.
		{"missing key, positive operator", cond(`"StringEquals":{"aws:ResourceTag/owner":"alice"}`), "s:A", "*", nil, implicitDeny},
		{"missing key, negated operator", cond(`"StringNotEquals":{"aws:ResourceTag/owner":"alice"}`), "s:A", "*", nil, allowed},
		{"missing key, ArnNotLike", cond(`"ArnNotLike":{"acme:Unknown":"arn:aws:iam::*:root"}`), "s:A", "*", nil, allowed},
		{"missing key, IfExists", cond(`"StringEqualsIfExists":{"aws:ResourceTag/owner":"alice"}`), "s:A", "*", nil, allowed},
		{"present key, IfExists", cond(`"StringEqualsIfExists":{"aws:ResourceTag/owner":"alice"}`), "s:A", "*", ctxOf("aws:ResourceTag/owner", "bob"), implicitDeny},
		{"Null true", cond(`"Null":{"aws:RequestTag/owner":"true"}`), "s:A", "*", nil, allowed},
		{"Null false", cond(`"Null":{"aws:RequestTag/owner":"false"}`), "s:A", "*", nil, implicitDeny},
		{"ForAllValues, all match", cond(`"ForAllValues:StringLike":{"aws:TagKeys":"keyrotor:*"}`), "s:A", "*", ctxOf("aws:TagKeys", []string{"keyrotor:AKIA1", "keyrotor:AKIA2"}), allowed},
		{"ForAllValues, one does not", cond(`"ForAllValues:StringLike":{"aws:TagKeys":"keyrotor:*"}`), "s:A", "*", ctxOf("aws:TagKeys", []string{"keyrotor:AKIA1", "email"}), implicitDeny},
		{"ForAllValues, missing key", cond(`"ForAllValues:StringLike":{"aws:TagKeys":"keyrotor:*"}`), "s:A", "*", nil, allowed},
		{"ForAnyValue", cond(`"ForAnyValue:StringEquals":{"aws:TagKeys":["email"]}`), "s:A", "*", ctxOf("aws:TagKeys", []string{"a", "email"}), allowed},
		{"ForAnyValue, missing key", cond(`"ForAnyValue:StringEquals":{"aws:TagKeys":["email"]}`), "s:A", "*", nil, implicitDeny},
		{"multivalued key without set operator", cond(`"StringEquals":{"aws:TagKeys":"email"}`), "s:A", "*", ctxOf("aws:TagKeys", []string{"a", "email"}), allowed},
		{"conditions are ANDed", cond(`"StringEquals":{"aws:username":"alice"},"Bool":{"aws:SecureTransport":"true"}`), "s:A", "*", ctxOf("aws:username", "alice", "aws:SecureTransport", "false"), implicitDeny},
		{"variable in a condition", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s:A","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}}}`, "s:A", "*", ctxOf("aws:username", "alice", "aws:ResourceTag/owner", "alice"), allowed},
		{"NumericLessThan", cond(`"NumericLessThan":{"acme:n":"10"}`), "s:A", "*", ctxOf("acme:n", "9"), allowed},
		{"DateGreaterThan", cond(`"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}`), "s:A", "*", ctxOf("aws:CurrentTime", "2026-11-26T06:00:00Z"), allowed},
		{"IpAddress", cond(`"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}`), "s:A", "*", ctxOf("aws:SourceIp", "127.0.0.1"), allowed},
		{"NotIpAddress", cond(`"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}`), "s:A", "*", ctxOf("aws:SourceIp", "127.0.0.1"), implicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parsePolicy(tt.doc, identityPolicyKind)
			if err != nil {
				t.Fatal(err)
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = evalContext{}
			}
			got := p.evaluate(&evalRequest{action: tt.action, resource: tt.resource, ctx: ctx}).decision
			if got != tt.want {
				t.Fatalf("decision = %s, want %s", got, tt.want)
			}
		})
	}
}

// cond wraps a Condition block in an Allow of s:A on *.
func cond(body string) string {
	return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s:A","Resource":"*","Condition":{` + body + `}}}`
}

func TestPolicyPrincipals(t *testing.T) {
	const acct = "222222222222"
	user := &evalPrincipal{account: acct, arns: []string{"arn:aws:iam::" + acct + ":user/alice"}, exact: "arn:aws:iam::" + acct + ":user/alice"}
	session := "arn:aws:sts::" + acct + ":assumed-role/Rotator/run"
	role := &evalPrincipal{account: acct, arns: []string{"arn:aws:iam::" + acct + ":role/Rotator", session}, exact: session}
	other := &evalPrincipal{account: "333333333333", arns: []string{"arn:aws:iam::333333333333:user/eve"}, exact: "arn:aws:iam::333333333333:user/eve"}
	doc := func(principal string) string {
		return `{"Statement":{"Effect":"Allow",` + principal + `,"Action":"secretsmanager:GetSecretValue"}}`
	}
	tests := []struct {
		name      string
		principal string
		who       *evalPrincipal
		want      principalMatch
	}{
		{"star", `"Principal":"*"`, other, principalDirect},
		{"AWS star", `"Principal":{"AWS":"*"}`, user, principalDirect},
		{"user ARN", `"Principal":{"AWS":"arn:aws:iam::222222222222:user/alice"}`, user, principalDirect},
		{"role ARN names its sessions", `"Principal":{"AWS":"arn:aws:iam::222222222222:role/Rotator"}`, role, principalDirect},
		{"account root is the account", `"Principal":{"AWS":"arn:aws:iam::222222222222:root"}`, user, principalAccount},
		{"account ID is the account", `"Principal":{"AWS":"222222222222"}`, role, principalAccount},
		{"another account", `"Principal":{"AWS":"222222222222"}`, other, principalNone},
		{"service principal", `"Principal":{"Service":"secretsmanager.amazonaws.com"}`, user, principalNone},
		{"NotPrincipal excludes the user", `"NotPrincipal":{"AWS":"arn:aws:iam::222222222222:user/alice"}`, user, principalNone},
		{"NotPrincipal with the role ARN alone does not exclude its sessions", `"NotPrincipal":{"AWS":"arn:aws:iam::222222222222:role/Rotator"}`, role, principalDirect},
		{"NotPrincipal with the session ARN does", `"NotPrincipal":{"AWS":["arn:aws:iam::222222222222:role/Rotator","` + session + `"]}`, role, principalNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parsePolicy(doc(tt.principal), resourcePolicyKind)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.statements[0].matchesPrincipal(tt.who); got != tt.want {
				t.Fatalf("match = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestDecide covers how identity and resource policies combine, and the
// older behaviour of principals without identity policies.
func TestDecide(t *testing.T) {
	a := newAccount(AccountSpec{ID: "222222222222", Name: "member"}, time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC))
	owner := &User{Name: "owner", ARN: "arn:aws:iam::222222222222:user/owner"}
	insider := &User{Name: "insider", ARN: "arn:aws:iam::222222222222:user/insider"}
	rotator := &Role{Name: "Rotator", ARN: "arn:aws:iam::222222222222:role/Rotator"}
	a.users["owner"], a.users["insider"], a.roles["Rotator"] = owner, insider, rotator
	strictUser := func(u *User, docs ...string) *callerID {
		id := userCaller(a, u)
		id.strict = true
		for _, d := range docs {
			p, err := parsePolicy(d, identityPolicyKind)
			if err != nil {
				t.Fatal(err)
			}
			id.docs = append(id.docs, identityDoc{doc: p, id: "inline", typ: "user"})
		}
		return id
	}
	readAll := `{"Statement":{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}}`
	// keyrotor's shape of secret policy: only the owner reads, only the
	// rotation role writes.
	secretPolicy := mustPolicy(t, `{"Version":"2012-10-17","Statement":[
		{"Sid":"OwnerOnly","Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*",
		 "Condition":{"StringNotEquals":{"aws:PrincipalArn":["arn:aws:iam::222222222222:user/owner"]}}},
		{"Sid":"RotatorWrites","Effect":"Deny","Principal":"*","Action":["secretsmanager:PutSecretValue","secretsmanager:DeleteSecret"],"Resource":"*",
		 "Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Rotator"}}},
		{"Sid":"OwnerReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:user/owner"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)
	accountOnly := mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"secretsmanager:GetSecretValue"}}`)
	keyNamesOwner := mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:user/owner"},"Action":"kms:Decrypt","Resource":"*"}}`)
	defaultKey := mustPolicy(t, defaultKeyPolicy("222222222222"))
	secretARN := "arn:aws:secretsmanager:us-east-1:222222222222:secret:keyrotor/owner-AbCdEf"
	keyARN := "arn:aws:kms:us-east-1:222222222222:key/k1"

	tests := []struct {
		name   string
		id     *callerID
		action string
		res    authzResource
		want   decision
		why    string
	}{
		{"insider with GetSecretValue on * is denied by the secret policy", strictUser(insider, readAll), "secretsmanager:GetSecretValue",
			authzResource{arn: secretARN, policy: secretPolicy}, explicitDeny, "explicit deny in a resource-based policy"},
		{"owner without identity policies reads through the resource policy", strictUser(owner), "secretsmanager:GetSecretValue",
			authzResource{arn: secretARN, policy: secretPolicy}, allowed, ""},
		{"the rotation role cannot read", roleCaller(a, rotator, "run"), "secretsmanager:GetSecretValue",
			authzResource{arn: secretARN, policy: secretPolicy}, explicitDeny, "explicit deny in a resource-based policy"},
		{"the rotation role writes", roleCaller(a, rotator, "run"), "secretsmanager:PutSecretValue",
			authzResource{arn: secretARN, policy: secretPolicy}, allowed, ""},
		{"the owner cannot write", strictUser(owner, `{"Statement":{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}}`), "secretsmanager:PutSecretValue",
			authzResource{arn: secretARN, policy: secretPolicy}, explicitDeny, "explicit deny in a resource-based policy"},
		{"an account principal does not grant by itself", strictUser(insider), "secretsmanager:GetSecretValue",
			authzResource{arn: secretARN, policy: accountOnly}, implicitDeny, "no identity-based policy allows"},
		{"an account principal plus identity allow", strictUser(insider, readAll), "secretsmanager:GetSecretValue",
			authzResource{arn: secretARN, policy: accountOnly}, allowed, ""},
		{"identity deny beats a resource allow", strictUser(owner, `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`), "secretsmanager:GetSecretValue",
			authzResource{arn: secretARN, policy: secretPolicy}, explicitDeny, "explicit deny in an identity-based policy"},
		{"user without identity policies needs the resource policy to read", userCaller(a, insider), "secretsmanager:GetSecretValue",
			authzResource{arn: secretARN, policy: accountOnly}, implicitDeny, "no resource-based policy allows"},
		{"root keeps access", rootCaller(a), "secretsmanager:GetSecretValue", authzResource{arn: secretARN, policy: accountOnly}, allowed, ""},
		{"root is denied too", rootCaller(a), "secretsmanager:GetSecretValue", authzResource{arn: secretARN, policy: secretPolicy}, explicitDeny, "resource-based"},
		{"default key policy: identity decides (no)", strictUser(insider), "kms:Decrypt",
			authzResource{arn: keyARN, policy: defaultKey, keyPolicy: true}, implicitDeny, "no identity-based policy allows"},
		{"default key policy: identity decides (yes)", strictUser(insider, `{"Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:kms:*:*:key/k1"}}`), "kms:Decrypt",
			authzResource{arn: keyARN, policy: defaultKey, keyPolicy: true}, allowed, ""},
		{"key policy naming the user is enough", strictUser(owner), "kms:Decrypt",
			authzResource{arn: keyARN, policy: keyNamesOwner, keyPolicy: true}, allowed, ""},
		{"key policy without the account: identity allow is not enough", strictUser(insider, `{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`), "kms:Decrypt",
			authzResource{arn: keyARN, policy: keyNamesOwner, keyPolicy: true}, implicitDeny, "no resource-based policy allows"},
		{"cross-account key needs both", strictUser(owner), "kms:Decrypt",
			authzResource{arn: "arn:aws:kms:us-east-1:999999999999:key/x", account: "999999999999", policy: keyNamesOwner, keyPolicy: true}, implicitDeny, "no identity-based policy allows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := evalContext{}
			principalContext(ctx, &Sim{}, tt.id)
			v := decide(tt.id, tt.action, &tt.res, ctx)
			if v.decision != tt.want || v.allowed != (tt.want == allowed) {
				t.Fatalf("decision = %s (allowed %v), want %s", v.decision, v.allowed, tt.want)
			}
			if !strings.Contains(v.why, tt.why) {
				t.Fatalf("why = %q, want it to contain %q", v.why, tt.why)
			}
		})
	}
}

func mustPolicy(t *testing.T, doc string) *policy {
	t.Helper()
	p, err := parsePolicy(doc, resourcePolicyKind)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIsPublicPolicy(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue"}}`:                                                                             true,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:*"}}`:                                                                                  true,
		`{"Statement":{"Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Condition":{"StringNotEquals":{"aws:PrincipalArn":"arn:aws:iam::1:user/a"}}}}`: false,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Condition":{"StringEquals":{"aws:PrincipalAccount":"222222222222"}}}}`:                     false,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Condition":{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a"}}}}`:                  true,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Condition":{"StringEqualsIfExists":{"aws:PrincipalAccount":"222222222222"}}}}`:             true,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}`:                                      true,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:user/a"},"Action":"secretsmanager:*"}}`:                                                   false,
		`{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::222222222222:user/a"},"Action":"secretsmanager:*"}}`:                                                true,
	} {
		if got := isPublicPolicy(mustPolicy(t, doc)); got != want {
			t.Errorf("public = %v, want %v: %s", got, want, doc)
		}
	}
}
