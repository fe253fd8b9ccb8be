package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"keyrotor/internal/awssim"
	"keyrotor/rotation"
)

// Attacks of a second review: an insider who turns off what the owner
// needs to read the new key, races the inventory, or rewrites what makes a
// key keyrotor's.

// TestAttackDisabledKMSKeyRetiresNothing: a power user may disable a
// customer managed KMS key whose key policy lets the account's identity
// policies decide (KMS's default). The owner then cannot read the new key,
// whatever the policies say, so keyrotor must neither deactivate the old
// key (kay, under secrets.kms_key_id) nor delete one it deactivated while
// the key was on (kim, whose secret the insider created beforehand under a
// key of her own, which keyrotor keeps).
func TestAttackDisabledKMSKeyRetiresNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - {name: kay, policies: [`+atkDecrypt+`], keys: [{age: 100d, last_used: 20d}]}
      - {name: kim, policies: [`+atkDecrypt+`], keys: [{age: 100d, last_used: 20d}]}
      - {name: mallory, managed_policies: [PowerUserAccess], keys: [{age: 10d, last_used: 1h}]}
    kms_keys:
      - {aliases: [alias/keyrotor]}
      - {aliases: [alias/mallory]}
`), "secrets:\n  kms_key_id: alias/keyrotor\n")
	ctx := context.Background()
	kayOld, kimOld := atkKey(t, h, "kay", 0), atkKey(t, h, "kim", 0)
	_, msm := atkAs(t, h, "mallory")
	c, _ := h.sim.CredentialsFor(atkKey(t, h, "mallory", 0).ID)
	mkms := kms.NewFromConfig(atkConfig(h, c))
	if _, err := msm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyrotor/" + atkAccount + "/kim"),
		KmsKeyId: aws.String("alias/mallory")}); err != nil {
		t.Fatalf("mallory cannot pre-create kim's secret: %v", err)
	}
	disable := func(alias string) {
		t.Helper()
		if _, err := mkms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(alias)}); err != nil {
			t.Fatalf("mallory cannot disable %s: %v", alias, err)
		}
	}
	canRead := func(u string) bool {
		c, _ := h.sim.CredentialsFor(atkKey(t, h, u, 1).ID)
		_, err := secretsmanager.NewFromConfig(atkConfig(h, c)).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
			SecretId: aws.String("keyrotor/" + atkAccount + "/" + u)})
		return err == nil
	}

	atkRun(t, h, "rotate", "--apply")
	if !canRead("kay") || !canRead("kim") {
		t.Fatal("an owner cannot read its new key right after the issue")
	}
	disable("alias/keyrotor")
	if canRead("kay") {
		t.Fatal("kay reads her secret under a disabled key")
	}
	h.sim.Clock().Advance(e2eDeactivateAfter + time.Hour)
	_, rep := atkRun(t, h, "rotate", "--apply")
	atkKeptAndHeld(t, h, rep, "kay, whose secret's KMS key is disabled", kayOld.ID, "owner_cannot_decrypt", "aws kms enable-key")
	if atkStatus(h, kimOld.ID) != "Inactive" {
		t.Fatalf("kim's old key is %s, want deactivated while her key was enabled", atkStatus(h, kimOld.ID))
	}

	disable("alias/mallory")
	h.sim.Clock().Advance(e2eDeleteAfter + time.Hour)
	_, rep = atkRun(t, h, "rotate", "--apply")
	if atkStatus(h, kimOld.ID) != "Inactive" {
		t.Fatalf("kim's retired key was deleted while she cannot read its replacement (status %q)", atkStatus(h, kimOld.ID))
	}
	if r := atkRow(t, rep, kimOld.ID); r.Result != "held" || string(r.ReasonCode) != "owner_cannot_decrypt" {
		t.Errorf("kim: result %q code %q (%s), want held as owner_cannot_decrypt", r.Result, r.ReasonCode, r.Reason)
	}
}

// TestAttackVanishingKeyFailsNoAccount: an owner who deletes a key of
// theirs while keyrotor reads the account (here the old key, right after
// the inventory listed it and before it asks the key's last use, as an
// owner who switched to the new key does) must not fail the account's
// run: the key is simply gone, and the other users are rotated.
func TestAttackVanishingKeyFailsNoAccount(t *testing.T) {
	t.Parallel()
	hook := &atkOnCall{before: true}
	h := newHarnessWrapped(t, atkScenario(t, `
      - {name: tess, policies: [`+atkOwnKeys+`], keys: [{age: 100d, last_used: 20d}]}
      - {name: bob, keys: [{age: 100d, last_used: 20d}]}
