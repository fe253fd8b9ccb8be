package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/xuri/excelize/v2"

	"keyrotor/internal/awssim"
	"keyrotor/report"
	"keyrotor/rotation"
)

// The attack tests play an insider of a member account against keyrotor,
// each attack of issue 10 through the CLI: the insider acts through the API
// with credentials of its own (an IAM user with its own access key and
// identity policies), never by editing the simulator's state. Each test
// fails on the keyrotor that trusted its state tags and let same-account
// identity policies read the new secrets.

// Insider identities. A tagger may only tag users and look at their keys
// and tags, as tag-based access admins and pipelines often may; a power
// user has PowerUserAccess (every service but IAM, so every secret whose
// resource policy does not deny it); an owner may manage its own keys.
const (
	atkTagger  = `'{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:TagUser","iam:ListUserTags","iam:ListAccessKeys"],"Resource":"*"}}'`
	atkOwnKeys = `'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:DeleteAccessKey","iam:UpdateAccessKey","iam:ListAccessKeys"],"Resource":"arn:aws:iam::*:user/${aws:username}"},{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}'`
	atkAccount = "333333333333"
)

// atkScenario is an organization with one member account holding users.
func atkScenario(t *testing.T, users string) *awssim.Scenario {
	t.Helper()
	sc, err := awssim.ParseScenario("attack scenario", []byte(`
seed: 31
page_size: 3
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
role: {name: KeyrotorRotationRole, external_id: keyrotor-attack}
ses: {region: us-east-1}
accounts:
  - id: "333333333333"
    name: prod
    roles:
      - {name: Ops, managed_policies: [AdministratorAccess]}
    users:
`+users))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// atkKey returns user's n-th key (oldest first).
func atkKey(t *testing.T, h *harness, user string, n int) awssim.KeyInfo {
	t.Helper()
	var keys []awssim.KeyInfo
	for _, k := range h.sim.Keys(atkAccount) {
		if k.User == user {
			keys = append(keys, k)
		}
	}
	if n >= len(keys) {
		t.Fatalf("%s has %d keys, no key %d", user, len(keys), n)
	}
	return keys[n]
}

// atkConfig is an SDK config signing with c against h, without retries.
func atkConfig(h *harness, c awssim.Credentials) aws.Config {
	return aws.Config{
		Region: h.seeded.Region, BaseEndpoint: aws.String(h.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 1; o.RateLimiter = ratelimit.None })
		},
	}
}

// atkAs returns IAM and Secrets Manager clients signing with the
// credentials of user's first key: the insider acting as itself.
func atkAs(t *testing.T, h *harness, user string) (*iam.Client, *secretsmanager.Client) {
	t.Helper()
	c, ok := h.sim.CredentialsFor(atkKey(t, h, user, 0).ID)
	if !ok {
		t.Fatalf("no credentials for %s", user)
	}
	cfg := atkConfig(h, c)
	return iam.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
}

// atkTag writes a tag on user as the insider behind ic.
func atkTag(t *testing.T, ic *iam.Client, user, key, value string) {
	t.Helper()
	if _, err := ic.TagUser(context.Background(), &iam.TagUserInput{UserName: aws.String(user),
		Tags: []iamtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}}); err != nil {
		t.Fatalf("the insider cannot tag %s: %v", user, err)
	}
}

// atkDenied fails unless err is an access denial.
func atkDenied(t *testing.T, what string, err error) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || !strings.Contains(ae.ErrorCode(), "AccessDenied") {
		t.Errorf("%s: err = %v, want an access denial", what, err)
	}
}

// atkRun runs the CLI at the simulator's time with a report directory of its
// own in every format and returns the directory and the JSON report.
func atkRun(t *testing.T, h *harness, args ...string) (string, *report.Report) {
	t.Helper()
	runs, _ := os.ReadDir(filepath.Join(h.dir, "runs"))
	dir := filepath.Join(h.dir, "runs", fmt.Sprintf("%02d-%s", len(runs), h.sim.Now().Format("20060102T150405")))
	res := h.runAt(append(args, "--out", dir, "--format", "json,csv,xlsx")...)
	if res.code != ExitOK && res.code != ExitPartial {
		t.Fatalf("%v: exit %d\n%s", args, res.code, res.stderr)
	}
	h.assertNoSecrets(res.stdout, res.stderr)
	return dir, h.latestReport(dir)
}

