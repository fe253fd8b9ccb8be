package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"keyrotor/deploy"
	"keyrotor/internal/awssim"
	"keyrotor/report"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// The least-privilege tests run keyrotor through the CLI with rotation
// roles whose permissions are exactly a policy of deploy/iam, turned into
// the simulator's allow-list. One member account, three users, and every
// kind of call a rotation makes:
//   - alice: a stale key; a new secret is created (CreateSecret, with tags,
//     the user's read policy and a customer managed key).
//   - bob: a stale key and a secret from an earlier rotation (TagResource,
//     PutSecretValue).
//   - carol: a rotation interrupted after the new key's secret was stored;
//     the inventory reads the secret's metadata (DescribeSecret) and adopts
//     the key.
//
// The secrets are encrypted with a customer managed key, so the owner
// decrypt check (kms:DescribeKey, kms:GetKeyPolicy, and
// iam:SimulatePrincipalPolicy on the users, who may use the key) runs
// before each deactivation.
var lpScenarioYAML = `
seed: 21
page_size: 3
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security, ou: Security}
ous:
  - name: Security
  - name: Workloads
role: {name: KeyrotorRotationRole, external_id: keyrotor-lp}
accounts:
  - id: "333333333333"
    name: prod
    ou: Workloads
    groups: [BreakGlass]
    kms_keys:
      - {aliases: [alias/keyrotor-secrets]}
    users:
      - {name: alice, keys: [{age: 100d, last_used: 20d, service: s3}], policies: [` + lpDecrypt + `]}
      - {name: bob, keys: [{age: 200d, last_used: 30d, service: ec2}], policies: [` + lpDecrypt + `]}
      - {name: carol, keys: [{age: 120d, last_used: 40d, service: sqs}], policies: [` + lpDecrypt + `]}
`

// lpDecrypt lets a user decrypt with the account's KMS keys.
const lpDecrypt = `'{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}}'`

const (
	lpMember = "333333333333"
	// lpKMSKey encrypts the secrets, so the KMS permissions are exercised.
	lpKMSKey = "alias/keyrotor-secrets"
	lpConfig = "secrets:\n  kms_key_id: " + lpKMSKey + "\n"
	// lpKeysBefore counts the keys before the first run: one per user and
	// carol's replacement.
	lpKeysBefore = 4
)

// lpNoPrecheck, among the actions to drop, takes iam:SimulatePrincipalPolicy
// away on the rotation role only: the runner cannot check its own
// permissions beforehand, while the owner decrypt check still works.
const lpNoPrecheck = "no-precheck"

// lpHarness is a harness whose rotation roles have the allow-list of a
// deploy/iam policy, less the actions in drop.
func lpHarness(t *testing.T, policy string, drop ...string) *harness {
	t.Helper()
	sc, err := awssim.ParseScenario("least-privilege scenario", []byte(lpScenarioYAML))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, sc, lpConfig)
	doc, err := deploy.Policy(policy)
	if err != nil {
		t.Fatal(err)
	}
	actions, resources := doc.AllowList()
	actions = slices.DeleteFunc(actions, func(a string) bool { return slices.Contains(drop, a) })
	if slices.Contains(drop, lpNoPrecheck) {
		resources["iam:SimulatePrincipalPolicy"] = []string{"arn:aws:iam::*:user/*"}
	}
	for _, id := range h.sim.AccountIDs() {
		h.sim.SetRoleAllowedActions(id, h.seeded.RoleName, actions, resources)
	}
	lpSeedEarlierRotations(t, h)
	h.sim.ResetCalls()
	return h
}

