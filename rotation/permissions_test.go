package rotation_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"keyrotor/accounts"
	"keyrotor/deploy"
	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/report"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

const (
	permMgmt    = "111111111111"
	permAccount = "222222222222"
	permRole    = "KeyrotorRotationRole"
	permRoleARN = "arn:aws:iam::" + permAccount + ":role/" + permRole
)

// permEnv is a member account whose rotation role has the allow-list of a
// deploy/iam policy, served over HTTP.
type permEnv struct {
	sim *awssim.Sim
	srv *awssimtest.Server
}

func newPermEnv(t *testing.T, policy string, drop ...string) *permEnv {
	t.Helper()
	sim := awssim.New(awssim.WithPageSize(2))
	sim.CreateOrganization(permMgmt, "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: permAccount, Name: "member"})
	sim.AddUser(permAccount, awssim.UserSpec{Name: "alice"})
	sim.AddAccessKey(permAccount, "alice", awssim.KeySpec{Created: sim.Now().Add(-100 * 24 * time.Hour)})
	doc, err := deploy.Policy(policy)
	if err != nil {
		t.Fatal(err)
	}
	actions, resources := doc.AllowList()
	actions = slices.DeleteFunc(actions, func(a string) bool { return slices.Contains(drop, a) })
	sim.AddRole(permAccount, awssim.RoleSpec{Name: permRole, TrustedPrincipals: []string{permMgmt},
		AllowedActions: actions, ResourcePrefixes: resources})
	return &permEnv{sim: sim, srv: awssimtest.Start(t, sim)}
}

func (e *permEnv) cfg() aws.Config {
	return e.srv.RoleConfig(permAccount, permRole, "test", awssimtest.NoRetries())
}

// defaultSecretName is the default secrets.name_template.
const defaultSecretName = "keyrotor/{{.AccountID}}/{{.UserName}}"

// permSecrets are the secret settings package config builds from a name
// template.
func permSecrets(tmpl, kms string) rotation.SecretSettings {
	t := template.Must(template.New("name").Option("missingkey=error").Parse(tmpl))
	return rotation.SecretSettings{Region: "us-east-1", KMSKeyID: kms, UserReadPolicy: true,
		Name: func(accountID, accountName, userName string) (string, error) {
			var b strings.Builder
			err := t.Execute(&b, struct{ AccountID, AccountName, UserName string }{accountID, accountName, userName})
			return b.String(), err
		}}
}

func permScope(t *testing.T, template, kms string) rotation.PermissionScope {
	t.Helper()
	s, err := rotation.ScopeFor(rotation.AccountTarget{Target: accounts.Target{ID: permAccount, Name: "member"}},
		permRoleARN, permSecrets(template, kms), []string{"BreakGlass"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withoutPrefix strips a service prefix set: the member policies grant
// RequiredActions plus the KMS actions and SimulatePrincipalPolicy itself.
func policyActions(t *testing.T, policy string) []string {
	t.Helper()
	doc, err := deploy.Policy(policy)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(doc.Actions(), func(a string) bool {
		return strings.HasPrefix(a, "kms:") || a == "iam:SimulatePrincipalPolicy"
	})
}

// TestRequiredActionsMatchPolicies ties RequiredActions to deploy/iam: the
// rotation policy grants exactly what apply needs, the read-only policy
// exactly what audit needs.
func TestRequiredActionsMatchPolicies(t *testing.T) {
	for _, tt := range []struct {
		mode   vocab.Mode
		policy string
	}{
		{vocab.ModeApply, deploy.MemberRotationPolicy},
		{vocab.ModeAudit, deploy.MemberReadOnlyPolicy},
		{vocab.ModePlan, deploy.MemberReadOnlyPolicy},
	} {
		got := slices.Sorted(slices.Values(rotation.RequiredActions(tt.mode)))
		if want := policyActions(t, tt.policy); !slices.Equal(got, want) {
			t.Errorf("RequiredActions(%s) = %q\n%s grants %q", tt.mode, got, tt.policy, want)
		}
	}
	doc, err := deploy.Policy(deploy.MemberRotationPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range rotation.KMSActions(vocab.ModeApply) {
		if !slices.Contains(doc.Actions(), a) {
			t.Errorf("rotation policy lacks %s", a)
		}
	}
}

func TestCheckPermissions(t *testing.T) {
	const keyARN = "arn:aws:kms:us-east-1:" + permAccount + ":key/0a1b2c3d-0000-4000-8000-000000000000"
	writes := []string{
		"iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:TagUser", "iam:UntagUser",
		"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:TagResource",
		"secretsmanager:PutResourcePolicy",
	}
	for _, tt := range []struct {
		name, policy, template, kms string
		drop                        []string
		mode                        vocab.Mode
		want                        []string
	}{
		{name: "rotation policy, apply", policy: deploy.MemberRotationPolicy, mode: vocab.ModeApply},
		{name: "rotation policy, apply, customer managed key", policy: deploy.MemberRotationPolicy, mode: vocab.ModeApply, kms: keyARN},
		{name: "rotation policy, key ID", policy: deploy.MemberRotationPolicy, mode: vocab.ModeApply, kms: "0a1b2c3d-0000-4000-8000-000000000000"},
		{name: "read-only policy, audit", policy: deploy.MemberReadOnlyPolicy, mode: vocab.ModeAudit, kms: keyARN},
		{name: "read-only policy, apply", policy: deploy.MemberReadOnlyPolicy, mode: vocab.ModeApply, want: writes},
		{name: "read-only policy, apply, key", policy: deploy.MemberReadOnlyPolicy, mode: vocab.ModeApply, kms: keyARN,
			want: append(slices.Clone(writes), "kms:GenerateDataKey")},
		{name: "one action removed", policy: deploy.MemberRotationPolicy, mode: vocab.ModeApply,
			drop: []string{"iam:UntagUser"}, want: []string{"iam:UntagUser"}},
		// The policies allow secrets under keyrotor/ only.
		{name: "secrets outside the policy's prefix", policy: deploy.MemberRotationPolicy, mode: vocab.ModeApply,
			template: "rotated/{{.UserName}}",
			want: []string{"secretsmanager:DescribeSecret", "secretsmanager:CreateSecret", "secretsmanager:PutSecretValue",
				"secretsmanager:TagResource", "secretsmanager:PutResourcePolicy"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newPermEnv(t, tt.policy, tt.drop...)
			if tt.template == "" {
				tt.template = defaultSecretName
			}
			scope := permScope(t, tt.template, tt.kms)
			actions := rotation.RequiredActions(tt.mode)
			if tt.kms != "" {
				actions = append(actions, rotation.KMSActions(tt.mode)...)
			}
			missing, err := rotation.CheckPermissions(context.Background(), iam.NewFromConfig(e.cfg()), permRoleARN, actions, scope)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(missing, tt.want) {
				t.Errorf("missing = %q\nwant %q", missing, tt.want)
			}
			// Only the simulation was called, on several pages.
			sims := 0
			for _, c := range e.sim.Calls() {
				if c.Op != "SimulatePrincipalPolicy" {
					t.Errorf("check called %s", c.Action())
				}
				sims++
			}
			if sims <= 4 {
				t.Errorf("%d SimulatePrincipalPolicy calls; with pages of 2 there must be more than one per resource kind", sims)
			}
		})
	}
}

func TestCheckPermissionsSimulateDenied(t *testing.T) {
	e := newPermEnv(t, deploy.MemberRotationPolicy, "iam:SimulatePrincipalPolicy")
	_, err := rotation.CheckPermissions(context.Background(), iam.NewFromConfig(e.cfg()), permRoleARN,
		rotation.RequiredActions(vocab.ModeApply), permScope(t, defaultSecretName, ""))
	if !errors.Is(err, rotation.ErrSimulateDenied) {
		t.Fatalf("err = %v, want ErrSimulateDenied", err)
	}
}

func TestPermissionErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		err  rotation.PermissionError
		want string
	}{
		{rotation.PermissionError{RoleARN: "arn:aws:iam::1:role/R", Mode: vocab.ModeApply, Missing: []string{"iam:CreateAccessKey", "iam:TagUser"}},
			"role arn:aws:iam::1:role/R cannot rotate: missing iam:CreateAccessKey, iam:TagUser (read-only deployment?); nothing was changed"},
		{rotation.PermissionError{RoleARN: "arn:aws:iam::1:role/R", Mode: vocab.ModeAudit, Missing: []string{"iam:ListUsers"}},
			"role arn:aws:iam::1:role/R cannot audit: missing iam:ListUsers; nothing was changed"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

// runApply runs one apply over the member account and returns its report
// entry and the log.
func runApply(t *testing.T, e *permEnv) (report.Account, []report.Key, string) {
	t.Helper()
	var logs awssimtest.SyncBuffer
	r := &rotation.Runner{
		Connect: func(_ context.Context, _ rotation.AccountTarget) (rotation.AccountAPI, error) {
			cfg := e.cfg()
			client := iam.NewFromConfig(cfg)
			return rotation.AccountAPI{IAM: client, Secrets: secretsmanager.NewFromConfig(cfg),
				Permissions: client, RoleARN: permRoleARN}, nil
		},
		Mode: vocab.ModeApply, RunID: "run-1", Now: e.sim.Now, Concurrency: 1, PerAccount: 1,
		DefaultPolicy: rotation.DefaultPolicy(),
		Secrets:       permSecrets(defaultSecretName, ""),
		Notifier:      rotation.LogNotifier{Logger: slog.New(slog.DiscardHandler)},
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
	}
	rep := r.Run(context.Background(), []rotation.AccountTarget{{
		Target: accounts.Target{ID: permAccount, Name: "member"}, Policy: rotation.DefaultPolicy(),
	}}, nil)
	if len(rep.Accounts) != 1 {
		t.Fatalf("accounts = %+v", rep.Accounts)
	}
	return rep.Accounts[0], rep.Keys, logs.String()
}

func TestRunnerRefusesApplyWithoutWritePermissions(t *testing.T) {
	e := newPermEnv(t, deploy.MemberReadOnlyPolicy)
	acct, keys, _ := runApply(t, e)
	if acct.Status != vocab.AccountError || !strings.Contains(acct.Error, "cannot rotate: missing iam:CreateAccessKey") ||
		!strings.Contains(acct.Error, "(read-only deployment?); nothing was changed") {
		t.Errorf("account = %+v", acct)
	}
	if len(keys) != 0 {
		t.Errorf("keys reported for a refused account: %+v", keys)
	}
	for _, c := range e.sim.Calls() {
		if c.Op != "SimulatePrincipalPolicy" {
			t.Errorf("refused account: %s was called", c.Action())
		}
	}
}

func TestRunnerGoesOnWhenItCannotSimulate(t *testing.T) {
	e := newPermEnv(t, deploy.MemberRotationPolicy, "iam:SimulatePrincipalPolicy")
	acct, keys, logs := runApply(t, e)
	if acct.Status != vocab.AccountOK {
		t.Fatalf("account = %+v", acct)
	}
	if len(keys) != 1 || keys[0].Action != vocab.ActionIssue || keys[0].Result != vocab.ResultDone {
		t.Errorf("keys = %+v", keys)
	}
	if !strings.Contains(logs, "cannot check the rotation role's permissions beforehand") {
		t.Errorf("no warning in the log:\n%s", logs)
	}
}
