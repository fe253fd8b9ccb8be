package rotation

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"keyrotor/vocab"
)

// An issuing intent that a run finds is the trace of an issue that did not
// finish. The issue records, right after CreateAccessKey, the key it
// created on the owner's secret (its tags, which only the rotation role may
// write; an intent is an IAM tag anyone with iam:TagUser can forge), before
// it stores the value. So a later run knows which key is keyrotor's:
//
//   - the key the owner's secret holds as the old key's replacement is
//     adopted;
//   - the recorded key, if its secret was never stored, is an orphan that
//     nobody holds: it is deleted, provided it was created inside the
//     intent's window, has never been used, and is not the user's only
//     active key;
//   - any other key created while the intent was pending is not provably
//     keyrotor's (the owner may have created it by hand): it is never
//     deleted, and the intent is kept and reported until a human decides.

// planVanished forgets state tags of keys the user no longer has, after
// cleaning up a key an interrupted issue may have left behind.
func (p *userPlanner) planVanished() {
	ids := slices.Sorted(maps.Keys(p.states))
	ids = append(ids, slices.Sorted(maps.Keys(p.errs))...)
	for _, id := range ids {
		if _, ok := p.byID[id]; ok {
			continue
		}
		st, valid := p.states[id]
		if valid && st.Phase == PhaseIssuing {
			if p.leased(st) {
				p.skip(id, st)
				continue
			}
			if p.recoverVanished(id, st) {
				continue
			}
		}
		a := p.action(id, ActionForget, vocab.ReasonStateStale, fmt.Sprintf(
			"key %s no longer exists; removing its state tag %s", id, TagKey(id)))
		a.Next = State{}
		p.set(id, a)
	}
}

// recoverVanished handles the intent of an old key that is gone: it cleans
// up the key the secret records for it or holds the keys it cannot account
// for.
// It reports whether the intent must be kept.
func (p *userPlanner) recoverVanished(oldID string, st State) (keep bool) {
	if _, ok := p.byID[p.u.Secret.AccessKeyID]; ok && p.u.Secret.Holds(p.u.Secret.AccessKeyID, oldID) {
		// Issued and stored; only the issued tag was never written, and
		// the old key is gone since. The key is the user's now.
		return false
	}
	if k, ok := p.recorded(oldID); ok {
		if problem := intentProblem(Key{}, st, &k, p.now); problem != "" {
			p.holdTampered(k.ID, problem)
			return true
		}
		if hold, blocked := p.orphanBlocked(k, oldID, st); blocked {
			p.set(k.ID, hold)
			return true
		}
		p.set(k.ID, p.cleanup(k, oldID, st))
		return false
	}
	for _, k := range p.candidates(oldID, st) {
		p.set(k.ID, p.unproven(k, k.ID, oldID, st))
		keep = true
	}
	return keep
}

// candidates are the user's keys an unrecorded intent might have created:
// stateless, not in the secret, created inside the intent's window, and not
// decided yet.
func (p *userPlanner) candidates(oldID string, st State) []Key {
	var out []Key
	for _, k := range p.keys {
		_, hasState := p.states[k.ID]
		_, hasErr := p.errs[k.ID]
		if !hasState && !hasErr && p.u.Secret.AccessKeyID != k.ID && inIntentWindow(k, st) && len(p.decided[k.ID]) == 0 {
			out = append(out, k)
		}
	}
	return out
}

