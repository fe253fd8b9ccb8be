package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/internal/interrupt"
	"keyrotor/report"
	"keyrotor/vocab"
)

// These tests are issue 11's first item: a call that never returns (awssim's
// hang fault) must not keep keyrotor from stopping. A hung call is bounded
// by the call timeout; a stop request lets a started step run on for the
// grace period, then cuts it short; a second request cuts it at once; the
// report is written every time, and the next run recovers what the cut
// step left.

// hangVictimStore makes the store of the new key's value in the victim's
// account hang: it comes right after CreateAccessKey and the record of the
// new key on the owner's secret, so a stop then leaves a key whose secret
// holds no value for the next run to clean up.
func hangVictimStore(sim *awssim.Sim) {
	sim.InjectFault(awssim.Fault{Service: "secretsmanager", Op: "PutSecretValue", AccountID: faultVictim.account,
		Kind: awssim.FaultHang, Times: -1, HangFor: time.Minute})
}

// waitForCall returns once the simulator logged a call of op in account,
// or fails the test (without stopping it: it may run in another
// goroutine) after 30 seconds.
func waitForCall(t *testing.T, sim *awssim.Sim, account, op string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if slices.ContainsFunc(sim.Calls(), func(c awssim.Call) bool { return c.AccountID == account && c.Op == op }) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("no %s call in %s within 30s", op, account)
}

// stoppedRun is a rotate --apply run stopped while the victim's store
// hangs: requests stop requests once its CreateAccessKey was made.
type stoppedRun struct {
	res result
	rep *report.Report
	// took is the time from the first stop request to the run's end.
	took time.Duration
}

func (e *e2e) rotateStopped(grace time.Duration, requests int) stoppedRun {
	e.t.Helper()
	e.runs++
	dir := filepath.Join(e.dir, "runs", fmt.Sprintf("%02d-stopped", e.runs))
	stop := interrupt.New(context.Background(), grace)
	requested := make(chan time.Time, 1)
	go func() {
		waitForCall(e.t, e.sim, faultVictim.account, "CreateAccessKey")
		// The store that follows is in flight, hanging.
		time.Sleep(100 * time.Millisecond)
		requested <- time.Now()
		for range requests {
			stop.Request("terminated")
		}
	}()
	var out, errb awssimtest.SyncBuffer
	env := e.env(&out, &errb, e.sim.Now)
	env.Stop = stop
	code := run(stop.Context(), []string{"--config", e.config, "rotate", "--apply", "--out", dir, "--format", "json",
		"--stop-grace", grace.String()}, env)
	end := time.Now()
	r := stoppedRun{res: result{code: code, stdout: out.String(), stderr: errb.String()}}
	select {
	case at := <-requested:
		r.took = end.Sub(at)
	default:
		e.t.Fatalf("the run ended (exit %d) before it could be stopped:\n%s", code, r.res.stderr)
	}
	e.texts = append(e.texts, r.res.stdout, r.res.stderr)
	e.observe()
	r.rep = e.latestReport(dir)
	return r
}

// checkStopped checks what every stopped run must show: exit 3, a report
// that says it was interrupted, the victim's step failed because the run
// was aborted, and the bystander account, whose steps did not hang, done.
func (e *e2e) checkStopped(r stoppedRun, oldKey string) {
	e.t.Helper()
	if r.res.code != ExitPartial {
		e.t.Errorf("stopped run: exit %d, want %d\n%s", r.res.code, ExitPartial, r.res.stderr)
	}
	if !r.rep.Run.Interrupted {
		e.t.Error("the report does not say the run was interrupted")
	}
	v := row(e.t, r.rep, oldKey)
	if v.Result != vocab.ResultFailed || !strings.Contains(v.Reason, "run aborted while the step was in flight") {
		e.t.Errorf("the victim's cut step: result %q reason %q", v.Result, v.Reason)
	}
	if !strings.Contains(r.res.stderr, "stopping: no new account or step starts") {
		e.t.Errorf("the log does not say what the stop request does:\n%s", r.res.stderr)
	}
}

// recover runs rotate --apply without the fault until the organization
// converges, as the next daily runs would.
func (e *e2e) recover(old map[e2eUser]string) {
	e.t.Helper()
	e.sim.ClearFaults()
	for run := 0; !e.converged(); run++ {
		if run == 10 {
			e.t.Fatalf("no convergence after %d runs", run)
		}
		e.sim.Clock().Advance(e2eDay)
		res, rep := e.rotate("--apply")
		e.checkRun(res)
		e.schedule(rep)
	}
	for _, u := range faultStale {
		e.assertRotated(u, old[u])
	}
	for id, l := range e.keys {
		if l.goneAt.IsZero() && !l.original && !l.stored {
			e.t.Errorf("orphan key %s of %s/%s left after recovery", id, l.AccountID, l.User)
		}
	}
	e.assertNoSecrets(e.texts...)
}

