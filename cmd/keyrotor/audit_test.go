package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/report"
	"keyrotor/test/xlsxcheck"
	"keyrotor/vocab"
)

// auditScenarioYAML is the organization the audit end-to-end tests run
// against. Every user is one case whose findings the tests spell out in
// auditExpect. Ages are measured back from the harness's fixed clock, and
// the CLI runs on the simulator's clock, so 90d is exactly 90 days.
// page_size 2 makes every list call paginate.
const auditScenarioYAML = `
seed: 3
page_size: 2
organization:
  management_account:
    id: "111111111111"
    name: management
    users:
      - {name: mgmt-admin, keys: [{age: 400d, last_used: 1d}]}
  security_account:
    id: "222222222222"
    name: security
    ou: Security
    users:
      - {name: keyrotor-ops, keys: [{age: 20d, last_used: 1h, service: sts}]}
ous:
  - name: Security
  - name: Workloads
    children: [{name: Prod}, {name: Dev}]
role:
  name: KeyrotorRotationRole
  external_id: audit-e2e
accounts:
  - id: "300000000001"
    name: boundaries
    ou: Workloads/Prod
    users:
      - {name: age-89, keys: [{age: 89d, last_used: 1d}]}
      - {name: age-90, keys: [{age: 90d, last_used: 1d}]}
      - {name: age-91, keys: [{age: 91d, last_used: 1d}]}
      - {name: unused-44, keys: [{age: 60d, last_used: 44d}]}
      - {name: unused-45, keys: [{age: 60d, last_used: 45d}]}
      - {name: unused-46, keys: [{age: 60d, last_used: 46d}]}
      - {name: never-44, keys: [{age: 44d, last_used: never}]}
      - {name: never-45, keys: [{age: 45d, last_used: never}]}
      - {name: never-stale, keys: [{age: 120d, last_used: never}]}
      - name: two-active
        keys: [{age: 100d, last_used: 1d}, {age: 10d, last_used: 2d}]
      - name: active-inactive
        keys: [{age: 200d, status: Inactive, last_used: 150d}, {age: 20d, last_used: 1d}]
      - {name: exempt-tag, tags: {"keyrotor:exempt": "true"}, keys: [{age: 300d, last_used: 100d}]}
      - {name: exempt-group, groups: [BreakGlass], keys: [{age: 500d, last_used: never}]}
      - {name: exempt-listed, keys: [{age: 200d, last_used: 2d}]}
      - {name: console-only}
  - id: "300000000002"
    name: clean-dev
    ou: Workloads/Dev
    users:
      - {name: fresh, keys: [{age: 10d, last_used: 1h}]}
      - {name: inactive-only, keys: [{age: 300d, status: Inactive, last_used: 200d}]}
      - {name: exempt-stale, tags: {"keyrotor:exempt": "true"}, keys: [{age: 400d, last_used: 1d}]}
  - id: "300000000003"
    name: suspended
    ou: Workloads/Dev
    status: SUSPENDED
    users:
      - {name: ghost, keys: [{age: 400d}]}
  - id: "300000000004"
    name: wrong-trust
    ou: Workloads/Prod
    role: wrong_trust
    users:
      - {name: unreachable, keys: [{age: 400d}]}
`

// auditExtraYAML exempts one user through accounts.yaml.
const auditExtraYAML = `accounts:
  - id: "300000000001"
    exempt_users: [exempt-listed]
`

// Account IDs of auditScenarioYAML.
const (
	acctMgmt       = "111111111111"
	acctSecurity   = "222222222222"
	acctBoundaries = "300000000001"
	acctClean      = "300000000002"
	acctSuspended  = "300000000003"
	acctWrongTrust = "300000000004"
)

// Finding IDs as the report writes them.
const (
	fStale    = "stale_key"
	fUnused   = "unused_key"
	fMultiple = "multiple_active_keys"
)