// atkRow returns keyID's row of rep.
func atkRow(t *testing.T, rep *report.Report, keyID string) report.Key {
	t.Helper()
	return row(t, rep, keyID)
}

// atkStatus returns keyID's status ("" once deleted).
func atkStatus(h *harness, keyID string) string {
	for _, k := range h.sim.Keys(atkAccount) {
		if k.ID == keyID {
			return k.Status
		}
	}
	return ""
}

// assertTampered checks that keyID was held with the state_tampered code
// and that every report format of the run in dir carries the
// state_tampered finding on it.
func assertTampered(t *testing.T, dir string, rep *report.Report, keyID string) {
	t.Helper()
	r := atkRow(t, rep, keyID)
	if string(r.ReasonCode) != "state_tampered" || r.Result != "held" {
		t.Errorf("%s: result %q code %q reason %q, want held as state_tampered", keyID, r.Result, r.ReasonCode, r.Reason)
	}
	if !slices.ContainsFunc(r.Findings, func(f report.Finding) bool { return f.ID == "state_tampered" }) {
		t.Errorf("%s: JSON findings %v lack state_tampered", keyID, r.Findings)
	}
	csvs, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	xlsxs, _ := filepath.Glob(filepath.Join(dir, "*.xlsx"))
	if len(csvs) != 1 || len(xlsxs) != 1 {
		t.Fatalf("report files in %s: %v %v", dir, csvs, xlsxs)
	}
	f, err := os.Open(csvs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !tableHas(rows, "access_key_id", "findings", keyID, "state_tampered") {
		t.Errorf("%s: the CSV row lacks the state_tampered finding", keyID)
	}
	x, err := excelize.OpenFile(xlsxs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	sheet, err := x.GetRows("Keys")
	if err != nil {
		t.Fatal(err)
	}
	if !tableHas(sheet, "Access key ID", "Findings", keyID, "state_tampered") {
		t.Errorf("%s: the XLSX Keys row lacks the state_tampered finding", keyID)
	}
}

// tableHas tells whether rows (a header and data) hold a row whose idCol is
// id and whose col contains want.
func tableHas(rows [][]string, idCol, col, id, want string) bool {
	if len(rows) == 0 {
		return false
	}
	ic, vc := slices.Index(rows[0], idCol), slices.Index(rows[0], col)
	if ic < 0 || vc < 0 {
		return false
	}
	for _, r := range rows[1:] {
		if len(r) > max(ic, vc) && r[ic] == id && strings.Contains(r[vc], want) {
			return true
		}
	}
	return false
}

// forged is a state tag value an insider writes by hand.
func forged(t *testing.T, st rotation.State) string {
	t.Helper()
	v, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAttackNewSecretReadableByOwnerAlone (attack 1): a power user with no
// IAM rights must not read the new key of an IAM administrator and become
// them, nor can an administrator role, keyrotor's own rotation role, or
// anyone else; and nobody but the rotation role can change the secret's
// policy, tags or value. A secret the insider created before keyrotor's
// first rotation of a user is taken over before the value is written.
func TestAttackNewSecretReadableByOwnerAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - {name: admin, managed_policies: [AdministratorAccess], keys: [{age: 100d, last_used: 1d, service: iam}]}
      - {name: newbie, keys: [{age: 100d, last_used: 1d}]}
      - {name: mallory, managed_policies: [PowerUserAccess], keys: [{age: 10d, last_used: 1h}]}
`), "")
	ctx := context.Background()
	_, msm := atkAs(t, h, "mallory")
	newbieSecret := "keyrotor/" + atkAccount + "/newbie"
	// Before keyrotor ever rotates newbie, mallory makes the secret hers.
	if _, err := msm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(newbieSecret)}); err != nil {
		t.Fatalf("mallory cannot pre-create a secret: %v", err)
	}
	mine := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + atkAccount +
		`:user/mallory"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	if _, err := msm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(newbieSecret), ResourcePolicy: aws.String(mine)}); err != nil {
		t.Fatalf("mallory cannot set a policy on her own secret: %v", err)
	}

	_, rep := atkRun(t, h, "rotate", "--apply")
	for _, u := range []string{"admin", "newbie"} {
		old := atkKey(t, h, u, 0)
		if r := atkRow(t, rep, old.ID); r.Action != "issue" || r.Result != "done" {
			t.Fatalf("%s: action %q result %q (%s)", u, r.Action, r.Result, r.Reason)
		}
		name := "keyrotor/" + atkAccount + "/" + u
		if _, err := msm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)}); err == nil {
			t.Errorf("mallory (PowerUserAccess) read %s's new key", u)
		} else {
			atkDenied(t, "mallory reads "+name, err)
		}
		// The owner reads it with the new key.
		c, _ := h.sim.CredentialsFor(atkKey(t, h, u, 1).ID)
		if _, err := secretsmanager.NewFromConfig(atkConfig(h, c)).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)}); err != nil {
			t.Errorf("%s cannot read its own secret: %v", u, err)
		}
		// An administrator role, the rotation role itself and the
		// account's root cannot.
		for _, who := range []string{"Ops", h.seeded.RoleName, "root"} {
			c := h.sim.RootCredentials(atkAccount)
			if who != "root" {
				c = h.sim.SessionCredentials(atkAccount, who, "reader", time.Hour)
			}
			_, err := secretsmanager.NewFromConfig(atkConfig(h, c)).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
			atkDenied(t, who+" reads "+name, err)
		}
		// Nor can mallory make it readable, or change what it says.
		sid := aws.String(name)
		for what, call := range map[string]func() error{
			"PutResourcePolicy": func() error {
				_, err := msm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: sid, ResourcePolicy: aws.String(mine)})
				return err
			},
			"DeleteResourcePolicy": func() error {
				_, err := msm.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: sid})
				return err
			},
			"TagResource": func() error {
				_, err := msm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: sid, Tags: []smtypes.Tag{
					{Key: aws.String(rotation.SecretTagAccessKeyID), Value: aws.String(old.ID)}}})
				return err
			},
			"UntagResource": func() error {
				_, err := msm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: sid, TagKeys: []string{rotation.SecretTagReplaces}})
				return err
			},
			"PutSecretValue": func() error {
				_, err := msm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: sid, SecretString: aws.String(`{"AccessKeyId":"x"}`)})
				return err
			},
			"UpdateSecret": func() error {
				_, err := msm.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: sid, Description: aws.String("mine now")})
				return err
			},
			"DeleteSecret": func() error {
				_, err := msm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: sid, ForceDeleteWithoutRecovery: aws.Bool(true)})
				return err
			},
		} {
			atkDenied(t, "mallory "+what+" on "+name, call())
		}
	}
}

