package notify

import (
	"slices"
	"time"

	"keyrotor/rotation"
	"keyrotor/vocab"
)

// sampleNoticeMails returns the data of two notices of kind e: one with
// every field set, and one with every optional field empty and the
// security-team fallback, so that both sides of each {{if}} in a template
// run once.
func sampleNoticeMails(cfg Settings, e rotation.Event) []NoticeMail {
	at := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	used := at.Add(-2 * time.Hour)
	full := rotation.Notice{
		Kind: e, AccountID: "123456789012", AccountName: "sample-account",
		User: "alice", UserARN: "arn:aws:iam::123456789012:user/alice",
		UserTags: map[string]string{"email": "alice@example.com"},
		OldKeyID: "AKIAOLDSAMPLE0000001", NewKeyID: "AKIANEWSAMPLE0000002",
		SecretName:   "keyrotor/123456789012/alice",
		SecretARN:    "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyrotor/123456789012/alice-AbCdEf",
		SecretRegion: "us-east-1", DeactivateOn: at.Add(7 * 24 * time.Hour), HardDeadline: at.Add(30 * 24 * time.Hour), DeleteOn: at.Add(14 * 24 * time.Hour),
		LastUsed: &used, LastUsedService: "s3", LastUsedRegion: "eu-west-1", Time: at,
	}
	minimal := rotation.Notice{
		Kind: e, AccountID: "123456789012", User: "alice", OldKeyID: "AKIAOLDSAMPLE0000001",
		NewKeyID: "AKIANEWSAMPLE0000002", SecretName: "keyrotor/123456789012/alice", Time: at,
	}
	switch e {
	case rotation.EventDeleted:
		minimal.NewKeyID, minimal.SecretName = "", ""
	case rotation.EventHeld:
		full.Code, full.Reason, full.HoldUntil = vocab.ReasonTwoKeys, "the user already has two keys: delete the inactive one", at.Add(3*24*time.Hour)
		full.Fix = "aws iam delete-access-key --user-name alice --access-key-id AKIAOTHERSAMPLE00003; aws iam untag-user --user-name alice --tag-keys keyrotor:AKIAOLDSAMPLE0000001"
		minimal.Code, minimal.Reason, minimal.NewKeyID, minimal.SecretName = vocab.ReasonLastUseUnconfirmed, "last use not confirmed", "", ""
	case rotation.EventDueSoon:
		full.RotateOn, minimal.RotateOn = at.Add(14*24*time.Hour), at.Add(3*24*time.Hour)
		minimal.NewKeyID, minimal.SecretName = "", ""
	}
	fm := noticeMail(cfg, full, Recipients{To: []string{"alice@example.com"}, Source: SourceTag, Tag: "email"})
	if len(fm.SecurityTeam) == 0 {
		fm.SecurityTeam = []string{"security@example.com"}
	}
	mm := noticeMail(cfg, minimal, Recipients{
		To: []string{"security@example.com"}, Source: SourceSecurityTeam,
		Skipped: []string{`tag email: invalid address "alice": not an email address`},
	})
	mm.SecurityTeam = nil
	out := []NoticeMail{fm, mm}
	if e == rotation.EventHeld {
		// A template may say something of its own for a code: render every
		// code once, the security-relevant ones included.
		codes := vocab.Reasons()
		slices.Sort(codes)
		for _, c := range codes {
			n := full
			n.Code, n.Reason = c, c.Title()
			out = append(out, noticeMail(cfg, n, Recipients{To: []string{"alice@example.com"}, Source: SourceTag, Tag: "email"}))
		}
	}
	return out
}

// sampleDigests are a busy and an empty digest, for startup validation.
func sampleDigests() []DigestMail {
	at := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	full := DigestMail{
		Digest: Digest{
			RunID: "20261126T060000Z-abcd", Mode: "apply", Started: at, Finished: at.Add(3 * time.Minute),
			Accounts: 12, AccountsFailed: 1, AccountsSkipped: 2, AccountsTargeted: 14, Keys: 340,
			Compliance: "97.5% of the keys seen", CompliancePct: 97.5, HasCompliance: true,
			Counts: []DigestCount{{Action: "issue", Result: "done", Count: 4}, {Action: "hold", Result: "held", Count: 2}},
			Held: []HeldKey{{AccountID: "123456789012", AccountName: "payments-prod", User: "alice", KeyID: "AKIAOLDSAMPLE0000001",
				Code: "two_keys", Title: "two keys already", Reason: "the user already has two keys",
				Fix: "aws iam delete-access-key --user-name alice --access-key-id AKIAOTHERSAMPLE00003"},
				{AccountID: "123456789012", User: "bob", KeyID: "AKIAOLDSAMPLE0000009", Code: "last_use_unconfirmed", Reason: "last use not confirmed"}},
			HeldTotal: 202, HeldMore: 200,
			FailedAccounts:  []FailedAccount{{ID: "123456789012", Name: "payments-prod", Error: "assume role: AccessDenied"}},
			SkippedAccounts: []FailedAccount{{ID: "210987654321", Name: "sandbox", Error: "account is SUSPENDED"}},
			NotifyFailures: []NotifyFailure{{AccountID: "123456789012", User: "alice", KeyID: "AKIAOLDSAMPLE0000001",
				Event: "issued", Error: "notify: no recipient"}},
			ReportFiles: []string{"reports/keyrotor-20261126T060000Z.xlsx"},
			ReportS3:    []string{"s3://bucket/keyrotor/keyrotor-20261126T060000Z.xlsx"},
		},
		AttachmentName: "keyrotor-20261126T060000Z.xlsx",
		AttachmentNote: "The report is too large to attach.",
	}
	empty := DigestMail{Digest: Digest{RunID: "20261126T060000Z-abcd", Mode: "audit", Compliance: "n/a: no account's keys were seen"}}
	return []DigestMail{full, empty}
}