// keyExpect is what the report must say about one key, identified by its
// account, user and age in days (a user's two keys differ in age).
type keyExpect struct {
	findings []string
	// exempt is "" or a word the exempt reason must contain.
	exempt string
}

// auditExpect lists every key of the reachable accounts by
// account/user/age_days.
var auditExpect = map[string]keyExpect{
	acctSecurity + "/keyrotor-ops/20":       {},
	acctBoundaries + "/age-89/89":           {},
	acctBoundaries + "/age-90/90":           {findings: []string{fStale}},
	acctBoundaries + "/age-91/91":           {findings: []string{fStale}},
	acctBoundaries + "/unused-44/60":        {},
	acctBoundaries + "/unused-45/60":        {findings: []string{fUnused}},
	acctBoundaries + "/unused-46/60":        {findings: []string{fUnused}},
	acctBoundaries + "/never-44/44":         {},
	acctBoundaries + "/never-45/45":         {findings: []string{fUnused}},
	acctBoundaries + "/never-stale/120":     {findings: []string{fStale, fUnused}},
	acctBoundaries + "/two-active/100":      {findings: []string{fStale, fMultiple}},
	acctBoundaries + "/two-active/10":       {findings: []string{fMultiple}},
	acctBoundaries + "/active-inactive/200": {},
	acctBoundaries + "/active-inactive/20":  {},
	acctBoundaries + "/exempt-tag/300":      {findings: []string{fStale, fUnused}, exempt: "tag"},
	acctBoundaries + "/exempt-group/500":    {findings: []string{fStale, fUnused}, exempt: "BreakGlass"},
	acctBoundaries + "/exempt-listed/200":   {findings: []string{fStale}, exempt: "accounts.yaml"},
	acctClean + "/fresh/10":                 {},
	acctClean + "/inactive-only/300":        {},
	acctClean + "/exempt-stale/400":         {findings: []string{fStale}, exempt: "tag"},
}

func newAuditHarness(t *testing.T) *harness {
	t.Helper()
	sc, err := awssim.ParseScenario("audit-scenario.yaml", []byte(auditScenarioYAML))
	if err != nil {
		t.Fatalf("parse scenario: %v", err)
	}
	return newHarness(t, sc, auditExtraYAML)
}

// outDir names a report directory under the harness's directory, so that
// assertNoSecrets reads the files written there.
func (h *harness) outDir(name string) string {
	return filepath.Join(h.dir, name)
}

// reportFiles returns the single report file of each format in dir.
func reportFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ext := range []string{"json", "xlsx", "csv"} {
		m, err := filepath.Glob(filepath.Join(dir, "*."+ext))
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 {
			t.Fatalf("want one .%s report in %s, found %q", ext, dir, m)
		}
		out[ext] = m[0]
	}
	return out
}

