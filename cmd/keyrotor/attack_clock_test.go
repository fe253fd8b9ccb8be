package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"keyrotor/rotation"
)

// Attacks on keyrotor's clocks and on the picture it acts on: the owner
// (or an insider with rights over the owner's keys) changes the keys while
// keyrotor works.

// TestAttackManualRedeactivationKeepsRollbackWindow (attack 6): the owner
// reactivates the retired key by hand, and later deactivates it again as
// keyrotor's hold advice says; the key is deleted only a full delete_after
// after a run found it off again, not within the hour on the first
// deactivation's clock; even when a tagger erases from the state tag that
// a run found the key active.
func TestAttackManualRedeactivationKeepsRollbackWindow(t *testing.T) {
	t.Parallel()
	henry := e2eUser{atkAccount, "henry"}
	e := newE2E(t, atkScenario(t, `
      - {name: henry, policies: [`+atkOwnKeys+`], keys: [{age: 100d, last_used: 20d}]}
      - {name: tagger, policies: [`+atkTagger+`], keys: [{age: 10d, last_used: 1h}]}
`), "", []e2eUser{henry})
	old := e.staleKey(henry)
	e.rotate("--apply")
	newKey := e.secretKeyID(henry)
	e.advanceTo(e2eDeactivateAfter + time.Hour)
	e.rotate("--apply")
	e.assertRejected(old)

	c, _ := e.sim.CredentialsFor(newKey)
	owner := iam.NewFromConfig(atkConfig(e.harness, c))
	setStatus := func(status iamtypes.StatusType) {
		t.Helper()
		if _, err := owner.UpdateAccessKey(context.Background(), &iam.UpdateAccessKeyInput{UserName: aws.String("henry"),
			AccessKeyId: aws.String(old), Status: status}); err != nil {
			t.Fatalf("henry cannot set his key %s: %v", status, err)
		}
	}
	// Day 8: henry turns the old key on again by hand; the daily run holds
	// it, advising to deactivate it again.
	e.advanceTo(8 * e2eDay)
	setStatus(iamtypes.StatusTypeActive)
	_, rep := e.rotate("--apply")
	if r := row(t, rep, old); string(r.ReasonCode) != "reactivated_outside" {
		t.Fatalf("day 8: %q %q (%s)", r.Result, r.ReasonCode, r.Reason)
	}
	// Day 9: he turns it off again, and the tagger puts back the state tag
	// as it was before the run found the key active.
	e.advanceTo(9 * e2eDay)
	setStatus(iamtypes.StatusTypeInactive)
	st := e.state(henry, old)
	if st.SeenActive.IsZero() {
		t.Fatalf("the run that found %s active did not record it: %s", old, st)
	}
	st.SeenActive = time.Time{}
	tic, _ := atkAs(t, e.harness, "tagger")
	atkTag(t, tic, "henry", rotation.TagKey(old), forged(t, st))
	// The first deactivation's deletion day: the key stays, and its grace
	// starts over from this run.
	e.advanceTo(e2eDeactivateAfter + e2eDeleteAfter + 2*time.Hour)
	restarted := e.sim.Now()
	e.rotate("--apply")
	if atkStatus(e.harness, old) != "Inactive" {
		t.Fatalf("deleted %s on the clock of its first deactivation", old)
	}
	e.advanceTo(e2eDeactivateAfter + 2*e2eDeleteAfter + time.Hour)
	e.rotate("--apply")
	if atkStatus(e.harness, old) != "Inactive" {
		t.Fatalf("deleted %s less than delete_after after a run found it off again (%s)", old, restarted)
	}
	e.advanceTo(e2eDeactivateAfter + 2*e2eDeleteAfter + 3*time.Hour)
	e.rotate("--apply")
	e.assertRotated(henry, old)
}

// TestAttackSlowRunDeletesNotEarly (attack 7): in a slow account the
// deactivation is recorded when UpdateAccessKey returned, not when the run
// made its plan, and deletion comes a full delete_after after that.
func TestAttackSlowRunDeletesNotEarly(t *testing.T) {
	t.Parallel()
	hook := &atkOnCall{before: true}
	h := newHarnessWrapped(t, atkScenario(t, `
      - {name: slow, keys: [{age: 100d, last_used: 20d}]}
`), "", hook.wrap)
	old := atkKey(t, h, "slow", 0)
	atkRun(t, h, "rotate", "--apply")
	h.sim.Clock().Advance(e2eDeactivateAfter + time.Hour)
	// The run takes half an hour to reach the user's deactivation.
	hook.mu.Lock()
	hook.match = func(f url.Values) bool { return f.Get("Action") == "UpdateAccessKey" && f.Get("AccessKeyId") == old.ID }
	hook.act = func() { h.sim.Clock().Advance(30 * time.Minute) }
	hook.mu.Unlock()
	h.sim.ResetCalls()
	atkRun(t, h, "rotate", "--apply")
	var off time.Time
	for _, c := range h.sim.Calls() {
		if c.Action() == "iam:UpdateAccessKey" && c.ErrorCode == "" {
			off = c.Time
		}
	}
	st, err := rotation.ParseState(h.sim.UserTags(atkAccount, "slow")[rotation.TagKey(old.ID)])
	if err != nil || !hook.done || off.IsZero() || st.Phase != rotation.PhaseDeactivated || st.Deactivated.Before(off.Truncate(time.Second)) {
		t.Fatalf("deactivation recorded %s (%v), but UpdateAccessKey ran at %s", st.Deactivated, err, off)
	}
	h.sim.Clock().Set(off.Add(e2eDeleteAfter - 2*time.Minute))
	atkRun(t, h, "rotate", "--apply")
	if atkStatus(h, old.ID) != "Inactive" {
		t.Fatalf("%s deleted before delete_after from its deactivation at %s", old.ID, off)
	}
	h.sim.Clock().Set(st.Deactivated.Add(e2eDeleteAfter + time.Minute))
	atkRun(t, h, "rotate", "--apply")
	if atkStatus(h, old.ID) != "" {
		t.Errorf("%s not deleted delete_after after its recorded deactivation", old.ID)
	}
}

