package awssim

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"slices"
	"strconv"
	"time"
)

// IAM's credential report: GenerateCredentialReport takes a snapshot of
// the account's users and keys (the credentialReport model.go keeps), and
// GetCredentialReport returns it as the CSV AWS writes.

// Credential report states, as GenerateCredentialReport reports them.
const (
	ReportStarted    = "STARTED"
	ReportInProgress = "INPROGRESS"
	ReportComplete   = "COMPLETE"
)

type iamGenerateCredentialReportResult struct {
	State       string `xml:"State"`
	Description string `xml:"Description"`
}

type iamGetCredentialReportResult struct {
	Content       string `xml:"Content"`
	ReportFormat  string `xml:"ReportFormat"`
	GeneratedTime string `xml:"GeneratedTime"`
}

func iamGenerateCredentialReport(r *Request) (any, error) {
	a := r.Account
	rep := a.credRep
	switch {
	case rep == nil || rep.stale(r.Now):
		a.credRep = newCredentialReport(a, r.Now, r.Sim.credReportDelay)
		return iamGenerateCredentialReportResult{State: ReportStarted,
			Description: "No report exists. Starting a new report generation task"}, nil
	case !rep.ready(r.Now):
		return iamGenerateCredentialReportResult{State: ReportInProgress,
			Description: "Report generation task is in progress"}, nil
	default:
		return iamGenerateCredentialReportResult{State: ReportComplete,
			Description: "Report is complete"}, nil
	}
}

func iamGetCredentialReport(r *Request) (any, error) {
	rep := r.Account.credRep
	if rep == nil {
		return nil, apiErr(410, "ReportNotPresent",
			"Credential report not present. Generate a credential report with GenerateCredentialReport.")
	}
	if !rep.ready(r.Now) {
		return nil, apiErr(404, "ReportInProgress", "Credential report generation is in progress. Try again later.")
	}
	return iamGetCredentialReportResult{
		Content:       base64.StdEncoding.EncodeToString(rep.content),
		ReportFormat:  "text/csv",
		GeneratedTime: ISO(rep.generated),
	}, nil
}

// reportTime formats a credential-report timestamp: ISO 8601 with an
// explicit +00:00 offset, as AWS writes them.
func reportTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

// credReportColumns are the credential report's columns, in AWS's order.
var credReportColumns = []string{
	"user", "arn", "user_creation_time", "password_enabled", "password_last_used",
	"password_last_changed", "password_next_rotation", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
	"access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
	"access_key_2_last_used_region", "access_key_2_last_used_service",
	"cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
}

// newCredentialReport snapshots the account's report now; it is ready
// after delay.
func newCredentialReport(a *Account, now time.Time, delay time.Duration) *credentialReport {
	return &credentialReport{generated: now, readyAt: now.Add(delay), content: credentialReportCSV(a)}
}

// credentialReportCSV renders the account's credential report. The root
// user's row comes first, as AWS writes it: its password columns say
// not_supported (password_last_used says no_information, since the
// simulator records no console sign-in), and its access key columns show
// the root user's own keys (AddRootAccessKey, a scenario's root_keys).
// Keys handed out by RootCredentials are test scaffolding and are not
// reported. The simulator tracks neither MFA devices, password use nor
// signing certificates, so those columns hold what AWS writes for a user
// without them.
func credentialReportCSV(a *Account) []byte {
	var buf bytes.Buffer
	buf.Grow(256 * (len(a.users) + 2))
	w := csv.NewWriter(&buf)
	_ = w.Write(credReportColumns)
	row := make([]string, 0, len(credReportColumns))

	row = append(row, "<root_account>", "arn:aws:iam::"+a.ID+":root", reportTime(a.JoinedAt),
		"not_supported", "no_information", "not_supported", "not_supported", "false")
	var rootKeys []*AccessKey
	if a.iamx != nil && a.iamx.root != nil {
		rootKeys = a.iamx.root.Keys
	}
	row = appendKeySlots(row, rootKeys)
	row = append(row, "false", "N/A", "false", "N/A")
	_ = w.Write(row)

	for _, name := range a.sortedUsersLocked() {
		u := a.users[name]
		row = append(row[:0], u.Name, u.ARN, reportTime(u.Created))
		if u.PasswordEnabled {
			row = append(row, "true", "no_information", reportTime(u.Created), "N/A")
		} else {
			row = append(row, "false", "N/A", "N/A", "N/A")
		}
		row = append(row, "false")
		row = appendKeySlots(row, u.Keys)
		row = append(row, "false", "N/A", "false", "N/A")
		_ = w.Write(row)
	}
	w.Flush()
	// AWS's report has no newline after its last row.
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// appendKeySlots adds both access key slots; slot 1 is the older key,
// whatever order the keys were added in.
func appendKeySlots(row []string, keys []*AccessKey) []string {
	keys = slices.Clone(keys)
	slices.SortStableFunc(keys, func(x, y *AccessKey) int { return x.Created.Compare(y.Created) })
	for slot := range 2 {
		var k *AccessKey
		if slot < len(keys) {
			k = keys[slot]
		}
		row = appendKeyColumns(row, k)
	}
	return row
}

// appendKeyColumns adds one access key slot's five columns.
func appendKeyColumns(row []string, k *AccessKey) []string {
	if k == nil {
		return append(row, "false", "N/A", "N/A", "N/A", "N/A")
	}
	row = append(row, strconv.FormatBool(k.Status == "Active"), reportTime(k.Created))
	if k.LastUsed == nil {
		return append(row, "N/A", "N/A", "N/A")
	}
	return append(row, reportTime(*k.LastUsed), orNA(k.LastRegion), orNA(k.LastService))
}

func orNA(s string) string {
	if s == "" {
		return "N/A"
	}
	return s
}
