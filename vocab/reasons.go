package vocab

// Reason is the stable code of why an action is what it is: a hold, a skip,
// a wait or a step, so that reports can be pivoted by it, alerting can key
// on one kind of hold, and tests assert codes rather than wording. The
// human text and the fix command are rendered with it and may change; a
// code, once shipped, keeps its meaning.
type Reason string

// Reason codes. Keep reasonTitles in step.
const (
	// ReasonExempt: the user is exempt (tag, group or accounts.yaml).
	ReasonExempt Reason = "exempt"
	// ReasonNotDue: an active key younger than max_key_age.
	ReasonNotDue Reason = "not_due"
	// ReasonStale: a stale key gets a replacement (CIS 1.14).
	ReasonStale Reason = "stale"
	// ReasonIssuedWaiting: a replacement was issued; the old key's
	// deactivation is not due yet.
	ReasonIssuedWaiting Reason = "issued_waiting"
	// ReasonUnusedSinceIssue: the old key went unused since its
	// replacement was issued and is deactivated.
	ReasonUnusedSinceIssue Reason = "unused_since_issue"
	// ReasonHardDeadline: policy.hard_deadline passed; deactivated even if
	// in use.
	ReasonHardDeadline Reason = "hard_deadline"
	// ReasonAlreadyInactive: the old key was already inactive; its
	// deactivation is recorded.
	ReasonAlreadyInactive Reason = "already_inactive"
	// ReasonOldKeyInUse: the old key is still used after its replacement
	// was issued (hold, with a reminder).
	ReasonOldKeyInUse Reason = "old_key_in_use"
	// ReasonLastUseUnconfirmed: a decision needs fresh last-use data that
	// this run could not get.
	ReasonLastUseUnconfirmed Reason = "last_use_unconfirmed"
	// ReasonReplacementUnusable: the recorded replacement is missing, not
	// active, or the key itself.
	ReasonReplacementUnusable Reason = "replacement_unusable"
	// ReasonDeletionWaiting: keyrotor deactivated the key; its deletion is
	// not due yet.
	ReasonDeletionWaiting Reason = "deletion_waiting"
	// ReasonRetired: keyrotor deactivated the key and delete_after passed;
	// it is deleted.
	ReasonRetired Reason = "retired"
	// ReasonReactivatedOutside: a key keyrotor deactivated is active again,
	// not through keyrotor reactivate.
	ReasonReactivatedOutside Reason = "reactivated_outside"
	// ReasonNoActiveKey: deleting the key would leave the user without an
	// active key.
	ReasonNoActiveKey Reason = "no_active_key"
	// ReasonForeignInactive: an inactive key keyrotor did not deactivate,
	// left in place.
	ReasonForeignInactive Reason = "foreign_inactive"
	// ReasonForeignDeleted: such a key, deleted under
	// policy.delete_foreign_inactive.
	ReasonForeignDeleted Reason = "foreign_deleted"
	// ReasonReplacementKey: the key is itself a replacement keyrotor issued.
	ReasonReplacementKey Reason = "replacement_key"
	// ReasonTwoKeys: a stale key whose user already has two keys, one of
	// them in the way (the text says which and how to free the slot).
	ReasonTwoKeys Reason = "two_keys"
	// ReasonTooManyKeys: more keys than IAM's limit of two.
	ReasonTooManyKeys Reason = "too_many_keys"
	// ReasonStateCorrupt: keyrotor's state tag cannot be parsed.
	ReasonStateCorrupt Reason = "state_corrupt"
	// ReasonUnexpectedState: a key status or state keyrotor does not act on.
	ReasonUnexpectedState Reason = "unexpected_state"
	// ReasonLeaseHeld: another run's rotation intent holds the key.
	ReasonLeaseHeld Reason = "lease_held"
	// ReasonRecovered: an interrupted rotation's replacement is adopted.
	ReasonRecovered Reason = "recovered"
	// ReasonOrphan: a key an interrupted rotation created and never stored
	// is deleted.
	ReasonOrphan Reason = "orphan"
	// ReasonOrphanInUse: a key that looks like such an orphan has been used.
	ReasonOrphanInUse Reason = "orphan_in_use"
	// ReasonStateStale: a state tag of a key that is gone, or an intent
	// that cannot complete, is removed.
	ReasonStateStale Reason = "state_stale"
	// ReasonUnsafePlan: keyrotor refused its own plan for the user.
	ReasonUnsafePlan Reason = "unsafe_plan"
	// ReasonEarlierStepFailed: skipped because an earlier step for the
	// same user failed.
	ReasonEarlierStepFailed Reason = "earlier_step_failed"
	// ReasonInterrupted: skipped because the run was interrupted.
	ReasonInterrupted Reason = "interrupted"
	// ReasonConcurrentChange: skipped because the user changed under the
	// run (another run?).
	ReasonConcurrentChange Reason = "concurrent_change"
	// ReasonFiltered: skipped by --user or --phase.
	ReasonFiltered Reason = "filtered"
	// ReasonStepFailed: an AWS call of the step failed.
	ReasonStepFailed Reason = "step_failed"
	// ReasonStateTampered: a state tag's claim disagrees with the evidence
	// an insider cannot forge (the owner's secret, the keys' creation
	// dates, the clock), or has none; nothing destructive is done.
	ReasonStateTampered Reason = "state_tampered"
	// ReasonOrphanUnproven: a key created during an interrupted rotation
	// that keyrotor cannot show it created; it is never deleted, and the
	// intent is kept.
	ReasonOrphanUnproven Reason = "orphan_unproven"
	// ReasonSecretUnreadable: the user's secret metadata could not be read;
	// the user is held, the rest of the account goes on.
	ReasonSecretUnreadable Reason = "secret_unreadable"
	// ReasonSecretUnusable: the owner's secret is scheduled for deletion or
	// does not hold the replacement, so the old key must stay.
	ReasonSecretUnusable Reason = "secret_unusable"
	// ReasonSecretNameInvalid: the user's name gives no valid secret name
	// (IAM allows a comma, Secrets Manager does not).
	ReasonSecretNameInvalid Reason = "secret_name_invalid"
	// ReasonOwnerCannotDecrypt: the secret's customer managed KMS key does
	// not let the owner decrypt it (or that could not be checked), so the
	// old key is not deactivated.
	ReasonOwnerCannotDecrypt Reason = "owner_cannot_decrypt"
)

