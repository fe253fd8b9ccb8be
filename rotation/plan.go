package rotation

import (
	"cmp"
	"fmt"
	"keyrotor/vocab"
	"maps"
	"slices"
	"strings"
	"time"
)

// ActionKind is what the planner decided for one key. The comment on each
// kind is the executor's contract for it.
type ActionKind string

// Action kinds. Kinds that change nothing in AWS (None, Hold, Skip, Exempt)
// are still emitted, one per key, so the report can say why nothing happened.
const (
	// ActionNone: nothing to do yet; Reason and Due say what comes next.
	// Notify may still name a mail that an earlier run failed to send.
	ActionNone ActionKind = "none"
	// ActionIssue: tag Next (the issuing intent) on the user, re-read the
	// tags (a fresh intent of another run means skip), CreateAccessKey,
	// store the secret, tag Next.WithIssued(newKey, t), mail Notify.
	ActionIssue ActionKind = "issue"
	// ActionAdopt: an interrupted issue left replacement NewKeyID whose
	// secret is stored; tag Next (state issued) and mail Notify.
	ActionAdopt ActionKind = "adopt"
	// ActionCleanup: DeleteAccessKey KeyID, a key an interrupted issue
	// created but whose secret was never stored. No tag changes.
	ActionCleanup ActionKind = "cleanup"
	// ActionDeactivate: UpdateAccessKey KeyID Inactive, then tag Next
	// (state deactivated) and mail Notify.
	ActionDeactivate ActionKind = "deactivate"
	// ActionDelete: DeleteAccessKey KeyID (always an inactive key), then
	// UntagUser TagKey(KeyID) if State.Phase is set, and mail Notify.
	ActionDelete ActionKind = "delete"
	// ActionHold: a human must act; Reason says how. Notify is
	// EventReminder when a reminder is due (then tag
	// State.WithNotified(EventReminder, t)).
	ActionHold ActionKind = "hold"
	// ActionSkip: another run is working on the key; leave it alone.
	ActionSkip ActionKind = "skip"
	// ActionExempt: the user is exempt; never touch the key.
	ActionExempt ActionKind = "exempt"
	// ActionForget: UntagUser TagKey(KeyID); the tag describes a key that
	// no longer exists or an intent that cannot be completed.
	ActionForget ActionKind = "forget"
)

// Mutates reports whether executing an action of this kind calls AWS.
func (k ActionKind) Mutates() bool {
	switch k {
	case ActionIssue, ActionAdopt, ActionCleanup, ActionDeactivate, ActionDelete, ActionForget:
		return true
	}
	return false
}

// Timing constants of the lifecycle that are not policy.
const (
	// IntentLease is how long an issuing intent of another run is left
	// alone before this run recovers it.
	IntentLease = 15 * time.Minute
	// OrphanSkew is the clock skew allowed when deciding that a key was
	// created by the issue an intent announced: created no earlier than the
	// intent time minus this, and no later than the intent time plus
	// IntentLease plus this.
	OrphanSkew = 5 * time.Minute
	// ReminderInterval is how often an "old key still in use" reminder is
	// repeated while the old key is held.
	ReminderInterval = 7 * 24 * time.Hour
)

// Action is one planned step on one key.
//
// A user's actions form one sequence in execution order: an action must not
// run if an earlier action of the same user failed (the Issue that follows a
// Delete or Cleanup relies on the freed slot, the Deactivate that follows an
// Adopt on the recorded replacement). Every key of every user gets at least
// one action; the last action of a key is its primary action, the one the
// report shows (see PrimaryByKey). Tags of vanished keys get a Forget (or a
// Skip) keyed by the vanished key's ID.
type Action struct {
	AccountID string
	User      string
	KeyID     string
	Kind      ActionKind
	// NewKeyID is the replacement of KeyID, for Adopt, Deactivate and the
	// waiting and held states of a rotation in progress.
	NewKeyID string
	// Code is Reason's stable code.
	Code vocab.Reason
	// Reason says why, in words a human can act on, with dates and, where a
	// human must act, the exact aws CLI command.
	Reason string
	// Fix is the command (or commands, "; "-separated) that resolves a
	// hold, as Reason quotes it; "" when nothing is for a human to run.
	Fix string
	// Due is the next date something happens to the key (rotation,
	// deactivation, deletion, hard deadline, lease expiry); zero if none.
	Due time.Time
	// State is KeyID's recorded state when the plan was made (zero Phase if
	// the key has no valid state tag).
	State State
	// Next is the state to record after the action's AWS calls succeed (see
	// the kinds' comments); equal to State when nothing is to be written.
	Next State
	// Notify is the mail to send after the action succeeds, or "".
	Notify Event
	// Grace is the grace period the action's step starts, or started:
	// deactivate_after after an issue, delete_after after a deactivation.
	// Notices date the next step from it and the step's recorded time,
	// which only the executor knows.
	Grace time.Duration
	// NextOn, on a hold for a key still in use, is when the old key is
	// deactivated if it is not used again.
	NextOn time.Time
}

