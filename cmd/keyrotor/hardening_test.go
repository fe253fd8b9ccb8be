package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/vocab"
)

// These tests are issue 11's items 2, 3, 5 and 8 end to end: outputs are
// checked before any change, no run reads green when it saw nothing, and
// JSON logs are nothing but JSON.

// noWrites fails when a run changed anything in IAM or Secrets Manager or
// sent mail.
func noWrites(t *testing.T, h *harness, what string) {
	t.Helper()
	for _, c := range h.sim.WriteCalls() {
		if c.Service != "s3" {
			t.Errorf("%s: the run changed %s in %s", what, c.Action(), c.AccountID)
		}
	}
	if n := len(h.sim.Outbox()); n != 0 {
		t.Errorf("%s: the run sent %d messages", what, n)
	}
}

// TestOutputsCheckedBeforeAnyChange: an output the run could not write
// stops it before the first change. Before, `rotate --apply --out /proc/x`
// issued every key, mailed the owners, then failed with no report.
func TestOutputsCheckedBeforeAnyChange(t *testing.T) {
	t.Parallel()
	h := newMailHarness(t, mailScenario(t, mailNotifyOffScenario), defaultMailConfig(), "")
	h.sim.VerifyEmailIdentity(h.seeded.SecurityAccountID, h.seeded.Region, mailSender)

	for _, out := range []string{"/proc/x", filepath.Join(h.config, "reports")} {
		r := h.runAt("rotate", "--apply", "--out", out)
		if r.code != ExitFailed || !strings.Contains(r.stderr, "cannot write reports there") {
			t.Errorf("--out %s: exit %d, want %d saying so\n%s", out, r.code, ExitFailed, r.stderr)
		}
	}
	noWrites(t, h, "unwritable report directory")

	// A mail template that does not render is found by an audit too
	// (item 8: only rotate --apply checked templates).
	tmpl := filepath.Join(h.dir, "templates")
	if err := os.MkdirAll(tmpl, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmpl, "digest.txt"), []byte("{{.NoSuchField}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rewriteConfig(t, h, "  digest: true\n", "  digest: true\n  templates_dir: "+tmpl+"\n")
	for _, args := range [][]string{{"audit"}, {"rotate"}, {"rotate", "--apply"}} {
		r := h.runAt(append(args, "--out", h.outDir("tmpl"))...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "digest.txt") {
			t.Errorf("%v with a broken template: exit %d, want %d naming the template\n%s", args, r.code, ExitUsage, r.stderr)
		}
	}
	noWrites(t, h, "broken template")
}

// emptyOUScenario has an OU without accounts.
const emptyOUScenario = `
seed: 8
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
ous:
  - name: Workloads
  - name: Empty
role: {name: KeyrotorRotationRole, external_id: keyrotor-e}
accounts:
  - id: "333333333333"
    name: prod
    ou: Workloads
    users:
      - {name: alice, keys: [{age: 100d, last_used: 1d}]}
`

// TestNothingSeenIsNotGreen: filters that match nothing are errors, and a
// report never shows a compliance figure for keys it did not see. Before,
// an unknown OU gave "0 targeted, Compliance: 100.0%", exit 0, and a
// --user that matched nobody exited 0 having done nothing.
func TestNothingSeenIsNotGreen(t *testing.T) {
	t.Parallel()
	sc, err := awssim.ParseScenario("empty OU", []byte(emptyOUScenario))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, sc, "")
	for _, tc := range []struct {
		name, ous string
		says      string
	}{
		{"unknown OU", "ou-zzzz-00000000", "organization.include_ous: ou-zzzz-00000000 is not in the organization"},
		{"OU without accounts", h.seeded.OUIDs["Empty"], "no target account"},
	} {
		rewriteConfig(t, h, "organization:\n  discovery: true\n", "organization:\n  discovery: true\n  include_ous: ["+tc.ous+"]\n")
		for _, args := range [][]string{{"audit", "--out", h.outDir("none")}, {"accounts"}} {
			cmd := args[0]
			r := h.runAt(args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.says) || strings.Contains(r.stderr, "Compliance") {
				t.Errorf("%s, %s: exit %d, want %d saying %q\n%s", tc.name, cmd, r.code, ExitUsage, tc.says, r.stderr)
			}
		}
		rewriteConfig(t, h, "  include_ous: ["+tc.ous+"]\n", "")
	}
	if m, _ := filepath.Glob(filepath.Join(h.outDir("none"), "*.json")); len(m) != 0 {
		t.Errorf("runs that saw nothing wrote reports: %v", m)
	}

	r := h.runAt("rotate", "--apply", "--user", "nobody", "--user", "alice", "--out", h.outDir("user"))
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--user nobody matched no IAM user in the 2 accounts inventoried") {
		t.Errorf("--user nobody: exit %d, want %d saying so\n%s", r.code, ExitUsage, r.stderr)
	}
	if rep := h.latestReport(h.outDir("user")); len(rep.Keys) == 0 {
		t.Error("the --user run wrote no report")
	}
	if r := h.runAt("rotate", "--user", "alice", "--out", h.outDir("alice")); r.code != ExitOK {
		t.Errorf("--user alice: exit %d\n%s", r.code, r.stderr)
	}
}

