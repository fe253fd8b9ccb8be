package report

import (
	"reflect"
	"slices"
	"testing"

	"keyrotor/vocab"
)

// pct is a compliance percentage as the model holds it.
func pct(v float64) *float64 { return &v }

func TestFinalize(t *testing.T) {
	empty := map[string]int{}
	noActions, noResults := map[vocab.Action]int{}, map[vocab.Result]int{}
	tests := []struct {
		name         string
		report       func() *Report
		wantSummary  Summary
		wantAccounts []Account
	}{
		{
			// Issue 11: was 100 ("fully compliant"); no key was seen.
			name:         "empty report has no compliance figure",
			report:       func() *Report { return &Report{} },
			wantSummary:  Summary{Findings: empty, Actions: noActions, Results: noResults},
			wantAccounts: []Account{},
		},
		{
			name:   "fixture",
			report: fixture,
			wantSummary: Summary{
				AccountsOK: 2, AccountsFailed: 1, AccountsSkipped: 1, AccountsUnseen: 2,
				// prod keeps its 3 (one user has no key); dev is raised to
				// its 3 key owners.
				Users: 6, Keys: 6, ActiveKeys: 5, ExemptKeys: 1,
				// Eligible: alice x2, bob, erin; compliant: alice's new-ish
				// key and erin (unused is not stale).
				CompliantKeys: 2, CompliancePct: pct(50),
				Findings: map[string]int{FindingStaleKey: 3, FindingUnusedKey: 2},
				Actions:  map[vocab.Action]int{vocab.ActionIssue: 1, vocab.ActionDeactivate: 1, vocab.ActionExempt: 1, vocab.ActionDelete: 1},
				Results:  map[vocab.Result]int{vocab.ResultDone: 1, vocab.ResultFailed: 1, vocab.ResultPlanned: 1},
			},
			wantAccounts: []Account{
				{AccountID: "111111111111", Name: "prod", OU: "ou-prod", Status: vocab.AccountOK, Users: 3, Keys: 3, Findings: 3, CompliancePct: pct(33.3)},
				{AccountID: "222222222222", Name: "dev", OU: "ou-dev", Status: vocab.AccountOK, Users: 3, Keys: 3, Findings: 2, CompliancePct: pct(100)},
				// Issue 11: failed and skipped accounts were 100; their keys were
				// never seen.
				{AccountID: "333333333333", Name: "legacy", OU: "ou-legacy", Status: vocab.AccountError, Error: fixture().Accounts[0].Error},
				{AccountID: "444444444444", Name: "sandbox", OU: "ou-sandbox", Status: vocab.AccountSkipped, Error: "account is SUSPENDED"},
			},
		},
		{
			name: "keys of an unlisted account add an ok account; stale counts are reset",
			report: func() *Report {
				return &Report{
					Accounts: []Account{{AccountID: "999999999999", Status: vocab.AccountOK, Keys: 7, Findings: 3, CompliancePct: pct(10)}},
					Keys: []Key{
						{AccountID: "555555555555", AccountName: "new", User: "u", AccessKeyID: "AKIA5", Status: vocab.KeyActive, PlannedAction: vocab.ActionNone},
					},
				}
			},
			wantSummary: Summary{AccountsOK: 2, Users: 1, Keys: 1, ActiveKeys: 1, CompliantKeys: 1, CompliancePct: pct(100),
				Findings: empty, Actions: noActions, Results: noResults},
			wantAccounts: []Account{
				{AccountID: "555555555555", Name: "new", Status: vocab.AccountOK, Users: 1, Keys: 1, CompliancePct: pct(100)},
				{AccountID: "999999999999", Status: vocab.AccountOK, CompliancePct: pct(100)},
			},
		},
		{
			name: "a finding repeated on one key counts once; two of three rounds to 66.7",
			report: func() *Report {
				k := func(user string, f ...Finding) Key {
					return Key{AccountID: "111111111111", User: user, AccessKeyID: "AKIA" + user, Status: vocab.KeyActive, Findings: f, PlannedAction: vocab.ActionNone}
				}
				return &Report{
					Accounts: []Account{{AccountID: "111111111111", Status: vocab.AccountOK}},
					Keys:     []Key{k("a"), k("b"), k("c", staleFinding, staleFinding)},
				}
			},
			wantSummary: Summary{AccountsOK: 1, Users: 3, Keys: 3, ActiveKeys: 3, CompliantKeys: 2, CompliancePct: pct(66.7),
				Findings: map[string]int{FindingStaleKey: 1}, Actions: noActions, Results: noResults},
			wantAccounts: []Account{
				{AccountID: "111111111111", Status: vocab.AccountOK, Users: 3, Keys: 3, Findings: 1, CompliancePct: pct(66.7)},
			},
		},
		{
			name: "only exempt and inactive keys: nothing to measure, 100%",
			report: func() *Report {
				return &Report{Keys: []Key{
					{AccountID: "111111111111", User: "x", AccessKeyID: "AKIAX", Status: vocab.KeyActive, Exempt: true, Findings: []Finding{staleFinding}, PlannedAction: vocab.ActionExempt},
					{AccountID: "111111111111", User: "y", AccessKeyID: "AKIAY", Status: vocab.KeyInactive, Findings: []Finding{staleFinding}, PlannedAction: vocab.ActionNone},
				}}
			},
			wantSummary: Summary{AccountsOK: 1, Users: 2, Keys: 2, ActiveKeys: 1, ExemptKeys: 1, CompliancePct: pct(100),
				Findings: map[string]int{FindingStaleKey: 2}, Actions: map[vocab.Action]int{vocab.ActionExempt: 1}, Results: noResults},
			wantAccounts: []Account{
				{AccountID: "111111111111", Status: vocab.AccountOK, Users: 2, Keys: 2, Findings: 2, CompliancePct: pct(100)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.report()
			r.Finalize()
			if !reflect.DeepEqual(r.Summary, tt.wantSummary) {
				t.Errorf("Summary =\n%+v\nwant\n%+v", r.Summary, tt.wantSummary)
			}
			if !reflect.DeepEqual(r.Accounts, tt.wantAccounts) {
				t.Errorf("Accounts =\n%+v\nwant\n%+v", r.Accounts, tt.wantAccounts)
			}
			if r.SchemaVersion != SchemaVersion || r.Keys == nil || r.Notifications == nil || r.Run.AccountsTargets == nil {
				t.Errorf("not normalized: version %q, keys nil %v, notifications nil %v, targets nil %v",
					r.SchemaVersion, r.Keys == nil, r.Notifications == nil, r.Run.AccountsTargets == nil)
			}
			// Finalize is idempotent.
			again := *r
			again.Accounts = slices.Clone(r.Accounts)
			again.Keys = slices.Clone(r.Keys)
			again.Finalize()
			if !reflect.DeepEqual(again.Summary, r.Summary) || !reflect.DeepEqual(again.Accounts, r.Accounts) {
				t.Errorf("second Finalize changed the report")
			}
		})
	}
}

func TestFinalizeSortsKeys(t *testing.T) {
	r := finalized()
	var got []string
	for _, k := range r.Keys {
		got = append(got, k.AccountID+"/"+k.User+"/"+k.AccessKeyID)
	}
	want := []string{
		"111111111111/alice/" + keyAlice1,
		"111111111111/alice/" + keyAlice2,
		"111111111111/bob/" + keyBob,
		"222222222222/dave/" + keyDave,
		"222222222222/erin/" + keyErin,
		"222222222222/svc-ci/" + keyCI,
	}
	if !slices.Equal(got, want) {
		t.Errorf("key order =\n%q\nwant\n%q", got, want)
	}
	for _, k := range r.Keys {
		if k.Findings == nil {
			t.Errorf("key %s: Findings is nil after Finalize", k.AccessKeyID)
		}
	}
}

func TestFinalizeDoesNotWriteSharedFindings(t *testing.T) {
	shared := []Finding{{ID: FindingStaleKey}} // nil Controls
	r := &Report{Keys: []Key{{AccountID: "111111111111", User: "u", AccessKeyID: "AKIAU", Status: vocab.KeyActive, Findings: shared}}}
	r.Finalize()
	if shared[0].Controls != nil {
		t.Errorf("Finalize wrote into a Findings array it does not own")
	}
	if r.Keys[0].Findings[0].Controls == nil {
		t.Errorf("Controls not normalized to []")
	}
}
