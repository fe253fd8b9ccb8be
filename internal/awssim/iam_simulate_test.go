package awssim_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"keyrotor/internal/awssim"
)

// simulate runs SimulatePrincipalPolicy through the SDK's paginator and
// returns "action on resource=decision" lines and the number of pages.
func simulate(t *testing.T, c *iam.Client, in *iam.SimulatePrincipalPolicyInput) ([]string, int, error) {
	t.Helper()
	var out []string
	pages := 0
	p := iam.NewSimulatePrincipalPolicyPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			return out, pages, err
		}
		pages++
		for _, r := range page.EvaluationResults {
			out = append(out, fmt.Sprintf("%s on %s=%s", aws.ToString(r.EvalActionName), aws.ToString(r.EvalResourceName), r.EvalDecision))
		}
	}
	return out, pages, nil
}

func TestIAMSimulatePrincipalPolicy(t *testing.T) {
	w := newIAMWorld(t, awssim.WithPageSize(3))
	roleARN := "arn:aws:iam::" + iamMemberID + ":role/Rotator"
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{
		Name: "Rotator", TrustedPrincipals: []string{iamMgmtID},
		AllowedActions: []string{"iam:ListUsers", "iam:CreateAccessKey", "iam:SimulatePrincipalPolicy"},
		ResourcePrefixes: map[string][]string{
			"iam:CreateAccessKey":         {"arn:aws:iam::*:user/*"},
			"iam:SimulatePrincipalPolicy": {"arn:aws:iam::*:role/Rotator"},
		},
	})
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Open", TrustedPrincipals: []string{iamMgmtID}})
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "NoSimulate", TrustedPrincipals: []string{iamMgmtID},
		AllowedActions: []string{"iam:ListUsers"}})
	sess := w.iam(w.sim.SessionCredentials(iamMemberID, "Rotator", "check", time.Hour), iamNoRetries)
	user := "arn:aws:iam::" + iamMemberID + ":user/alice"

	got, pages, err := simulate(t, sess, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(roleARN),
		ActionNames:     []string{"iam:ListUsers", "iam:CreateAccessKey", "iam:DeleteAccessKey"},
		ResourceArns:    []string{user, "*"},
		// Conditions are not evaluated; context entries must still be accepted.
		ContextEntries: []types.ContextEntry{{ContextKeyName: aws.String("aws:TagKeys"),
			ContextKeyType: types.ContextKeyTypeEnumStringList, ContextKeyValues: []string{"keyrotor:x"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"iam:ListUsers on " + user + "=allowed", "iam:ListUsers on *=allowed",
		// Narrowed to users: allowed on a user, not on "*".
		"iam:CreateAccessKey on " + user + "=allowed", "iam:CreateAccessKey on *=implicitDeny",
		"iam:DeleteAccessKey on " + user + "=implicitDeny", "iam:DeleteAccessKey on *=implicitDeny",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if pages != 2 {
		t.Errorf("%d pages of 3 for 6 results, want 2", pages)
	}

	// MaxItems pages too, and a bad marker is InvalidInput.
	out, err := sess.SimulatePrincipalPolicy(context.Background(), &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(roleARN), ActionNames: []string{"iam:ListUsers", "iam:GetUser"}, MaxItems: aws.Int32(1)})
	if err != nil || len(out.EvaluationResults) != 1 || !out.IsTruncated || out.Marker == nil {
		t.Fatalf("MaxItems 1: %v %+v", err, out)
	}
	_, err = sess.SimulatePrincipalPolicy(context.Background(), &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(roleARN), ActionNames: []string{"iam:ListUsers"}, Marker: aws.String("garbage")})
	iamWantError(t, err, "InvalidInput", 400)

	// A role without an allow-list allows everything.
	got, _, err = simulate(t, w.iam(w.root), &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::" + iamMemberID + ":role/Open"), ActionNames: []string{"iam:DeleteAccessKey"}})
	if err != nil || len(got) != 1 || got[0] != "iam:DeleteAccessKey on *=allowed" {
		t.Errorf("open role: %v %q", err, got)
	}

	for name, tt := range map[string]struct {
		client *iam.Client
		source string
		code   string
		status int
	}{
		// The policy lets the role simulate only itself.
		"another role":        {sess, "arn:aws:iam::" + iamMemberID + ":role/Open", "AccessDenied", 403},
		"caller not allowed":  {w.iam(w.sim.SessionCredentials(iamMemberID, "NoSimulate", "x", time.Hour), iamNoRetries), "arn:aws:iam::" + iamMemberID + ":role/NoSimulate", "AccessDenied", 403},
		"missing role":        {w.iam(w.root, iamNoRetries), "arn:aws:iam::" + iamMemberID + ":role/Nobody", "NoSuchEntity", 404},
		"other account":       {w.iam(w.root, iamNoRetries), "arn:aws:iam::" + iamMgmtID + ":role/Rotator", "NoSuchEntity", 404},
		"not an ARN":          {w.iam(w.root, iamNoRetries), "Rotator", "InvalidInput", 400},
		"user, not simulated": {w.iam(w.root, iamNoRetries), "arn:aws:iam::" + iamMemberID + ":user/alice", "InvalidInput", 400},
	} {
		_, err := tt.client.SimulatePrincipalPolicy(context.Background(), &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String(tt.source), ActionNames: []string{"iam:ListUsers"}})
		if iamErrCode(err) != tt.code || iamHTTPStatus(err) != tt.status {
			t.Errorf("%s: err = %v, want %s/%d", name, err, tt.code, tt.status)
		}
	}
	// Simulating is a read: it never counts as a write call.
	for _, c := range w.sim.WriteCalls() {
		if c.Op == "SimulatePrincipalPolicy" {
			t.Errorf("SimulatePrincipalPolicy logged as a write: %+v", c)
		}
	}
}

// TestSimulateAgreesWithEnforcement asks the simulator about every action
// and resource a narrowed role might use and checks each answer against
// what the real call then gets.
func TestSimulateAgreesWithEnforcement(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "ci", Path: "/service/"})
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "R", TrustedPrincipals: []string{iamMgmtID},
		AllowedActions:   []string{"iam:List*", "iam:CreateAccessKey"},
		ResourcePrefixes: map[string][]string{"iam:CreateAccessKey": {"arn:aws:iam::*:user/service/*"}}})
	sess := w.iam(w.sim.SessionCredentials(iamMemberID, "R", "x", time.Hour), iamNoRetries)
	ctx := context.Background()
	for _, u := range []string{"alice", "ci"} {
		arn := "arn:aws:iam::" + iamMemberID + ":user/" + u
		if u == "ci" {
			arn = "arn:aws:iam::" + iamMemberID + ":user/service/ci"
		}
		for action, call := range map[string]func() error{
			"iam:CreateAccessKey": func() error {
				_, err := sess.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u)})
				return err
			},
			"iam:ListAccessKeys": func() error {
				_, err := sess.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(u)})
				return err
			},
			"iam:DeleteAccessKey": func() error {
				_, err := sess.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(u), AccessKeyId: aws.String("AKIAEXAMPLEEXAMPLE00")})
				return err
			},
		} {
			out, err := w.iam(w.root).SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
				PolicySourceArn: aws.String("arn:aws:iam::" + iamMemberID + ":role/R"),
				ActionNames:     []string{action}, ResourceArns: []string{arn}})
			if err != nil {
				t.Fatal(err)
			}
			allowed := out.EvaluationResults[0].EvalDecision == types.PolicyEvaluationDecisionTypeAllowed
			denied := iamErrCode(call()) == "AccessDenied"
			if allowed == denied {
				t.Errorf("%s on %s: simulated allowed=%v, but the call was denied=%v", action, arn, allowed, denied)
			}
		}
	}
}