func newStopE2E(t *testing.T) (*e2e, map[e2eUser]string) {
	t.Helper()
	sc, err := awssim.ParseScenario("fault scenario", []byte(faultScenarioYAML))
	if err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, sc, "", faultStale)
	old := map[e2eUser]string{}
	for _, u := range faultStale {
		old[u] = e.staleKey(u)
	}
	return e, old
}

// TestStopCutsHungStepAfterGrace: the first stop request lets the hung
// step run on for the grace period, then cuts it; the run exits 3 with its
// report soon after, and the next runs recover (the new key nobody holds
// is deleted, the rotation redone).
func TestStopCutsHungStepAfterGrace(t *testing.T) {
	t.Parallel()
	e, old := newStopE2E(t)
	hangVictimStore(e.sim)
	const grace = 700 * time.Millisecond
	r := e.rotateStopped(grace, 1)
	e.checkStopped(r, old[faultVictim])
	if r.took < grace || r.took > grace+10*time.Second {
		t.Errorf("stopped %s after the request, want after the grace of %s and soon after it", r.took, grace)
	}
	if !strings.Contains(r.res.stderr, "the grace period of "+grace.String()) {
		t.Errorf("the victim's error does not say the grace ran out:\n%s", r.res.stderr)
	}
	e.recover(old)
}

// TestSecondStopCutsAtOnce: with a grace far longer than the test, a second
// request ends the hung step at once.
func TestSecondStopCutsAtOnce(t *testing.T) {
	t.Parallel()
	e, old := newStopE2E(t)
	hangVictimStore(e.sim)
	r := e.rotateStopped(time.Hour, 2)
	e.checkStopped(r, old[faultVictim])
	if r.took > 10*time.Second {
		t.Errorf("a second request took %s to stop the run", r.took)
	}
	if !strings.Contains(r.res.stderr, "stopping now") {
		t.Errorf("the log does not say the second request stops at once:\n%s", r.res.stderr)
	}
	e.recover(old)
}

// TestHungCallIsBoundedWithoutStop: with nobody stopping the run, a call
// that never answers fails at the call timeout, the account is reported
// failed and the others are done.
func TestHungCallIsBoundedWithoutStop(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	h.sim.InjectFault(awssim.Fault{Service: "iam", Op: "ListUsers", AccountID: acctBoundaries,
		Kind: awssim.FaultHang, Times: -1, HangFor: time.Minute})
	start := time.Now()
	res := h.runAt("audit", "--out", h.outDir("hung"), "--aws-attempt-timeout", "200ms", "--aws-call-timeout", "1s")
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("an audit with a call bounded by 1s took %s", took)
	}
	if res.code != ExitPartial {
		t.Fatalf("exit %d, want %d\n%s", res.code, ExitPartial, res.stderr)
	}
	rep := h.latestReport(h.outDir("hung"))
	for _, a := range rep.Accounts {
		switch {
		case a.AccountID == acctBoundaries:
			if a.Status != vocab.AccountError || !strings.Contains(a.Error, "no answer within the call timeout of 1s") || a.CompliancePct != nil {
				t.Errorf("the hung account: %+v", a)
			}
		case a.AccountID == acctSecurity || a.AccountID == acctClean:
			if a.Status != vocab.AccountOK {
				t.Errorf("account %s: %+v", a.AccountID, a)
			}
		}
	}
}

// TestStopDuringInventory: a stop request while an inventory call hangs
// ends that call at once (nothing is half done in an inventory); the
// account is reported skipped, not failed, and without a compliance figure.
func TestStopDuringInventory(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	h.sim.InjectFault(awssim.Fault{Service: "iam", Op: "ListUsers", AccountID: acctBoundaries,
		Kind: awssim.FaultHang, Times: -1, HangFor: time.Minute})
	stop := interrupt.New(context.Background(), time.Hour)
	var out, errb awssimtest.SyncBuffer
	go func() {
		// A hung call is logged only when it ends; once the three other
		// targets are done, the hung one is all that is left.
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(errb.String(), "accounts_done=3 ") && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		stop.Request("interrupt")
	}()
	env := h.env(&out, &errb, h.sim.Now)
	env.Stop = stop
	dir := h.outDir("stopped-inventory")
	start := time.Now()
	code := run(stop.Context(), []string{"--config", h.config, "audit", "--out", dir}, env)
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the stopped audit took %s", took)
	}
	if code != ExitPartial {
		t.Fatalf("exit %d, want %d\n%s", code, ExitPartial, errb.String())
	}
	rep := h.latestReport(dir)
	for _, a := range rep.Accounts {
		if a.AccountID == acctBoundaries && (a.Status != vocab.AccountSkipped || !strings.Contains(a.Error, "interrupted") || a.CompliancePct != nil) {
			t.Errorf("the account stopped mid-inventory: %+v", a)
		}
	}
	if !rep.Run.Interrupted {
		t.Error("the report does not say the run was interrupted")
	}
}

// buildWithMake builds bin/keyrotor the way the README says, with make
// build, into a directory of the test's.
func buildWithMake(t *testing.T) string {
	t.Helper()
	make, err := exec.LookPath("make")
	if err != nil {
		t.Fatalf("make is not on PATH: %v", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, make, "-s", "-C", "../..", "build", "BIN="+dir)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "keyrotor")
}

