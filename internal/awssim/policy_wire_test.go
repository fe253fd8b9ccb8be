package awssim_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"keyrotor/internal/awssim"
)

// The attacker tests keyrotor will write, here at the simulator's level: an
// insider IAM user of a member account acts through the API with its own
// access key, and every call is allowed or denied as AWS would.

const (
	polAcct    = "222222222222"
	ownerARN   = "arn:aws:iam::" + polAcct + ":user/owner"
	insiderARN = "arn:aws:iam::" + polAcct + ":user/insider"
	rotatorARN = "arn:aws:iam::" + polAcct + ":role/Rotator"
)

// ownKeysPolicy is AWS's documented "manage your own access keys" policy.
const ownKeysPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	"Action":["iam:CreateAccessKey","iam:DeleteAccessKey","iam:UpdateAccessKey","iam:ListAccessKeys","iam:GetAccessKeyLastUsed"],
	"Resource":"arn:aws:iam::*:user/${aws:username}"}]}`

// ownerSecretPolicy is the shape of resource policy keyrotor puts on an
// owner's secret: only the owner reads it; only the rotation role writes.
const ownerSecretPolicy = `{"Version":"2012-10-17","Statement":[
	{"Sid":"OnlyOwnerReads","Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*",
	 "Condition":{"StringNotEquals":{"aws:PrincipalArn":["` + ownerARN + `"]}}},
	{"Sid":"OnlyRotatorWrites","Effect":"Deny","Principal":"*",
	 "Action":["secretsmanager:PutSecretValue","secretsmanager:UpdateSecret","secretsmanager:PutResourcePolicy",
	           "secretsmanager:DeleteResourcePolicy","secretsmanager:DeleteSecret","secretsmanager:TagResource","secretsmanager:UntagResource"],
	 "Resource":"*","Condition":{"ArnNotEquals":{"aws:PrincipalArn":"` + rotatorARN + `"}}},
	{"Sid":"OwnerReads","Effect":"Allow","Principal":{"AWS":"` + ownerARN + `"},
	 "Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":"*"}]}`

type polWorld struct {
	sim                     *awssim.Sim
	url                     string
	owner, insider, rotsess awssim.Credentials
}

// newPolWorld seeds a member account with an owner (no permissions of its
// own), an insider (PowerUserAccess, its own keys, iam:TagUser on *) and
// the rotation role (no identity policies: the simulator's open role).
func newPolWorld(t *testing.T) *polWorld {
	t.Helper()
	sim := awssim.New()
	sim.CreateOrganization(iamMgmtID, "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: polAcct, Name: "member"})
	sim.AddUser(polAcct, awssim.UserSpec{Name: "owner", Tags: map[string]string{"email": "owner@example.com"}})
	sim.AddUser(polAcct, awssim.UserSpec{Name: "insider"})
	sim.AddRole(polAcct, awssim.RoleSpec{Name: "Rotator", TrustedPrincipals: []string{iamMgmtID}})
	must(t, sim.SetPrincipalPolicy(ownerARN))
	must(t, sim.SetPrincipalPolicy(insiderARN, ownKeysPolicy,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:TagUser","Resource":"*"}}`))
	must(t, sim.AttachPrincipalPolicy(insiderARN, awssim.AWSManagedPolicyARN("PowerUserAccess")))
	return &polWorld{
		sim: sim, url: newTestServer(t, sim),
		owner:   sim.AddAccessKey(polAcct, "owner", awssim.KeySpec{}),
		insider: sim.AddAccessKey(polAcct, "insider", awssim.KeySpec{}),
		rotsess: sim.SessionCredentials(polAcct, "Rotator", "keyrotor", time.Hour),
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (w *polWorld) iam(c awssim.Credentials) *iam.Client {
	return iam.NewFromConfig(cfgFor(w.url, c), iamNoRetries)
}

func (w *polWorld) sm(c awssim.Credentials) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(cfgFor(w.url, c), func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
}

func wantDenied(t *testing.T, what string, err error, code string) {
	t.Helper()
	if iamErrCode(err) != code {
		t.Errorf("%s: err = %v, want %s", what, err, code)
	}
}

func wantOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func TestInsiderIAMCalls(t *testing.T) {
	w := newPolWorld(t)
	ctx := context.Background()
	in := w.iam(w.insider)

	// Its own keys, with its own key.
	k, err := in.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	wantOK(t, "create own key", err)
	if err == nil {
		_, err = in.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: k.AccessKey.AccessKeyId, Status: iamtypes.StatusTypeInactive})
		wantOK(t, "deactivate own key", err)
		_, err = in.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("insider"), AccessKeyId: k.AccessKey.AccessKeyId})
		wantOK(t, "delete own key by name", err)
	}
	_, err = in.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	wantOK(t, "list own keys", err)

	// Nobody else's.
	_, err = in.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("owner")})
	wantDenied(t, "create the owner's key", err, "AccessDenied")
	if err != nil && !strings.Contains(err.Error(), "because no identity-based policy allows the iam:CreateAccessKey action") {
		t.Errorf("denial message: %v", err)
	}
	_, err = in.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("owner")})
	wantDenied(t, "list the owner's keys", err, "AccessDenied")
	_, err = in.ListUsers(ctx, &iam.ListUsersInput{})
	wantDenied(t, "ListUsers (PowerUserAccess has no iam:*)", err, "AccessDenied")

	// iam:TagUser on *: the insider can write a forged state tag on anyone.
	_, err = in.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("owner"),
		Tags: []iamtypes.Tag{{Key: aws.String("keyrotor:AKIAFORGED"), Value: aws.String("v1 state=deactivated")}}})
	wantOK(t, "tag another user", err)
	if got := w.sim.UserTags(polAcct, "owner")["keyrotor:AKIAFORGED"]; got == "" {
		t.Error("the forged tag is missing")
	}
	_, err = in.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("owner"), TagKeys: []string{"email"}})
	wantDenied(t, "untag (not granted)", err, "AccessDenied")

	// A user whose policies are set to nothing may do nothing, not even
	// read its own keys.
	_, err = w.iam(w.owner).ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	wantDenied(t, "owner without permissions", err, "AccessDenied")
}

