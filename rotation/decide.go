package rotation

import (
	"fmt"
	"strings"
	"time"

	"keyrotor/vocab"
)

// decideOwn decides a key on its own state; a stale key without state is
// queued for resolveIssue, which needs the other key's decision.
func (p *userPlanner) decideOwn(k Key) {
	if k.Status != vocab.KeyActive && k.Status != vocab.KeyInactive {
		p.hold(k.ID, vocab.ReasonUnexpectedState, fmt.Sprintf("unexpected key status %q; keyrotor acts only on Active and Inactive keys", k.Status))
		return
	}
	if err, bad := p.errs[k.ID]; bad {
		untag := cmdUntag(p.u.Name, k.ID)
		p.hold(k.ID, vocab.ReasonStateCorrupt, fmt.Sprintf(
			"corrupt keyrotor state tag %s: %v; fix or remove it: %s", TagKey(k.ID), err, untag), untag)
		return
	}
	st, ok := p.states[k.ID]
	if problem, bad := p.tampered[k.ID]; ok && bad {
		p.holdTampered(k.ID, problem)
		return
	}
	if ok && st.Phase != PhaseIssuing && !p.u.Secret.Deleted.IsZero() {
		restore := cmdRestoreSecret(p.secretName())
		p.hold(k.ID, vocab.ReasonSecretUnusable, fmt.Sprintf(
			"secret %s, which holds the replacement %s, is scheduled for deletion on %s; the old key %s stays as it is until the secret is restored: %s",
			p.secretName(), st.NewKeyID, day(p.u.Secret.Deleted), k.ID, restore), restore)
		return
	}
	switch {
	case !ok && k.Active() && isStale(k, p.pol, p.now):
		p.wantIssue = append(p.wantIssue, k.ID)
	case !ok && k.Active():
		a := p.action(k.ID, ActionNone, vocab.ReasonNotDue, fmt.Sprintf("key is %d days old; rotation due %s", ageDays(k, p.now), day(k.Created.Add(p.pol.MaxKeyAge))))
		if old, ok := p.replacementOf[k.ID]; ok {
			a.Reason = fmt.Sprintf("replacement of %s; ", old) + a.Reason
			a.Code = vocab.ReasonReplacementKey
		}
		a.Due = k.Created.Add(p.pol.MaxKeyAge)
		p.set(k.ID, a)
	case !ok:
		p.set(k.ID, p.foreignInactive(k))
	case st.Phase == PhaseIssued || st.Phase == PhaseReactivated:
		p.set(k.ID, p.evalIssued(k, st))
	case st.Phase == PhaseDeactivated:
		p.set(k.ID, p.evalDeactivated(k, st))
	default:
		// Issuing intents were handled by recoverIntent.
		p.hold(k.ID, vocab.ReasonUnexpectedState, fmt.Sprintf("unexpected state %s", st.Phase))
	}
}

