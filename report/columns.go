package report

import (
	"strings"
	"time"

	"keyrotor/vocab"
)

// keyColumn is one column of the key listings, shared by the CSV and the
// XLSX writers so that both always show the same fields.
type keyColumn struct {
	// name is the CSV header: the key's JSON field name.
	name string
	// title is the XLSX header.
	title string
	// width is the XLSX column width in characters.
	width float64
	// value returns a string, an int, a bool, a time.Time or nil (empty).
	value func(k *Key) any
}

var keyColumns = []keyColumn{
	{"account_id", "Account ID", 15, func(k *Key) any { return k.AccountID }},
	{"account_name", "Account name", 22, func(k *Key) any { return k.AccountName }},
	{"user", "User", 24, func(k *Key) any { return k.User }},
	{"access_key_id", "Access key ID", 24, func(k *Key) any { return k.AccessKeyID }},
	{"status", "Status", 10, func(k *Key) any { return string(k.Status) }},
	{"created", "Created (UTC)", 19, func(k *Key) any { return timeValue(k.Created) }},
	{"age_days", "Age (days)", 10, func(k *Key) any { return k.AgeDays }},
	{"last_used", "Last used (UTC)", 19, func(k *Key) any { return timePtrValue(k.LastUsed) }},
	{"last_used_service", "Last used service", 18, func(k *Key) any { return k.LastUsedService }},
	{"last_used_region", "Last used region", 16, func(k *Key) any { return k.LastUsedRegion }},
	{"findings", "Findings", 22, func(k *Key) any { return findingIDs(k) }},
	{"exempt", "Exempt", 8, func(k *Key) any { return k.Exempt }},
	{"exempt_reason", "Exempt reason", 24, func(k *Key) any { return k.ExemptReason }},
	{"planned_action", "Planned action", 14, func(k *Key) any { return string(k.PlannedAction) }},
	{"action", "Action", 12, func(k *Key) any { return string(k.Action) }},
	{"result", "Result", 10, func(k *Key) any { return string(k.Result) }},
	{"reason", "Reason", 48, func(k *Key) any { return k.Reason }},
	{"reason_code", "Reason code", 20, func(k *Key) any { return string(k.ReasonCode) }},
	{"fix", "Fix", 48, func(k *Key) any { return k.Fix }},
	{"new_access_key_id", "New access key ID", 24, func(k *Key) any { return k.NewAccessKeyID }},
	{"secret_name", "Secret name", 32, func(k *Key) any { return k.SecretName }},
	{"rotation_state", "Rotation state", 14, func(k *Key) any { return k.RotationState }},
}

// actionColumnNames are the keyColumns of the XLSX Actions sheet.
var actionColumnNames = []string{
	"account_id", "account_name", "user", "access_key_id", "age_days", "findings",
	"planned_action", "action", "result", "reason", "reason_code", "fix", "new_access_key_id", "secret_name",
	"rotation_state",
}

// pickKeyColumns returns the keyColumns with the given names, in that order.
func pickKeyColumns(names []string) []keyColumn {
	cols := make([]keyColumn, 0, len(names))
	for _, n := range names {
		for _, c := range keyColumns {
			if c.name == n {
				cols = append(cols, c)
			}
		}
	}
	return cols
}

// timeValue returns t in UTC, or nil when t is unset, so that no writer
// prints year one.
func timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func timePtrValue(t *time.Time) any {
	if t == nil {
		return nil
	}
	return timeValue(*t)
}

// NotApplicable is what the writers show for a compliance figure that
// does not exist: an account whose keys were not seen, or a run that saw
// none (null in JSON).
const NotApplicable = "n/a"

// complianceValue is a compliance percentage as a cell value: the number,
// or NotApplicable.
func complianceValue(p *float64) any {
	if p == nil {
		return NotApplicable
	}
	return *p
}

// findingIDs joins a key's finding IDs with ", ".
func findingIDs(k *Key) string {
	switch len(k.Findings) {
	case 0:
		return ""
	case 1:
		return k.Findings[0].ID
	}
	ids := make([]string, len(k.Findings))
	for i, f := range k.Findings {
		ids[i] = f.ID
	}
	return strings.Join(ids, ", ")
}

// hasFinding reports whether k has a finding with the given ID.
func hasFinding(k *Key, id string) bool {
	for _, f := range k.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

// isActionRow reports whether a key belongs on the Actions sheet: something
// was attempted, or something other than nothing or exemption is planned.
func isActionRow(k *Key) bool {
	if k.Action != "" {
		return true
	}
	switch k.PlannedAction {
	case "", vocab.ActionNone, vocab.ActionExempt:
		return false
	}
	return true
}
