package rotation

import (
	"time"

	"keyrotor/vocab"
)

// ActionKind is what the planner decided for one key. The comment on each
// kind is the executor's contract for it.
type ActionKind string

// Action kinds. Kinds that change nothing in AWS (None, Hold, Skip, Exempt)
// are still emitted, one per key, so the report can say why nothing happened.
const (
	// ActionNone: nothing to do yet; Reason and Due say what comes next.
	// Notify may still name a mail that an earlier run failed to send, or
	// EventDueSoon (see Mailed).
	// When Next differs from State (a retired key found off again after it
	// was on), mirror the new deletion clock on the owner's secret, then tag
	// Next.
	ActionNone ActionKind = "none"
	// ActionIssue: tag Next (the issuing intent) on the user, re-read the
	// tags (a fresh intent of another run means skip), prepare the owner's
	// secret (SecretStore.Prepare), list the keys, CreateAccessKey (if its
	// answer is lost, record on the secret a key that was not listed),
	// record the new key on the secret, store its value, tag
	// Next.WithIssued(newKey, t), mail Notify.
	ActionIssue ActionKind = "issue"
	// ActionAdopt: an interrupted issue left replacement NewKeyID whose
	// secret is stored; tag Next (state issued) and mail Notify.
	ActionAdopt ActionKind = "adopt"
	// ActionCleanup: DeleteAccessKey KeyID, a key an interrupted issue
	// created and recorded on the owner's secret but whose value was never
	// stored, after listing the keys again (the user keeps another active
	// key) and asking its last use (never used). No tag changes.
	ActionCleanup ActionKind = "cleanup"
	// ActionDeactivate: list the keys (NewKeyID still an active key) and
	// re-read the state tag, UpdateAccessKey KeyID Inactive, list the keys
	// again (if NewKeyID went, turn KeyID on again and skip), mirror the
	// deactivation time on the owner's secret, then tag Next (state
	// deactivated, at that time) and mail Notify.
	ActionDeactivate ActionKind = "deactivate"
	// ActionDelete: DeleteAccessKey KeyID (always an inactive key), then
	// UntagUser TagKey(KeyID) if State.Phase is set, and mail Notify.
	ActionDelete ActionKind = "delete"
	// ActionHold: a human must act; Reason says how. When Next differs from
	// State (a retired key found active), mirror that on the owner's secret,
	// then tag Next. Notify is EventReminder when a reminder is due (then
	// tag State.WithNotified(EventReminder, t)), or EventHeld when the owner
	// has not been told of this hold reason (see Mailed).
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
	// Mailed is KeyID's notice record when the plan was made. With Notify
	// EventHeld or EventDueSoon, the executor mails, then tags
	// NoticeTagKey(KeyID) with Mailed.WithHeld(Code, t) or
	// Mailed.WithDueSoon(t); for EventDueSoon, Due is when the key becomes
	// due.
	Mailed NoticeRecord
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