// TestAttackDeactivationDateMovedBack: a tagger rewrites a real
// deactivation's date to just after the issue, which would make the key
// due for deletion the day after keyrotor retired it; deletion still comes
// a full delete_after after the deactivation keyrotor mirrored on the
// owner's secret.
func TestAttackDeactivationDateMovedBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, atkScenario(t, `
      - {name: dana, keys: [{age: 100d, last_used: 20d}]}
      - {name: tagger, policies: [`+atkTagger+`], keys: [{age: 10d, last_used: 1h}]}
`), "")
	old := atkKey(t, h, "dana", 0)
	t0 := h.sim.Now()
	atkRun(t, h, "rotate", "--apply")
	h.sim.Clock().Set(t0.Add(e2eDeactivateAfter + time.Hour))
	atkRun(t, h, "rotate", "--apply")
	st, err := rotation.ParseState(h.sim.UserTags(atkAccount, "dana")[rotation.TagKey(old.ID)])
	if err != nil || st.Phase != rotation.PhaseDeactivated {
		t.Fatalf("state %s, %v", st, err)
	}
	real := st.Deactivated
	st.Deactivated, st.At = st.Issued.Add(time.Minute), st.Issued.Add(time.Minute)
	tic, _ := atkAs(t, h, "tagger")
	atkTag(t, tic, "dana", rotation.TagKey(old.ID), forged(t, st))
	h.sim.Clock().Set(t0.Add(e2eDeactivateAfter + 2*e2eDay))
	atkRun(t, h, "rotate", "--apply")
	if atkStatus(h, old.ID) != "Inactive" {
		t.Fatalf("deleted %s a day after its deactivation on a date moved back", old.ID)
	}
	h.sim.Clock().Set(real.Add(e2eDeleteAfter + time.Hour))
	atkRun(t, h, "rotate", "--apply")
	if atkStatus(h, old.ID) != "" {
		t.Errorf("%s not deleted delete_after after its real deactivation", old.ID)
	}
}

// atkOnCall serves the simulator and runs act once, right after the first
// request for which match (given the request's form) is true has been
// served; act may call the simulator itself.
type atkOnCall struct {
	mu    sync.Mutex
	match func(form url.Values) bool
	act   func()
	// before runs act before the matching request is served instead.
	before bool
	done   bool
}

func (o *atkOnCall) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		o.mu.Lock()
		fire := !o.done && o.match != nil && o.match(form)
		if fire {
			o.done = true
		}
		act, before := o.act, o.before
		o.mu.Unlock()
		if fire && before {
			act()
		}
		next.ServeHTTP(w, r)
		if fire && !before {
			act()
		}
	})
}

// TestAttackNoDeactivationOnStalePicture (attack 8): when the owner deletes
// the replacement after the inventory read the keys, the old key is not
// turned off (the keys are listed again right before); and when it goes
// in the instant between that look and UpdateAccessKey, the old key is
// turned on again at once. The user always keeps a working key.
func TestAttackNoDeactivationOnStalePicture(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		action string
		before bool
	}{
		{"deleted after the inventory", "GetAccessKeyLastUsed", false},
		{"deleted while UpdateAccessKey is on its way", "UpdateAccessKey", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hook := &atkOnCall{before: tc.before}
			h := newHarnessWrapped(t, atkScenario(t, `
      - {name: tess, policies: [`+atkOwnKeys+`], keys: [{age: 100d, last_used: 20d}]}
`), "", hook.wrap)
			old := atkKey(t, h, "tess", 0)
			atkRun(t, h, "rotate", "--apply")
			repl := atkKey(t, h, "tess", 1)
			c, _ := h.sim.CredentialsFor(old.ID)
			owner := iam.NewFromConfig(atkConfig(h, c))
			hook.mu.Lock()
			hook.match = func(f url.Values) bool { return f.Get("Action") == tc.action && f.Get("AccessKeyId") == old.ID }
			hook.act = func() {
				if _, err := owner.DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: aws.String("tess"),
					AccessKeyId: aws.String(repl.ID)}); err != nil {
					t.Errorf("tess cannot delete her new key: %v", err)
				}
			}
			hook.mu.Unlock()
			h.sim.Clock().Advance(e2eDeactivateAfter + time.Hour)
			atkRun(t, h, "rotate", "--apply")
			if !hook.done || atkStatus(h, repl.ID) != "" {
				t.Fatalf("the owner's deletion did not happen during the run")
			}
			if got := atkStatus(h, old.ID); got != "Active" {
				t.Errorf("the old key is %q with its replacement gone: the user has no working key", got)
			}
		})
	}
}