// orphanBlocked returns a hold on k when k, the key oldID's interrupted
// rotation recorded, must not be deleted after all: it has been used
// (someone holds it), its last use is not confirmed, or it is the user's
// only active key. It returns false when k may go.
func (p *userPlanner) orphanBlocked(k Key, oldID string, st State) (Action, bool) {
	del, untag := cmdDeleteKey(p.u.Name, k.ID), cmdUntag(p.u.Name, oldID)
	if k.LastUsed != nil {
		a := p.action(k.ID, ActionHold, vocab.ReasonOrphanInUse, fmt.Sprintf(
			"key %s was created by keyrotor's interrupted rotation of %s (intent %s) but is not the key in secret %s and has been used (last %s); keyrotor cannot tell who holds it. If it is not a key someone uses on purpose, delete it: %s; otherwise remove the intent: %s",
			k.ID, oldID, day(st.At), p.secretName(), day(*k.LastUsed), del, untag))
		a.Fix = del + "; " + untag
		return a, true
	}
	if !k.LastUsedFresh {
		return p.action(k.ID, ActionHold, vocab.ReasonLastUseUnconfirmed, fmt.Sprintf(
			"key %s is the orphan of keyrotor's interrupted rotation of %s (intent %s) but its last use could not be confirmed with GetAccessKeyLastUsed in this run; not deleting it on credential-report data",
			k.ID, oldID, day(st.At))), true
	}
	for _, o := range p.keys {
		if o.ID != k.ID && o.Active() {
			return Action{}, false
		}
	}
	a := p.action(k.ID, ActionHold, vocab.ReasonNoActiveKey, fmt.Sprintf(
		"key %s is the orphan of keyrotor's interrupted rotation of %s (intent %s), whose secret was never stored, but it is the user's only active key, so it is kept; delete it once the user has another key: %s, or remove the intent: %s",
		k.ID, oldID, day(st.At), del, untag))
	a.Fix = del + "; " + untag
	return a, true
}

// unproven holds key holdOn for k, a key created while oldID's intent was
// pending that the owner's secret does not record: keyrotor cannot show it
// created it, so it is never deleted.
func (p *userPlanner) unproven(k Key, holdOn, oldID string, st State) Action {
	del, untag := cmdDeleteKey(p.u.Name, k.ID), cmdUntag(p.u.Name, oldID)
	a := p.action(holdOn, ActionHold, vocab.ReasonOrphanUnproven, fmt.Sprintf(
		"key %s was created %s, while keyrotor's rotation of %s (intent %s, run %s) was pending, but secret %s neither holds it nor records it as created by keyrotor: it may be a key the owner made by hand, or one keyrotor created just before a crash. keyrotor never deletes a key it cannot show it created. If nobody holds it, delete it: %s; if it is the owner's, remove the intent: %s",
		k.ID, day(k.Created), oldID, day(st.At), st.RunID, p.secretName(), del, untag))
	a.Fix = del + "; " + untag
	return a
}

func (p *userPlanner) cleanup(k Key, oldID string, intent State) Action {
	return p.action(k.ID, ActionCleanup, vocab.ReasonOrphan, fmt.Sprintf(
		"orphan key created %s by the interrupted rotation of %s (intent %s, run %s), as secret %s records; its secret was never stored and it was never used, so nobody holds it: deleting it",
		day(k.Created), oldID, day(intent.At), intent.RunID, p.secretName()))
}