func TestAuditEndToEnd(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	out := h.outDir("audit")
	res := h.runAt("audit", "--out", out)
	if res.code != ExitPartial {
		t.Fatalf("audit exit %d, want %d (one account cannot be assumed)\nstderr:\n%s", res.code, ExitPartial, res.stderr)
	}
	if w := h.sim.WriteCalls(); len(w) > 0 {
		t.Fatalf("audit made %d write calls, first %s", len(w), w[0].Action())
	}

	files := reportFiles(t, out)
	wantName := "keyrotor-audit-" + h.sim.Now().UTC().Format("20060102T150405Z")
	for ext, p := range files {
		if got := filepath.Base(p); got != wantName+"."+ext {
			t.Errorf("report file %s, want %s.%s", got, wantName, ext)
		}
	}
	rep := h.latestReport(out)

	// Run header.
	if rep.SchemaVersion != report.SchemaVersion || rep.Run.Mode != "audit" || rep.Run.Interrupted {
		t.Errorf("run header: schema %q mode %q interrupted %v", rep.SchemaVersion, rep.Run.Mode, rep.Run.Interrupted)
	}
	if !rep.Run.Started.Equal(h.sim.Now()) {
		t.Errorf("run started %v, want the simulated now %v", rep.Run.Started, h.sim.Now())
	}
	if p := rep.Run.Policy; p.MaxKeyAgeDays != 90 || p.UnusedAfterDays != 45 {
		t.Errorf("policy in force %+v, want max 90 unused 45", p)
	}
	wantTargets := []string{acctSecurity, acctBoundaries, acctClean, acctWrongTrust}
	if got := slices.Sorted(slices.Values(rep.Run.AccountsTargets)); !slices.Equal(got, wantTargets) {
		t.Errorf("accounts targeted %v, want %v", got, wantTargets)
	}

	// Accounts: the denied one is an error, the others complete.
	wantStatus := map[string]vocab.AccountStatus{
		acctMgmt:       vocab.AccountSkipped,
		acctSecurity:   vocab.AccountOK,
		acctBoundaries: vocab.AccountOK,
		acctClean:      vocab.AccountOK,
		acctSuspended:  vocab.AccountSkipped,
		acctWrongTrust: vocab.AccountError,
	}
	gotStatus := map[string]vocab.AccountStatus{}
	for _, a := range rep.Accounts {
		if _, dup := gotStatus[a.AccountID]; dup {
			t.Errorf("account %s listed twice", a.AccountID)
		}
		gotStatus[a.AccountID] = a.Status
		switch a.AccountID {
		case acctWrongTrust:
			if !strings.Contains(a.Error, "AccessDenied") || a.Name != "wrong-trust" || a.OU != "Workloads/Prod" {
				t.Errorf("wrong-trust account: %+v", a)
			}
		case acctSuspended:
			if !strings.Contains(a.Error, "SUSPENDED") {
				t.Errorf("suspended account: %+v", a)
			}
		case acctBoundaries:
			if a.Users != 15 || a.Keys != 16 || a.OU != "Workloads/Prod" {
				t.Errorf("boundaries account: %+v, want 15 users, 16 keys", a)
			}
		}
	}
	if !maps.Equal(gotStatus, wantStatus) {
		t.Errorf("account statuses %v, want %v", gotStatus, wantStatus)
	}
	s := rep.Summary
	// Users without keys count too: the summary is of the estate.
	if s.Users != 19 {
		t.Errorf("summary counts %d users, want 19 (console-only included)", s.Users)
	}
	if s.AccountsOK != 3 || s.AccountsFailed != 1 || s.AccountsSkipped != 2 {
		t.Errorf("summary accounts ok/failed/skipped %d/%d/%d, want 3/1/2", s.AccountsOK, s.AccountsFailed, s.AccountsSkipped)
	}

	// Keys: exactly the simulator's keys of the reachable accounts, each once.
	var seeded []awssim.KeyInfo
	for _, id := range []string{acctSecurity, acctBoundaries, acctClean} {
		seeded = append(seeded, h.sim.Keys(id)...)
	}
	if len(rep.Keys) != len(seeded) || len(seeded) != len(auditExpect) {
		t.Fatalf("report lists %d keys, simulator has %d in the reachable accounts, test expects %d",
			len(rep.Keys), len(seeded), len(auditExpect))
	}
	byID := map[string]report.Key{}
	for _, k := range rep.Keys {
		if _, dup := byID[k.AccessKeyID]; dup {
			t.Errorf("key %s listed twice", k.AccessKeyID)
		}
		byID[k.AccessKeyID] = k
	}
	now := h.sim.Now()
	seen := map[string]bool{}
	for _, sk := range seeded {
		k, ok := byID[sk.ID]
		if !ok {
			t.Errorf("seeded key %s of %s/%s missing from the report", sk.ID, sk.AccountID, sk.User)
			continue
		}
		if k.AccountID != sk.AccountID || k.User != sk.User || string(k.Status) != sk.Status || !k.Created.Equal(sk.Created) {
			t.Errorf("key %s: report %s/%s %s %v, simulator %s/%s %s %v", sk.ID,
				k.AccountID, k.User, k.Status, k.Created, sk.AccountID, sk.User, sk.Status, sk.Created)
		}
		if wantAge := int(now.Sub(sk.Created) / (24 * time.Hour)); k.AgeDays != wantAge {
			t.Errorf("key %s age %d days, want %d", sk.ID, k.AgeDays, wantAge)
		}
		if (k.LastUsed == nil) != (sk.LastUsed == nil) || (k.LastUsed != nil && !k.LastUsed.Equal(*sk.LastUsed)) {
			t.Errorf("key %s of %s last used %v, simulator says %v", sk.ID, sk.User, k.LastUsed, sk.LastUsed)
		}
		if sk.LastUsed != nil && (k.LastUsedService != sk.LastService || k.LastUsedRegion != sk.LastRegion) {
			t.Errorf("key %s last used with %s in %s, simulator says %s in %s", sk.ID,
				k.LastUsedService, k.LastUsedRegion, sk.LastService, sk.LastRegion)
		}
		name := fmt.Sprintf("%s/%s/%d", k.AccountID, k.User, k.AgeDays)
		want, ok := auditExpect[name]
		if !ok {
			t.Errorf("unexpected key %s", name)
			continue
		}
		seen[name] = true
		var got []string
		for _, f := range k.Findings {
			got = append(got, f.ID)
			if len(f.Controls) == 0 {
				t.Errorf("%s: finding %s names no control", name, f.ID)
			}
		}
		if !slices.Equal(got, want.findings) {
			t.Errorf("%s: findings %v, want %v", name, got, want.findings)
		}
		if k.Exempt != (want.exempt != "") || !strings.Contains(k.ExemptReason, want.exempt) {
			t.Errorf("%s: exempt %v (%q), want exempt by %q", name, k.Exempt, k.ExemptReason, want.exempt)
		}
		if !vocab.KnownReason(k.ReasonCode) || (want.exempt != "") != (k.ReasonCode == vocab.ReasonExempt) {
			t.Errorf("%s: reason code %q (%s)", name, k.ReasonCode, k.Reason)
		}
		// Audit previews rotate --apply and must not pretend to act.
		if k.Action != "" || (k.Result != "" && k.Result != "planned" && k.Result != "held" && k.Result != "skipped") {
			t.Errorf("%s: audit reports action %q result %q", name, k.Action, k.Result)
		}
		switch {
		case want.exempt != "":
			if k.PlannedAction != "exempt" {
				t.Errorf("%s: planned action %q, want exempt", name, k.PlannedAction)
			}
		case len(want.findings) == 0:
			if k.PlannedAction != "none" {
				t.Errorf("%s: planned action %q, want none", name, k.PlannedAction)
			}
		case slices.Equal(want.findings, []string{fStale}):
			if k.PlannedAction != "issue" || k.Result != "planned" {
				t.Errorf("%s: planned action %q result %q, want issue planned", name, k.PlannedAction, k.Result)
			}
		}
	}
	for name := range auditExpect {
		if !seen[name] {
			t.Errorf("expected key %s not in the report", name)
		}
	}
	for _, k := range rep.Keys {
		if k.AccountID == acctMgmt || k.AccountID == acctSuspended || k.AccountID == acctWrongTrust {
			t.Errorf("key %s of untargeted or failed account %s in the report", k.AccessKeyID, k.AccountID)
		}
	}
	if s.Keys != len(seeded) || s.ExemptKeys != 4 || s.Findings[fStale] != 8 || s.Findings[fUnused] != 6 || s.Findings[fMultiple] != 2 {
		t.Errorf("summary keys %d exempt %d findings %v", s.Keys, s.ExemptKeys, s.Findings)
	}

	// XLSX and CSV agree with the JSON.
	checkXLSX(t, files["xlsx"], len(rep.Keys), len(rep.Accounts))
	checkCSV(t, files["csv"], len(rep.Keys))
	t.Run("openpyxl", func(t *testing.T) { checkXLSXWithOpenpyxl(t, files["xlsx"], files["json"]) })

	// The terminal summary masks key IDs.
	for _, k := range rep.Keys {
		if strings.Contains(res.stderr, k.AccessKeyID) {
			t.Errorf("stderr shows the full access key ID %s", k.AccessKeyID)
			break
		}
	}
	h.assertNoSecrets(res.stdout, res.stderr)
}

