package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/report"
)

// benchBaselineAccounts sizes BenchmarkAuditOrg's sequential baseline. The
// full baseline (0) takes about two minutes at 10 ms a call, so by default
// it audits a subset and extrapolates linearly to the whole organization.
var benchBaselineAccounts = flag.Int("audit-bench.baseline-accounts", 20,
	"accounts BenchmarkAuditOrg's sequential baseline audits, extrapolated linearly to the org (0: all)")

// The organization and the settings of BenchmarkAuditOrg.
const (
	benchOrgAccounts    = 200
	benchUsersPerAcct   = 25
	benchLatency        = 10 * time.Millisecond
	benchConcAccounts   = 64
	benchConcPerAccount = 4
	// Acceptance thresholds of issue 3.
	benchMinSpeedup = 20.0
)

// benchConfig is the accounts.yaml of BenchmarkAuditOrg. %[1]s external id,
// %[2]d accounts at once, %[3]d calls at once per account, %[4]q report dir.
const benchConfig = `region: us-east-1
organization:
  discovery: true
role:
  name: KeyrotorRotationRole
  external_id: %[1]s
exemptions:
  tag: {key: "keyrotor:exempt", value: "true"}
  groups: [BreakGlass]
notifications:
  enabled: false
concurrency:
  accounts: %[2]d
  per_account: %[3]d
report:
  out: %[4]q
  formats: [json, xlsx, csv]
`

