package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"keyrotor/report"
	"keyrotor/rotation"
)

// Attacks, and accidents, around the owner's secret: a key the owner
// cannot decrypt, a secret scheduled for deletion or made unreadable, a
// user name no secret can carry. Each holds the user concerned and no one
// else.

// atkCallerOnly lets a user call sts:GetCallerIdentity and nothing else,
// so the simulator knows its permissions (and that they lack kms:Decrypt).
const atkCallerOnly = `'{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}}'`

// atkDecrypt lets a user decrypt with the account's KMS keys.
const atkDecrypt = `'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"},{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}'`

// atkKeptAndHeld checks that the old key keyID of who is still active and
// held with code and a fix containing fix.
func atkKeptAndHeld(t *testing.T, h *harness, rep *report.Report, who, keyID, code, fix string) {
	t.Helper()
	if atkStatus(h, keyID) != "Active" {
		t.Errorf("%s: the old key %s was deactivated", who, keyID)
	}
	if r := atkRow(t, rep, keyID); r.Result != "held" || string(r.ReasonCode) != code || !strings.Contains(r.Fix, fix) {
		t.Errorf("%s: result %q code %q fix %q (%s), want held as %s", who, r.Result, r.ReasonCode, r.Fix, r.Reason, code)
	}
}

// TestAttackNoDeactivationBeforeOwnerCanDecrypt: with secrets.kms_key_id a
// customer managed key, an owner whose policies do not allow kms:Decrypt on
// it cannot read the new key, so the old key is not deactivated; an owner
// who may decrypt is rotated as usual.
func TestAttackNoDeactivationBeforeOwnerCanDecrypt(t *testing.T) {
	t.Parallel()
	sc := atkScenario(t, `
      - {name: kim, policies: [`+atkCallerOnly+`], keys: [{age: 100d, last_used: 20d}]}
      - {name: kay, policies: [`+atkDecrypt+`], keys: [{age: 100d, last_used: 20d}]}
    kms_keys:
      - {aliases: [alias/keyrotor]}
`)
	h := newHarness(t, sc, "secrets:\n  kms_key_id: alias/keyrotor\n")
	ctx := context.Background()
	kimOld, kayOld := atkKey(t, h, "kim", 0), atkKey(t, h, "kay", 0)
	atkRun(t, h, "rotate", "--apply")
	for u, canRead := range map[string]bool{"kim": false, "kay": true} {
		c, _ := h.sim.CredentialsFor(atkKey(t, h, u, 1).ID)
		_, err := secretsmanager.NewFromConfig(atkConfig(h, c)).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
			SecretId: aws.String("keyrotor/" + atkAccount + "/" + u)})
		if (err == nil) != canRead {
			t.Fatalf("%s reads its secret: err %v, want readable %v", u, err, canRead)
		}
	}
	h.sim.Clock().Advance(e2eDeactivateAfter + time.Hour)
	_, rep := atkRun(t, h, "rotate", "--apply")
	atkKeptAndHeld(t, h, rep, "kim, who cannot decrypt the new key", kimOld.ID, "owner_cannot_decrypt", "aws kms create-grant")
	if atkStatus(h, kayOld.ID) != "Inactive" {
		t.Errorf("kay's old key is %s, want deactivated", atkStatus(h, kayOld.ID))
	}
}

// TestAttackFailuresStayPerUser: a user name with a comma (valid in IAM, not
// in a secret name), a secret scheduled for deletion by a break-glass
// administrator, and a secret an insider made unreadable to keyrotor each
// hold their own user; the other users of the account are rotated and the
// run ends well.
func TestAttackFailuresStayPerUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - {name: "ops,team", keys: [{age: 100d, last_used: 20d}]}
      - {name: del, keys: [{age: 100d, last_used: 20d}]}
      - {name: vic, keys: [{age: 100d, last_used: 20d}]}
      - {name: bob, keys: [{age: 100d, last_used: 20d}]}
      - {name: mallory, managed_policies: [PowerUserAccess], policies: [`+atkTagger+`], keys: [{age: 10d, last_used: 1h}]}
`), "secrets:\n  break_glass_principals: [\"arn:aws:iam::*:role/Ops\"]\n")
	ctx := context.Background()
	comma, del, vic, bob := atkKey(t, h, "ops,team", 0), atkKey(t, h, "del", 0), atkKey(t, h, "vic", 0), atkKey(t, h, "bob", 0)

	// Day 0: del and bob get new keys; vic waits behind an intent mallory
	// forged, next to a secret she made that keyrotor may not read.
	mic, msm := atkAs(t, h, "mallory")
	atkTag(t, mic, "vic", rotation.TagKey(vic.ID), forged(t, rotation.State{Phase: rotation.PhaseIssuing, RunID: "forged", At: h.sim.Now().Add(-time.Hour)}))
	if _, err := msm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyrotor/" + atkAccount + "/vic"),
		Tags: []smtypes.Tag{{Key: aws.String("owner"), Value: aws.String("mallory")}}}); err != nil {
		t.Fatal(err)
	}
	lockout := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*",` +
		`"Condition":{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::` + atkAccount + `:user/mallory"}}}]}`
	if _, err := msm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("keyrotor/" + atkAccount + "/vic"),
		ResourcePolicy: aws.String(lockout)}); err != nil {
		t.Fatal(err)
	}
	_, rep := atkRun(t, h, "rotate", "--apply")
	for _, a := range rep.Accounts {
		if a.AccountID == atkAccount && a.Status != "ok" {
			t.Fatalf("the account failed: %+v", a)
		}
	}
	for _, c := range []struct {
		key, code string
	}{{comma.ID, "secret_name_invalid"}, {vic.ID, "secret_unreadable"}} {
		if r := atkRow(t, rep, c.key); r.Result != "held" || string(r.ReasonCode) != c.code {
			t.Errorf("%s: result %q code %q (%s), want held as %s", c.key, r.Result, r.ReasonCode, r.Reason, c.code)
		}
	}
	for _, u := range []string{"del", "bob"} {
		if r := atkRow(t, rep, atkKey(t, h, u, 0).ID); r.Action != "issue" || r.Result != "done" {
			t.Errorf("%s: action %q result %q (%s)", u, r.Action, r.Result, r.Reason)
		}
	}

	// The break-glass role may read del's new key, and schedules the
	// secret for deletion.
	ops := secretsmanager.NewFromConfig(atkConfig(h, h.sim.SessionCredentials(atkAccount, "Ops", "breakglass", time.Hour)))
	delSecret := aws.String("keyrotor/" + atkAccount + "/del")
	if _, err := ops.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: delSecret}); err != nil {
		t.Errorf("the break-glass role cannot read a secret: %v", err)
	}
	if _, err := ops.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: delSecret, RecoveryWindowInDays: aws.Int64(30)}); err != nil {
		t.Fatalf("the break-glass role cannot schedule a deletion: %v", err)
	}
	h.sim.Clock().Advance(e2eDeactivateAfter + time.Hour)
	_, rep = atkRun(t, h, "rotate", "--apply")
	atkKeptAndHeld(t, h, rep, "del, whose new key's secret is scheduled for deletion", del.ID, "secret_unusable", "restore-secret")
	if atkStatus(h, bob.ID) != "Inactive" {
		t.Errorf("bob's old key is %s, want deactivated", atkStatus(h, bob.ID))
	}
	for _, k := range []string{comma.ID, vic.ID} {
		if atkStatus(h, k) != "Active" {
			t.Errorf("%s is %s", k, atkStatus(h, k))
		}
	}
}