// TestAttackForgedDeactivatedTagDeletesNothing (attack 2): a tag saying
// keyrotor deactivated a key makes keyrotor delete nothing it did not
// retire: here a key the security team disabled on purpose.
func TestAttackForgedDeactivatedTagDeletesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - name: ops
        keys: [{age: 200d, status: Inactive, last_used: 150d}, {age: 30d, last_used: 1h}]
      - {name: tagger, policies: [`+atkTagger+`], keys: [{age: 10d, last_used: 1h}]}
`), "")
	disabled, active := atkKey(t, h, "ops", 0), atkKey(t, h, "ops", 1)
	tic, _ := atkAs(t, h, "tagger")
	now := h.sim.Now()
	atkTag(t, tic, "ops", rotation.TagKey(disabled.ID), forged(t, rotation.State{Phase: rotation.PhaseIssued, NewKeyID: active.ID}.
		WithIssued(active.ID, active.Created).WithDeactivated(now.Add(-20*24*time.Hour))))

	for range 2 {
		dir, rep := atkRun(t, h, "rotate", "--apply")
		if atkStatus(h, disabled.ID) != "Inactive" {
			t.Fatalf("the disabled key %s was deleted on a forged tag", disabled.ID)
		}
		assertTampered(t, dir, rep, disabled.ID)
		h.sim.Clock().Advance(8 * 24 * time.Hour)
	}
}

// TestAttackForgedIssuedTagDeactivatesNothing (attack 2): a tag saying a
// replacement was issued makes keyrotor deactivate no key: not with the tag
// alone (batch), and not when a power user also forged the owner's secret
// before keyrotor ever wrote it (batch2), because the secret was not
// written when the "replacement" was created. The monthly batch key stays.
func TestAttackForgedIssuedTagDeactivatesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - name: batch
        keys: [{age: 40d, last_used: 20d}, {age: 10d, last_used: 1d}]
      - name: batch2
        keys: [{age: 40d, last_used: 20d}, {age: 10d, last_used: 1d}]
      - {name: mallory, managed_policies: [PowerUserAccess], policies: [`+atkTagger+`], keys: [{age: 10d, last_used: 1h}]}
`), "")
	ctx := context.Background()
	mic, msm := atkAs(t, h, "mallory")
	for _, u := range []string{"batch", "batch2"} {
		monthly, other := atkKey(t, h, u, 0), atkKey(t, h, u, 1)
		atkTag(t, mic, u, rotation.TagKey(monthly.ID), forged(t,
			rotation.State{Phase: rotation.PhaseIssued, NewKeyID: other.ID}.WithIssued(other.ID, other.Created)))
		if u != "batch2" {
			continue
		}
		if _, err := msm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String("keyrotor/" + atkAccount + "/" + u), SecretString: aws.String(`{"AccessKeyId":"` + other.ID + `"}`),
			ClientRequestToken: aws.String(rotation.ClientRequestToken(other.ID)),
			Tags: []smtypes.Tag{{Key: aws.String(rotation.SecretTagAccessKeyID), Value: aws.String(other.ID)},
				{Key: aws.String(rotation.SecretTagReplaces), Value: aws.String(monthly.ID)}},
		}); err != nil {
			t.Fatalf("mallory cannot forge the secret: %v", err)
		}
	}
	dir, rep := atkRun(t, h, "rotate", "--apply")
	for _, u := range []string{"batch", "batch2"} {
		monthly := atkKey(t, h, u, 0)
		if atkStatus(h, monthly.ID) != "Active" {
			t.Errorf("%s: the monthly key %s was deactivated on a forged tag", u, monthly.ID)
		}
		assertTampered(t, dir, rep, monthly.ID)
	}
}