// checkXLSX reopens the workbook and checks its sheets and row counts.
func checkXLSX(t *testing.T, path string, keys, accounts int) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("reopen XLSX: %v", err)
	}
	defer f.Close()
	wantSheets := []string{"Summary", "Accounts", "Keys", "Actions", "Errors", "Notifications"}
	if got := f.GetSheetList(); !slices.Equal(got, wantSheets) {
		t.Errorf("XLSX sheets %v, want %v", got, wantSheets)
	}
	for sheet, want := range map[string]int{"Keys": keys + 1, "Accounts": accounts + 1} {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatalf("read sheet %s: %v", sheet, err)
		}
		if len(rows) != want {
			t.Errorf("XLSX sheet %s has %d rows, want %d", sheet, len(rows), want)
		}
	}
}

// checkXLSXWithOpenpyxl has openpyxl, in read-only mode, read the workbook
// through each sheet's declared used range and compare it with the JSON
// report (test/xlsxcheck). It skips when /usr/bin/python3 or openpyxl is
// missing, unless xlsxcheck.RequireEnv demands the check, as .ci/run does.
func checkXLSXWithOpenpyxl(t *testing.T, xlsxPath, jsonPath string) {
	t.Helper()
	out, err := xlsxcheck.Check(context.Background(), xlsxPath, jsonPath)
	switch {
	case errors.Is(err, xlsxcheck.ErrUnavailable) && !xlsxcheck.Required():
		t.Skipf("skipping the openpyxl read-back: %v", err)
	case err != nil:
		t.Fatal(err)
	}
	t.Logf("openpyxl read-only sees:\n%s", out)
}

