package awssim

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/goccy/go-yaml"
)

var scnSecurity = strings.Replace(scnBase, "role: {name: RotRole, path: /keyrotor/, external_id: ext-1}\n", "", 1) + `role:
  name: RotRole
  path: /keyrotor/
  external_id: ext-1
  policies:
    - Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Action: ["secretsmanager:*", "kms:*", "iam:ListUsers"], Resource: "*"}
accounts:
  - id: "333333333333"
    name: prod
    ou: Workloads/Prod
    customer_policies:
      - name: OwnKeys
        document: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::*:user/${aws:username}"}}'
    users:
      - name: insider
        managed_policies: [PowerUserAccess, OwnKeys]
        keys: [{age: 10d}]
    roles:
      - name: BreakGlass
        trusted: ["arn:aws:iam::222222222222:root"]
        managed_policies: [AdministratorAccess]
    kms_keys:
      - id: 0a1b2c3d-0000-4000-8000-000000000001
        aliases: [alias/keyrotor]
        policy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {AWS: "arn:aws:iam::333333333333:root"}
              Action: "kms:*"
              Resource: "*"
    root_keys:
      - {age: 400d, last_used: 2d, service: iam, region: us-east-1}
      - {age: 30d, status: Inactive, last_used: never}
`

func TestScenarioSecurityFields(t *testing.T) {
	sc, err := ParseScenario("s.yaml", []byte(scnSecurity))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(sc.Role.Policies[0]); !strings.HasPrefix(got, `{"Statement":[{"Action":["secretsmanager:*"`) {
		t.Errorf("YAML policy as JSON: %s", got)
	}
	sim, sd, err := sc.Build()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	ctx := context.Background()
	cfg := func(c Credentials) aws.Config {
		return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	}

	// The rotation role's policies: allowed what they say, nothing else.
	out, err := sts.NewFromConfig(cfg(sd.Central)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(sd.RoleARN("333333333333")),
		RoleSessionName: aws.String("test"), ExternalId: aws.String("ext-1")})
	if err != nil {
		t.Fatal(err)
	}
	sess := Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	rot := iam.NewFromConfig(cfg(sess), func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	if _, err := rot.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Errorf("ListUsers: %v", err)
	}
	if _, err := rot.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("insider")}); scnErrCode(err) != "AccessDenied" {
		t.Errorf("CreateAccessKey, not in the policy: %v", err)
	}
	// The KMS key, by alias.
	dk, err := kms.NewFromConfig(cfg(sess)).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/keyrotor")})
	if err != nil || aws.ToString(dk.KeyMetadata.KeyId) != "0a1b2c3d-0000-4000-8000-000000000001" {
		t.Errorf("DescribeKey: %v", err)
	}
	_, err = secretsmanager.NewFromConfig(cfg(sess)).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyrotor/x"),
		SecretString: aws.String("v"), KmsKeyId: aws.String("alias/other")})
	var ip *smtypes.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Errorf("unknown key in an account with keys: %v", err)
	}

	// The insider: PowerUserAccess and its own keys.
	var insider Credentials
	for _, k := range sim.Keys("333333333333") {
		if k.User == "insider" {
			insider, _ = sim.CredentialsFor(k.ID)
		}
	}
	in := iam.NewFromConfig(cfg(insider), func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	if _, err := in.ListAccessKeys(ctx, &iam.ListAccessKeysInput{}); err != nil {
		t.Errorf("insider's own keys: %v", err)
	}
	if _, err := in.ListUsers(ctx, &iam.ListUsersInput{}); scnErrCode(err) != "AccessDenied" {
		t.Errorf("insider ListUsers: %v", err)
	}

	// The extra role and the root keys.
	if _, err := sts.NewFromConfig(cfg(sd.Central)).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::333333333333:role/BreakGlass"), RoleSessionName: aws.String("bg")}); err != nil {
		t.Errorf("BreakGlass: %v", err)
	}
	if keys := sim.RootKeys("333333333333"); len(keys) != 2 || keys[0].Status != "Active" || keys[1].Status != "Inactive" ||
		keys[0].LastService != "iam" || keys[1].LastUsed != nil {
		t.Errorf("root keys: %+v", keys)
	}
	rootCreds := sim.RootCredentials("333333333333")
	rc := iam.NewFromConfig(cfg(rootCreds))
	if _, err := rc.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatal(err)
	}
	rep, err := rc.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(rep.Content)).ReadAll()
	if err != nil || recs[1][0] != "<root_account>" || recs[1][8] != "true" || recs[1][13] != "false" || recs[1][12] != "iam" {
		t.Errorf("root row: %v %q", err, recs[1])
	}

	// The scenario survives YAML.
	b, err := yaml.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseScenario("again.yaml", b)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, b)
	}
	if string(again.Accounts[0].KMSKeys[0].Policy) != string(sc.Accounts[0].KMSKeys[0].Policy) {
		t.Error("the key policy changed in the round trip")
	}
}

func scnErrCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestScenarioSecurityFieldErrors(t *testing.T) {
	acct := scnBase + `accounts:
  - id: "333333333333"
    name: a
`
	tests := []struct{ name, src, want string }{
		{"bad user policy", acct + `    users:
      - name: u
        policies: ['{"Statement":{"Effect":"Allow","Action":"iam:*"}}']
`, `s.yaml:16: accounts[0].users[0].policies[0]: invalid identity policy: Policy statement must contain resources.`},
		{"unknown managed policy", acct + `    users:
      - name: u
        managed_policies: [ReadOnlyAccess]
`, `s.yaml:16: accounts[0].users[0].managed_policies[0]: "ReadOnlyAccess" is neither`},
		{"tags differing in case", acct + `    users:
      - name: u
        tags: {Owner: a, owner: b}
`, `accounts[0].users[0].tags: tags`},
		{"three root keys", acct + `    root_keys: [{age: 1d}, {age: 2d}, {age: 3d}]
`, `s.yaml:14: accounts[0].root_keys: the root user may have at most two access keys, got 3`},
		{"reserved alias", acct + `    kms_keys: [{aliases: [alias/aws/secretsmanager]}]
`, `accounts[0].kms_keys[0].aliases[0]: "alias/aws/secretsmanager" is not an alias you can create`},
		{"bad key policy", acct + `    kms_keys: [{policy: {Statement: {Effect: Allow, Action: "kms:*"}}}]
`, `accounts[0].kms_keys[0].policy: invalid key policy: This resource policy contains a statement without a Principal.`},
		{"role named like the rotation role", acct + `    roles: [{name: RotRole}]
`, `accounts[0].roles[0].name: role "RotRole" is defined twice`},
		{"bad trusted principal", acct + `    roles: [{name: X, trusted: [someone]}]
`, `accounts[0].roles[0].trusted[0]: "someone" is not an account ID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario("s.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %s", err, tt.want)
			}
		})
	}
}