// TestAttackForgedTagGetsNoReactivation (attack 2): `keyrotor reactivate`
// refuses a key the security team disabled, even with a tag that says
// keyrotor deactivated it.
func TestAttackForgedTagGetsNoReactivation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - name: victim
        keys: [{age: 60d, status: Inactive, last_used: 10d}, {age: 20d, last_used: 1h}]
      - {name: tagger, policies: [`+atkTagger+`], keys: [{age: 10d, last_used: 1h}]}
`), "")
	disabled, active := atkKey(t, h, "victim", 0), atkKey(t, h, "victim", 1)
	tic, _ := atkAs(t, h, "tagger")
	atkTag(t, tic, "victim", rotation.TagKey(disabled.ID), forged(t, rotation.State{Phase: rotation.PhaseIssued, NewKeyID: active.ID}.
		WithIssued(active.ID, active.Created).WithDeactivated(h.sim.Now().Add(-2*24*time.Hour))))
	h.sim.ResetCalls()
	res := h.runAt("reactivate", "--account", atkAccount, "--user", "victim", "--key", disabled.ID)
	if res.code != ExitFailed || !strings.Contains(res.stderr, report.MaskKeyID(disabled.ID)) {
		t.Errorf("reactivate of a key keyrotor never deactivated: exit %d\n%s", res.code, res.stderr)
	}
	if atkStatus(h, disabled.ID) != "Inactive" {
		t.Errorf("the disabled key %s is %s", disabled.ID, atkStatus(h, disabled.ID))
	}
	for _, c := range h.sim.WriteCalls() {
		if c.AccountID == atkAccount {
			t.Errorf("reactivate wrote %s", c.Action())
		}
	}
}

// TestAttackFutureDateHidesNoStaleKey (attack 2): a state tag dated 2099
// does not turn a 400-day-old key into a quiet "none" until then.
func TestAttackFutureDateHidesNoStaleKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - {name: old, keys: [{age: 400d, last_used: 1d}]}
      - {name: tagger, policies: [`+atkTagger+`], keys: [{age: 10d, last_used: 1h}]}
`), "")
	stale := atkKey(t, h, "old", 0)
	tic, _ := atkAs(t, h, "tagger")
	atkTag(t, tic, "old", rotation.TagKey(stale.ID), forged(t, rotation.State{Phase: rotation.PhaseIssued, NewKeyID: "AKIAFORGEDFORGED0001"}.
		WithIssued("AKIAFORGEDFORGED0001", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))))
	for _, cmd := range []string{"audit", "rotate"} {
		dir, rep := atkRun(t, h, cmd)
		r := atkRow(t, rep, stale.ID)
		if r.PlannedAction != "hold" || !slices.ContainsFunc(r.Findings, func(f report.Finding) bool { return f.ID == "stale_key" }) {
			t.Errorf("%s: planned %q findings %v (%s)", cmd, r.PlannedAction, r.Findings, r.Reason)
		}
		if cmd == "rotate" {
			assertTampered(t, dir, rep, stale.ID)
		}
	}
}

