// Package vocab is keyrotor's shared vocabulary: the run modes, key
// statuses, actions, results and reason codes that the planner, the
// executor, the report and every report writer spell the same way. Each
// value is defined here once; the JSON report's schema
// (docs/report-schema.json) enumerates the same values, and a test ties the
// two together.
package vocab

// Mode is what a run may do.
type Mode string

// Run modes.
const (
	// ModeAudit reads and reports, including what rotate would do.
	ModeAudit Mode = "audit"
	// ModePlan is `rotate` without --apply: the plan, and no write call.
	ModePlan Mode = "plan"
	// ModeApply executes the plan.
	ModeApply Mode = "apply"
)

// Modes lists every Mode.
var Modes = []Mode{ModeAudit, ModePlan, ModeApply}

// KeyStatus is an access key's status, spelled as IAM's StatusType spells it.
type KeyStatus string

// Key statuses.
const (
	KeyActive   KeyStatus = "Active"
	KeyInactive KeyStatus = "Inactive"
	KeyExpired  KeyStatus = "Expired"
)

// KeyStatuses lists every KeyStatus.
var KeyStatuses = []KeyStatus{KeyActive, KeyInactive, KeyExpired}

// AccountStatus is how an account's part of a run went.
type AccountStatus string

// Account statuses.
const (
	AccountOK      AccountStatus = "ok"
	AccountError   AccountStatus = "error"
	AccountSkipped AccountStatus = "skipped"
)

// AccountStatuses lists every AccountStatus.
var AccountStatuses = []AccountStatus{AccountOK, AccountError, AccountSkipped}

// Action is what happens to a key, as the report says it: what rotate
// would do or did, not how the executor gets there (an interrupted issue
// adopted, a stale state tag forgotten).
type Action string

// Actions.
const (
	ActionNone       Action = "none"
	ActionIssue      Action = "issue"
	ActionDeactivate Action = "deactivate"
	ActionDelete     Action = "delete"
	ActionHold       Action = "hold"
	ActionExempt     Action = "exempt"
	ActionCleanup    Action = "cleanup"
)

// Actions lists every Action.
var Actions = []Action{ActionNone, ActionIssue, ActionDeactivate, ActionDelete, ActionHold, ActionExempt, ActionCleanup}

// Result is what became of a key's action in a run.
type Result string

// Results. An action that has nothing to do (none, exempt) has no result.
const (
	// ResultDone: the action's AWS calls all succeeded.
	ResultDone Result = "done"
	// ResultHeld: a hold; a human must act (the reason says how).
	ResultHeld Result = "held"
	// ResultFailed: a call failed; the reason says which and what state
	// it left behind.
	ResultFailed Result = "failed"
	// ResultSkipped: not attempted (another run, an earlier failure, an
	// interrupted run, a filter).
	ResultSkipped Result = "skipped"
	// ResultPlanned: what rotate --apply would do; audit and plan runs.
	ResultPlanned Result = "planned"
)

// Results lists every Result.
var Results = []Result{ResultDone, ResultHeld, ResultFailed, ResultSkipped, ResultPlanned}

// NotifyResult is what became of one mail.
type NotifyResult string

// Notification results.
const (
	NotifySent    NotifyResult = "sent"
	NotifyFailed  NotifyResult = "failed"
	NotifySkipped NotifyResult = "skipped"
	NotifyPlanned NotifyResult = "planned"
)

// NotifyResults lists every NotifyResult.
var NotifyResults = []NotifyResult{NotifySent, NotifyFailed, NotifySkipped, NotifyPlanned}