// recoverIntent handles an old key x with an issuing intent: adopt the
// replacement if its secret was stored, clean up the recorded orphan and
// issue again, or start over.
func (p *userPlanner) recoverIntent(x Key, st State) {
	if problem, bad := p.tampered[x.ID]; bad {
		// Checked before the lease: an intent dated in the future would
		// otherwise hold the key forever.
		p.holdTampered(x.ID, problem)
		return
	}
	// The lease is checked before anything else: while another run is
	// between CreateAccessKey and storing the secret, its new key looks
	// exactly like an orphan, and cleaning it up would undo that run's work.
	if p.leased(st) {
		p.skip(x.ID, st)
		return
	}
	if x.Active() && !isStale(x, p.pol, p.now) {
		// keyrotor writes an intent only on a stale key, and age only
		// grows: a forged intent would have keyrotor rotate a fresh key
		// (a monthly job's, say) and retire it a week later.
		p.holdTampered(x.ID, fmt.Sprintf("an issuing intent on a key that is not due for rotation (%d days old, max %s)",
			ageDays(x, p.now), days(p.pol.MaxKeyAge)))
		return
	}
	var others []Key
	for _, k := range p.keys {
		if k.ID != x.ID {
			others = append(others, k)
		}
	}
	if len(others) > 1 {
		p.hold(x.ID, vocab.ReasonTooManyKeys, tooManyKeys(len(p.keys)))
		return
	}
	if len(others) == 0 {
		p.redo(x, st)
		return
	}
	k := others[0]
	_, kHasState := p.states[k.ID]
	_, kHasErr := p.errs[k.ID]
	rec, isRecorded := p.recorded(x.ID)
	switch {
	case p.u.Secret.Holds(k.ID, x.ID) && !kHasState && !kHasErr:
		if p.u.Secret.Changed.Sub(k.Created).Abs() > EvidenceWindow {
			p.holdTampered(x.ID, fmt.Sprintf("secret %s, which holds %s, was last written %s, not when %s was created (%s)",
				p.secretName(), k.ID, day(p.u.Secret.Changed), k.ID, day(k.Created)))
			return
		}
		p.adopt(x, k, st)
	case isRecorded && rec.ID == k.ID:
		if hold, blocked := p.orphanBlocked(k, x.ID, st); blocked {
			hold.KeyID, hold.State, hold.Next = x.ID, st, st
			p.set(x.ID, hold)
			return
		}
		p.set(k.ID, p.cleanup(k, x.ID, st))
		p.redo(x, st)
	case !kHasState && !kHasErr && p.u.Secret.AccessKeyID != k.ID && inIntentWindow(k, st):
		p.set(x.ID, p.unproven(k, x.ID, x.ID, st))
	default:
		// k existed before the intent (the intent's issue never started)
		// or was created by someone else long after it. Decide afresh,
		// two-key rule included.
		if x.Active() {
			p.restart[x.ID] = st
			p.wantIssue = append(p.wantIssue, x.ID)
		} else {
			p.forgetIntent(x, st)
		}
	}
}

// redo issues again for an intent whose key creation never completed, or
// forgets the intent when the old key is no longer active.
func (p *userPlanner) redo(x Key, st State) {
	if !x.Active() {
		p.forgetIntent(x, st)
		return
	}
	p.restart[x.ID] = st
	p.set(x.ID, p.issue(x, ""))
}

func (p *userPlanner) forgetIntent(x Key, st State) {
	a := p.action(x.ID, ActionForget, vocab.ReasonStateStale, fmt.Sprintf(
		"the rotation intent of %s (run %s) cannot complete: the key is %s now; removing %s",
		day(st.At), st.RunID, strings.ToLower(string(x.Status)), TagKey(x.ID)))
	a.Next = State{}
	p.set(x.ID, a)
}

// adopt records k, whose secret is stored, as x's replacement and then
// continues as if the issue had completed when the secret was written.
func (p *userPlanner) adopt(x, k Key, intent State) {
	at := intent.At
	if p.u.Secret.Changed.After(at) {
		at = stamp(p.u.Secret.Changed)
	}
	issued := State{
		Phase: PhaseIssued, RunID: intent.RunID, At: at, NewKeyID: k.ID, Issued: at,
		Notified: intent.Notified, Reminded: intent.Reminded,
	}
	a := p.action(x.ID, ActionAdopt, vocab.ReasonRecovered, fmt.Sprintf(
		"recovering an interrupted rotation: key %s (created %s) is the one stored in secret %s; recording it as the replacement of %s issued %s",
		k.ID, day(k.Created), p.secretName(), x.ID, day(at)))
	a.NewKeyID, a.Next, a.Grace = k.ID, issued, p.pol.DeactivateAfter
	if !issued.Notified.Has(EventIssued) {
		a.Notify = EventIssued
	}
	p.replacementOf[k.ID] = x.ID
	next := p.evalIssued(x, issued)
	next.State = issued
	if next.Kind == ActionNone {
		a.Reason += "; " + next.Reason
		a.Due = next.Due
		p.set(x.ID, a)
		return
	}
	if next.Kind != ActionDeactivate { // a Deactivate already carries its Next
		next.Next = issued
	}
	p.set(x.ID, a, next)
}
