package report

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"keyrotor/vocab"
)

// Finding IDs that the report writers treat specially: compliance is
// measured against FindingStaleKey, and both drive the XLSX row colours.
// Other finding IDs are reported as they come.
const (
	FindingStaleKey  = "stale_key"
	FindingUnusedKey = "unused_key"
)

// Identifier formats the JSON schema requires.
var (
	accountIDPattern   = regexp.MustCompile(`^[0-9]{12}$`)
	accessKeyIDPattern = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	findingIDPattern   = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// maxProblems caps how many problems Validate lists, so that a report with a
// million bad keys yields a readable error rather than a million lines.
const maxProblems = 20

// Validate checks the report against the rules of the JSON schema that Go's
// type system cannot express: the schema version, enumerated values,
// required identifiers and unique account IDs. ReadJSON calls it so that a
// merged report is never built from a file another tool mangled.
func (r *Report) Validate() error {
	var p problems
	if r.SchemaVersion != SchemaVersion {
		p.addf("schema_version %q, want %q", r.SchemaVersion, SchemaVersion)
	}
	enum(&p, "run.mode", r.Run.Mode, vocab.Modes, false)
	for i, id := range r.Run.AccountsTargets {
		if !accountIDPattern.MatchString(id) {
			p.addf("run.accounts_targeted[%d]: %q is not 12 digits", i, id)
		}
	}
	seen := make(map[string]bool, len(r.Accounts))
	for i, a := range r.Accounts {
		where := fmt.Sprintf("accounts[%d]", i)
		if !accountIDPattern.MatchString(a.AccountID) {
			p.addf("%s: account_id %q is not 12 digits", where, a.AccountID)
		}
		if seen[a.AccountID] {
			p.addf("%s: account %s listed twice", where, a.AccountID)
		}
		seen[a.AccountID] = true
		enum(&p, where+".status", a.Status, vocab.AccountStatuses, false)
		if a.Status == vocab.AccountError && a.Error == "" {
			p.addf("%s: status error without an error message", where)
		}
		// A figure for an account whose keys were not seen is the false
		// green schema version 2 removed.
		switch ok := a.Status == vocab.AccountOK; {
		case ok && a.CompliancePct == nil:
			p.addf("%s: status ok without compliance_pct", where)
		case !ok && a.CompliancePct != nil:
			p.addf("%s: status %s with compliance_pct %v; its keys were not seen", where, a.Status, *a.CompliancePct)
		}
	}
	for i := range r.Keys {
		k := &r.Keys[i]
		where := fmt.Sprintf("keys[%d]", i)
		if !accountIDPattern.MatchString(k.AccountID) {
			p.addf("%s: account_id %q is not 12 digits", where, k.AccountID)
		}
		if k.User == "" {
			p.addf("%s: user is empty", where)
		}
		if !accessKeyIDPattern.MatchString(k.AccessKeyID) {
			p.addf("%s: access_key_id %q is not an access key ID", where, k.AccessKeyID)
		}
		if k.NewAccessKeyID != "" && !accessKeyIDPattern.MatchString(k.NewAccessKeyID) {
			p.addf("%s: new_access_key_id %q is not an access key ID", where, k.NewAccessKeyID)
		}
		enum(&p, where+".status", k.Status, vocab.KeyStatuses, false)
		enum(&p, where+".planned_action", k.PlannedAction, vocab.Actions, false)
		enum(&p, where+".action", k.Action, vocab.Actions, true)
		enum(&p, where+".result", k.Result, vocab.Results, true)
		if k.ReasonCode != "" && !vocab.KnownReason(k.ReasonCode) {
			p.addf("%s.reason_code: %q is not a known reason code", where, k.ReasonCode)
		}
		for j, f := range k.Findings {
			if !findingIDPattern.MatchString(f.ID) {
				p.addf("%s.findings[%d]: id %q is not snake_case", where, j, f.ID)
			}
		}
		if p.full() {
			break
		}
	}
	for i, n := range r.Notifications {
		where := fmt.Sprintf("notifications[%d]", i)
		if !accountIDPattern.MatchString(n.AccountID) {
			p.addf("%s: account_id %q is not 12 digits", where, n.AccountID)
		}
		if n.AccessKeyID != "" && !accessKeyIDPattern.MatchString(n.AccessKeyID) {
			p.addf("%s: access_key_id %q is not an access key ID", where, n.AccessKeyID)
		}
		if n.Event == "" {
			p.addf("%s: event is empty", where)
		}
		enum(&p, where+".result", n.Result, vocab.NotifyResults, false)
		if p.full() {
			break
		}
	}
	return p.err()
}

// problems collects validation messages up to maxProblems.
type problems struct {
	list []error
}

func (p *problems) addf(format string, args ...any) {
	if p.full() {
		return
	}
	p.list = append(p.list, fmt.Errorf(format, args...))
}

func enum[T ~string](p *problems, field string, v T, allowed []T, optional bool) {
	if (optional && v == "") || slices.Contains(allowed, v) {
		return
	}
	p.addf("%s: %q is not one of %q", field, v, allowed)
}

// full reports whether the list is full; the loops over keys stop then.
func (p *problems) full() bool { return len(p.list) >= maxProblems }

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	if p.full() {
		p.list = append(p.list, fmt.Errorf("(stopped after %d problems)", maxProblems))
	}
	return fmt.Errorf("invalid report: %w", errors.Join(p.list...))
}
