package notify

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"keyrotor/report"
	"keyrotor/vocab"
)

// DigestOptions are what a digest says beyond the report itself.
type DigestOptions struct {
	// Files and S3 are where the report was written.
	Files, S3 []string
	// AttachXLSX attaches the XLSX file among Files.
	AttachXLSX bool
}

// MaxDigestHeld is how many held keys a digest lists; it counts the rest,
// which the report lists, so that a mail stays readable in an estate with
// thousands of holds.
const MaxDigestHeld = 200

// BuildDigest summarizes a finished run for the security team from its
// report: the run's times, accounts, compliance, the actions taken by
// result, every held key with its reason and fix, failed accounts and
// undelivered notices.
func BuildDigest(rep *report.Report, o DigestOptions) (Digest, error) {
	sum := rep.Summary
	d := Digest{
		RunID: rep.Run.ID, Mode: string(rep.Run.Mode), Started: rep.Run.Started, Finished: rep.Run.Ended,
		AccountsTargeted: len(rep.Run.AccountsTargets), Keys: sum.Keys,
		Compliance: compliance(sum), ReportFiles: o.Files, ReportS3: o.S3,
	}
	if sum.CompliancePct != nil {
		d.CompliancePct, d.HasCompliance = *sum.CompliancePct, true
	}
	counts := map[DigestCount]int{}
	for _, k := range rep.Keys {
		if k.Action != "" {
			counts[DigestCount{Action: string(k.Action), Result: string(k.Result)}]++
		}
		if k.Result == vocab.ResultHeld {
			d.HeldTotal++
			d.Held = append(d.Held, HeldKey{AccountID: k.AccountID, AccountName: k.AccountName, User: k.User,
				KeyID: k.AccessKeyID, Code: string(k.ReasonCode), Title: k.ReasonCode.Title(), Reason: k.Reason, Fix: k.Fix})
		}
	}
	slices.SortFunc(d.Held, func(a, b HeldKey) int {
		return cmp.Or(strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.User, b.User), strings.Compare(a.KeyID, b.KeyID))
	})
	if len(d.Held) > MaxDigestHeld {
		d.Held, d.HeldMore = d.Held[:MaxDigestHeld], len(d.Held)-MaxDigestHeld
	}
	for c, n := range counts {
		c.Count = n
		d.Counts = append(d.Counts, c)
	}
	slices.SortFunc(d.Counts, func(a, b DigestCount) int {
		return cmp.Or(strings.Compare(a.Action, b.Action), strings.Compare(a.Result, b.Result))
	})
	for _, a := range rep.Accounts {
		switch a.Status {
		case vocab.AccountOK:
			d.Accounts++
		case vocab.AccountError:
			d.AccountsFailed++
			d.FailedAccounts = append(d.FailedAccounts, FailedAccount{ID: a.AccountID, Name: a.Name, Error: a.Error})
		case vocab.AccountSkipped:
			d.AccountsSkipped++
			d.SkippedAccounts = append(d.SkippedAccounts, FailedAccount{ID: a.AccountID, Name: a.Name, Error: a.Error})
		}
	}
	for _, nt := range rep.Notifications {
		if nt.Result == vocab.NotifyFailed {
			d.NotifyFailures = append(d.NotifyFailures, NotifyFailure{AccountID: nt.AccountID, User: nt.User,
				KeyID: nt.AccessKeyID, Event: nt.Event, Error: nt.Error})
		}
	}
	if o.AttachXLSX {
		for _, f := range o.Files {
			if strings.HasSuffix(f, "."+report.FormatXLSX) {
				data, err := os.ReadFile(f)
				if err != nil {
					return Digest{}, fmt.Errorf("attach report %s: %w", f, err)
				}
				d.Attachment = &Attachment{Name: filepath.Base(f), Data: data}
			}
		}
	}
	return d, nil
}

// compliance words the run's compliance figure for the digest, saying
// what it does not cover.
func compliance(sum report.Summary) string {
	unseen := ""
	if sum.AccountsUnseen > 0 {
		unseen = fmt.Sprintf("; the keys of %d account(s) were not seen", sum.AccountsUnseen)
	}
	if sum.CompliancePct == nil {
		return report.NotApplicable + ": no account's keys were seen" + unseen
	}
	return fmt.Sprintf("%.1f%% of the active, non-exempt keys seen have no stale_key finding%s", *sum.CompliancePct, unseen)
}