// evalIssued decides an old key whose replacement was issued (or that was
// reactivated): wait, deactivate, or hold.
func (p *userPlanner) evalIssued(x Key, st State) Action {
	start := st.Since()
	if c := p.u.Secret.Clock; c.Event == ClockActive && c.At.After(start) {
		// The secret says the key was found (or put back) on later than the
		// tag does: the later one counts.
		start = c.At
	}
	due := start.Add(p.pol.DeactivateAfter)
	newID := st.NewKeyID
	repl, exists := p.byID[newID]
	replProblem := ""
	switch {
	case newID == x.ID:
		replProblem = "the state tag names the key as its own replacement"
	case !exists:
		replProblem = fmt.Sprintf("replacement key %s is missing", newID)
	case !repl.Active():
		replProblem = fmt.Sprintf("replacement key %s is %s", newID, strings.ToLower(string(repl.Status)))
	}
	what := "issued"
	if st.Phase == PhaseReactivated {
		what = "reactivated"
	}

	if p.now.Before(due) {
		a := p.action(x.ID, ActionNone, vocab.ReasonIssuedWaiting, fmt.Sprintf(
			"replacement %s %s %s; deactivation due %s if the old key is no longer used", newID, what, day(start), day(due)))
		if replProblem != "" {
			a.Reason += "; warning: " + replProblem
		}
		a.NewKeyID, a.Due, a.Grace = newID, due, p.pol.DeactivateAfter
		if st.Phase == PhaseIssued && !st.Notified.Has(EventIssued) {
			a.Notify = EventIssued
		}
		return a
	}
	if replProblem != "" {
		activate, untag := cmdSetStatus(p.u.Name, newID, vocab.KeyActive), cmdUntag(p.u.Name, x.ID)
		a := p.action(x.ID, ActionHold, vocab.ReasonReplacementUnusable, replProblem+fmt.Sprintf(
			"; the old key %s stays as it is. Reactivate the replacement (%s) or remove the rotation state to start over (%s)",
			x.ID, activate, untag))
		a.NewKeyID, a.Fix = newID, activate+"; "+untag
		return a
	}
	deactivate := func(code vocab.Reason, reason string) Action {
		if x.Active() {
			if hold, blocked := p.decryptBlocks(x, newID, "deactivation", "stays active"); blocked {
				return hold
			}
		}
		a := p.action(x.ID, ActionDeactivate, code, reason+fmt.Sprintf("; deletion due %s", day(p.now.Add(p.pol.DeleteAfter))))
		a.NewKeyID, a.Next, a.Notify, a.Grace = newID, st.WithDeactivated(p.now), EventDeactivated, p.pol.DeleteAfter
		a.Due = p.now.Add(p.pol.DeleteAfter)
		return a
	}
	if !x.Active() {
		return deactivate(vocab.ReasonAlreadyInactive, fmt.Sprintf("old key is already %s; recording its deactivation (replacement %s is active)",
			strings.ToLower(string(x.Status)), newID))
	}
	// A use after the replacement was issued holds the old key, until the
	// key has gone a whole DeactivateAfter without use: then the caller has
	// evidently moved to the replacement, and a single late use must not
	// hold the key forever.
	used := x.LastUsed != nil && !x.LastUsed.Before(start) && p.now.Sub(*x.LastUsed) < p.pol.DeactivateAfter
	if p.pol.HardDeadline > 0 {
		if hard := start.Add(p.pol.HardDeadline); !p.now.Before(hard) {
			r := fmt.Sprintf("hard deadline %s passed (%s %s + %s)", day(hard), what, day(start), days(p.pol.HardDeadline))
			if used {
				r += "; the old key is still in use (" + lastUse(x) + "), callers must switch to " + newID
			}
			return deactivate(vocab.ReasonHardDeadline, r)
		}
	}
	if used {
		a := p.action(x.ID, ActionHold, vocab.ReasonOldKeyInUse, fmt.Sprintf(
			"old key still in use (%s); update the caller to %s (secret %s). keyrotor deactivates the old key once it has gone %s without use (on %s if it is not used again)",
			lastUse(x), newID, p.secretName(), days(p.pol.DeactivateAfter), day(x.LastUsed.Add(p.pol.DeactivateAfter))))
		if p.pol.HardDeadline > 0 {
			hard := start.Add(p.pol.HardDeadline)
			a.Reason += fmt.Sprintf(", and at the latest on %s (hard deadline)", day(hard))
			a.Due = hard
		}
		a.NewKeyID, a.NextOn = newID, x.LastUsed.Add(p.pol.DeactivateAfter)
		if st.Reminded.Before(due) || p.now.Sub(st.Reminded) >= ReminderInterval {
			a.Notify = EventReminder
		}
		return a
	}
	if !x.LastUsedFresh {
		a := p.action(x.ID, ActionHold, vocab.ReasonLastUseUnconfirmed, "deactivation is due but the old key's last use was not confirmed with GetAccessKeyLastUsed in this run; not deactivating on credential-report data")
		a.NewKeyID = newID
		return a
	}
	since := "never used"
	if x.LastUsed != nil {
		since = "last used " + day(*x.LastUsed)
	}
	if x.LastUsed != nil && !x.LastUsed.Before(start) {
		return deactivate(vocab.ReasonUnusedSinceIssue, fmt.Sprintf("replacement %s %s %s is active and the old key has gone %s without use (%s)", newID, what, day(start), days(p.pol.DeactivateAfter), since))
	}
	return deactivate(vocab.ReasonUnusedSinceIssue, fmt.Sprintf("replacement %s %s %s is active and the old key has not been used since (%s)", newID, what, day(start), since))
}

