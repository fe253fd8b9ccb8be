package rotation_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"keyrotor/internal/awssim"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// exNoticeEnv is exEnv with hold notices on, and a user whose stale key is
// held at the two-key limit by an inactive key keyrotor did not retire.
func exNoticeEnv(t *testing.T) (e *exEnv, stale, other string) {
	e = exNewEnv(t, 3)
	e.pol.Notices.Holds = true
	keys := e.addUser("vic", awssim.KeySpec{Created: e.ago(100 * exDay)}, awssim.KeySpec{Created: e.ago(200 * exDay), Inactive: true})
	return e, keys[0].AccessKeyID, keys[1].AccessKeyID
}

func (e *exEnv) deleteKey(user, keyID string) {
	e.t.Helper()
	if _, err := e.iam.DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(keyID)}); err != nil {
		e.t.Fatal(err)
	}
}

// noticeTags lists the user's notice tags.
func (e *exEnv) noticeTags(user string) []string {
	var out []string
	for k := range e.tags(user) {
		if _, ok := rotation.IsNoticeTag(k); ok {
			out = append(out, k)
		}
	}
	return out
}

// TestExecutorHoldNoticeRecorded: the held notice carries the hold's code,
// reason and fix, is recorded in the key's notice tag (and nowhere else),
// is retried after a failed send, and the tag goes with the key when
// keyrotor deletes it.
func TestExecutorHoldNoticeRecorded(t *testing.T) {
	e, stale, other := exNoticeEnv(t)
	e.notifier.setFail(errors.New("smtp relay down"))
	_, outs := e.run(context.Background(), "run-1")
	if o := only(t, outs, rotation.ActionHold, stale); o.NotifyErr == nil || o.Notified != nil || o.Action.Code != vocab.ReasonTwoKeys {
		t.Fatalf("held with failing mail: %s", describeOutcomes(outs))
	}
	if tags := e.noticeTags("vic"); len(tags) != 0 {
		t.Fatalf("unsent notice recorded: %v", tags)
	}

	e.notifier.setFail(nil)
	e.sim.Clock().Advance(exDay)
	_, outs = e.run(context.Background(), "run-2")
	o := only(t, outs, rotation.ActionHold, stale)
	if o.Notified == nil || o.NotifyErr != nil || o.Result != vocab.ResultHeld {
		t.Fatalf("retried held notice: %s", describeOutcomes(outs))
	}
	n := e.notifier.all()
	del := "aws iam delete-access-key --user-name vic --access-key-id " + other
	if len(n) != 1 || n[0].Kind != rotation.EventHeld || n[0].OldKeyID != stale || n[0].Code != vocab.ReasonTwoKeys ||
		n[0].Fix != del || !strings.Contains(n[0].Reason, del) || !n[0].Time.Equal(e.sim.Now()) {
		t.Fatalf("notices = %+v", n)
	}
	rec, err := rotation.ParseNoticeRecord(e.tags("vic")[rotation.NoticeTagKey(stale)])
	if err != nil || !rec.HasHeld(vocab.ReasonTwoKeys) || !rec.HeldAt.Equal(e.sim.Now()) {
		t.Fatalf("notice record %q, %v", rec, err)
	}
	if _, ok := e.tags("vic")[rotation.TagKey(stale)]; ok {
		t.Error("a hold notice wrote a state tag")
	}

	// The owner frees the slot: the key is rotated, and once keyrotor
	// deletes it, its notice tag goes with its state tag.
	e.deleteKey("vic", other)
	for i, d := range []time.Duration{0, 7*exDay + time.Hour, 7*exDay + time.Hour} {
		e.sim.Clock().Advance(d)
		_, outs = e.run(context.Background(), fmt.Sprintf("run-%d", 3+i))
		for _, o := range outs {
			if o.Result == vocab.ResultFailed || o.NotifyErr != nil {
				t.Fatalf("step %d: %s", i, describeOutcomes(outs))
			}
		}
	}
	if _, ok := e.keysOf("vic")[stale]; ok {
		t.Fatalf("the old key is not deleted: %s", describeOutcomes(outs))
	}
	for k := range e.tags("vic") {
		if strings.HasPrefix(strings.ToLower(k), "keyrotor:") {
			t.Errorf("tag %s left after the key was deleted", k)
		}
	}
	var kinds []string
	for _, n := range e.notifier.all() {
		kinds = append(kinds, string(n.Kind))
	}
	if got := strings.Join(kinds, " "); got != "held issued deactivated deleted" {
		t.Errorf("notices %s, want held issued deactivated deleted", got)
	}
}

// TestExecutorNoticeTagOfVanishedKey: the notice tag of a key the owner
// deleted is removed; a run with mail off sends and records nothing.
func TestExecutorNoticeTagOfVanishedKey(t *testing.T) {
	e, stale, _ := exNoticeEnv(t)
	off := e.executor("run-off")
	off.Notifier = nil
	inv := e.inventory()
	outs := off.Apply(context.Background(), inv, rotation.Plan(inv, e.pol, e.sim.Now(), "run-off"))
	if tags := e.noticeTags("vic"); len(tags) != 0 || len(e.notifier.all()) != 0 {
		t.Fatalf("mail off: notice tags %v, notices %d: %s", tags, len(e.notifier.all()), describeOutcomes(outs))
	}
	if !strings.Contains(e.logs.String(), "notification (mail off)") {
		t.Error("mail off: the notice is not logged")
	}

	e.run(context.Background(), "run-1")
	if tags := e.noticeTags("vic"); len(tags) != 1 {
		t.Fatalf("notice tags %v", tags)
	}
	e.deleteKey("vic", stale)
	actions, outs := e.run(context.Background(), "run-2")
	if m := mutating(actions); len(m) != 1 || m[0].Kind != rotation.ActionForget || m[0].KeyID != stale {
		t.Fatalf("plan = %+v", m)
	}
	if o := only(t, outs, rotation.ActionForget, stale); o.Result != vocab.ResultDone {
		t.Fatalf("forget: %s", describeOutcomes(outs))
	}
	if tags := e.noticeTags("vic"); len(tags) != 0 {
		t.Errorf("notice tags %v left of a deleted key", tags)
	}
	if actions, _ := e.run(context.Background(), "run-3"); len(mutating(actions)) != 0 {
		t.Errorf("nothing left to do, but %+v", mutating(actions))
	}
}