// PrimaryByKey returns each key's primary action: its last action in the
// plan. Earlier actions on the same key are preparatory (an Adopt before a
// Deactivate).
func PrimaryByKey(actions []Action) map[string]Action {
	out := make(map[string]Action, len(actions))
	for _, a := range actions {
		out[a.KeyID] = a
	}
	return out
}

// step orders a user's actions: slot-freeing deletions before the Issue
// that needs the slot, an orphan's Cleanup before the Forget of the intent
// that identifies it (a crash in between must not hide the orphan), Adopt
// before the Deactivate that builds on it, and state-only kinds last.
var step = map[ActionKind]int{
	ActionCleanup: 0, ActionDelete: 1, ActionForget: 2, ActionAdopt: 3, ActionDeactivate: 4,
	ActionIssue: 5, ActionHold: 6, ActionSkip: 7, ActionNone: 8, ActionExempt: 9,
}

// Plan decides what to do with every key of every user in inv at now. It is
// pure and deterministic: users in name order, each user's actions in
// execution order. runID names this run in the issuing intents it plans and
// tells its own intents from other runs'.
//
// pol must have been validated (accounts does): zero durations are taken
// literally.
func Plan(inv Inventory, pol Policy, now time.Time, runID string) []Action {
	users := slices.Clone(inv.Users)
	slices.SortStableFunc(users, func(a, b User) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.UserID, b.UserID))
	})
	var out []Action
	for _, u := range users {
		p := newUserPlanner(inv.AccountID, u, pol, now, runID)
		acts := p.plan()
		if err := checkUserPlan(u, acts); err != nil {
			acts = p.refuse(err)
		}
		out = append(out, acts...)
	}
	return out
}

// NeedsFreshLastUsed reports whether the planner's decision on key k depends
// on its recent use, so the inventory must ask GetAccessKeyLastUsed for it
// (and set LastUsedFresh): an active old key whose deactivation is due.
func NeedsFreshLastUsed(u User, k Key, pol Policy, now time.Time) bool {
	if u.Exempt != "" || !k.Active() {
		return false
	}
	tag, tracked := u.Tags[TagKey(k.ID)]
	if !tracked {
		// A key without state next to an issuing intent may be that
		// intent's orphan; whether it was ever used decides between
		// deleting it and holding, and must not rest on a stale report.
		return u.HasIntent()
	}
	st, err := ParseState(tag)
	if err != nil {
		return false
	}
	switch st.Phase {
	case PhaseIssuing, PhaseIssued, PhaseReactivated:
		return !now.Before(st.Since().Add(pol.DeactivateAfter))
	}
	return false
}

type userPlanner struct {
	account string
	u       User
	pol     Policy
	now     time.Time
	runID   string

	keys   []Key // by creation, then ID
	byID   map[string]Key
	order  map[string]int // key ID -> position for sorting actions
	states map[string]State
	errs   map[string]error
	// replacementOf maps a replacement key to the old key whose rotation
	// issued (or adopted) it.
	replacementOf map[string]string

	decided   map[string][]Action
	wantIssue []string
	// restart holds the intent of keys whose Issue restarts an interrupted
	// rotation.
	restart map[string]State
}