// checkCSV checks the CSV has a header and one row per key.
func checkCSV(t *testing.T, path string, keys int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v", err)
	}
	if len(rows) != keys+1 {
		t.Errorf("CSV has %d rows, want %d (header + keys)", len(rows), keys+1)
	}
	if len(rows) > 0 && !slices.Contains(rows[0], "access_key_id") {
		t.Errorf("CSV header %v lacks access_key_id", rows[0])
	}
}

func TestAuditExitCodes(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	tests := []struct {
		name string
		args []string
		want int
		// noAWS: the error must be found before any AWS call.
		noAWS bool
	}{
		{"findings without --fail-on-findings", []string{"audit", "--account", acctBoundaries}, ExitOK, false},
		{"only exempt findings", []string{"audit", "--account", acctClean, "--fail-on-findings"}, ExitOK, false},
		{"findings with --fail-on-findings", []string{"audit", "--account", acctBoundaries, "--fail-on-findings"}, ExitFindings, false},
		{"one account fails", []string{"audit"}, ExitPartial, false},
		{"a failed account outranks findings", []string{"audit", "--fail-on-findings"}, ExitPartial, false},
		{"only the failing account", []string{"audit", "--account", acctWrongTrust}, ExitPartial, false},
		{"unknown flag", []string{"audit", "--no-such-flag"}, ExitUsage, true},
		{"unexpected argument", []string{"audit", "everything"}, ExitUsage, true},
		{"unknown command", []string{"audits"}, ExitUsage, true},
		{"bad log format", []string{"--log-format", "xml", "audit"}, ExitUsage, true},
		{"account not a target", []string{"audit", "--account", acctSuspended}, ExitUsage, false},
		{"unknown report format", []string{"audit", "--format", "pdf"}, ExitUsage, true},
		{"bad rotate phase", []string{"rotate", "--phase", "shred"}, ExitUsage, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			calls := len(h.sim.Calls())
			res := h.runAt(append(tc.args, "--out", h.outDir(fmt.Sprintf("exit-%d", i)))...)
			if res.code != tc.want {
				t.Errorf("keyrotor %s: exit %d, want %d\nstderr:\n%s", strings.Join(tc.args, " "), res.code, tc.want, res.stderr)
			}
			if n := len(h.sim.Calls()) - calls; tc.noAWS && n > 0 {
				t.Errorf("keyrotor %s made %d AWS calls before failing", strings.Join(tc.args, " "), n)
			}
			if tc.want == ExitUsage && !strings.HasPrefix(res.stderr, "keyrotor: ") {
				t.Errorf("usage error not explained on stderr: %q", res.stderr)
			}
			h.assertNoSecrets(res.stdout, res.stderr)
		})
	}
	h.t = t
	if w := h.sim.WriteCalls(); len(w) > 0 {
		t.Fatalf("audits made %d write calls, first %s", len(w), w[0].Action())
	}
}