// atkLimitExceeded makes the next CreateAccessKey of the account answer
// LimitExceeded, as IAM does when the owner took the second slot a moment
// before keyrotor: the run keeps its intent and creates nothing.
func atkLimitExceeded(h *harness) {
	h.sim.InjectFault(awssim.Fault{Service: "iam", Op: "CreateAccessKey", AccountID: atkAccount,
		Code: "LimitExceeded", Status: 409, Message: "Cannot exceed quota for AccessKeysPerUser: 2"})
}

// TestAttackOrphanCleanupSparesOwnersKeys (attack 3): clean-up of an
// interrupted rotation never deletes a key the owner made by hand (dev
// rotated by hand while keyrotor's intent was pending, and dev2 after
// keyrotor's CreateAccessKey failed), so neither is left without a key;
// nor does an intent forged by a tagger, naming the owner's unused key,
// get it deleted (carl).
func TestAttackOrphanCleanupSparesOwnersKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - {name: dev, policies: [`+atkOwnKeys+`], keys: [{age: 100d, last_used: 1h}]}
      - {name: dev2, policies: [`+atkOwnKeys+`], keys: [{age: 100d, last_used: 1h}]}
      - name: carl
        keys: [{age: 200d, last_used: 1h}, {age: 1d, last_used: never}]
      - {name: tagger, policies: [`+atkTagger+`], keys: [{age: 10d, last_used: 1h}]}