// TestTagConditionsOnIAM: a rotation role held to its tag namespace by
// ForAllValues:StringLike on aws:TagKeys, and a Deny on a resource tag.
func TestTagConditionsOnIAM(t *testing.T) {
	w := newPolWorld(t)
	ctx := context.Background()
	must(t, w.sim.SetPrincipalPolicy(rotatorARN, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iam:TagUser","iam:UntagUser"],"Resource":"arn:aws:iam::*:user/*",
		 "Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"keyrotor:*"}}},
		{"Effect":"Deny","Action":"iam:*","Resource":"*","Condition":{"StringEquals":{"iam:ResourceTag/keyrotor:exempt":"true"}}}]}`))
	w.sim.AddUser(polAcct, awssim.UserSpec{Name: "vip", Tags: map[string]string{"Keyrotor:Exempt": "true"}})
	rot := w.iam(w.rotsess)
	tag := func(user, key string) error {
		_, err := rot.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user), Tags: []iamtypes.Tag{{Key: aws.String(key), Value: aws.String("v1")}}})
		return err
	}
	wantOK(t, "keyrotor tag", tag("owner", "keyrotor:AKIA1"))
	wantDenied(t, "foreign tag key", tag("owner", "email"), "AccessDenied")
	// IAM tag keys are case-insensitive, in conditions too.
	err := tag("vip", "keyrotor:AKIA2")
	wantDenied(t, "exempt user", err, "AccessDenied")
	if err != nil && !strings.Contains(err.Error(), "explicit deny in an identity-based policy") {
		t.Errorf("denial message: %v", err)
	}
}

func TestSecretResourcePolicies(t *testing.T) {
	w := newPolWorld(t)
	ctx := context.Background()
	rot, in, own := w.sm(w.rotsess), w.sm(w.insider), w.sm(w.owner)

	created, err := rot.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyrotor/owner"),
		SecretString: aws.String(`{"AccessKeyId":"AKIAOWNER"}`),
		Tags:         []smtypes.Tag{{Key: aws.String("keyrotor:access-key-id"), Value: aws.String("AKIAOWNER")}}})
	must(t, err)
	_, err = rot.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: created.ARN,
		ResourcePolicy: aws.String(ownerSecretPolicy), BlockPublicPolicy: aws.Bool(true)})
	wantOK(t, "a Deny to * is not public", err)
	_, err = rot.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("team/shared"), SecretString: aws.String("shared")})
	must(t, err)
	id := aws.String("keyrotor/owner")

	// Reading.
	got, err := own.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id})
	if err != nil || aws.ToString(got.SecretString) != `{"AccessKeyId":"AKIAOWNER"}` {
		t.Errorf("owner reads through the resource policy: %v", err)
	}
	_, err = in.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id})
	wantDenied(t, "insider with GetSecretValue on * (PowerUserAccess)", err, "AccessDeniedException")
	if err != nil && !strings.Contains(err.Error(), "explicit deny in a resource-based policy") {
		t.Errorf("denial message: %v", err)
	}
	_, err = in.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("team/shared")})
	wantOK(t, "insider reads an unprotected secret", err)
	_, err = rot.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id})
	wantDenied(t, "the rotation role's session is denied too", err, "AccessDeniedException")

	// Identifying the key without reading the value.
	d, err := in.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: id})
	if err != nil || len(d.Tags) != 1 || aws.ToString(d.Tags[0].Value) != "AKIAOWNER" {
		t.Errorf("DescribeSecret tags: %v %+v", err, d)
	}

	// Writing: the rotation role only.
	for name, call := range map[string]func(c *secretsmanager.Client) error{
		"PutSecretValue": func(c *secretsmanager.Client) error {
			_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: id, SecretString: aws.String(`{"AccessKeyId":"AKIAX"}`)})
			return err
		},
		"UpdateSecret": func(c *secretsmanager.Client) error {
			_, err := c.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: id, Description: aws.String("mine")})
			return err
		},
		"TagResource": func(c *secretsmanager.Client) error {
			_, err := c.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: id, Tags: []smtypes.Tag{{Key: aws.String("keyrotor:access-key-id"), Value: aws.String("AKIAFORGED")}}})
			return err
		},
		"UntagResource": func(c *secretsmanager.Client) error {
			_, err := c.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: id, TagKeys: []string{"nothing"}})
			return err
		},
		"PutResourcePolicy": func(c *secretsmanager.Client) error {
			_, err := c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: id, ResourcePolicy: aws.String(ownerSecretPolicy)})
			return err
		},
	} {
		wantDenied(t, "insider "+name, call(in), "AccessDeniedException")
		wantDenied(t, "owner "+name, call(own), "AccessDeniedException")
		wantOK(t, "rotation role "+name, call(rot))
	}
	_, err = in.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: id})
	wantDenied(t, "insider DeleteResourcePolicy", err, "AccessDeniedException")
	_, err = in.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: id})
	wantDenied(t, "insider DeleteSecret", err, "AccessDeniedException")
	if v, _ := w.sim.SecretValue(polAcct, "us-east-1", "keyrotor/owner"); v != `{"AccessKeyId":"AKIAX"}` {
		t.Errorf("value = %q, want the rotation role's", v)
	}

	// The rotation role may also lift the policy; then the insider reads.
	_, err = rot.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: id})
	wantOK(t, "rotation role DeleteResourcePolicy", err)
	if p, err := rot.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: id}); err != nil || p.ResourcePolicy != nil {
		t.Errorf("policy after delete: %v %v", err, p)
	}
	_, err = in.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id})
	wantOK(t, "insider after the policy is gone", err)

	// BlockPublicPolicy refuses an Allow to everyone.
	_, err = rot.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: id, BlockPublicPolicy: aws.Bool(true),
		ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}}`)})
	var pp *smtypes.PublicPolicyException
	if !errors.As(err, &pp) {
		t.Errorf("public policy: %v", err)
	}
}

// TestSecretsManagerBlockPublicPolicyCondition: the deploy policy's
// condition on secretsmanager:BlockPublicPolicy applies to PutResourcePolicy.
func TestSecretsManagerBlockPublicPolicyCondition(t *testing.T) {
	w := newPolWorld(t)
	ctx := context.Background()
	must(t, w.sim.SetPrincipalPolicy(rotatorARN, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["secretsmanager:CreateSecret"],"Resource":"arn:aws:secretsmanager:*:*:secret:keyrotor/*"},
		{"Effect":"Allow","Action":"secretsmanager:PutResourcePolicy","Resource":"arn:aws:secretsmanager:*:*:secret:keyrotor/*",
		 "Condition":{"Bool":{"secretsmanager:BlockPublicPolicy":"true"}}}]}`))
	rot := w.sm(w.rotsess)
	_, err := rot.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyrotor/a"), SecretString: aws.String("x")})
	must(t, err)
	put := func(block *bool) error {
		_, err := rot.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("keyrotor/a"),
			ResourcePolicy: aws.String(ownerSecretPolicy), BlockPublicPolicy: block})
		return err
	}
	wantDenied(t, "without BlockPublicPolicy", put(nil), "AccessDeniedException")
	wantOK(t, "with BlockPublicPolicy", put(aws.Bool(true)))
	_, err = rot.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("other/a"), SecretString: aws.String("x")})
	wantDenied(t, "outside keyrotor/", err, "AccessDeniedException")
}

func TestKMSDecrypt(t *testing.T) {
	w := newPolWorld(t)
	ctx := context.Background()
	keyARN, err := w.sim.CreateKMSKey(polAcct, awssim.KMSKeySpec{ID: "0a1b2c3d-0000-4000-8000-000000000001", Aliases: []string{"keyrotor"}})
	must(t, err)
	rot := w.sm(w.rotsess)
	_, err = rot.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyrotor/owner"),
		SecretString: aws.String("v"), KmsKeyId: aws.String("alias/keyrotor")})
	must(t, err)
	// The owner may read the secret, but not decrypt it.
	readPolicy := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}}`
	must(t, w.sim.SetPrincipalPolicy(ownerARN, readPolicy))
	own := w.sm(w.owner)
	_, err = own.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/owner")})
	wantDenied(t, "no kms:Decrypt", err, "AccessDeniedException")
	if err != nil && !strings.Contains(err.Error(), "Access to KMS is not allowed") {
		t.Errorf("denial message: %v", err)
	}
	must(t, w.sim.SetPrincipalPolicy(ownerARN, readPolicy,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"`+keyARN+`",
		  "Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}}}`))
	_, err = own.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/owner")})
	wantOK(t, "kms:Decrypt via Secrets Manager", err)

	// A key policy without the account principal: identity policies no
	// longer count, only the principals it names.
	must(t, w.sim.SetKMSKeyPolicy(keyARN, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"`+rotatorARN+`"},"Action":["kms:GenerateDataKey","kms:Decrypt","kms:DescribeKey","kms:GetKeyPolicy"],"Resource":"*"}]}`))
	_, err = own.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/owner")})
	wantDenied(t, "key policy naming someone else", err, "AccessDeniedException")
	_, err = rot.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keyrotor/owner"), SecretString: aws.String("w")})
	wantOK(t, "rotation role named by the key policy", err)

	// An unknown key, once the account has keys, is Secrets Manager's error.
	_, err = rot.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyrotor/x"),
		SecretString: aws.String("v"), KmsKeyId: aws.String("alias/nope")})
	var ip *smtypes.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Errorf("unknown key: %v", err)
	}

	// DescribeKey and GetKeyPolicy through the KMS client.
	kc := kms.NewFromConfig(cfgFor(w.url, w.rotsess), func(o *kms.Options) { o.RetryMaxAttempts = 1 })
	dk, err := kc.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/keyrotor")})
	if err != nil || aws.ToString(dk.KeyMetadata.Arn) != keyARN || dk.KeyMetadata.KeyManager != kmstypes.KeyManagerTypeCustomer || !dk.KeyMetadata.Enabled {
		t.Errorf("DescribeKey: %v %+v", err, dk)
	}
	_, err = kc.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/nope")})
	var nf *kmstypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("DescribeKey of an unknown alias: %v", err)
	}
	_, err = kms.NewFromConfig(cfgFor(w.url, w.insider), func(o *kms.Options) { o.RetryMaxAttempts = 1 }).
		DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyARN)})
	wantDenied(t, "DescribeKey by a principal the key policy does not name", err, "AccessDeniedException")
	kp, err := kc.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyARN), PolicyName: aws.String("default")})
	if err != nil || !strings.Contains(aws.ToString(kp.Policy), rotatorARN) {
		t.Errorf("GetKeyPolicy: %v %v", err, kp)
	}

	// DisableKey and EnableKey, under the key policy: while the key is off
	// nobody can read or write the secrets it protects.
	_, err = kc.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyARN)})
	wantDenied(t, "DisableKey the key policy does not allow", err, "AccessDeniedException")
	must(t, w.sim.SetKMSKeyPolicy(keyARN, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"`+rotatorARN+`"},"Action":["kms:GenerateDataKey","kms:Decrypt","kms:DescribeKey","kms:DisableKey","kms:EnableKey"],"Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"`+ownerARN+`"},"Action":"kms:Decrypt","Resource":"*"}]}`))
	_, err = kc.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String("alias/keyrotor")})
	wantOK(t, "DisableKey", err)
	dk, err = kc.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyARN)})
	if err != nil || dk.KeyMetadata.Enabled || dk.KeyMetadata.KeyState != kmstypes.KeyStateDisabled {
		t.Errorf("DescribeKey of a disabled key: %v %+v", err, dk)
	}
	_, err = own.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/owner")})
	var df *smtypes.DecryptionFailure
	if !errors.As(err, &df) {
		t.Errorf("GetSecretValue under a disabled key: %v", err)
	}
	_, err = rot.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keyrotor/owner"), SecretString: aws.String("x")})
	var ef *smtypes.EncryptionFailure
	if !errors.As(err, &ef) {
		t.Errorf("PutSecretValue under a disabled key: %v", err)
	}
	_, err = kc.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyARN)})
	wantOK(t, "EnableKey", err)
	_, err = own.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/owner")})
	wantOK(t, "GetSecretValue once the key is enabled again", err)
}

// TestSimulateIdentityPolicies: keyrotor asks "can this owner read and
// decrypt their secret?" without reading it.
func TestSimulateIdentityPolicies(t *testing.T) {
	w := newPolWorld(t)
	ctx := context.Background()
	keyARN, err := w.sim.CreateKMSKey(polAcct, awssim.KMSKeySpec{ID: "k1"})
	must(t, err)
	secretARN := "arn:aws:secretsmanager:us-east-1:" + polAcct + ":secret:keyrotor/owner-AbCdEf"
	root := w.iam(w.sim.RootCredentials(polAcct))
	sim := func(source string, actions, resources []string, resPolicy string, entries ...iamtypes.ContextEntry) []iamtypes.EvaluationResult {
		t.Helper()
		in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(source), ActionNames: actions, ResourceArns: resources, ContextEntries: entries}
		if resPolicy != "" {
			in.ResourcePolicy = aws.String(resPolicy)
		}
		out, err := root.SimulatePrincipalPolicy(ctx, in)
		if err != nil {
			t.Fatalf("simulate %s: %v", source, err)
		}
		return out.EvaluationResults
	}
	decisions := func(rs []iamtypes.EvaluationResult) string {
		var out []string
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%s=%s", aws.ToString(r.EvalActionName), r.EvalDecision))
		}
		return strings.Join(out, " ")
	}

	read := []string{"secretsmanager:GetSecretValue"}
	if got := decisions(sim(ownerARN, read, []string{secretARN}, ownerSecretPolicy)); got != "secretsmanager:GetSecretValue=allowed" {
		t.Errorf("owner with the secret's policy: %s", got)
	}
	if got := decisions(sim(ownerARN, read, []string{secretARN}, "")); got != "secretsmanager:GetSecretValue=implicitDeny" {
		t.Errorf("owner without the resource policy: %s", got)
	}
	rs := sim(insiderARN, read, []string{secretARN}, ownerSecretPolicy)
	if got := decisions(rs); got != "secretsmanager:GetSecretValue=explicitDeny" {
		t.Errorf("insider: %s", got)
	}
	var types []string
	for _, m := range rs[0].MatchedStatements {
		types = append(types, aws.ToString(m.SourcePolicyId)+"/"+string(m.SourcePolicyType))
	}
	if s := strings.Join(types, ","); !strings.Contains(s, "arn:aws:iam::aws:policy/PowerUserAccess/aws-managed") || !strings.Contains(s, "ResourcePolicy/resource") {
		t.Errorf("matched statements: %s", s)
	}

	// kms:Decrypt on the key: the owner has none until its policy says so.
	decrypt := []string{"kms:Decrypt"}
	if got := decisions(sim(ownerARN, decrypt, []string{keyARN}, "")); got != "kms:Decrypt=implicitDeny" {
		t.Errorf("owner decrypt: %s", got)
	}
	must(t, w.sim.SetPrincipalPolicy(ownerARN, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"`+keyARN+`",
		"Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}}}`))
	rs = sim(ownerARN, decrypt, []string{keyARN}, "")
	if got := decisions(rs); got != "kms:Decrypt=implicitDeny" || len(rs[0].MissingContextValues) != 1 || rs[0].MissingContextValues[0] != "kms:ViaService" {
		t.Errorf("decrypt without kms:ViaService: %s, missing %v", got, rs[0].MissingContextValues)
	}
	via := iamtypes.ContextEntry{ContextKeyName: aws.String("kms:ViaService"), ContextKeyType: iamtypes.ContextKeyTypeEnumString,
		ContextKeyValues: []string{"secretsmanager.us-east-1.amazonaws.com"}}
	if got := decisions(sim(ownerARN, decrypt, []string{keyARN}, "", via)); got != "kms:Decrypt=allowed" {
		t.Errorf("decrypt with kms:ViaService: %s", got)
	}
	// Policy variables resolve from the simulated principal.
	if got := decisions(sim(insiderARN, []string{"iam:CreateAccessKey"}, []string{insiderARN, ownerARN}, "")); got != "iam:CreateAccessKey=allowed iam:CreateAccessKey=implicitDeny" {
		t.Errorf("own keys: %s", got)
	}
}

// TestAssumeRoleWithIdentityPolicies: a strict user needs sts:AssumeRole
// when the trust policy names only its account.
func TestAssumeRoleWithIdentityPolicies(t *testing.T) {
	w := newPolWorld(t)
	ctx := context.Background()
	w.sim.AddRole(polAcct, awssim.RoleSpec{Name: "Shared", TrustedPrincipals: []string{polAcct}})
	w.sim.AddRole(polAcct, awssim.RoleSpec{Name: "Personal", TrustedPrincipals: []string{insiderARN}})
	assume := func(c awssim.Credentials, role string) error {
		_, err := sts.NewFromConfig(cfgFor(w.url, c), func(o *sts.Options) { o.RetryMaxAttempts = 1 }).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::" + polAcct + ":role/" + role), RoleSessionName: aws.String("insider-session")})
		return err
	}
	// PowerUserAccess allows sts:* (it is not iam:*).
	wantOK(t, "insider, account trust, PowerUserAccess", assume(w.insider, "Shared"))
	wantDenied(t, "owner, account trust, no permission", assume(w.owner, "Shared"), "AccessDenied")
	wantOK(t, "trust naming the user", assume(w.insider, "Personal"))
	must(t, w.sim.SetPrincipalPolicy(insiderARN, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}}`))
	wantDenied(t, "explicit deny", assume(w.insider, "Personal"), "AccessDenied")
}

func TestSetPrincipalPolicyRejects(t *testing.T) {
	w := newPolWorld(t)
	for name, err := range map[string]error{
		"malformed":         w.sim.SetPrincipalPolicy(ownerARN, `{"Statement":{"Effect":"Allow","Action":"iam:*"}}`),
		"no such user":      w.sim.SetPrincipalPolicy("arn:aws:iam::"+polAcct+":user/nobody", "{}"),
		"wrong path":        w.sim.SetPrincipalPolicy("arn:aws:iam::" + polAcct + ":user/x/owner"),
		"not an ARN":        w.sim.SetPrincipalPolicy("owner"),
		"unknown managed":   w.sim.AttachPrincipalPolicy(ownerARN, "arn:aws:iam::aws:policy/NoSuchPolicy"),
		"unknown operator":  w.sim.SetPrincipalPolicy(ownerARN, `{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"StringMaybe":{"aws:username":"x"}}}}`),
		"principal in body": w.sim.SetPrincipalPolicy(ownerARN, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"iam:*","Resource":"*"}}`),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A customer managed policy attaches like an AWS managed one.
	arn, err := w.sim.CreateManagedPolicy(polAcct, "ReadOwnTags", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListUserTags","Resource":"arn:aws:iam::*:user/${aws:username}"}}`)
	must(t, err)
	must(t, w.sim.AttachPrincipalPolicy(ownerARN, arn))
	_, err = w.iam(w.owner).ListUserTags(context.Background(), &iam.ListUserTagsInput{UserName: aws.String("owner")})
	wantOK(t, "managed policy", err)
	must(t, w.sim.ClearPrincipalPolicies(ownerARN))
	_, err = w.iam(w.owner).ListUsers(context.Background(), &iam.ListUsersInput{})
	wantOK(t, "cleared: the open user again", err)
}