func TestAuditReportNotWritable(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	blocker := filepath.Join(h.dir, "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	res := h.runAt("audit", "--account", acctClean, "--out", filepath.Join(blocker, "reports"))
	if res.code != ExitFailed || !strings.Contains(res.stderr, "write report") {
		t.Fatalf("exit %d, want %d with the report write error on stderr:\n%s", res.code, ExitFailed, res.stderr)
	}
}

func TestAuditConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra string
		// line is the 1-based line of extra the error must name.
		line  int
		field string
	}{
		{"unknown top-level key", "polcy:\n  max_key_age: 90d\n", 1, "polcy"},
		{"unknown nested key", "policy:\n  max_key_age: 90d\n  max_key_agee: 60d\n", 3, "policy.max_key_agee"},
		{"bad duration", "policy:\n  max_key_age: 9x\n", 2, "policy.max_key_age"},
		{"malformed account ID", "accounts:\n  - id: \"12345\"\n", 2, "accounts[0].id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := awssim.ParseScenario("audit-scenario.yaml", []byte(auditScenarioYAML))
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, sc, tc.extra)
			data, err := os.ReadFile(h.config)
			if err != nil {
				t.Fatal(err)
			}
			// The extra YAML is appended verbatim at the end of the file.
			base := strings.Count(string(data), "\n") - strings.Count(tc.extra, "\n")
			for _, cmd := range []string{"audit", "rotate", "accounts"} {
				res := h.runAt(cmd)
				if res.code != ExitUsage {
					t.Errorf("%s: exit %d, want %d\nstderr:\n%s", cmd, res.code, ExitUsage, res.stderr)
				}
				want := fmt.Sprintf("%s:%d: %s", h.config, base+tc.line, tc.field)
				if !strings.Contains(res.stderr, want) {
					t.Errorf("%s: stderr does not name %q:\n%s", cmd, want, res.stderr)
				}
			}
			if calls := h.sim.Calls(); len(calls) > 0 {
				t.Errorf("a bad configuration still reached AWS: %d calls, first %s", len(calls), calls[0].Action())
			}
		})
	}
}

func TestRotateWithoutApplyWritesNothing(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	before := h.sim.Keys("")
	out := h.outDir("plan")
	res := h.runAt("rotate", "--out", out)
	if res.code != ExitPartial {
		t.Fatalf("rotate exit %d, want %d\nstderr:\n%s", res.code, ExitPartial, res.stderr)
	}
	if w := h.sim.WriteCalls(); len(w) > 0 {
		t.Fatalf("rotate without --apply made %d write calls, first %s", len(w), w[0].Action())
	}
	if after := h.sim.Keys(""); !slices.EqualFunc(before, after, func(a, b awssim.KeyInfo) bool {
		return a.ID == b.ID && a.Status == b.Status
	}) {
		t.Fatal("rotate without --apply changed the keys")
	}
	rep := h.latestReport(out)
	if rep.Run.Mode != "plan" {
		t.Errorf("mode %q, want plan", rep.Run.Mode)
	}
	planned := 0
	for _, k := range rep.Keys {
		if k.Action != "" || k.Result == "done" || k.NewAccessKeyID != "" {
			t.Errorf("plan reports key %s of %s as acted on: action %q result %q new %q",
				k.AccessKeyID, k.User, k.Action, k.Result, k.NewAccessKeyID)
		}
		if k.PlannedAction == "issue" && k.Result == "planned" {
			planned++
		}
	}
	if planned == 0 {
		t.Error("the plan issues no key, though the scenario has stale keys")
	}
	checkCSV(t, filepath.Join(out, report.FileName(rep, report.FormatCSV)), len(rep.Keys))
	h.assertNoSecrets(res.stdout, res.stderr)
}