// lpSeedEarlierRotations gives bob a secret from an earlier rotation and
// leaves carol in the middle of an interrupted one, using the member
// account's root credentials the way an earlier keyrotor run would have.
func lpSeedEarlierRotations(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	cfg := h.srv.RootConfig(lpMember)
	ic, sm := iam.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	secret := func(user string, v map[string]string, replaces string) {
		b, _ := json.Marshal(v)
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String("keyrotor/" + lpMember + "/" + user), SecretString: aws.String(string(b)), KmsKeyId: aws.String(lpKMSKey),
			ClientRequestToken: aws.String(rotation.ClientRequestToken(v["AccessKeyId"])),
			Tags: []smtypes.Tag{{Key: aws.String(rotation.SecretTagAccessKeyID), Value: aws.String(v["AccessKeyId"])},
				{Key: aws.String(rotation.SecretTagReplaces), Value: aws.String(replaces)}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	old := map[string]string{}
	for _, k := range h.sim.Keys(lpMember) {
		old[k.User] = k.ID
	}
	secret("bob", map[string]string{"AccessKeyId": old["bob"], "SecretAccessKey": "earlier-rotation", "UserName": "bob"}, "")

	created, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("carol")})
	if err != nil {
		t.Fatal(err)
	}
	k := created.AccessKey
	secret("carol", map[string]string{"AccessKeyId": aws.ToString(k.AccessKeyId), "SecretAccessKey": aws.ToString(k.SecretAccessKey), "UserName": "carol"}, old["carol"])
	intent, err := rotation.State{Phase: rotation.PhaseIssuing, RunID: "20261126T040000Z-crashed", At: h.sim.Now().Add(-time.Hour)}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("carol"), Tags: []iamtypes.Tag{
		{Key: aws.String(rotation.TagKey(old["carol"])), Value: aws.String(intent)}}}); err != nil {
		t.Fatal(err)
	}
}

// denied returns the calls that got an access-denied error.
func denied(calls []awssim.Call) []awssim.Call {
	return slices.DeleteFunc(slices.Clone(calls), func(c awssim.Call) bool { return !strings.Contains(c.ErrorCode, "AccessDenied") })
}

// lpLifecycle runs the rotation lifecycle: issue now, deactivate 7 days
// later, delete 7 days after that. step, if set, is called after each run
// and stops the lifecycle by returning false.
func lpLifecycle(t *testing.T, h *harness, step func(day int, r result) bool) {
	t.Helper()
	for i, day := range []int{0, 7, 7} {
		h.sim.Clock().Advance(time.Duration(day) * 24 * time.Hour)
		r := h.runAt("rotate", "--apply", "--account", lpMember)
		if step != nil && !step(i*7, r) {
			return
		}
	}
}