// reasonTitles are the short human titles of the codes, for report
// columns and digests.
var reasonTitles = map[Reason]string{
	ReasonExempt:              "user exempt",
	ReasonNotDue:              "not due",
	ReasonStale:               "stale key, replacement issued",
	ReasonIssuedWaiting:       "replacement issued, waiting",
	ReasonUnusedSinceIssue:    "old key unused since issue",
	ReasonHardDeadline:        "hard deadline passed",
	ReasonAlreadyInactive:     "old key already inactive",
	ReasonOldKeyInUse:         "old key still in use",
	ReasonLastUseUnconfirmed:  "last use not confirmed",
	ReasonReplacementUnusable: "replacement missing or inactive",
	ReasonDeletionWaiting:     "deactivated, waiting",
	ReasonRetired:             "deactivated by keyrotor, deleted",
	ReasonReactivatedOutside:  "reactivated outside keyrotor",
	ReasonNoActiveKey:         "user would have no active key",
	ReasonForeignInactive:     "inactive key not retired by keyrotor",
	ReasonForeignDeleted:      "foreign inactive key deleted",
	ReasonReplacementKey:      "replacement key",
	ReasonTwoKeys:             "two keys already",
	ReasonTooManyKeys:         "more than two keys",
	ReasonStateCorrupt:        "corrupt state tag",
	ReasonUnexpectedState:     "unexpected status or state",
	ReasonLeaseHeld:           "another run is rotating",
	ReasonRecovered:           "interrupted rotation recovered",
	ReasonOrphan:              "orphan key deleted",
	ReasonOrphanInUse:         "possible orphan in use",
	ReasonStateStale:          "stale state tag removed",
	ReasonUnsafePlan:          "unsafe plan refused",
	ReasonEarlierStepFailed:   "earlier step failed",
	ReasonInterrupted:         "run interrupted",
	ReasonConcurrentChange:    "changed concurrently",
	ReasonFiltered:            "filtered out",
	ReasonStepFailed:          "step failed",
	ReasonStateTampered:       "state tag disagrees with evidence",
	ReasonOrphanUnproven:      "possible orphan, not provably keyrotor's",
	ReasonSecretUnreadable:    "secret metadata unreadable",
	ReasonSecretUnusable:      "owner's secret unusable",
	ReasonSecretNameInvalid:   "user name gives no secret name",
	ReasonOwnerCannotDecrypt:  "owner cannot decrypt the secret",
}

// Title is the code's short human title ("" for an unknown code).
func (r Reason) Title() string { return reasonTitles[r] }

// KnownReason reports whether r is a code of this version.
func KnownReason(r Reason) bool { _, ok := reasonTitles[r]; return ok }

// Reasons lists every reason code, in no particular order.
func Reasons() []Reason {
	out := make([]Reason, 0, len(reasonTitles))
	for r := range reasonTitles {
		out = append(out, r)
	}
	return out
}