// TestSecretsImpliedPermissions: tags on CreateSecret need TagResource, and
// a customer managed key needs the KMS permissions, as in AWS.
func TestSecretsImpliedPermissions(t *testing.T) {
	e := newSecretsEnv(t)
	ctx := context.Background()
	const key = "arn:aws:kms:us-east-1:" + secAcct + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	all := []string{"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:GetSecretValue",
		"secretsmanager:TagResource", "kms:GenerateDataKey", "kms:Decrypt"}
	e.sim.AddRole(secAcct, awssim.RoleSpec{Name: "R", TrustedPrincipals: []string{mgmtID}, AllowedActions: all})
	sm := secretsmanager.NewFromConfig(cfgFor(e.url, e.sim.SessionCredentials(secAcct, "R", "x", time.Hour)),
		func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	without := func(drop string) {
		var keep []string
		for _, a := range all {
			if a != drop {
				keep = append(keep, a)
			}
		}
		e.sim.SetRoleAllowedActions(secAcct, "R", keep, nil)
	}
	create := func(name, kms string, tags bool) error {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("v")}
		if kms != "" {
			in.KmsKeyId = aws.String(kms)
		}
		if tags {
			in.Tags = []smtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}
		}
		_, err := sm.CreateSecret(ctx, in)
		return err
	}
	denied := func(what string, err error) {
		t.Helper()
		if iamErrCode(err) != "AccessDeniedException" {
			t.Errorf("%s: err = %v, want AccessDeniedException", what, err)
		}
	}

	without("secretsmanager:TagResource")
	denied("tags without TagResource", create("a", "", true))
	if err := create("a", "", false); err != nil {
		t.Errorf("no tags without TagResource: %v", err)
	}
	without("kms:GenerateDataKey")
	denied("CMK without GenerateDataKey", create("b", key, false))
	for _, managed := range []string{"", "alias/aws/secretsmanager"} {
		if err := create("managed"+strings.ReplaceAll(managed, "/", "-"), managed, false); err != nil {
			t.Errorf("AWS managed key %q needs no KMS permission: %v", managed, err)
		}
	}
	without("")
	if err := create("b", key, true); err != nil {
		t.Fatalf("all permissions: %v", err)
	}
	without("kms:GenerateDataKey")
	_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("b"), SecretString: aws.String("w")})
	denied("PutSecretValue without GenerateDataKey", err)
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("b")})
	if err != nil {
		t.Errorf("GetSecretValue needs Decrypt only: %v", err)
	}
	without("kms:Decrypt")
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("b")})
	denied("GetSecretValue without Decrypt", err)
	if err != nil && !strings.Contains(err.Error(), "kms:Decrypt") {
		t.Errorf("denial does not name the KMS action: %v", err)
	}
	// An alias stands for a key of its name; an existing secret is not
	// re-encrypted by CreateSecret (ResourceExists comes first).
	without("kms:GenerateDataKey")
	denied("alias CMK", create("c", "alias/team-key", false))
	if err := create("b", key, false); iamErrCode(err) != "ResourceExistsException" {
		t.Errorf("existing secret: err = %v, want ResourceExistsException", err)
	}
}