func TestAccountsPreflight(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	res := h.runAt("accounts")
	if res.code != ExitPartial {
		t.Fatalf("accounts exit %d, want %d\nstderr:\n%s", res.code, ExitPartial, res.stderr)
	}
	rows := map[string]string{}
	lines := strings.Split(strings.TrimRight(res.stdout, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "ACCOUNT") {
		t.Fatalf("no table header:\n%s", res.stdout)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 2 {
			t.Fatalf("bad table row %q", l)
		}
		rows[f[0]] = l
	}
	for id, want := range map[string]string{
		acctSecurity:   "ready",
		acctBoundaries: "ready",
		acctClean:      "ready",
		acctWrongTrust: "NOT READY",
		acctMgmt:       "skipped",
		acctSuspended:  "skipped",
	} {
		row, ok := rows[id]
		if !ok {
			t.Errorf("account %s missing from the table:\n%s", id, res.stdout)
			continue
		}
		if !strings.Contains(row, "  "+want) {
			t.Errorf("account %s: %q, want %s", id, row, want)
		}
	}
	if len(rows) != 6 {
		t.Errorf("table has %d accounts, want 6:\n%s", len(rows), res.stdout)
	}
	if !strings.Contains(rows[acctWrongTrust], "AccessDenied") || !strings.Contains(rows[acctBoundaries], "Workloads/Prod") {
		t.Errorf("rows lack the reason or the OU:\n%s", res.stdout)
	}
	if !strings.Contains(res.stderr, "1 of 4 accounts") {
		t.Errorf("stderr does not count the failing accounts: %q", res.stderr)
	}
	if w := h.sim.WriteCalls(); len(w) > 0 {
		t.Fatalf("preflight made %d write calls, first %s", len(w), w[0].Action())
	}

	res = h.runAt("accounts", "--account", acctClean)
	if res.code != ExitOK || strings.Count(strings.TrimSpace(res.stdout), "\n") != 1 {
		t.Errorf("accounts --account %s: exit %d\n%s%s", acctClean, res.code, res.stdout, res.stderr)
	}
}

func TestAuditJSONLogs(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	res := h.runAt("--log-format", "json", "audit", "--out", h.outDir("json-logs"))
	if res.code != ExitPartial {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", res.code, ExitPartial, res.stderr)
	}
	msgs := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(res.stderr))
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("stderr line is not JSON: %q", line)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Fatalf("log record without %q: %s", k, line)
			}
		}
		msgs[rec["msg"].(string)] = rec
		n++
	}
	for _, m := range []string{"run starting", "account failed", "run finished", "run summary"} {
		if _, ok := msgs[m]; !ok {
			t.Errorf("no %q record among %d JSON log lines:\n%s", m, n, res.stderr)
		}
	}
	if rec := msgs["account failed"]; rec != nil && (rec["level"] != "ERROR" || rec["account"] != acctWrongTrust) {
		t.Errorf("account failure record: %v", rec)
	}
	if rec := msgs["run summary"]; rec != nil && (rec["accounts_failed"] != float64(1) || rec["keys"] != float64(len(auditExpect))) {
		t.Errorf("summary record: %v", rec)
	}
	h.assertNoSecrets(res.stdout, res.stderr)

	// An error that ends the run is a JSON record too.
	res = h.runAt("--log-format", "json", "audit", "--account", acctSuspended)
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(res.stderr)), &rec); err != nil || res.code != ExitUsage ||
		rec["exit_code"] != float64(ExitUsage) {
		t.Errorf("usage error with JSON logs: exit %d, stderr %q", res.code, res.stderr)
	}
}

