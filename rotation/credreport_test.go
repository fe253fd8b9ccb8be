package rotation

import (
	"strings"
	"testing"
	"time"
)

var reportGenerated = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

// reportCSV has the columns in a different order than AWS writes them and
// an extra column, to prove columns are found by name.
const reportCSV = `arn,access_key_2_last_used_service,user,extra_column,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region
arn:aws:iam::222222222222:root,N/A,<root_account>,x,N/A,N/A,N/A,N/A,N/A,N/A,N/A
arn:aws:iam::222222222222:user/alice,iam,alice,x,2026-05-01T10:00:00+00:00,2026-11-20T08:30:00+00:00,eu-west-1,s3,2026-10-01T09:15:30+00:00,2026-11-25T23:59:59+00:00,N/A
arn:aws:iam::222222222222:user/bob,N/A,bob,x,2026-06-01T00:00:00+00:00,N/A,N/A,N/A,N/A,N/A,N/A
arn:aws:iam::222222222222:user/twin,N/A,twin,x,2026-07-01T00:00:00+00:00,2026-11-01T00:00:00+00:00,us-east-1,s3,2026-07-01T00:00:00+00:00,N/A,N/A
arn:aws:iam::222222222222:user/late,N/A,late,x,2026-11-26T06:00:00+00:00,N/A,N/A,N/A,N/A,N/A,N/A
`

func TestCredentialReportLastUsed(t *testing.T) {
	rep, err := parseCredentialReport([]byte(reportCSV), reportGenerated)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	alice := User{Name: "alice", ARN: "arn:aws:iam::222222222222:user/alice"}
	tests := []struct {
		name    string
		user    User
		created time.Time
		wantOK  bool
		used    string // "" = never used
		service string
		region  string
	}{
		{name: "slot 1", user: alice, created: at("2026-05-01T10:00:00Z"), wantOK: true,
			used: "2026-11-20T08:30:00Z", service: "s3", region: "eu-west-1"},
		{name: "slot 2, region N/A", user: alice, created: at("2026-10-01T09:15:30Z"), wantOK: true,
			used: "2026-11-25T23:59:59Z", service: "iam"},
		{name: "sub-second creation matches its second", user: alice,
			created: at("2026-10-01T09:15:30Z").Add(400 * time.Millisecond), wantOK: true,
			used: "2026-11-25T23:59:59Z", service: "iam"},
		{name: "never used", user: User{Name: "bob"}, created: at("2026-06-01T00:00:00Z"), wantOK: true},
		{name: "no slot with that creation time", user: alice, created: at("2026-05-01T10:00:01Z")},
		{name: "two slots created in the same second", user: User{Name: "twin"}, created: at("2026-07-01T00:00:00Z")},
		{name: "user not in the report", user: User{Name: "carol"}, created: at("2026-05-01T10:00:00Z")},
		{name: "another user of the same name", user: User{Name: "alice", ARN: "arn:aws:iam::222222222222:user/ops/alice"},
			created: at("2026-05-01T10:00:00Z")},
		// A key created in the report's own second may or may not be in it.
		{name: "created when the report was generated", user: User{Name: "late"}, created: reportGenerated},
		{name: "created after the report was generated", user: alice, created: reportGenerated.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			used, service, region, ok := rep.lastUsed(tc.user, Key{ID: "AKIAEXAMPLEEXAMPLE00", Created: tc.created})
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			switch {
			case tc.used == "" && used != nil:
				t.Errorf("used = %v, want never", *used)
			case tc.used != "" && (used == nil || !used.Equal(at(tc.used))):
				t.Errorf("used = %v, want %s", used, tc.used)
			}
			if service != tc.service || region != tc.region {
				t.Errorf("service/region = %q %q, want %q %q", service, region, tc.service, tc.region)
			}
		})
	}
	var nilReport *credentialReport
	if _, _, _, ok := nilReport.lastUsed(alice, Key{Created: at("2026-05-01T10:00:00Z")}); ok {
		t.Error("a missing report answered")
	}
}

func TestParseCredentialReportErrors(t *testing.T) {
	tests := []struct {
		name, csv, want string
	}{
		{"empty", "", "header"},
		{"no user column", "arn,access_key_1_last_rotated,access_key_1_last_used_date\n", "no user column"},
		{"no key columns", "user,arn\nalice,arn:aws:iam::1:user/alice\n", "no access key columns"},
		{"bad rotated time", "user,access_key_1_last_rotated,access_key_1_last_used_date\nalice,yesterday,N/A\n",
			"line 2, access_key_1_last_rotated"},
		{"bad used time", "user,access_key_1_last_rotated,access_key_1_last_used_date\nalice,2026-05-01T10:00:00+00:00,soon\n",
			"line 2, access_key_1_last_used_date"},
		{"bad quoting", "user,access_key_1_last_rotated,access_key_1_last_used_date\n\"alice,N/A,N/A\n", "read credential report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCredentialReport([]byte(tc.csv), reportGenerated)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