// TestLeastPrivilegeFullLifecycle: with exactly the rotation policy,
// audit and the whole rotation lifecycle succeed, nothing is ever denied,
// and every action the policy grants is used.
func TestLeastPrivilegeFullLifecycle(t *testing.T) {
	t.Parallel()
	h := lpHarness(t, deploy.MemberRotationPolicy)
	if r := h.runAt("audit", "--account", lpMember); r.code != ExitOK {
		t.Fatalf("audit exit %d\n%s", r.code, r.stderr)
	}
	if rep := h.latestReport(""); len(rep.Keys) != 4 || rep.Accounts[0].Status != vocab.AccountOK {
		t.Fatalf("audit report: %+v %+v", rep.Accounts, rep.Keys)
	}
	oldKeys := map[string]string{}
	for _, k := range h.sim.Keys(lpMember) {
		if k.Created.Before(h.sim.Now().Add(-90 * 24 * time.Hour)) {
			oldKeys[k.User] = k.ID
		}
	}
	wantAction := map[int]vocab.Action{0: vocab.ActionIssue, 7: vocab.ActionDeactivate, 14: vocab.ActionDelete}
	lpLifecycle(t, h, func(day int, r result) bool {
		if r.code != ExitOK {
			t.Fatalf("day %d: rotate --apply exit %d\n%s", day, r.code, r.stderr)
		}
		rep := h.latestReport("")
		for _, user := range []string{"alice", "bob", "carol"} {
			var k *report.Key
			for i := range rep.Keys {
				if rep.Keys[i].AccessKeyID == oldKeys[user] {
					k = &rep.Keys[i]
				}
			}
			if k == nil || k.Action != wantAction[day] || k.Result != vocab.ResultDone {
				t.Errorf("day %d: %s's old key: %+v, want %s done", day, user, k, wantAction[day])
			}
		}
		return true
	})
	// Every old key is gone; each user has one active key, the one in the
	// user's secret.
	for _, user := range []string{"alice", "bob", "carol"} {
		var active []string
		for _, k := range h.sim.Keys(lpMember) {
			if k.User == user {
				if k.ID == oldKeys[user] || k.Status != "Active" {
					t.Errorf("%s still has key %s (%s)", user, k.ID, k.Status)
				}
				active = append(active, k.ID)
			}
		}
		v, _ := h.sim.SecretValue(lpMember, h.seeded.Region, "keyrotor/"+lpMember+"/"+user)
		if len(active) != 1 || !strings.Contains(v, active[0]) {
			t.Errorf("%s: active keys %q, secret holds another key", user, active)
		}
	}

	calls := h.sim.Calls()
	for _, c := range denied(calls) {
		t.Errorf("denied: %s in %s: %s", c.Action(), c.AccountID, c.ErrorCode)
	}
	used := map[string]bool{}
	for _, c := range calls {
		if c.AccountID == lpMember && c.ErrorCode == "" {
			used[c.Action()] = true
		}
	}
	doc, err := deploy.Policy(deploy.MemberRotationPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range doc.Actions() {
		// KMS is used by Secrets Manager on the role's behalf, not called.
		if !strings.HasPrefix(a, "kms:") && !used[a] {
			t.Errorf("the rotation policy grants %s, which the lifecycle never called", a)
		}
	}
}

// TestLeastPrivilegeEveryPermissionIsNeeded removes each action of the
// rotation policy in turn and shows the lifecycle then fails on it.
//
// Without iam:SimulatePrincipalPolicy on its own role the runner cannot
// check beforehand and goes on, so removing an action together with it
// shows the real call that needs the action being denied. With it, the
// runner's check refuses the account before any write, naming the action.
func TestLeastPrivilegeEveryPermissionIsNeeded(t *testing.T) {
	t.Parallel()
	doc, err := deploy.Policy(deploy.MemberRotationPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range doc.Actions() {
		t.Run(action, func(t *testing.T) {
			drop := []string{action, lpNoPrecheck}
			h := lpHarness(t, deploy.MemberRotationPolicy, drop...)
			found := ""
			lpLifecycle(t, h, func(day int, r result) bool {
				for _, c := range denied(h.sim.Calls()) {
					kmsDenial := strings.HasPrefix(action, "kms:") && c.Service == "secretsmanager" && strings.Contains(r.stderr, action)
					if c.Action() == action || kmsDenial {
						found = c.Action()
						lpRunShowsDenial(t, h, day, action, r)
						return false
					}
				}
				return true
			})
			if found == "" {
				t.Fatalf("without %s no call was denied: the permission is not needed", action)
			}
			if action == "iam:SimulatePrincipalPolicy" {
				return
			}
			if strings.HasPrefix(action, "kms:") {
				// The KMS key is an alias the check cannot resolve; the
				// calls above are the proof.
				return
			}
			// With the simulation allowed, the account is refused up front.
			h = lpHarness(t, deploy.MemberRotationPolicy, action)
			r := h.runAt("rotate", "--apply", "--account", lpMember)
			if r.code != ExitPartial || !strings.Contains(r.stderr, "missing "+action) {
				t.Errorf("precheck without %s: exit %d\n%s", action, r.code, r.stderr)
			}
			if w := h.sim.WriteCalls(); len(w) != 0 {
				t.Errorf("precheck without %s: %d write calls, first %s", action, len(w), w[0].Action())
			}
		})
	}
}

// lpRunShowsDenial checks that a run in which action was denied says so:
// the account or a step failed. Two permissions degrade by design instead:
// without iam:SimulatePrincipalPolicy the runner goes on unchecked, and
// without the credential report the inventory asks every key's last use
// one call at a time, which the report exists to avoid.
func lpRunShowsDenial(t *testing.T, h *harness, day int, action string, r result) {
	t.Helper()
	switch action {
	case "iam:SimulatePrincipalPolicy":
		return
	case "iam:GenerateCredentialReport", "iam:GetCredentialReport":
		n := 0
		for _, c := range h.sim.Calls() {
			if c.Op == "GetAccessKeyLastUsed" {
				n++
			}
		}
		// The denial comes on day 0, whose inventory saw lpKeysBefore keys.
		if n < lpKeysBefore {
			t.Errorf("day %d: without %s only %d GetAccessKeyLastUsed calls for %d keys", day, action, n, lpKeysBefore)
		}
		return
	}
	if r.code != ExitOK {
		return
	}
	rep := h.latestReport("")
	failed := slices.ContainsFunc(rep.Keys, func(k report.Key) bool { return k.Result == vocab.ResultFailed })
	// A read the planner's evidence needs holds only the users it
	// concerns: the secret's metadata, or the owner decrypt check.
	held := slices.ContainsFunc(rep.Keys, func(k report.Key) bool {
		return k.Result == vocab.ResultHeld && (k.ReasonCode == vocab.ReasonSecretUnreadable || k.ReasonCode == vocab.ReasonOwnerCannotDecrypt) &&
			strings.Contains(k.Reason, action[strings.IndexByte(action, ':')+1:])
	})
	if !failed && !held && rep.Summary.AccountsFailed == 0 {
		t.Errorf("day %d: %s was denied, yet the run reports no failure", day, action)
	}
}

// TestLeastPrivilegeReadOnly: the read-only policy audits, and rotate
// --apply refuses the account with a clear error before any change.
func TestLeastPrivilegeReadOnly(t *testing.T) {
	t.Parallel()
	h := lpHarness(t, deploy.MemberReadOnlyPolicy)
	if r := h.runAt("audit", "--account", lpMember); r.code != ExitOK {
		t.Fatalf("audit exit %d\n%s", r.code, r.stderr)
	}
	if d := denied(h.sim.Calls()); len(d) != 0 {
		t.Fatalf("audit with the read-only policy was denied %s", d[0].Action())
	}
	rep := h.latestReport("")
	if rep.Accounts[0].Status != vocab.AccountOK || len(rep.Keys) != 4 {
		t.Fatalf("audit report: %+v", rep.Accounts)
	}

	r := h.runAt("rotate", "--apply", "--account", lpMember)
	if r.code != ExitPartial {
		t.Fatalf("rotate --apply exit %d, want %d\n%s", r.code, ExitPartial, r.stderr)
	}
	want := "role arn:aws:iam::" + lpMember + ":role/KeyrotorRotationRole cannot rotate: missing iam:CreateAccessKey"
	rep = h.latestReport("")
	if a := rep.Accounts[0]; a.Status != vocab.AccountError || !strings.HasPrefix(a.Error, want) ||
		!strings.HasSuffix(a.Error, "(read-only deployment?); nothing was changed") {
		t.Errorf("account = %+v\nwant an error starting %q", a, want)
	}
	if !strings.Contains(r.stderr, "cannot rotate: missing iam:CreateAccessKey") {
		t.Errorf("the log does not say why:\n%s", r.stderr)
	}
	if w := h.sim.WriteCalls(); len(w) != 0 {
		t.Errorf("%d write calls, first %s", len(w), w[0].Action())
	}
	if d := denied(h.sim.Calls()); len(d) != 0 {
		t.Errorf("refusal made a denied call: %s", d[0].Action())
	}
}
