package report

import (
	"fmt"
	"time"

	"keyrotor/vocab"
)

// now is the fixed clock of every test.
var now = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

func daysAgo(d int) time.Time { return now.Add(-time.Duration(d) * 24 * time.Hour) }

func ptr[T any](v T) *T { return &v }

var (
	staleFinding  = Finding{ID: FindingStaleKey, Controls: []string{"CIS 1.14"}}
	unusedFinding = Finding{ID: FindingUnusedKey, Controls: []string{"CIS 1.12"}}
)

// Key IDs of the fixture, in AWS's format so the masking test is realistic.
const (
	keyAlice1   = "AKIAALICE00000000001"
	keyAlice2   = "AKIAALICE00000000002"
	keyAliceNew = "AKIAALICENEW0000003X"
	keyBob      = "AKIABOB0000000000001"
	keyCI       = "AKIASVCCI00000000001"
	keyDave     = "AKIADAVE000000000001"
	keyErin     = "AKIAERIN000000000001"
	keyInError  = "AKIAIOSFODNN7EXAMPL"
)

// fixture is an apply run over four accounts (two ok, one failed, one
// skipped) whose keys cover every colour and count rule. Keys are out of
// order on purpose.
func fixture() *Report {
	return &Report{
		Run: Run{
			ID:              "run-1",
			Started:         now,
			Ended:           now.Add(3*time.Minute + 2*time.Second),
			Mode:            vocab.ModeApply,
			Version:         "v0.1.0",
			Policy:          Policy{MaxKeyAgeDays: 90, UnusedAfterDays: 45, DeactivateAfterDays: 7, DeleteAfterDays: 7},
			AccountsTargets: []string{"111111111111", "222222222222", "333333333333", "444444444444"},
			Notify:          true,
		},
		Accounts: []Account{
			{AccountID: "333333333333", Name: "legacy", OU: "ou-legacy", Status: vocab.AccountError,
				Error: "assume role in 333333333333: AccessDenied: user with key " + keyInError + " is not allowed"},
			{AccountID: "111111111111", Name: "prod", OU: "ou-prod", Status: vocab.AccountOK, Users: 3},
			{AccountID: "444444444444", Name: "sandbox", OU: "ou-sandbox", Status: vocab.AccountSkipped, Error: "account is SUSPENDED"},
			{AccountID: "222222222222", Name: "dev", OU: "ou-dev", Status: vocab.AccountOK},
		},
		Keys: []Key{
			{AccountID: "222222222222", AccountName: "dev", User: "svc-ci", AccessKeyID: keyCI, Status: vocab.KeyActive,
				Created: daysAgo(400), AgeDays: 400, LastUsed: ptr(daysAgo(1)), LastUsedService: "s3", LastUsedRegion: "eu-west-1",
				Findings: []Finding{staleFinding}, Exempt: true, ExemptReason: "tag keyrotor:exempt=true", PlannedAction: vocab.ActionExempt},
			{AccountID: "111111111111", AccountName: "prod", User: "bob", AccessKeyID: keyBob, Status: vocab.KeyActive,
				Created: daysAgo(200), AgeDays: 200, LastUsed: ptr(daysAgo(2)), LastUsedService: "iam", LastUsedRegion: "us-east-1",
				Findings: []Finding{staleFinding}, PlannedAction: vocab.ActionDeactivate, Action: vocab.ActionDeactivate, Result: vocab.ResultFailed,
				Reason: "deactivate " + keyBob + ": AccessDenied", RotationState: "issued"},
			{AccountID: "111111111111", AccountName: "prod", User: "alice", AccessKeyID: keyAlice2, Status: vocab.KeyActive,
				Created: daysAgo(10), AgeDays: 10, LastUsed: ptr(daysAgo(0)), PlannedAction: vocab.ActionNone},
			{AccountID: "111111111111", AccountName: "prod", User: "alice", AccessKeyID: keyAlice1, Status: vocab.KeyActive,
				Created: daysAgo(120), AgeDays: 120, Findings: []Finding{staleFinding, unusedFinding},
				PlannedAction: vocab.ActionIssue, Action: vocab.ActionIssue, Result: vocab.ResultDone,
				NewAccessKeyID: keyAliceNew, SecretName: "keyrotor/111111111111/alice", RotationState: "issued"},
			{AccountID: "222222222222", AccountName: "dev", User: "erin", AccessKeyID: keyErin, Status: vocab.KeyActive,
				Created: daysAgo(50), AgeDays: 50, Findings: []Finding{unusedFinding}, PlannedAction: vocab.ActionNone},
			{AccountID: "222222222222", AccountName: "dev", User: "dave", AccessKeyID: keyDave, Status: vocab.KeyInactive,
				Created: daysAgo(100), AgeDays: 100, PlannedAction: vocab.ActionDelete, Result: vocab.ResultPlanned,
				Reason: "deactivated by keyrotor 8 days ago", RotationState: "deactivated"},
		},
		Notifications: []Notification{
			{AccountID: "111111111111", User: "alice", AccessKeyID: keyAlice1, Event: "issued",
				To: []string{"alice@example.com"}, Subject: "Your new AWS access key", Result: vocab.NotifySent},
			{AccountID: "111111111111", User: "bob", AccessKeyID: keyBob, Event: "reminder",
				To: []string{"bob@example.com"}, Subject: "Rotate your AWS access key", Result: vocab.NotifyFailed,
				Error: "send mail: MessageRejected"},
		},
	}
}

// finalized returns the finalized fixture.
func finalized() *Report {
	r := fixture()
	r.Finalize()
	return r
}

// bigReport builds a finalized report of n keys over n/1000+1 accounts,
// with every tenth key stale and every hundredth failed, for benchmarks and
// size tests.
func bigReport(n int) *Report {
	r := &Report{Run: Run{ID: "big", Started: now, Ended: now.Add(time.Hour), Mode: vocab.ModeApply,
		Policy: Policy{MaxKeyAgeDays: 90, UnusedAfterDays: 45, DeactivateAfterDays: 7, DeleteAfterDays: 7}}}
	accounts := n/1000 + 1
	for a := range accounts {
		id := fmt.Sprintf("%012d", 100000000000+a)
		r.Run.AccountsTargets = append(r.Run.AccountsTargets, id)
		r.Accounts = append(r.Accounts, Account{AccountID: id, Name: fmt.Sprintf("account-%d", a), Status: vocab.AccountOK})
	}
	r.Keys = make([]Key, n)
	for i := range r.Keys {
		k := Key{
			AccountID:     r.Accounts[i%accounts].AccountID,
			AccountName:   r.Accounts[i%accounts].Name,
			User:          fmt.Sprintf("user-%07d", i/2),
			AccessKeyID:   fmt.Sprintf("AKIA%016d", i),
			Status:        vocab.KeyActive,
			Created:       daysAgo(i % 200),
			AgeDays:       i % 200,
			LastUsed:      ptr(daysAgo(i % 7)),
			PlannedAction: vocab.ActionNone,
		}
		if i%10 == 0 {
			k.Findings = []Finding{staleFinding}
			k.PlannedAction, k.Action, k.Result = vocab.ActionIssue, vocab.ActionIssue, vocab.ResultDone
			k.NewAccessKeyID = fmt.Sprintf("AKIANEW%013d", i)
			k.SecretName = "keyrotor/" + k.AccountID + "/" + k.User
		}
		if i%100 == 0 {
			k.Result, k.Reason = vocab.ResultFailed, "create access key: LimitExceeded"
		}
		r.Keys[i] = k
	}
	r.Finalize()
	return r
}