// setConcurrency rewrites the harness's concurrency settings.
func (h *harness) setConcurrency(accounts, perAccount int) {
	h.t.Helper()
	data, err := os.ReadFile(h.config)
	if err != nil {
		h.t.Fatal(err)
	}
	old := "concurrency:\n  accounts: 4\n  per_account: 2\n"
	if !bytes.Contains(data, []byte(old)) {
		h.t.Fatal("harness config has changed; update setConcurrency")
	}
	data = bytes.Replace(data, []byte(old), fmt.Appendf(nil, "concurrency:\n  accounts: %d\n  per_account: %d\n", accounts, perAccount), 1)
	if err := os.WriteFile(h.config, data, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func TestAuditInterrupted(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	// One account at a time, one call at a time, each call slow: the run is
	// still in its second account when it is interrupted.
	h.setConcurrency(1, 1)
	h.sim.SetLatency("*", 15*time.Millisecond)
	out := h.outDir("interrupted")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	cancelled := make(chan struct{})
	go func() {
		// Targets run in account ID order; the first is the security
		// account. A call inside the second one means the first is done.
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if slices.ContainsFunc(h.sim.Calls(), func(c awssim.Call) bool { return c.AccountID == acctBoundaries }) {
				cancel()
				close(cancelled)
				return
			}
		}
	}()
	var stdout, stderr awssimtest.SyncBuffer
	code := run(ctx, []string{"--config", h.config, "audit", "--out", out}, h.env(&stdout, &stderr, h.sim.Now))
	close(stop)
	select {
	case <-cancelled:
	default:
		t.Fatalf("the run ended (exit %d) before the test could interrupt it\n%s", code, stderr.String())
	}
	if code != ExitPartial {
		t.Errorf("interrupted audit exit %d, want %d\nstderr:\n%s", code, ExitPartial, stderr.String())
	}
	rep := h.latestReport(out)
	if !rep.Run.Interrupted {
		t.Error("report does not say the run was interrupted")
	}
	status := map[string]report.Account{}
	for _, a := range rep.Accounts {
		status[a.AccountID] = a
	}
	if a := status[acctSecurity]; a.Status != vocab.AccountOK {
		t.Errorf("the account finished before the interrupt is %+v, want ok", a)
	}
	if a := status[acctBoundaries]; a.Status == vocab.AccountOK {
		t.Errorf("the account interrupted mid-inventory is reported ok: %+v", a)
	}
	for _, id := range []string{acctClean, acctWrongTrust} {
		if a := status[id]; a.Status != vocab.AccountSkipped || !strings.Contains(a.Error, "interrupted") {
			t.Errorf("account %s not started before the interrupt: %+v, want skipped", id, a)
		}
	}
	if len(rep.Keys) != len(h.sim.Keys(acctSecurity)) {
		t.Errorf("report lists %d keys, want the %d of the finished account", len(rep.Keys), len(h.sim.Keys(acctSecurity)))
	}
	for _, k := range rep.Keys {
		if k.AccountID != acctSecurity {
			t.Errorf("key %s of %s reported from an unfinished inventory", k.AccessKeyID, k.AccountID)
		}
	}
	for _, id := range []string{acctClean, acctWrongTrust} {
		for _, c := range h.sim.Calls() {
			if c.AccountID == id {
				t.Errorf("account %s was called after the interrupt: %s", id, c.Action())
				break
			}
		}
	}
	if w := h.sim.WriteCalls(); len(w) > 0 {
		t.Fatalf("audit made %d write calls, first %s", len(w), w[0].Action())
	}
	h.assertNoSecrets(stdout.String(), stderr.String())
}
