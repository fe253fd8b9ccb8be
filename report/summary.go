package report

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"keyrotor/vocab"
)

// SummaryOptions tunes WriteSummary.
type SummaryOptions struct {
	// MaxLines caps how many failed or skipped accounts, and how many failed
	// keys, are listed; the rest are counted. 0 means 10; negative means no
	// cap.
	MaxLines int
	// Files lists report files written for the run, printed last.
	Files []string
}

// defaultMaxLines keeps the summary short enough to read at a glance.
const defaultMaxLines = 10

// keyIDInText matches IAM access key IDs (long-term AKIA, temporary
// ASIA) inside free text such as error messages.
var keyIDInText = regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{12,124}\b`)

// MaskKeyID shows only the last four characters of an access key ID, as in
// "…ABCD"; the terminal is often captured into logs that many people read.
func MaskKeyID(id string) string {
	if id == "" {
		return ""
	}
	runes := []rune(id)
	if len(runes) <= 4 {
		return "…"
	}
	return "…" + string(runes[len(runes)-4:])
}

// MaskKeyIDs masks every access key ID in free text (an error message, a
// log line) with MaskKeyID.
func MaskKeyIDs(s string) string {
	return keyIDInText.ReplaceAllStringFunc(s, MaskKeyID)
}

// maskText masks every access key ID in s and puts it on one line, so that
// one cell cannot break the table.
func maskText(s string) string {
	s = MaskKeyIDs(s)
	return strings.Map(func(r rune) rune {
		switch r {
		case '\n', '\r', '\t', '\v', '\f':
			return ' '
		}
		return r
	}, s)
}

// WriteSummary writes a short, human summary of a finalized report, meant
// for stderr: totals, compliance, findings, action and result counts, the
// accounts that failed or were skipped and the keys whose action failed,
// each with its error. Access key IDs are masked to their last four
// characters everywhere in the output.
func WriteSummary(w io.Writer, r *Report, opts SummaryOptions) error {
	maxLines := cmp.Or(opts.MaxLines, defaultMaxLines)
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	line := func(cells ...any) {
		for i, c := range cells {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, maskText(fmt.Sprint(c)))
		}
		fmt.Fprint(tw, "\n")
	}
	capped := func(n int) (shown int, more int) {
		if maxLines < 0 || n <= maxLines {
			return n, 0
		}
		return maxLines, n - maxLines
	}

	run, sum := r.Run, r.Summary
	head := fmt.Sprintf("keyrotor %s run", run.Mode)
	if run.ID != "" {
		head += " " + run.ID
	}
	if !run.Started.IsZero() {
		head += ", started " + run.Started.UTC().Format(time.RFC3339)
		if !run.Ended.IsZero() {
			head += ", took " + run.Ended.Sub(run.Started).Round(time.Second).String()
		}
	}
	line(head)
	if run.Interrupted {
		line("INTERRUPTED: the report covers only the work finished before the stop")
	}
	line("Accounts:", fmt.Sprintf("%d ok, %d failed, %d skipped (%d targeted)",
		sum.AccountsOK, sum.AccountsFailed, sum.AccountsSkipped, len(run.AccountsTargets)))
	line("Users:", sum.Users)
	line("Keys:", fmt.Sprintf("%d (%d active, %d exempt)", sum.Keys, sum.ActiveKeys, sum.ExemptKeys))
	line("Compliance:", complianceLine(sum, eligibleKeys(r.Keys)))

	counts := func(title string, m map[string]int) {
		if len(m) == 0 {
			return
		}
		line()
		line(title)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			line("  "+k, m[k])
		}
	}
	counts("Findings:", sum.Findings)
	counts("Actions:", stringCounts(sum.Actions))
	counts("Results:", stringCounts(sum.Results))

	var bad []*Account
	for i := range r.Accounts {
		if a := &r.Accounts[i]; a.Status == vocab.AccountError || a.Status == vocab.AccountSkipped {
			bad = append(bad, a)
		}
	}
	if len(bad) > 0 {
		line()
		line("Failed or skipped accounts:")
		shown, more := capped(len(bad))
		for _, a := range bad[:shown] {
			line("  "+a.AccountID, cmp.Or(a.Name, "-"), a.Status, cmp.Or(a.Error, "-"))
		}
		if more > 0 {
			line(fmt.Sprintf("  ... and %d more (see the report's Errors sheet)", more))
		}
	}

	var failed []*Key
	for i := range r.Keys {
		if k := &r.Keys[i]; k.Result == vocab.ResultFailed {
			failed = append(failed, k)
		}
	}
	if len(failed) > 0 {
		line()
		line("Failed key actions:")
		shown, more := capped(len(failed))
		for _, k := range failed[:shown] {
			line("  "+k.AccountID, k.User, MaskKeyID(k.AccessKeyID), cmp.Or(k.Action, k.PlannedAction), cmp.Or(k.Reason, "-"))
		}
		if more > 0 {
			line(fmt.Sprintf("  ... and %d more (see the report's Errors sheet)", more))
		}
	}

	if len(opts.Files) > 0 {
		line()
		line("Reports:")
		for _, f := range opts.Files {
			line("  " + f)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("format summary: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// complianceLine says what the compliance figure covers: never a bare
// percentage when some accounts' keys were not seen, and "n/a" when none
// were, since no key was shown to be compliant.
func complianceLine(sum Summary, eligible int) string {
	unseen := ""
	if sum.AccountsUnseen > 0 {
		unseen = fmt.Sprintf("; the keys of %d account(s) were not seen (%d failed, %d skipped)",
			sum.AccountsUnseen, sum.AccountsFailed, sum.AccountsSkipped)
	}
	if sum.CompliancePct == nil {
		return NotApplicable + ": no account's keys were seen" + unseen
	}
	return fmt.Sprintf("%.1f%% (%d of %d active, non-exempt keys have no %s finding)%s",
		*sum.CompliancePct, sum.CompliantKeys, eligible, FindingStaleKey, unseen)
}

// eligibleKeys counts the keys that compliance is measured over.
func eligibleKeys(keys []Key) int {
	n := 0
	for i := range keys {
		if keys[i].Status == vocab.KeyActive && !keys[i].Exempt {
			n++
		}
	}
	return n
}

// LogSummary records the summary WriteSummary prints as one structured log
// record, for schedulers whose log pipeline takes nothing but JSON lines.
func LogSummary(log *slog.Logger, r *Report, files []string) {
	s := r.Summary
	var pct any // null in JSON when no key was seen
	if s.CompliancePct != nil {
		pct = *s.CompliancePct
	}
	log.Info("run summary", "run", r.Run.ID, "mode", r.Run.Mode, "interrupted", r.Run.Interrupted,
		"accounts_ok", s.AccountsOK, "accounts_failed", s.AccountsFailed, "accounts_skipped", s.AccountsSkipped,
		"accounts_unseen", s.AccountsUnseen, "accounts_targeted", len(r.Run.AccountsTargets),
		"users", s.Users, "keys", s.Keys, "active_keys", s.ActiveKeys, "exempt_keys", s.ExemptKeys,
		"compliance_pct", pct, "findings", s.Findings, "actions", s.Actions, "results", s.Results,
		"files", files)
}