// TestBuiltBinary builds keyrotor with make build and runs the binary:
// its version is the one git describe gives (issue 11: it said "dev"), and
// it stops on real signals: SIGTERM lets the hung step run for the grace
// period and exits 3 with a report; two SIGINTs stop it at once.
func TestBuiltBinary(t *testing.T) {
	t.Parallel()
	bin := buildWithMake(t)

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "--version").CombinedOutput() // cobra prints it on stderr
		if err != nil {
			t.Fatal(err)
		}
		// make build's fallback outside a git checkout (a tarball) is dev.
		want := "dev"
		if d, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output(); err == nil {
			want = strings.TrimSpace(string(d))
		}
		if got := strings.TrimSpace(string(out)); got != "keyrotor version "+want {
			t.Errorf("--version says %q, want the version git describe gives, %q", got, want)
		}
	})

	for _, tc := range []struct {
		name    string
		grace   time.Duration
		signals []os.Signal
		// within bounds the time from the first signal to the exit.
		atLeast, within time.Duration
	}{
		{"SIGTERM waits for the grace", time.Second, []os.Signal{syscall.SIGTERM}, time.Second, 15 * time.Second},
		{"a second SIGINT stops at once", time.Hour, []os.Signal{os.Interrupt, os.Interrupt}, 0, 15 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc, err := awssim.ParseScenario("fault scenario", []byte(faultScenarioYAML))
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, sc, "")
			hangVictimStore(h.sim)
			// The keyrotor process reaches the simulator on a listener of
			// its own.
			srv := httptest.NewServer(h.sim)
			t.Cleanup(srv.Close)
			dir := h.outDir("signals")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--config", h.config, "rotate", "--apply", "--out", dir,
				"--format", "json", "--stop-grace", tc.grace.String())
			cmd.Env = h.processEnv(srv.URL)
			cmd.WaitDelay = 5 * time.Second
			var stderr awssimtest.SyncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitForCall(t, h.sim, faultVictim.account, "CreateAccessKey")
			time.Sleep(100 * time.Millisecond)
			start := time.Now()
			for _, sig := range tc.signals {
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			err = cmd.Wait()
			took := time.Since(start)
			t.Logf("exited %s after the first signal", took)
			if code := cmd.ProcessState.ExitCode(); code != ExitPartial {
				t.Fatalf("exit %d (%v), want %d\n%s", code, err, ExitPartial, stderr.String())
			}
			if took < tc.atLeast || took > tc.within {
				t.Errorf("exited %s after the first signal, want between %s and %s", took, tc.atLeast, tc.within)
			}
			rep := h.latestReport(dir)
			if !rep.Run.Interrupted {
				t.Error("the report does not say the run was interrupted")
			}
			h.assertNoSecrets(stderr.String())
		})
	}
}

// processEnv is the environment a user's shell gives keyrotor to reach the
// simulator at url (see useProcessEnv), for a keyrotor process of its own.
func (h *harness) processEnv(url string) []string {
	c := h.seeded.Central
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + h.dir,
		"AWS_ENDPOINT_URL=" + url,
		"AWS_REGION=" + h.seeded.Region,
		"AWS_ACCESS_KEY_ID=" + c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + c.SessionToken,
		"AWS_CONFIG_FILE=" + filepath.Join(h.dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(h.dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// TestHandleSignals: the first signal is a stop request, the second an
// abort; after the abort the process exits (1) if the run has not ended
// within the wait, or at once on a further signal.
func TestHandleSignals(t *testing.T) {
	t.Parallel()
	for _, third := range []bool{false, true} {
		stop := interrupt.New(context.Background(), time.Hour)
		sigs := make(chan os.Signal, 3)
		exited := make(chan int, 1)
		var said []string
		var mu sync.Mutex
		say := func(msg string) { mu.Lock(); said = append(said, msg); mu.Unlock() }
		wait := time.Hour
		if !third {
			wait = 50 * time.Millisecond
		}
		go handleSignals(sigs, stop, say, func(code int) { exited <- code }, wait)
		sigs <- syscall.SIGTERM
		select {
		case <-stop.Context().Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the first signal did not stop the run")
		}
		sigs <- syscall.SIGTERM
		select {
		case <-stop.Aborted():
		case <-time.After(5 * time.Second):
			t.Fatal("the second signal did not abort the run")
		}
		if third {
			sigs <- os.Interrupt
		}
		select {
		case code := <-exited:
			mu.Lock()
			if code != ExitFailed || len(said) != 1 {
				t.Errorf("third signal %v: exit %d, said %q", third, code, said)
			}
			mu.Unlock()
		case <-time.After(5 * time.Second):
			t.Fatalf("third signal %v: no exit after the abort", third)
		}
	}
	if !jsonLogsAsked([]string{"--log-format", "json", "audit"}) || !jsonLogsAsked([]string{"audit", "--log-format=json"}) || jsonLogsAsked([]string{"audit"}) {
		t.Error("jsonLogsAsked")
	}
}