// BenchmarkAuditOrg audits a generated organization of 200 accounts of 25
// users, every call to the simulator delayed 10 ms, through the CLI and the
// real SDK over HTTP. It reports the concurrent run's wall time, the API
// calls per account, and the speedup over a sequential baseline (one
// account at a time, one call at a time) measured in the same benchmark.
// It fails if an account costs more than 2 x users + 10 calls or the
// concurrent run is less than 20 times faster than the baseline.
//
//	go test -run '^$' -bench BenchmarkAuditOrg ./cmd/keyrotor/
//	go test -run '^$' -bench BenchmarkAuditOrg ./cmd/keyrotor/ -audit-bench.baseline-accounts=0   # full baseline, ~2 min
func BenchmarkAuditOrg(b *testing.B) {
	sc := awssim.Generate(awssim.GenOptions{Accounts: benchOrgAccounts, UsersPerAccount: benchUsersPerAcct, Seed: 14})
	srv := awssimtest.StartScenario(b, sc)
	sim, seeded := srv.Sim, srv.Seeded
	dir := b.TempDir()
	awssimtest.SetEnv(b, srv.URL, seeded.Region, seeded.Central)
	writeConfig := func(name string, accounts, perAccount int) string {
		p := filepath.Join(dir, name+".yaml")
		text := fmt.Sprintf(benchConfig, seeded.ExternalID, accounts, perAccount, filepath.Join(dir, name))
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
		return p
	}
	fastConfig := writeConfig("concurrent", benchConcAccounts, benchConcPerAccount)
	seqConfig := writeConfig("sequential", 1, 1)

	// Every account but the management account is a target.
	var targets []string
	for _, id := range sim.AccountIDs() {
		if id != seeded.ManagementAccountID {
			targets = append(targets, id)
		}
	}
	sim.SetLatency("*", benchLatency)

	// audit runs the CLI once and checks that it audited what it was asked
	// to, so that a run failing fast cannot pass for a fast one.
	audit := func(config, out string, accounts []string) (time.Duration, *report.Report) {
		b.Helper()
		args := []string{"--config", config, "audit", "--out", out}
		for _, id := range accounts {
			args = append(args, "--account", id)
		}
		var stderr bytes.Buffer
		start := time.Now()
		code := run(context.Background(), args, &Env{Stdout: io.Discard, Stderr: &stderr, Now: time.Now, Getenv: os.Getenv})
		elapsed := time.Since(start)
		if code != ExitOK {
			b.Fatalf("audit exit %d\n%s", code, stderr.String())
		}
		rep := readReport(b, out)
		want := targets
		if len(accounts) > 0 {
			want = accounts
		}
		wantKeys := 0
		for _, id := range want {
			wantKeys += len(sim.Keys(id))
		}
		if rep.Summary.AccountsOK != len(want) || len(rep.Keys) != wantKeys {
			b.Fatalf("audit covered %d accounts and %d keys, want %d and %d",
				rep.Summary.AccountsOK, len(rep.Keys), len(want), wantKeys)
		}
		return elapsed, rep
	}

	var (
		fastRuns  int
		fastTotal time.Duration
		// fastAccounts is the time spent inside the accounts.
		fastAccounts time.Duration
		calls        []awssim.Call
	)
	for b.Loop() {
		sim.ResetCalls()
		d, rep := audit(fastConfig, filepath.Join(dir, fmt.Sprintf("concurrent-%d", fastRuns)), nil)
		fastRuns++
		fastTotal += d
		// The report's start and end bracket the accounts' work, between
		// discovery and the report files.
		fastAccounts += rep.Run.Ended.Sub(rep.Run.Started)
		calls = sim.Calls()
	}
	fastWall := fastTotal / time.Duration(fastRuns)

	// API calls per account: the calls made with the role's credentials in
	// the account, plus an even share of the central account's calls
	// (Organizations discovery and one AssumeRole per account).
	member := map[string]int{}
	central := 0
	for _, c := range calls {
		if c.AccessKeyID == seeded.Central.AccessKeyID {
			central++
			continue
		}
		member[c.AccountID]++
	}
	share := float64(central) / float64(len(targets))
	maxCalls, total := 0, 0
	for _, id := range targets {
		maxCalls = max(maxCalls, member[id])
		total += member[id]
	}
	callsPerAccount := float64(maxCalls) + share
	meanCalls := float64(total)/float64(len(targets)) + share

	// The sequential baseline: one account at a time, one call at a time.
	n := *benchBaselineAccounts
	var subset []string
	if n > 0 && n < len(targets) {
		// Member accounts of the generated size; the security account,
		// which has no users, would make the baseline look cheaper.
		for _, a := range sc.Accounts {
			if len(subset) < n {
				subset = append(subset, a.ID)
			}
		}
		slices.Sort(subset)
	}
	seqMeasured, _ := audit(seqConfig, filepath.Join(dir, "sequential"), subset)
	seqWall := seqMeasured
	baselineNote := fmt.Sprintf("measured over all %d accounts", len(targets))
	if len(subset) > 0 {
		seqWall = time.Duration(float64(seqMeasured) * float64(len(targets)) / float64(len(subset)))
		baselineNote = fmt.Sprintf("measured %v over %d accounts, extrapolated linearly to %d",
			seqMeasured.Round(time.Millisecond), len(subset), len(targets))
	}
	speedup := float64(seqWall) / float64(fastWall)
	limit := 2*benchUsersPerAcct + 10

	b.ReportMetric(fastWall.Seconds(), "wall-s")
	b.ReportMetric(callsPerAccount, "calls/account")
	b.ReportMetric(seqWall.Seconds(), "seq-wall-s")
	b.ReportMetric(speedup, "speedup-x")
	b.Logf("org: %d target accounts x %d users (%d keys), %v latency on every call, real SDK over HTTP",
		len(targets), benchUsersPerAcct, len(sim.Keys(""))-len(sim.Keys(seeded.ManagementAccountID)), benchLatency)
	b.Logf("concurrent audit (concurrency.accounts=%d, per_account=%d): %v wall, mean of %d run(s); %v of it in the accounts, the rest discovery and writing JSON+XLSX+CSV",
		benchConcAccounts, benchConcPerAccount, fastWall.Round(time.Millisecond), fastRuns,
		(fastAccounts / time.Duration(fastRuns)).Round(time.Millisecond))
	b.Logf("API calls per account: max %.1f, mean %.1f (member calls + %.2f central calls each); limit 2 x %d users + 10 = %d",
		callsPerAccount, meanCalls, share, benchUsersPerAcct, limit)
	b.Logf("sequential baseline (accounts=1, per_account=1): %v (%s)", seqWall.Round(time.Millisecond), baselineNote)
	b.Logf("speedup: %.1fx (required >= %.0fx)", speedup, benchMinSpeedup)
	if callsPerAccount > float64(limit) {
		b.Fatalf("%.1f API calls per account, more than 2 x users + 10 = %d", callsPerAccount, limit)
	}
	if speedup < benchMinSpeedup {
		b.Fatalf("concurrent audit only %.1fx faster than the sequential baseline, want >= %.0fx", speedup, benchMinSpeedup)
	}
}

// readReport reads the JSON report in dir.
func readReport(tb testing.TB, dir string) *report.Report {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(m) != 1 {
		tb.Fatalf("want one JSON report in %s, found %q (%v)", dir, m, err)
	}
	f, err := os.Open(m[0])
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rep, err := report.ReadJSON(f)
	if err != nil {
		tb.Fatalf("read %s: %v", m[0], err)
	}
	return rep
}
