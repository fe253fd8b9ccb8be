package rotation

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"keyrotor/vocab"
)

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
			var orphans []Key
			for _, k := range p.keys {
				if p.isOrphan(k, st) && k.LastUsed == nil && k.LastUsedFresh && len(p.decided[k.ID]) == 0 {
					orphans = append(orphans, k)
				}
			}
			// With two candidates keyrotor cannot tell which one the
			// interrupted issue created; the user keeps both.
			if len(orphans) == 1 {
				p.set(orphans[0].ID, p.cleanup(orphans[0], id, st))
			}
		}
		a := p.action(id, ActionForget, vocab.ReasonStateStale, fmt.Sprintf(
			"key %s no longer exists; removing its state tag %s", id, TagKey(id)))
		a.Next = State{}
		p.set(id, a)
	}
}

// isOrphan tells whether k looks like the key an interrupted issue announced
// by intent created: not in the secret, not itself an old key under
// rotation, and created at or after the intent. The issue creates its key
// right after writing the intent and gives up when its lease ends, so a key
// created later than that (plus skew) is someone else's, a manual rotation
// say, and is never cleaned up.
func (p *userPlanner) isOrphan(k Key, intent State) bool {
	_, hasState := p.states[k.ID]
	_, hasErr := p.errs[k.ID]
	return !hasState && !hasErr && k.ID != p.u.StoredSecretKeyID &&
		!k.Created.Before(intent.At.Add(-OrphanSkew)) &&
		!k.Created.After(intent.At.Add(IntentLease+OrphanSkew))
}

func (p *userPlanner) cleanup(k Key, oldID string, intent State) Action {
	return p.action(k.ID, ActionCleanup, vocab.ReasonOrphan, fmt.Sprintf(
		"orphan key created %s by the interrupted rotation of %s (intent %s, run %s); its secret was never stored, so nobody holds it: deleting it",
		day(k.Created), oldID, day(intent.At), intent.RunID))
}

// recoverIntent handles an old key x with an issuing intent: adopt the
// replacement if its secret was stored, clean up an orphan and issue again,
// or start over.
func (p *userPlanner) recoverIntent(x Key, st State) {
	// The lease is checked before anything else: while another run is
	// between CreateAccessKey and storing the secret, its new key looks
	// exactly like an orphan, and cleaning it up would undo that run's work.
	if p.leased(st) {
		p.skip(x.ID, st)
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
	switch {
	case k.ID == p.u.StoredSecretKeyID && !kHasState && !kHasErr:
		p.adopt(x, k, st)
	case p.isOrphan(k, st) && k.LastUsed != nil:
		del, untag := cmdDeleteKey(p.u.Name, k.ID), cmdUntag(p.u.Name, x.ID)
		p.hold(x.ID, vocab.ReasonOrphanInUse, fmt.Sprintf(
			"key %s was created %s, after the rotation intent of %s, but is not the key in secret %s and has been used (last %s); keyrotor cannot tell who holds it. If it is not a key someone created on purpose, delete it: %s; otherwise remove the intent: %s",
			k.ID, day(k.Created), day(st.At), p.secretName(), day(*k.LastUsed), del, untag), del, untag)
	case p.isOrphan(k, st) && !k.LastUsedFresh:
		p.hold(x.ID, vocab.ReasonLastUseUnconfirmed, fmt.Sprintf(
			"key %s looks like an orphan of the interrupted rotation (intent %s) but its last use could not be confirmed with GetAccessKeyLastUsed in this run; not deleting it on credential-report data",
			k.ID, day(st.At)))
	case p.isOrphan(k, st):
		p.set(k.ID, p.cleanup(k, x.ID, st))
		p.redo(x, st)
	default:
		// k existed before the intent (the intent's issue never started) or
		// was created by someone else long after it. Decide afresh, two-key
		// rule included.
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
// continues as if the issue had completed at the intent time.
func (p *userPlanner) adopt(x, k Key, intent State) {
	issued := State{
		Phase: PhaseIssued, RunID: intent.RunID, At: intent.At, NewKeyID: k.ID, Issued: intent.At,
		Notified: intent.Notified, Reminded: intent.Reminded,
	}
	a := p.action(x.ID, ActionAdopt, vocab.ReasonRecovered, fmt.Sprintf(
		"recovering an interrupted rotation: key %s (created %s) is the one stored in secret %s; recording it as the replacement of %s issued %s",
		k.ID, day(k.Created), p.secretName(), x.ID, day(intent.At)))
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