// evalDeactivated decides an old key keyrotor deactivated: wait or delete.
// Deletion comes a full DeleteAfter after the key was last turned off: if
// it was turned on again since keyrotor deactivated it (a run saw it
// Active, or it was used), the grace period restarts from the run that
// finds it off again.
func (p *userPlanner) evalDeactivated(x Key, st State) Action {
	if x.Active() {
		off := cmdSetStatus(p.u.Name, x.ID, vocab.KeyInactive)
		a := p.action(x.ID, ActionHold, vocab.ReasonReactivatedOutside, fmt.Sprintf(
			"keyrotor deactivated this key on %s but it was reactivated outside keyrotor; to keep it for a while run %s (restarts the grace period), otherwise deactivate it again: %s (deletion then comes %s after a run finds it inactive)",
			day(st.Deactivated), cmdReactivate(p.account, p.u.Name, x.ID), off, days(p.pol.DeleteAfter)))
		a.NewKeyID, a.Fix = st.NewKeyID, off
		if st.SeenActive.IsZero() {
			a.Next = st.WithSeenActive(p.now)
		}
		return a
	}
	clock := p.u.Secret.Clock
	usedSince := x.LastUsed != nil && x.LastUsed.After(st.Deactivated.Add(ClockSkew))
	seenOn := clock.Event == ClockActive && !clock.At.Before(st.Deactivated.Add(-ClockSkew))
	if !st.SeenActive.IsZero() || seenOn || usedSince {
		var how string
		switch {
		case !st.SeenActive.IsZero():
			how = "a run found it active on " + day(st.SeenActive)
		case seenOn:
			how = fmt.Sprintf("secret %s records it active on %s", p.secretName(), day(clock.At))
		default:
			how = "it was used on " + day(*x.LastUsed)
		}
		due := p.now.Add(p.pol.DeleteAfter)
		a := p.action(x.ID, ActionNone, vocab.ReasonDeletionWaiting, fmt.Sprintf(
			"keyrotor deactivated this key on %s, it was turned on again since (%s) and is inactive now: the %s before deletion restart today; deletion due %s",
			day(st.Deactivated), how, days(p.pol.DeleteAfter), day(due)))
		a.NewKeyID, a.Next, a.Due, a.Grace = st.NewKeyID, st.WithDeactivated(p.now), due, p.pol.DeleteAfter
		return a
	}
	if clock.Event != ClockDeactivated {
		// Only the rotation role writes the secret's clock: without it,
		// nothing but an IAM tag says keyrotor retired the key.
		untag := cmdUntag(p.u.Name, x.ID)
		a := p.action(x.ID, ActionHold, vocab.ReasonStateTampered, fmt.Sprintf(
			"keyrotor's state tag %s says keyrotor deactivated the key on %s, but secret %s records no deactivation (tag %s is %q); keyrotor deletes only keys it provably retired. Nothing is changed; if nobody tampered with the tag, remove it: %s",
			TagKey(x.ID), day(st.Deactivated), p.secretName(), SecretTagClock, clock.String(), untag))
		a.Fix = untag
		return a
	}
	start := st.Deactivated
	if clock.At.After(start) {
		start = clock.At
	}
	due := start.Add(p.pol.DeleteAfter)
	if p.now.Before(due) {
		a := p.action(x.ID, ActionNone, vocab.ReasonDeletionWaiting, fmt.Sprintf("deactivated by keyrotor %s; deletion due %s", day(start), day(due)))
		a.NewKeyID, a.Due, a.Grace = st.NewKeyID, due, p.pol.DeleteAfter
		if !st.Notified.Has(EventDeactivated) {
			a.Notify = EventDeactivated
		}
		return a
	}
	otherActive := false
	for _, k := range p.keys {
		otherActive = otherActive || (k.ID != x.ID && k.Active())
	}
	if !otherActive {
		// The replacement is gone or off: deleting the old key now would
		// leave the user with no working key and nothing to reactivate.
		untag := cmdUntag(p.u.Name, x.ID)
		a := p.action(x.ID, ActionHold, vocab.ReasonNoActiveKey, fmt.Sprintf(
			"deletion was due %s, but the user has no active key (replacement %s is missing or not active); the deactivated key %s is kept so it can be reactivated (%s). Restore the replacement or remove the rotation state: %s",
			day(due), st.NewKeyID, x.ID, cmdReactivate(p.account, p.u.Name, x.ID), untag))
		a.NewKeyID, a.Fix = st.NewKeyID, untag
		return a
	}
	if !x.LastUsedFresh {
		// A use after the deactivation would restart the grace period;
		// the credential report may be hours behind.
		a := p.action(x.ID, ActionHold, vocab.ReasonLastUseUnconfirmed,
			"deletion is due but the key's last use was not confirmed with GetAccessKeyLastUsed in this run; not deleting on credential-report data")
		a.NewKeyID = st.NewKeyID
		return a
	}
	if hold, blocked := p.decryptBlocks(x, st.NewKeyID, "deletion", "is kept, so it can be reactivated,"); blocked {
		return hold
	}
	a := p.action(x.ID, ActionDelete, vocab.ReasonRetired, fmt.Sprintf(
		"deactivated by keyrotor %s; the %s before deletion ended %s", day(start), days(p.pol.DeleteAfter), day(due)))
	a.NewKeyID, a.Next, a.Notify = st.NewKeyID, State{}, EventDeleted
	return a
}