`), "", hook.wrap)
	tessOld, bobOld := atkKey(t, h, "tess", 0), atkKey(t, h, "bob", 0)
	atkRun(t, h, "rotate", "--apply")
	c, _ := h.sim.CredentialsFor(atkKey(t, h, "tess", 1).ID)
	owner := iam.NewFromConfig(atkConfig(h, c))
	hook.mu.Lock()
	hook.match = func(f url.Values) bool { return f.Get("Action") == "ListUserTags" && f.Get("UserName") == "tess" }
	hook.act = func() {
		if _, err := owner.DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: aws.String("tess"),
			AccessKeyId: aws.String(tessOld.ID)}); err != nil {
			t.Errorf("tess cannot delete her old key: %v", err)
		}
	}
	hook.mu.Unlock()
	h.sim.Clock().Advance(e2eDeactivateAfter + time.Hour)
	_, rep := atkRun(t, h, "rotate", "--apply")
	if !hook.done || atkStatus(h, tessOld.ID) != "" {
		t.Fatal("the owner's deletion did not happen during the run")
	}
	for _, a := range rep.Accounts {
		if a.AccountID == atkAccount && a.Status != "ok" {
			t.Fatalf("one owner's deletion failed the account: %s %s", a.Status, a.Error)
		}
	}
	if atkStatus(h, bobOld.ID) != "Inactive" {
		t.Errorf("bob's old key is %q, want deactivated", atkStatus(h, bobOld.ID))
	}
	if _, ok := h.sim.UserTags(atkAccount, "tess")[rotation.TagKey(tessOld.ID)]; ok {
		t.Errorf("the state tag of tess's deleted key is kept")
	}
}

// atkUntagger may remove any user's tags, as whoever may tag users usually
// may.
const atkUntagger = `'{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:TagUser","iam:UntagUser","iam:ListUserTags"],"Resource":"*"}}'`

// TestAttackUntaggedRetiredKeyKeepsItsGrace: with
// policy.delete_foreign_inactive on, a tagger who removes the state tag of
// a key keyrotor has just deactivated makes it look like a foreign inactive
// key, old and long unused, which that policy deletes at once. The owner's
// rollback window (delete_after from the deactivation keyrotor mirrored on
// the owner's secret) must still hold.
func TestAttackUntaggedRetiredKeyKeepsItsGrace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - {name: dora, keys: [{age: 200d, last_used: 100d}]}
      - {name: tagger, policies: [`+atkUntagger+`], keys: [{age: 10d, last_used: 1h}]}
`), "policy:\n  delete_foreign_inactive: true\n")
	ctx := context.Background()
	old := atkKey(t, h, "dora", 0)
	atkRun(t, h, "rotate", "--apply")
	h.sim.Clock().Advance(e2eDeactivateAfter + time.Hour)
	atkRun(t, h, "rotate", "--apply")
	if atkStatus(h, old.ID) != "Inactive" {
		t.Fatalf("dora's old key is %q, want deactivated", atkStatus(h, old.ID))
	}
	off := h.sim.Now()
	tic, _ := atkAs(t, h, "tagger")
	if _, err := tic.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("dora"), TagKeys: []string{rotation.TagKey(old.ID)}}); err != nil {
		t.Fatalf("the tagger cannot untag dora: %v", err)
	}
	h.sim.Clock().Advance(time.Hour)
	_, rep := atkRun(t, h, "rotate", "--apply")
	if atkStatus(h, old.ID) != "Inactive" {
		t.Fatalf("the key keyrotor retired an hour ago was deleted once its state tag was removed (status %q)", atkStatus(h, old.ID))
	}
	if r := atkRow(t, rep, old.ID); r.Action == "delete" {
		t.Errorf("planned %s (%s)", r.Action, r.Reason)
	}
	h.sim.Clock().Set(off.Add(e2eDeleteAfter + time.Hour))
	atkRun(t, h, "rotate", "--apply")
	if atkStatus(h, old.ID) != "" {
		t.Errorf("the foreign inactive key is %q delete_after after its deactivation, want deleted under the policy", atkStatus(h, old.ID))
	}
}

// TestAttackTagNamingAnotherUsersKey: a state tag may name any key ID. A
// tagger who writes on ops the state of bob's keys gets nothing done to
// bob's keys, and must not get ops's clean-up of those tags reported in
// bob's rows in place of what keyrotor really did to them (here: issue a
// replacement for one, deactivate the other a week later).
func TestAttackTagNamingAnotherUsersKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - {name: ops, keys: [{age: 10d, last_used: 1d}]}
      - {name: bob, keys: [{age: 100d, last_used: 20d}]}
      - {name: tagger, policies: [`+atkTagger+`], keys: [{age: 10d, last_used: 1h}]}
