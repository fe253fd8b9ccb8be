// Package report holds keyrotor's compliance report model and its writers
// (JSON, XLSX, CSV and a terminal summary). Every writer reads the same
// model, so the files of one run always agree with each other.
package report

import (
	"time"

	"keyrotor/vocab"
)

// SchemaVersion is the version of the JSON report's schema. It changes only
// when a field is removed or changes meaning; new fields keep the version.
// Version 2: compliance_pct is null where no key was seen (a failed or
// skipped account; a run that saw no account), no longer 100.
const SchemaVersion = "2"

// Report is one run's consolidated result across every targeted account.
type Report struct {
	SchemaVersion string    `json:"schema_version"`
	Run           Run       `json:"run"`
	Summary       Summary   `json:"summary"`
	Accounts      []Account `json:"accounts"`
	Keys          []Key     `json:"keys"`
	// Notifications lists the mails a run sent or failed to send.
	Notifications []Notification `json:"notifications"`
}

// Run describes how and when the report was produced.
type Run struct {
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// Mode is "audit", "plan" (rotate without --apply) or "apply".
	Mode    vocab.Mode `json:"mode"`
	Version string     `json:"keyrotor_version"`
	// Policy is the default policy in force; per-account overrides are on
	// each account.
	Policy          Policy   `json:"policy"`
	AccountsTargets []string `json:"accounts_targeted"`
	// Notify tells whether notifications were on for the run.
	Notify bool `json:"notifications_enabled"`
	// Interrupted is true when the run was cancelled (Ctrl-C, SIGTERM) and
	// the report covers only the work finished before that.
	Interrupted bool `json:"interrupted"`
}

// Policy is the rotation policy as reported, durations in whole days.
type Policy struct {
	MaxKeyAgeDays       float64 `json:"max_key_age_days"`
	UnusedAfterDays     float64 `json:"unused_after_days"`
	DeactivateAfterDays float64 `json:"deactivate_after_days"`
	DeleteAfterDays     float64 `json:"delete_after_days"`
}

// Summary is the run's totals.
type Summary struct {
	AccountsOK      int            `json:"accounts_ok"`
	AccountsFailed  int            `json:"accounts_failed"`
	AccountsSkipped int            `json:"accounts_skipped"`
	Users           int            `json:"users"`
	Keys            int            `json:"keys"`
	ActiveKeys      int            `json:"active_keys"`
	ExemptKeys      int            `json:"exempt_keys"`
	CompliantKeys   int            `json:"compliant_keys"`
	Findings        map[string]int `json:"findings"`
	// CompliancePct is the share of non-exempt active keys without a
	// stale_key finding, 0-100, rounded to one decimal, over the accounts
	// whose keys were seen (status ok); 100 when they hold no such keys.
	// It is nil (null in JSON, "n/a" elsewhere) when no account's keys
	// were seen: nothing was shown to be compliant.
	CompliancePct *float64 `json:"compliance_pct"`
	// AccountsUnseen counts the accounts whose keys the report does not
	// cover (failed or skipped): CompliancePct says nothing about them.
	AccountsUnseen int `json:"accounts_unseen"`
	// Actions counts keys by planned or taken action ("issue", "hold", ...).
	Actions map[vocab.Action]int `json:"actions"`
	// Results counts acted-on keys by result ("done", "held", "failed",
	// "skipped", "planned").
	Results map[vocab.Result]int `json:"results"`
}

// Account is one targeted account's outcome.
type Account struct {
	AccountID string              `json:"account_id"`
	Name      string              `json:"name"`
	OU        string              `json:"ou"`
	Status    vocab.AccountStatus `json:"status"`
	Error     string              `json:"error,omitempty"`
	Users     int                 `json:"users"`
	Keys      int                 `json:"keys"`
	Findings  int                 `json:"findings"`
	// CompliancePct is computed like Summary.CompliancePct for this
	// account; nil unless its keys were seen (status ok).
	CompliancePct *float64 `json:"compliance_pct"`
}

// Key is one access key and everything keyrotor found and did about it.
type Key struct {
	AccountID       string          `json:"account_id"`
	AccountName     string          `json:"account_name"`
	User            string          `json:"user"`
	AccessKeyID     string          `json:"access_key_id"`
	Status          vocab.KeyStatus `json:"status"`
	Created         time.Time       `json:"created"`
	AgeDays         int             `json:"age_days"`
	LastUsed        *time.Time      `json:"last_used"`
	LastUsedService string          `json:"last_used_service,omitempty"`
	LastUsedRegion  string          `json:"last_used_region,omitempty"`
	Findings        []Finding       `json:"findings"`
	Exempt          bool            `json:"exempt"`
	ExemptReason    string          `json:"exempt_reason,omitempty"`
	// PlannedAction is what `rotate --apply` would do (or did) for the key:
	// none, issue, deactivate, delete, hold, exempt, cleanup.
	PlannedAction vocab.Action `json:"planned_action"`
	// Action is the action attempted in this run ("" in audit and plan mode).
	Action vocab.Action `json:"action,omitempty"`
	// Result is done, held, failed, skipped or planned.
	Result vocab.Result `json:"result,omitempty"`
	// Reason explains a hold, a failure or a skip in words a human can act on.
	Reason string `json:"reason,omitempty"`
	// ReasonCode is the stable code of Reason, for pivoting reports and
	// alerting on one kind of hold (see package vocab).
	ReasonCode vocab.Reason `json:"reason_code,omitempty"`
	// Fix is the exact command that resolves a hold, when there is one.
	Fix string `json:"fix,omitempty"`
	// NewAccessKeyID is the replacement key, once issued.
	NewAccessKeyID string `json:"new_access_key_id,omitempty"`
	// SecretName names the Secrets Manager secret holding the replacement
	// key; never its value.
	SecretName string `json:"secret_name,omitempty"`
	// RotationState is keyrotor's recorded lifecycle state for the key
	// (issuing, issued, deactivated, reactivated) if any.
	RotationState string `json:"rotation_state,omitempty"`
}

// Finding is one compliance finding on a key.
type Finding struct {
	ID       string   `json:"id"`
	Controls []string `json:"controls"`
}

// Notification is one mail keyrotor sent or tried to send.
type Notification struct {
	AccountID   string             `json:"account_id"`
	User        string             `json:"user,omitempty"`
	AccessKeyID string             `json:"access_key_id,omitempty"`
	Event       string             `json:"event"`
	To          []string           `json:"to,omitempty"`
	Subject     string             `json:"subject,omitempty"`
	Result      vocab.NotifyResult `json:"result"`
	Error       string             `json:"error,omitempty"`
}