// decryptBlocks holds step (the deactivation or deletion of x) when the
// owner's secret is encrypted with a customer managed KMS key that the
// owner may not use, that is not enabled, or that this run could not
// check: the owner could not read the replacement, so the old key must
// keep working, or stay where it can be reactivated; kept says which.
func (p *userPlanner) decryptBlocks(x Key, newID, step, kept string) (Action, bool) {
	key := p.u.Secret.KMSKeyID
	if !customerKey(key) {
		return Action{}, false
	}
	d := p.u.OwnerDecrypt
	if d.Checked && d.Allowed {
		return Action{}, false
	}
	why := "it could not be checked in this run"
	if d.Problem != "" {
		why = d.Problem
	}
	keyRef := key
	if d.KeyARN != "" {
		keyRef = d.KeyARN
	}
	grant := cmdGrantDecrypt(keyRef, p.u.ARN)
	if d.KeyDisabled {
		grant = cmdEnableKey(keyRef)
	}
	a := p.action(x.ID, ActionHold, vocab.ReasonOwnerCannotDecrypt, fmt.Sprintf(
		"%s is due, but secret %s is encrypted with KMS key %s and the owner %s may not decrypt it (%s); the old key %s until the owner can read the replacement %s, e.g. %s",
		step, p.secretName(), keyRef, p.u.Name, why, kept, newID, grant))
	a.NewKeyID, a.Fix = newID, grant
	return a, true
}

// foreignInactive decides an inactive key keyrotor did not deactivate.
func (p *userPlanner) foreignInactive(k Key) Action {
	if old, ok := p.replacementOf[k.ID]; ok {
		return p.action(k.ID, ActionNone, vocab.ReasonReplacementKey, fmt.Sprintf(
			"inactive replacement of %s; keyrotor leaves it in place while %s's rotation is in progress", old, old))
	}
	ok, eligible := p.foreignDeletable(k)
	if ok {
		a := p.action(k.ID, ActionDelete, vocab.ReasonForeignDeleted, fmt.Sprintf(
			"inactive key not deactivated by keyrotor, %d days old and %s; deleting it (policy.delete_foreign_inactive)",
			ageDays(k, p.now), unusedSince(k)))
		a.Notify = EventDeleted
		return a
	}
	a := p.action(k.ID, ActionNone, vocab.ReasonForeignInactive, "inactive key not deactivated by keyrotor; left in place (policy.delete_foreign_inactive is off)")
	if p.pol.DeleteForeignInactive {
		a.Reason = fmt.Sprintf("inactive key not deactivated by keyrotor; eligible for deletion on %s (at least %s old and unused for %s)",
			day(eligible), days(p.pol.ForeignMinAge), days(p.pol.ForeignUnusedFor))
		a.Due = eligible
	}
	return a
}

// foreignDeletable applies the policy's conditions for deleting an inactive
// key keyrotor did not deactivate, and returns when the key becomes
// eligible.
func (p *userPlanner) foreignDeletable(k Key) (bool, time.Time) {
	eligible := k.Created.Add(p.pol.ForeignMinAge)
	if t := lastActivity(k).Add(p.pol.ForeignUnusedFor); t.After(eligible) {
		eligible = t
	}
	if c := p.u.Secret.Clock; p.u.Secret.Replaces == k.ID && c.Event != "" {
		// The owner's secret, which only the rotation role writes, says
		// keyrotor retired this key: removing its state tag must not cut
		// the owner's rollback window short.
		if t := c.At.Add(p.pol.DeleteAfter); t.After(eligible) {
			eligible = t
		}
	}
	_, hasState := p.states[k.ID]
	_, hasErr := p.errs[k.ID]
	_, isRepl := p.replacementOf[k.ID]
	ok := p.pol.DeleteForeignInactive && k.Status == vocab.KeyInactive && !hasState && !hasErr && !isRepl &&
		!p.now.Before(eligible)
	return ok, eligible
}

