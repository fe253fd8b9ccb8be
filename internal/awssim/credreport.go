package awssim

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strconv"
	"time"
)

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