// TestFailedAccountsHaveNoCompliance: a failed or skipped account's keys
// were never seen: its compliance is null in JSON and n/a in the XLSX
// (which openpyxl reads back against the JSON), and the summary says how
// many accounts it does not cover. Before, they showed 100.
func TestFailedAccountsHaveNoCompliance(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	dir := h.outDir("na")
	r := h.runAt("audit", "--out", dir)
	if r.code != ExitPartial {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	rep := h.latestReport(dir)
	for _, a := range rep.Accounts {
		if seen := a.Status == vocab.AccountOK; seen != (a.CompliancePct != nil) {
			t.Errorf("account %s (%s): compliance %v", a.AccountID, a.Status, a.CompliancePct)
		}
	}
	if rep.Summary.AccountsUnseen != rep.Summary.AccountsFailed+rep.Summary.AccountsSkipped || rep.Summary.AccountsUnseen == 0 {
		t.Errorf("summary: %d unseen, %d failed, %d skipped", rep.Summary.AccountsUnseen, rep.Summary.AccountsFailed, rep.Summary.AccountsSkipped)
	}
	if !strings.Contains(r.stderr, "were not seen (1 failed, 2 skipped)") {
		t.Errorf("the summary does not say which keys it does not cover:\n%s", r.stderr)
	}
	files := reportFiles(t, dir)
	b, err := os.ReadFile(files["json"])
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Accounts []map[string]any `json:"accounts"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, a := range raw.Accounts {
		if v, ok := a["compliance_pct"]; a["status"] != "ok" && (!ok || v != nil) {
			t.Errorf("JSON account %v: compliance_pct %v, want null", a["account_id"], v)
		}
	}
	checkXLSXWithOpenpyxl(t, files["xlsx"], files["json"])
}

// badDate gives every answer a Date header the SDK cannot parse, as some
// emulators do: the SDK then logs a warning of its own.
func badDate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", "sometime today")
		next.ServeHTTP(w, r)
	})
}

// jsonLines fails unless every non-empty line of s is a JSON object, and
// returns the records.
func jsonLines(t *testing.T, what, s string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Errorf("%s: stderr line is not JSON: %q", what, sc.Text())
			continue
		}
		recs = append(recs, rec)
	}
	return recs
}

func hasRecord(recs []map[string]any, msg string) bool {
	for _, r := range recs {
		if r["msg"] == msg {
			return true
		}
	}
	return false
}

// TestJSONLogsAreOnlyJSON: with --log-format json every line on stderr is
// a JSON record: the SDK's own warnings, the upload line, the summary of
// report merge. Before, the SDK printed plain text beside the records.
func TestJSONLogsAreOnlyJSON(t *testing.T) {
	t.Parallel()
	sc := awssim.Generate(awssim.GenOptions{Accounts: 2, UsersPerAccount: 3, Seed: 5})
	h := newHarness(t, sc, "")
	proxy := httptest.NewServer(badDate(h.sim))
	t.Cleanup(proxy.Close)
	// Applied after the harness's own options, so it wins.
	h.awsOptions = append(h.awsOptions, awsconfig.WithBaseEndpoint(proxy.URL))
	h.sim.CreateBucket(h.seeded.SecurityAccountID, h.seeded.Region, s3Bucket)
	dir := h.outDir("json")
	r := h.runAt("--log-format", "json", "rotate", "--apply", "--out", dir, "--report-s3", "s3://"+s3Bucket+"/r")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	recs := jsonLines(t, "rotate", r.stderr)
	for _, msg := range []string{"AWS SDK", "Uploaded:", "run summary"} {
		if !hasRecord(recs, msg) {
			t.Errorf("no %q record among the JSON lines:\n%s", msg, r.stderr)
		}
	}

	files := reportFiles(t, dir)
	m := h.run("--log-format", "json", "report", "merge", files["json"], "--out", h.outDir("merged"))
	if m.code != ExitOK {
		t.Fatalf("report merge: exit %d\n%s", m.code, m.stderr)
	}
	if recs := jsonLines(t, "report merge", m.stderr); !hasRecord(recs, "run summary") {
		t.Errorf("report merge with JSON logs: no summary record:\n%s", m.stderr)
	}
}

// TestConfigWarnings: settings that are legal but almost certainly a
// mistake are logged as warnings when a run starts (item 8).
func TestConfigWarnings(t *testing.T) {
	t.Parallel()
	sc := awssim.Generate(awssim.GenOptions{Accounts: 1, UsersPerAccount: 2, Seed: 5})
	h := newHarness(t, sc, "policy:\n  deactivate_after: 0\n  delete_after: 0d\n")
	h.setConcurrency(100000, 500)
	r := h.runAt("audit", "--out", h.outDir("warn"))
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"policy.deactivate_after", "policy.delete_after", "concurrency.accounts", "concurrency.per_account"} {
		if !strings.Contains(r.stderr, "level=WARN msg=configuration warning=") || !strings.Contains(r.stderr, want) {
			t.Errorf("no configuration warning naming %s:\n%s", want, r.stderr)
		}
	}
}

// TestConfigsAgainstDemo runs audit against the demo organization (what
// `awssim --demo` serves) with the two configurations a new user finds:
// examples/demo-accounts.yaml audits it, failing only the account broken
// on purpose and exempting the demo's exempt users; the shipped
// accounts.yaml, whose example values fit no real organization, stops with
// an error that names the value to replace. Before, it failed two
// accounts and exempted nobody, unexplained.
func TestConfigsAgainstDemo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, awssim.DemoScenario(), "")
	// The KEYROTOR_* lines awssim prints.
	h.getenv = func(k string) string {
		return map[string]string{"KEYROTOR_ROLE_NAME": h.seeded.RoleName, "KEYROTOR_EXTERNAL_ID": h.seeded.ExternalID}[k]
	}
	h.sim.VerifyEmailIdentity(h.seeded.SecurityAccountID, h.seeded.Region, "keyrotor@example.com")
	for _, tc := range []struct {
		file string
		want int
		says string
	}{
		{"../../examples/demo-accounts.yaml", ExitPartial, "410000000005  legacy-prod"},
		{"../../accounts.yaml", ExitUsage, "organization.exclude_ous: ou-ab12-cd34ef56 is not in the organization"},
	} {
		dir := h.outDir("demo-" + strings.TrimSuffix(filepath.Base(tc.file), ".yaml"))
		var out, errb awssimtest.SyncBuffer
		code := run(t.Context(), []string{"--config", tc.file, "audit", "--out", dir}, h.env(&out, &errb, h.sim.Now))
		if code != tc.want || !strings.Contains(errb.String(), tc.says) {
			t.Errorf("%s: exit %d, want %d saying %q\n%s", tc.file, code, tc.want, tc.says, errb.String())
		}
		if tc.want != ExitPartial {
			continue
		}
		rep := h.latestReport(dir)
		exempt := map[string]bool{}
		for _, k := range rep.Keys {
			if k.Exempt {
				exempt[k.User] = true
			}
		}
		if !exempt["heidi"] || !exempt["breakglass-admin"] {
			t.Errorf("%s: exempt users %v, want heidi and breakglass-admin among them", tc.file, exempt)
		}
		for _, a := range rep.Accounts {
			if a.Status == vocab.AccountError && a.AccountID != "410000000005" {
				t.Errorf("%s: account %s failed: %s", tc.file, a.AccountID, a.Error)
			}
		}
	}
}

// TestRotateWithoutSimulator: against an endpoint without
// iam:SimulatePrincipalPolicy (LocalStack's 501, moto's 500), rotate
// --apply asks it once in the whole run, warns, and rotates; before, it
// asked ten times in every account (about 15 s a run) and a preflight
// called every account NOT READY.
func TestRotateWithoutSimulator(t *testing.T) {
	t.Parallel()
	for _, f := range []awssim.Fault{
		{Service: "iam", Op: "SimulatePrincipalPolicy", Kind: awssim.FaultUnsupported},
		{Service: "iam", Op: "SimulatePrincipalPolicy", Code: "InternalError", Status: 500, Message: "not implemented", Times: -1},
	} {
		sc := awssim.Generate(awssim.GenOptions{Accounts: 3, UsersPerAccount: 4, Seed: 9})
		h := newHarness(t, sc, "")
		h.setConcurrency(1, 2)
		h.sim.InjectFault(f)
		r := h.runAt("rotate", "--apply", "--out", h.outDir("nosim"))
		if r.code != ExitOK {
			t.Fatalf("%s: exit %d\n%s", f.Kind, r.code, r.stderr)
		}
		total := 0
		for _, n := range simulateCalls(h.sim) {
			total += n
		}
		if total != 1 || strings.Count(r.stderr, "cannot check the rotation role's permissions beforehand on this endpoint") != 1 {
			t.Errorf("%s: %d SimulatePrincipalPolicy calls, want 1 with one warning\n%s", f.Kind, total, r.stderr)
		}
		if rep := h.latestReport(h.outDir("nosim")); rep.Summary.Results[vocab.ResultDone] == 0 {
			t.Errorf("%s: nothing was rotated: %+v", f.Kind, rep.Summary.Results)
		}
	}
}

// TestTruncatedAnswerDoesNotFailAnAccount: a 200 whose body was cut short
// (a proxy, a blip) is retried, so the account is audited; before, one
// such answer failed the whole account.
func TestTruncatedAnswerDoesNotFailAnAccount(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	for _, op := range []string{"ListUsers", "ListAccessKeys", "GetCredentialReport"} {
		h.sim.InjectFault(awssim.Fault{Service: "iam", Op: op, AccountID: acctBoundaries, Kind: awssim.FaultTruncate})
	}
	dir := h.outDir("truncated")
	if r := h.runAt("audit", "--out", dir); r.code != ExitPartial {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, a := range h.latestReport(dir).Accounts {
		if a.AccountID == acctBoundaries && a.Status != vocab.AccountOK {
			t.Errorf("the account with truncated answers: %+v", a)
		}
	}
}