// resolveIssue decides a stale key that needs a replacement, under IAM's
// limit of two keys per user.
func (p *userPlanner) resolveIssue(a Key) {
	var others []Key
	for _, k := range p.keys {
		if k.ID != a.ID {
			others = append(others, k)
		}
	}
	if len(others) == 0 {
		p.set(a.ID, p.issue(a, ""))
		return
	}
	if len(others) > 1 {
		p.hold(a.ID, vocab.ReasonTooManyKeys, tooManyKeys(len(p.keys)))
		return
	}
	b := others[0]
	if bs := p.decided[b.ID]; len(bs) > 0 {
		if last := bs[len(bs)-1]; last.Kind == ActionDelete || last.Kind == ActionCleanup {
			p.set(a.ID, p.issue(a, fmt.Sprintf("after deleting %s (%s)", b.ID, last.Kind)))
			return
		}
	}
	prefix := fmt.Sprintf("key is %d days old (rotation was due %s) but the user already has two keys: ",
		ageDays(a, p.now), day(a.Created.Add(p.pol.MaxKeyAge)))
	bState, bHasState := p.states[b.ID]
	bErr, bHasErr := p.errs[b.ID]
	switch {
	case b.Active() && bHasState && bState.NewKeyID == a.ID:
		p.hold(a.ID, vocab.ReasonTwoKeys, prefix+fmt.Sprintf("it is the replacement issued for %s, whose rotation must finish first (%s)",
			b.ID, p.primaryReason(b.ID)))
	case b.Active():
		off := cmdSetStatus(p.u.Name, p.leastUsed(a, b).ID, vocab.KeyInactive)
		p.hold(a.ID, vocab.ReasonTwoKeys, prefix+"two active keys (CIS 1.13): deactivate the one not in use: "+off, off)
	case bHasErr:
		untag := cmdUntag(p.u.Name, b.ID)
		p.hold(a.ID, vocab.ReasonTwoKeys, prefix+fmt.Sprintf("the other key %s has a corrupt state tag (%v); fix it first: %s",
			b.ID, bErr, untag), untag)
	case bHasState && bState.Phase == PhaseDeactivated:
		due := bState.Deactivated.Add(p.pol.DeleteAfter)
		p.holdUntil(a.ID, vocab.ReasonTwoKeys, prefix+fmt.Sprintf("%s is scheduled for deletion on %s; the replacement is issued after that", b.ID, day(due)), due)
	case bHasState:
		p.hold(a.ID, vocab.ReasonTwoKeys, prefix+fmt.Sprintf("the other key %s is inactive with a keyrotor rotation in progress (state %s); %s",
			b.ID, bState.Phase, p.primaryReason(b.ID)))
	default:
		del := cmdDeleteKey(p.u.Name, b.ID)
		text := fmt.Sprintf("the inactive key %s was not deactivated by keyrotor; delete it: %s", b.ID, del)
		if _, eligible := p.foreignDeletable(b); p.pol.DeleteForeignInactive {
			text += fmt.Sprintf(" (keyrotor deletes it itself on %s under policy.delete_foreign_inactive)", day(eligible))
			p.holdUntil(a.ID, vocab.ReasonTwoKeys, prefix+text, eligible, del)
		} else {
			p.hold(a.ID, vocab.ReasonTwoKeys, prefix+text+", or enable policy.delete_foreign_inactive", del)
		}
	}
}

// issue builds the Issue action for stale key a; after names a preceding
// step of the same run.
func (p *userPlanner) issue(a Key, after string) Action {
	intent := State{Phase: PhaseIssuing, RunID: p.runID, At: stamp(p.now)}
	r := fmt.Sprintf("key is %d days old (max %s, CIS 1.14): issuing a replacement into secret %s; the old key is deactivated on %s at the earliest, if no longer used",
		ageDays(a, p.now), days(p.pol.MaxKeyAge), p.secretName(), day(p.now.Add(p.pol.DeactivateAfter)))
	if prev, ok := p.restart[a.ID]; ok {
		r = fmt.Sprintf("redoing the rotation interrupted %s (run %s): ", day(prev.At), prev.RunID) + r
	}
	if after != "" {
		r = after + ": " + r
	}
	act := p.action(a.ID, ActionIssue, vocab.ReasonStale, r)
	act.Next, act.Notify, act.Due, act.Grace = intent, EventIssued, p.now.Add(p.pol.DeactivateAfter), p.pol.DeactivateAfter
	return act
}