func newUserPlanner(account string, u User, pol Policy, now time.Time, runID string) *userPlanner {
	p := &userPlanner{
		account: account, u: u, pol: pol, now: now, runID: runID,
		keys:          slices.Clone(u.Keys),
		byID:          map[string]Key{},
		order:         map[string]int{},
		replacementOf: map[string]string{},
		decided:       map[string][]Action{},
		restart:       map[string]State{},
	}
	slices.SortStableFunc(p.keys, func(a, b Key) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	for i, k := range p.keys {
		p.byID[k.ID] = k
		p.order[k.ID] = i
	}
	p.states, p.errs = u.States()
	for old, st := range p.states {
		if _, ok := p.byID[old]; ok && st.NewKeyID != "" && st.Phase != PhaseIssuing {
			p.replacementOf[st.NewKeyID] = old
		}
	}
	return p
}

func (p *userPlanner) plan() []Action {
	if p.u.Exempt != "" {
		var out []Action
		for _, k := range p.keys {
			out = append(out, p.action(k.ID, ActionExempt, vocab.ReasonExempt, fmt.Sprintf(
				"user is exempt (%s); keyrotor reports this key but never changes it", p.u.Exempt)))
		}
		return out
	}
	p.planVanished()
	for _, k := range p.keys {
		if st, ok := p.states[k.ID]; ok && st.Phase == PhaseIssuing {
			p.recoverIntent(k, st)
		}
	}
	for _, k := range p.keys {
		if len(p.decided[k.ID]) == 0 && !slices.Contains(p.wantIssue, k.ID) {
			p.decideOwn(k)
		}
	}
	for _, id := range p.wantIssue {
		p.resolveIssue(p.byID[id])
	}
	return p.collect()
}

// collect flattens the decisions into execution order.
func (p *userPlanner) collect() []Action {
	var out []Action
	for _, acts := range p.decided {
		out = append(out, acts...)
	}
	pos := func(id string) int {
		if i, ok := p.order[id]; ok {
			return i
		}
		return len(p.keys) // vanished keys after real ones, then by ID
	}
	slices.SortStableFunc(out, func(a, b Action) int {
		return cmp.Or(cmp.Compare(step[a.Kind], step[b.Kind]),
			cmp.Compare(pos(a.KeyID), pos(b.KeyID)), strings.Compare(a.KeyID, b.KeyID))
	})
	return out
}

// action builds an action on keyID with its current state; Next defaults to
// "unchanged".
func (p *userPlanner) action(keyID string, kind ActionKind, code vocab.Reason, reason string) Action {
	st := p.states[keyID]
	return Action{AccountID: p.account, User: p.u.Name, KeyID: keyID, Kind: kind, Code: code, Reason: reason, State: st, Next: st}
}

func (p *userPlanner) set(keyID string, acts ...Action) { p.decided[keyID] = acts }

// hold holds a key until a human acts; fix lists the commands that do it,
// which reason quotes too.
func (p *userPlanner) hold(keyID string, code vocab.Reason, reason string, fix ...string) {
	p.holdUntil(keyID, code, reason, time.Time{}, fix...)
}

// holdUntil holds a key whose blocker clears by itself at due.
func (p *userPlanner) holdUntil(keyID string, code vocab.Reason, reason string, due time.Time, fix ...string) {
	a := p.action(keyID, ActionHold, code, reason)
	a.Due, a.Fix = due, strings.Join(fix, "; ")
	p.set(keyID, a)
}

func (p *userPlanner) leased(st State) bool {
	return st.RunID != p.runID && p.now.Sub(st.At) < IntentLease
}

func (p *userPlanner) skip(keyID string, st State) {
	a := p.action(keyID, ActionSkip, vocab.ReasonLeaseHeld, fmt.Sprintf(
		"another run (%s) is rotating this key since %s; its lease ends %s",
		st.RunID, st.At.UTC().Format(time.RFC3339), st.At.Add(IntentLease).UTC().Format(time.RFC3339)))
	a.Due = st.At.Add(IntentLease)
	p.set(keyID, a)
}

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
func (p *userPlanner) evalDeactivated(x Key, st State) Action {
	if x.Active() {
		off := cmdSetStatus(p.u.Name, x.ID, vocab.KeyInactive)
		a := p.action(x.ID, ActionHold, vocab.ReasonReactivatedOutside, fmt.Sprintf(
			"keyrotor deactivated this key on %s but it was reactivated outside keyrotor; to keep it for a while run %s (restarts the grace period), otherwise deactivate it again: %s",
			day(st.Deactivated), cmdReactivate(p.account, p.u.Name, x.ID), off))
		a.NewKeyID, a.Fix = st.NewKeyID, off
		return a
	}
	due := st.Deactivated.Add(p.pol.DeleteAfter)
	if p.now.Before(due) {
		a := p.action(x.ID, ActionNone, vocab.ReasonDeletionWaiting, fmt.Sprintf("deactivated by keyrotor %s; deletion due %s", day(st.Deactivated), day(due)))
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
	a := p.action(x.ID, ActionDelete, vocab.ReasonRetired, fmt.Sprintf(
		"deactivated by keyrotor %s; the %s before deletion ended %s", day(st.Deactivated), days(p.pol.DeleteAfter), day(due)))
	a.NewKeyID, a.Next, a.Notify = st.NewKeyID, State{}, EventDeleted
	return a
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

// refuse replaces a plan that failed checkUserPlan with holds: a planner bug
// must not reach AWS.
func (p *userPlanner) refuse(err error) []Action {
	var out []Action
	for _, k := range p.keys {
		out = append(out, p.action(k.ID, ActionHold, vocab.ReasonUnsafePlan, fmt.Sprintf("keyrotor refused its own unsafe plan for this user (%v); please report this", err)))
	}
	return out
}

func (p *userPlanner) primaryReason(keyID string) string {
	if acts := p.decided[keyID]; len(acts) > 0 {
		return acts[len(acts)-1].Reason
	}
	return "no decision"
}

// leastUsed picks the key to suggest deactivating: the one used least
// recently (never used counts as least), b on a tie.
func (p *userPlanner) leastUsed(a, b Key) Key {
	if a.LastUsed == nil && b.LastUsed != nil {
		return a
	}
	if a.LastUsed != nil && b.LastUsed != nil && a.LastUsed.Before(*b.LastUsed) {
		return a
	}
	return b
}

func (p *userPlanner) secretName() string {
	if p.u.SecretName == "" {
		return "(unnamed)"
	}
	return p.u.SecretName
}

// checkUserPlan replays a user's actions against its keys and rejects any
// plan that breaks an invariant: a key without an action, a Delete of a key
// that is not inactive, a Deactivate that leaves no active replacement, an
// Issue beyond two keys, or a mutation on an exempt user.
func checkUserPlan(u User, acts []Action) error {
	status := map[string]vocab.KeyStatus{}
	for _, k := range u.Keys {
		status[k.ID] = k.Status
	}
	seen := map[string]bool{}
	for _, a := range acts {
		seen[a.KeyID] = true
		if u.Exempt != "" && a.Kind != ActionExempt {
			return fmt.Errorf("%s of %s on an exempt user", a.Kind, a.KeyID)
		}
		switch a.Kind {
		case ActionDelete:
			if status[a.KeyID] != vocab.KeyInactive {
				return fmt.Errorf("delete of %s, which is not an existing inactive key", a.KeyID)
			}
			delete(status, a.KeyID)
		case ActionCleanup:
			if _, ok := status[a.KeyID]; !ok || a.KeyID == u.StoredSecretKeyID {
				return fmt.Errorf("cleanup of %s, which is missing or held in the secret", a.KeyID)
			}
			delete(status, a.KeyID)
		case ActionDeactivate:
			if _, ok := status[a.KeyID]; !ok || a.NewKeyID == a.KeyID || status[a.NewKeyID] != vocab.KeyActive {
				return fmt.Errorf("deactivate of %s without an active replacement", a.KeyID)
			}
			status[a.KeyID] = vocab.KeyInactive
		case ActionIssue:
			if status[a.KeyID] != vocab.KeyActive || len(status) >= 2 {
				return fmt.Errorf("issue for %s with %d keys", a.KeyID, len(status))
			}
			status["new:"+a.KeyID] = vocab.KeyActive
		}
	}
	for _, k := range u.Keys {
		if !seen[k.ID] {
			return fmt.Errorf("no action for key %s", k.ID)
		}
	}
	return nil
}

func tooManyKeys(n int) string {
	return fmt.Sprintf("the user has %d access keys, more than IAM's limit of two; keyrotor does not know which to keep", n)
}

// day formats a date the way every reason does.
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// days renders a policy duration in days.
func days(d time.Duration) string {
	n := d.Hours() / 24
	if n == float64(int64(n)) {
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", int64(n))
	}
	return d.String()
}

func ageDays(k Key, now time.Time) int { return int(now.Sub(k.Created) / (24 * time.Hour)) }

func lastUse(k Key) string {
	if k.LastUsed == nil {
		return "never used"
	}
	s := "last used " + day(*k.LastUsed)
	if k.LastUsedService != "" {
		s += " by " + k.LastUsedService
	}
	if k.LastUsedRegion != "" {
		s += " in " + k.LastUsedRegion
	}
	return s
}

func unusedSince(k Key) string {
	if k.LastUsed == nil {
		return "never used"
	}
	return "unused since " + day(*k.LastUsed)
}