`), "")
	opsKey, bobOld := atkKey(t, h, "ops", 0), atkKey(t, h, "bob", 0)
	tic, _ := atkAs(t, h, "tagger")
	now := h.sim.Now()
	atkTag(t, tic, "ops", rotation.TagKey(bobOld.ID), forged(t, rotation.State{Phase: rotation.PhaseIssued, NewKeyID: opsKey.ID}.
		WithIssued(opsKey.ID, opsKey.Created).WithDeactivated(now.Add(-20*24*time.Hour))))
	_, rep := atkRun(t, h, "rotate", "--apply")
	if r := row(t, rep, bobOld.ID); r.User != "bob" || r.Action != "issue" || r.Result != "done" || string(r.ReasonCode) != "stale" {
		t.Errorf("bob's stale key: user %q action %q result %q code %q (%s), want bob's issue", r.User, r.Action, r.Result, r.ReasonCode, r.Reason)
	}
	if _, ok := h.sim.UserTags(atkAccount, "ops")[rotation.TagKey(bobOld.ID)]; ok {
		t.Errorf("the state tag on ops naming bob's key was kept")
	}
	bobNew := atkKey(t, h, "bob", 1)
	h.sim.Clock().Advance(e2eDeactivateAfter + time.Hour)
	atkTag(t, tic, "ops", rotation.TagKey(bobNew.ID), forged(t, rotation.State{Phase: rotation.PhaseIssuing, RunID: "forged", At: h.sim.Now().Add(-time.Hour)}))
	_, rep = atkRun(t, h, "rotate", "--apply")
	if r := row(t, rep, bobOld.ID); r.Action != "deactivate" || r.Result != "done" {
		t.Errorf("bob's old key: action %q result %q code %q (%s), want deactivated", r.Action, r.Result, r.ReasonCode, r.Reason)
	}
	if r := row(t, rep, bobNew.ID); r.User != "bob" || r.Action != "" || string(r.ReasonCode) != "replacement_key" {
		t.Errorf("bob's new key: user %q action %q code %q (%s), want bob's replacement", r.User, r.Action, r.ReasonCode, r.Reason)
	}
	if got := atkStatus(h, bobNew.ID); got != "Active" {
		t.Errorf("bob's new key is %q", got)
	}
}

// TestAttackLostCreateRecordsNoOwnersKey: keyrotor's CreateAccessKey gets
// no answer (the connection drops before IAM acted), and the key that
// appeared meanwhile is one the owner made by hand after keyrotor wrote its
// intent. keyrotor must not record that key on the secret as its own
// orphan, which the next run would delete: the owner keeps it.
func TestAttackLostCreateRecordsNoOwnersKey(t *testing.T) {
	t.Parallel()
	hook := &atkOnCall{}
	h := newHarnessWrapped(t, atkScenario(t, `
      - {name: dev, policies: [`+atkOwnKeys+`], keys: [{age: 100d, last_used: 1h}]}
`), "", hook.wrap)
	old := atkKey(t, h, "dev", 0)
	ic, _ := atkAs(t, h, "dev")
	var own string
	hook.mu.Lock()
	hook.match = func(f url.Values) bool { return f.Get("Action") == "TagUser" && f.Get("UserName") == "dev" }
	hook.act = func() {
		created, err := ic.CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String("dev")})
		if err != nil {
			t.Errorf("dev cannot create her own key: %v", err)
			return
		}
		own = aws.ToString(created.AccessKey.AccessKeyId)
		// keyrotor's CreateAccessKey, the next one, never reaches IAM.
		h.sim.InjectFault(awssim.Fault{Service: "iam", Op: "CreateAccessKey", AccountID: atkAccount,
			Kind: awssim.FaultHang, HangFor: 50 * time.Millisecond})
	}
	hook.mu.Unlock()
	atkRun(t, h, "rotate", "--apply")
	if !hook.done || own == "" {
		t.Fatal("the owner's key was not created during the run")
	}
	h.sim.ClearFaults()
	h.sim.Clock().Advance(time.Hour)
	_, rep := atkRun(t, h, "rotate", "--apply")
	if atkStatus(h, own) != "Active" {
		t.Fatalf("the owner's own key %s was deleted as keyrotor's orphan (status %q)", own, atkStatus(h, own))
	}
	if atkStatus(h, old.ID) != "Active" {
		t.Errorf("the old key is %q", atkStatus(h, old.ID))
	}
	if r := row(t, rep, old.ID); r.Result != "held" || string(r.ReasonCode) != "orphan_unproven" || !strings.Contains(r.Reason, own) {
		t.Errorf("the old key: result %q code %q (%s), want held as orphan_unproven naming the owner's key", r.Result, r.ReasonCode, r.Reason)
	}
}
