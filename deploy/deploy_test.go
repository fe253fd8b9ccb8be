package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"keyrotor/accounts"
	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/notify"
	"keyrotor/report"
	"keyrotor/rotation"
)

func mustPolicy(t *testing.T, name string) Document {
	t.Helper()
	d, err := Policy(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEveryPolicyParses(t *testing.T) {
	want := []string{CentralRunnerPolicy, MemberReadOnlyPolicy, MemberRotationPolicy, MemberTrustPolicy}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
	for _, name := range Names() {
		raw, err := Raw(name)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(raw) {
			t.Errorf("%s is not valid JSON", name)
		}
		if _, err := Policy(name); err != nil {
			t.Errorf("Policy(%s): %v", name, err)
		}
		if _, err := Policy(name + ".json"); err != nil {
			t.Errorf("Policy(%s.json): %v", name, err)
		}
	}
	if _, err := Policy("no-such-policy"); err == nil {
		t.Error("Policy(no-such-policy) did not fail")
	}
}

func TestNoWildcardActions(t *testing.T) {
	for _, name := range Names() {
		for _, st := range mustPolicy(t, name).Statement {
			for _, a := range st.Action {
				if a == "*" || strings.HasSuffix(a, ":*") || strings.Contains(a, "*") {
					t.Errorf("%s statement %s: wildcard action %q", name, st.Sid, a)
				}
			}
		}
	}
}

// starOnly are the actions IAM authorizes on "*" only: they have no
// resource type in the Service Authorization Reference.
var starOnly = map[string]bool{
	"iam:ListUsers":                      true,
	"iam:GenerateCredentialReport":       true,
	"iam:GetCredentialReport":            true,
	"organizations:ListAccounts":         true,
	"organizations:ListRoots":            true,
	"organizations:DescribeOrganization": true,
}

func TestResourcesNarrowedWhereIAMAllows(t *testing.T) {
	for _, name := range Names() {
		for _, st := range mustPolicy(t, name).Statement {
			where := name + " statement " + st.Sid
			if st.Sid == "" {
				t.Errorf("%s: statement without Sid; Sids are how readers and the generator refer to statements", name)
			}
			if st.Principal != nil {
				if len(st.Resource) != 0 {
					t.Errorf("%s: trust statement with a Resource", where)
				}
				continue
			}
			for _, r := range st.Resource {
				if r == "*" {
					for _, a := range st.Action {
						if !starOnly[a] {
							t.Errorf("%s: %s supports resource-level permissions but is granted on *", where, a)
						}
					}
					continue
				}
				if !strings.HasPrefix(r, "arn:aws:") {
					t.Errorf("%s: resource %q is not an ARN", where, r)
					continue
				}
				// arn:aws:service:region:account:resource: the resource part
				// must name a resource type, not be a bare wildcard.
				parts := strings.SplitN(r, ":", 6)
				if len(parts) != 6 || parts[5] == "*" || strings.HasPrefix(parts[5], "*") {
					t.Errorf("%s: resource %q is not narrowed to a resource type", where, r)
				}
			}
			for _, a := range st.Action {
				if starOnly[a] && !slices.Contains(st.Resource, "*") {
					t.Errorf("%s: %s only works on *, but the statement names %q", where, a, st.Resource)
				}
			}
		}
	}
}

func TestMemberRotationPolicyIsWhatRotateCalls(t *testing.T) {
	want := []string{
		"iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:GenerateCredentialReport",
		"iam:GetAccessKeyLastUsed", "iam:GetCredentialReport", "iam:GetGroup",
		"iam:ListAccessKeys", "iam:ListUserTags", "iam:ListUsers", "iam:SimulatePrincipalPolicy", "iam:TagUser",
		"iam:UntagUser", "iam:UpdateAccessKey",
		"kms:DescribeKey", "kms:GenerateDataKey", "kms:GetKeyPolicy",
		"secretsmanager:CreateSecret", "secretsmanager:DescribeSecret",
		"secretsmanager:PutResourcePolicy", "secretsmanager:PutSecretValue", "secretsmanager:TagResource",
	}
	if got := mustPolicy(t, MemberRotationPolicy).Actions(); !slices.Equal(got, want) {
		t.Errorf("actions = %q\nwant %q", got, want)
	}
	for _, st := range mustPolicy(t, MemberRotationPolicy).Statement {
		for _, a := range st.Action {
			// The key encrypts through Secrets Manager only; reading a
			// key's metadata and policy (the owner decrypt check) is direct.
			if a == "kms:GenerateDataKey" && st.Condition["StringLike"]["kms:ViaService"] == nil {
				t.Errorf("statement %s: %s without a kms:ViaService condition", st.Sid, a)
			}
			// No keyrotor role reads a secret's value.
			if a == "secretsmanager:GetSecretValue" || a == "kms:Decrypt" {
				t.Errorf("statement %s: grants %s", st.Sid, a)
			}
			if (a == "iam:TagUser" || a == "iam:UntagUser") &&
				!slices.Equal(st.Condition["ForAllValues:StringLike"]["aws:TagKeys"], Strings{"keyrotor:*"}) {
				t.Errorf("statement %s: %s may touch tags other than keyrotor:*", st.Sid, a)
			}
			if strings.HasPrefix(a, "secretsmanager:") && !slices.Equal(st.Resource, Strings{"arn:aws:secretsmanager:*:*:secret:keyrotor/*"}) {
				t.Errorf("statement %s: %s on %q, want the keyrotor/ secrets only", st.Sid, a, st.Resource)
			}
		}
	}
}

func TestReadOnlyPolicyWritesNothing(t *testing.T) {
	d := mustPolicy(t, MemberReadOnlyPolicy)
	for _, a := range d.Actions() {
		_, op, _ := strings.Cut(a, ":")
		if awssim.IsWriteOp(op) {
			t.Errorf("read-only policy grants write action %s", a)
		}
		if a == "secretsmanager:GetSecretValue" || a == "kms:Decrypt" {
			t.Errorf("read-only policy grants %s: it may read no secret", a)
		}
	}
	rot := mustPolicy(t, MemberRotationPolicy).Actions()
	for _, a := range d.Actions() {
		if !slices.Contains(rot, a) {
			t.Errorf("read-only policy grants %s, which the rotation policy does not", a)
		}
	}
}

func TestTrustPolicy(t *testing.T) {
	d := mustPolicy(t, MemberTrustPolicy)
	if len(d.Statement) != 1 {
		t.Fatalf("%d statements", len(d.Statement))
	}
	st := d.Statement[0]
	if st.Effect != "Allow" || !slices.Equal(st.Action, Strings{"sts:AssumeRole"}) ||
		!slices.Equal(st.Principal["AWS"], Strings{"arn:aws:iam::CENTRAL_ACCOUNT_ID:role/keyrotor-runner"}) {
		t.Errorf("statement = %+v", st)
	}
	want := map[string]Strings{"sts:ExternalId": {"EXTERNAL_ID"}, "aws:PrincipalOrgID": {"ORG_ID"}}
	if !maps.EqualFunc(st.Condition["StringEquals"], want, slices.Equal) || len(st.Condition) != 1 {
		t.Errorf("condition = %v, want StringEquals %v", st.Condition, want)
	}
}

func TestParseRejects(t *testing.T) {
	for _, tt := range []struct{ name, doc, want string }{
		{"unknown field", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, "NotAction"},
		{"old version", `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}`, "version"},
		{"no statement", `{"Version":"2012-10-17","Statement":[]}`, "no statement"},
		{"bad effect", `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"iam:ListUsers","Resource":"*"}]}`, "effect"},
		{"bad action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ListUsers","Resource":"*"}]}`, "service:Action"},
		{"no action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`, "no action"},
		{"no resource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers"}]}`, "no resource"},
		{"unknown placeholder", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::MY_BUCKET/*"}]}`, "MY_BUCKET"},
		{"duplicate sid", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"iam:ListUsers","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}`, "duplicate"},
		{"action not a string", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":7,"Resource":"*"}]}`, "string"},
		{"trailing data", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]} {}`, "trailing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestWildcardResource(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"*", "*"},
		{"arn:aws:iam::*:user/*", "arn:aws:iam::*:user/*"},
		{"arn:aws:iam::123456789012:user/alice", "arn:aws:iam::*:user/alice"},
		{"arn:aws:ses:*:CENTRAL_ACCOUNT_ID:identity/SENDER_IDENTITY", "arn:aws:ses:*:*:identity/*"},
		{"arn:aws:organizations::*:account/ORG_ID/210987654321", "arn:aws:organizations::*:account/*/*"},
		{"arn:aws:s3:::REPORT_BUCKET/REPORT_PREFIX/*", "arn:aws:s3:::*/*/*"},
		// 12 digits inside a longer segment are not an account ID.
		{"arn:aws:s3:::bucket/report-123456789012.json", "arn:aws:s3:::bucket/report-123456789012.json"},
		// Upper-case tokens that are not placeholders stay.
		{"arn:aws:s3:::bucket/NOT_A_PLACEHOLDER", "arn:aws:s3:::bucket/NOT_A_PLACEHOLDER"},
	} {
		if got := WildcardResource(tt.in); got != tt.want {
			t.Errorf("WildcardResource(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAllowList(t *testing.T) {
	actions, resources := mustPolicy(t, MemberRotationPolicy).AllowList()
	if !slices.Equal(actions, mustPolicy(t, MemberRotationPolicy).Actions()) {
		t.Errorf("actions = %q", actions)
	}
	for _, a := range []string{"iam:ListUsers", "iam:GenerateCredentialReport", "iam:GetCredentialReport"} {
		if _, ok := resources[a]; ok {
			t.Errorf("%s is granted on * but has resources %q", a, resources[a])
		}
	}
	wantRes := map[string][]string{
		"iam:CreateAccessKey":         {"arn:aws:iam::*:user/*"},
		"iam:GetGroup":                {"arn:aws:iam::*:group/*"},
		"secretsmanager:CreateSecret": {"arn:aws:secretsmanager:*:*:secret:keyrotor/*"},
		"kms:GenerateDataKey":         {"arn:aws:kms:*:*:key/*"},
	}
	for a, want := range wantRes {
		if !slices.Equal(resources[a], want) {
			t.Errorf("resources[%s] = %q, want %q", a, resources[a], want)
		}
	}

	_, resources = mustPolicy(t, CentralRunnerPolicy).AllowList()
	for a, want := range map[string][]string{
		"s3:PutObject":   {"arn:aws:s3:::*/*/*"},
		"ses:SendEmail":  {"arn:aws:ses:*:*:configuration-set/*", "arn:aws:ses:*:*:identity/*"},
		"sts:AssumeRole": {"arn:aws:iam::*:role/KeyrotorRotationRole"},
		"organizations:ListAccountsForParent": {
			"arn:aws:organizations::*:ou/*/ou-*", "arn:aws:organizations::*:root/*/r-*",
		},
	} {
		if !slices.Equal(resources[a], want) {
			t.Errorf("central resources[%s] = %q, want %q", a, resources[a], want)
		}
	}

	// Two statements granting one action: the resources are merged, and a
	// grant on * anywhere lifts the narrowing.
	d, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iam:TagUser","iam:UntagUser"],"Resource":"arn:aws:iam::*:user/a"},
		{"Effect":"Allow","Action":"iam:TagUser","Resource":["arn:aws:iam::*:user/b"]},
		{"Effect":"Allow","Action":"iam:UntagUser","Resource":"*"},
		{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	actions, resources = d.AllowList()
	if !slices.Equal(actions, []string{"iam:TagUser", "iam:UntagUser"}) {
		t.Errorf("actions = %q (Deny statements allow nothing)", actions)
	}
	if want := map[string][]string{"iam:TagUser": {"arn:aws:iam::*:user/a", "arn:aws:iam::*:user/b"}}; !maps.EqualFunc(resources, want, slices.Equal) {
		t.Errorf("resources = %q, want %q", resources, want)
	}
}

// TestAllowListInSimulator runs real SDK calls as sessions of roles whose
// allow-lists come from the member policies: what the policy grants works,
// anything else is AccessDenied.
func TestAllowListInSimulator(t *testing.T) {
	const mgmt, member = "111111111111", "222222222222"
	sim := awssim.New()
	sim.CreateOrganization(mgmt, "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: member, Name: "member"})
	sim.AddUser(member, awssim.UserSpec{Name: "alice", Tags: map[string]string{"team": "a"}})
	sim.AddAccessKey(member, "alice", awssim.KeySpec{})
	for name, role := range map[string]string{MemberRotationPolicy: "Rotation", MemberReadOnlyPolicy: "ReadOnly"} {
		actions, resources := mustPolicy(t, name).AllowList()
		sim.AddRole(member, awssim.RoleSpec{Name: role, TrustedPrincipals: []string{mgmt},
			AllowedActions: actions, ResourcePrefixes: resources})
	}
	srv := awssimtest.Start(t, sim)
	clients := func(role string) (*iam.Client, *secretsmanager.Client) {
		cfg := srv.RoleConfig(member, role, "test")
		return iam.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	}
	ctx := context.Background()
	type call func(*iam.Client, *secretsmanager.Client) error
	calls := map[string]call{
		"ListUsers": func(c *iam.Client, _ *secretsmanager.Client) error {
			_, err := c.ListUsers(ctx, &iam.ListUsersInput{})
			return err
		},
		"ListAccessKeys": func(c *iam.Client, _ *secretsmanager.Client) error {
			_, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
			return err
		},
		"TagUser keyrotor": func(c *iam.Client, _ *secretsmanager.Client) error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"),
				Tags: []iamtypes.Tag{{Key: aws.String("keyrotor:AKIAEXAMPLE"), Value: aws.String("v1 state=issuing")}}})
			return err
		},
		"CreateAccessKey": func(c *iam.Client, _ *secretsmanager.Client) error {
			_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
			return err
		},
		"GetUser": func(c *iam.Client, _ *secretsmanager.Client) error {
			_, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
			return err
		},
		"ListGroupsForUser": func(c *iam.Client, _ *secretsmanager.Client) error {
			_, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("alice")})
			return err
		},
		"CreateSecret keyrotor/": func(_ *iam.Client, s *secretsmanager.Client) error {
			_, err := s.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
				Name: aws.String("keyrotor/" + member + "/alice"), SecretString: aws.String(`{"AccessKeyId":"AKIA"}`)})
			return err
		},
		"CreateSecret elsewhere": func(_ *iam.Client, s *secretsmanager.Client) error {
			_, err := s.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
				Name: aws.String("prod/db-password"), SecretString: aws.String("x")})
			return err
		},
	}
	for _, tt := range []struct {
		role    string
		allowed []string
	}{
		// GetUser and ListGroupsForUser are in neither policy.
		{"ReadOnly", []string{"ListUsers", "ListAccessKeys"}},
		{"Rotation", []string{"ListUsers", "ListAccessKeys", "TagUser keyrotor", "CreateAccessKey", "CreateSecret keyrotor/"}},
	} {
		ic, sc := clients(tt.role)
		for _, name := range slices.Sorted(maps.Keys(calls)) {
			err := calls[name](ic, sc)
			var ae smithy.APIError
			denied := errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "AccessDenied")
			if slices.Contains(tt.allowed, name) && err != nil {
				t.Errorf("%s: %s: %v, want allowed", tt.role, name, err)
			}
			if !slices.Contains(tt.allowed, name) && !denied {
				t.Errorf("%s: %s: err = %v, want AccessDenied", tt.role, name, err)
			}
		}
	}
}

// methods returns the method names of the interface type T.
func methods[T any]() []string {
	typ := reflect.TypeFor[T]()
	var out []string
	for i := range typ.NumMethod() {
		out = append(out, typ.Method(i).Name)
	}
	return out
}

// TestPoliciesCoverTheCode ties the policies to the narrow interfaces the
// code calls AWS through: a method added there without its permission
// here fails, before a deployment finds out with AccessDenied.
func TestPoliciesCoverTheCode(t *testing.T) {
	iamCalls := slices.Concat(methods[rotation.IAMReader](), methods[rotation.IAMWriter](), methods[rotation.SimulateAPI]())
	readonlySecrets := methods[rotation.SecretMetaReader]()
	kmsCalls := methods[rotation.KeyPolicyReader]()
	rotateSecrets := append(methods[rotation.SecretsAPI](), readonlySecrets...)
	prefixed := func(svc string, ops []string) []string {
		var out []string
		for _, op := range ops {
			out = append(out, svc+":"+op)
		}
		return out
	}
	for _, tt := range []struct {
		policy string
		need   []string
	}{
		{MemberRotationPolicy, slices.Concat(prefixed("iam", iamCalls), prefixed("secretsmanager", rotateSecrets), prefixed("kms", kmsCalls))},
		{MemberReadOnlyPolicy, slices.Concat(prefixed("iam", methods[rotation.IAMReader]()), prefixed("iam", methods[rotation.SimulateAPI]()),
			prefixed("secretsmanager", readonlySecrets), prefixed("kms", kmsCalls))},
		{CentralRunnerPolicy, slices.Concat(
			prefixed("organizations", methods[accounts.OrganizationsAPI]()),
			prefixed("ses", methods[notify.SESAPI]()),
			prefixed("s3", methods[report.S3Putter]()),
			[]string{"sts:AssumeRole"},
		)},
	} {
		granted := mustPolicy(t, tt.policy).Actions()
		for _, a := range tt.need {
			if !slices.Contains(granted, a) {
				t.Errorf("%s does not grant %s, which the code calls", tt.policy, a)
			}
		}
	}
	// The read-only role never gets what only rotation does.
	ro := mustPolicy(t, MemberReadOnlyPolicy).Actions()
	for _, a := range prefixed("iam", methods[rotation.IAMWriter]()) {
		if slices.Contains(ro, a) && !slices.Contains(prefixed("iam", methods[rotation.IAMReader]()), a) {
			t.Errorf("read-only policy grants %s", a)
		}
	}
}