`), "")
	ctx := context.Background()
	carlOld, carlNew := atkKey(t, h, "carl", 0), atkKey(t, h, "carl", 1)
	tic, _ := atkAs(t, h, "tagger")
	atkTag(t, tic, "carl", rotation.TagKey(carlOld.ID), forged(t, rotation.State{Phase: rotation.PhaseIssuing, RunID: "forged",
		At: carlNew.Created.Add(-time.Minute), NewKeyID: carlNew.ID}))

	// keyrotor's issue for dev meets the key dev just made by hand
	// (LimitExceeded); dev2's fails outright.
	atkLimitExceeded(h)
	atkRun(t, h, "rotate", "--apply", "--user", "dev")
	h.sim.ClearFaults()
	h.sim.InjectFault(awssim.Fault{Service: "iam", Op: "CreateAccessKey", AccountID: atkAccount,
		Code: "ServiceUnavailable", Status: 503, Message: "injected"})
	atkRun(t, h, "rotate", "--apply", "--user", "dev2")
	h.sim.ClearFaults()
	// Both owners finish by hand: a new key, the old one deleted.
	own := map[string]string{}
	for _, u := range []string{"dev", "dev2"} {
		ic, _ := atkAs(t, h, u)
		created, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u)})
		if err != nil {
			t.Fatalf("%s cannot create its own key: %v", u, err)
		}
		own[u] = aws.ToString(created.AccessKey.AccessKeyId)
		newCfg := atkConfig(h, awssim.Credentials{AccessKeyID: own[u], SecretAccessKey: aws.ToString(created.AccessKey.SecretAccessKey)})
		if _, err := iam.NewFromConfig(newCfg).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(u),
			AccessKeyId: aws.String(atkKey(t, h, u, 0).ID)}); err != nil {
			t.Fatalf("%s cannot delete its old key: %v", u, err)
		}
	}

	h.sim.Clock().Advance(time.Hour)
	_, rep := atkRun(t, h, "rotate", "--apply")
	for u, id := range own {
		if atkStatus(h, id) != "Active" {
			t.Errorf("%s's own key %s was deleted as an orphan: the user has no key", u, id)
		}
		if r := atkRow(t, rep, id); string(r.ReasonCode) != "orphan_unproven" || r.Result != "held" {
			t.Errorf("%s's own key: result %q code %q (%s), want held and reported", u, r.Result, r.ReasonCode, r.Reason)
		}
	}
	if atkStatus(h, carlNew.ID) != "Active" {
		t.Errorf("carl's unused new key %s was deleted on a forged intent", carlNew.ID)
	}
}

// TestAttackOrphanCandidatesKeptAndReported (attack 4): with two keys that
// an interrupted rotation might have created, keyrotor deletes neither,
// keeps its intent and reports both, instead of forgetting the intent.
func TestAttackOrphanCandidatesKeptAndReported(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - {name: gail, policies: [`+atkOwnKeys+`], keys: [{age: 100d, last_used: 1h}]}
`), "")
	ctx := context.Background()
	old := atkKey(t, h, "gail", 0)
	atkLimitExceeded(h)
	atkRun(t, h, "rotate", "--apply")
	h.sim.ClearFaults()
	ic, _ := atkAs(t, h, "gail")
	first, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("gail")})
	if err != nil {
		t.Fatal(err)
	}
	ic = iam.NewFromConfig(atkConfig(h, awssim.Credentials{AccessKeyID: aws.ToString(first.AccessKey.AccessKeyId),
		SecretAccessKey: aws.ToString(first.AccessKey.SecretAccessKey)}))
	if _, err := ic.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("gail"), AccessKeyId: aws.String(old.ID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("gail")}); err != nil {
		t.Fatal(err)
	}

	h.sim.Clock().Advance(time.Hour)
	_, rep := atkRun(t, h, "rotate", "--apply")
	for n := range 2 {
		k := atkKey(t, h, "gail", n)
		if r := atkRow(t, rep, k.ID); string(r.ReasonCode) != "orphan_unproven" || r.Result != "held" || r.Fix == "" {
			t.Errorf("candidate %s: result %q code %q fix %q, want held and reported with the fix", k.ID, r.Result, r.ReasonCode, r.Fix)
		}
	}
	if _, ok := h.sim.UserTags(atkAccount, "gail")[rotation.TagKey(old.ID)]; !ok {
		t.Errorf("the intent of %s was forgotten with its candidates unresolved", old.ID)
	}
}

// TestAttackExemptTagAnyCase (attack 5): a break-glass user tagged
// Keyrotor:Exempt=true, which IAM treats as keyrotor:exempt, is never
// rotated: its never-used key is neither replaced, deactivated nor
// deleted.
func TestAttackExemptTagAnyCase(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - {name: breakglass, tags: {"Keyrotor:Exempt": "true"}, keys: [{age: 200d, last_used: never}]}
`), "")
	key := atkKey(t, h, "breakglass", 0)
	for range 3 {
		_, rep := atkRun(t, h, "rotate", "--apply")
		if r := atkRow(t, rep, key.ID); !r.Exempt || r.Action != "" {
			t.Errorf("exempt user: exempt %v action %q (%s)", r.Exempt, r.Action, r.Reason)
		}
		h.sim.Clock().Advance(8 * 24 * time.Hour)
	}
	if keys := h.sim.Keys(atkAccount); len(keys) != 1 || keys[0].ID != key.ID || keys[0].Status != "Active" {
		t.Errorf("the break-glass user's keys changed: %v", keyIDs(keys))
	}
}
