package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"keyrotor/internal/awssim"
	"keyrotor/report"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// faultScenarioYAML is a small organization for the fault tests: the
// faults are aimed at the only stale user of the target account (victim),
// so that "the Nth TagUser" is the Nth TagUser of its rotation; the
// bystander account rotates alongside, unaffected.
const faultScenarioYAML = `
seed: 21
page_size: 2
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
role: {name: KeyrotorRotationRole, external_id: keyrotor-faults}
ses: {region: us-east-1}
accounts:
  - id: "333333333333"
    name: target
    users:
      - {name: victim, keys: [{age: 100d, last_used: 2d, service: s3}]}
      - {name: fresh, keys: [{age: 10d, last_used: 1h}]}
      - {name: exempt, tags: {"keyrotor:exempt": "true"}, keys: [{age: 200d, last_used: 1d}]}
  - id: "444444444444"
    name: bystander
    users:
      - {name: other, keys: [{age: 120d, last_used: 4d, service: sqs}]}
`

var (
	faultVictim = e2eUser{e2eProd, "victim"}
	faultStale  = []e2eUser{faultVictim, {e2eDev, "other"}}
	faultOthers = []e2eUser{{e2eProd, "fresh"}, {e2eProd, "exempt"}}
)

// faultCase is one write step to break.
type faultCase struct {
	name        string
	service, op string
	// nth picks the victim's nth call of op from when the fault is armed.
	nth int
	// phase is the rotation step in which the fault is armed: issue,
	// deactivate or delete.
	phase string
	// existing gives the victim a secret from an earlier rotation, so the
	// store goes through TagResource and PutSecretValue.
	existing bool
	// alsoOp, if set, fails in the same mode right after op fails (the
	// clean-up of a failed store).
	alsoOp string
}

var faultCases = []faultCase{
	{name: "CreateAccessKey", service: "iam", op: "CreateAccessKey", phase: "issue"},
	{name: "TagUser intent", service: "iam", op: "TagUser", nth: 1, phase: "issue"},
	{name: "TagUser issued", service: "iam", op: "TagUser", nth: 2, phase: "issue"},
	{name: "CreateSecret", service: "secretsmanager", op: "CreateSecret", phase: "issue"},
	{name: "CreateSecret and DeleteAccessKey", service: "secretsmanager", op: "CreateSecret", phase: "issue", alsoOp: "DeleteAccessKey"},
	{name: "PutResourcePolicy new secret", service: "secretsmanager", op: "PutResourcePolicy", phase: "issue"},
	// The new key recorded on the secret, and its value stored, once it
	// exists; the clean-up of a failed store failing too.
	{name: "TagResource record new secret", service: "secretsmanager", op: "TagResource", phase: "issue"},
	{name: "PutSecretValue new secret", service: "secretsmanager", op: "PutSecretValue", phase: "issue"},
	{name: "PutSecretValue and DeleteAccessKey", service: "secretsmanager", op: "PutSecretValue", phase: "issue", alsoOp: "DeleteAccessKey"},
	{name: "PutResourcePolicy", service: "secretsmanager", op: "PutResourcePolicy", phase: "issue", existing: true},
	{name: "TagResource", service: "secretsmanager", op: "TagResource", phase: "issue", existing: true},
	{name: "PutSecretValue", service: "secretsmanager", op: "PutSecretValue", phase: "issue", existing: true},
	{name: "UpdateAccessKey", service: "iam", op: "UpdateAccessKey", phase: "deactivate"},
	{name: "TagUser deactivated", service: "iam", op: "TagUser", nth: 1, phase: "deactivate"},
	{name: "DeleteAccessKey", service: "iam", op: "DeleteAccessKey", phase: "delete"},
	{name: "UntagUser", service: "iam", op: "UntagUser", phase: "delete"},
}

// faultMode is how a fault breaks a call.
//
// keyrotor's SDK retryer makes up to 10 attempts with exponential backoff,
// so a 500 ServiceFailure that outlasts the retries costs seconds of real
// time per call (and keyrotor ignores AWS_MAX_ATTEMPTS, having a retryer
// of its own). The error modes therefore use a denial, which the SDK does
// not retry: keyrotor sees the failure at once, exactly as it sees a
// ServiceFailure once the retries are spent. TestRotateRetriesServiceFailure
// covers 500s that the retries absorb.
type faultMode struct {
	name string
	// cut lets the call take effect and drops the connection.
	cut bool
	// deny answers with a non-retryable AccessDenied: the call (after a
	// cut: the SDK's retry of it) fails, times calls in a row.
	deny  bool
	times int
}

var (
	// faultError denies the call, and the same call of the next run too.
	faultError = faultMode{name: "error", deny: true, times: 2}
	// faultCut applies the call, drops the connection, and denies the
	// SDK's retry: keyrotor gets an error for a step that took effect.
	faultCut = faultMode{name: "cut", cut: true, deny: true, times: 1}
	// faultCutRetried applies the call and drops the connection; the
	// SDK's retry meets the call's effect (a second key over the limit,
	// an existing secret version, a key already deleted).
	faultCutRetried = faultMode{name: "cut-retried", cut: true}
)

// denial returns the service's non-retryable access-denied error.
func denial(service string) (code string, status int) {
	if service == "iam" {
		return "AccessDenied", 403
	}
	return "AccessDeniedException", 400
}

// TestRotateFaults breaks each write call of a rotation once, by an error
// response and by a connection cut after the call took effect, and reruns
// `rotate --apply` daily (jumping over days with nothing due) until the
// organization converges. Afterwards every stale user has exactly one
// working key, the one in its secret; no orphan key is left; no key was
// deleted before delete_after from its deactivation, and no replacement
// keyrotor recorded was deleted at all; no secret is in any log line,
// report or error message.
func TestRotateFaults(t *testing.T) {
	t.Parallel()
	type tc struct {
		faultCase
		mode faultMode
	}
	var cases []tc
	for _, fc := range faultCases {
		cases = append(cases, tc{fc, faultError}, tc{fc, faultCut})
		switch fc.op {
		case "CreateAccessKey", "CreateSecret", "PutSecretValue", "DeleteAccessKey":
			if fc.alsoOp == "" {
				cases = append(cases, tc{fc, faultCutRetried})
			}
		}
	}
	for _, c := range cases {
		t.Run(c.name+"/"+c.mode.name, func(t *testing.T) {
			// Each case has a simulator of its own.
			t.Parallel()
			runFaultCase(t, c.faultCase, c.mode)
		})
	}
}

func runFaultCase(t *testing.T, fc faultCase, mode faultMode) {
	sc, err := awssim.ParseScenario("fault scenario", []byte(faultScenarioYAML))
	if err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, sc, "", faultStale)
	old := map[e2eUser]string{}
	for _, u := range faultStale {
		old[u] = e.staleKey(u)
	}
	if fc.existing {
		e.seedSecret(faultVictim, old[faultVictim])
	}

	armed := false
	arm := func() {
		armed = true
		for _, op := range []struct{ service, op string }{{fc.service, fc.op}, {"iam", fc.alsoOp}} {
			if op.op == "" {
				continue
			}
			f := awssim.Fault{Service: op.service, Op: op.op, AccountID: faultVictim.account, Nth: fc.nth}
			if mode.cut {
				f.CutAfter = true
				e.sim.InjectFault(f)
				f.CutAfter = false
			}
			if mode.deny {
				// Armed after the cut, with the same Nth: it fires on the
				// call after the cut one, the SDK's retry.
				f.Code, f.Status = denial(op.service)
				f.Message, f.Times = "injected: denied by a service control policy", mode.times
				e.sim.InjectFault(f)
			}
		}
	}
	for run := 0; ; run++ {
		if run == 15 {
			t.Fatalf("no convergence after %d runs (fault armed: %v)", run, armed)
		}
		if armed && e.converged() {
			t.Logf("converged after %d runs, at %s", run, e.sim.Now().Format(time.RFC3339))
			break
		}
		faulty := !armed && e.due(faultVictim, old[faultVictim], fc.phase)
		if faulty {
			arm()
		}
		res, rep := e.rotate("--apply", "--log-format", "json", "--log-level", "debug")
		e.checkRun(res)
		if faulty {
			r := row(t, rep, old[faultVictim])
			t.Logf("run with the fault: victim's action %q result %q reason %q", r.Action, r.Result, r.Reason)
			// A cut the SDK's retry resolves may leave the step done.
			// CreateAccessKey is never retried after a dropped connection
			// (it is not idempotent), so a cut shows as the send failure
			// itself rather than as the denied retry.
			explained := strings.Contains(r.Reason, "AccessDenied") || (mode.cut && strings.Contains(r.Reason, "request send failed"))
			if mode.deny && (r.Result != "failed" || !explained) {
				t.Errorf("run with the fault: victim's action %q result %q reason %q", r.Action, r.Result, r.Reason)
			}
		}
		e.schedule(rep)
	}
	if !armed {
		t.Fatal("the fault was never armed")
	}

	// Converged: a further run has nothing to do.
	e.nextDay()
	e.sim.ResetCalls()
	res, _ := e.rotate("--apply", "--log-format", "json")
	e.checkRun(res)
	if w := writes(e.sim); len(w) != 0 {
		t.Errorf("run after convergence writes %v", w)
	}
	for _, u := range faultStale {
		e.assertRotated(u, old[u])
	}
	for _, u := range faultOthers {
		e.assertUntouched(u)
	}
	for id, l := range e.keys {
		if l.goneAt.IsZero() && !l.original && !l.stored {
			t.Errorf("orphan key %s of %s/%s", id, l.AccountID, l.User)
		}
	}
	e.assertNoSecrets(e.texts...)
}

// checkRun checks one run's exit code and that its log is JSON lines.
func (e *e2e) checkRun(res result) {
	e.t.Helper()
	if res.code != ExitOK && res.code != ExitPartial {
		e.t.Errorf("exit %d:\n%s", res.code, res.stderr)
	}
	for _, line := range strings.Split(res.stderr, "\n") {
		if strings.HasPrefix(line, "{") && !json.Valid([]byte(line)) {
			e.t.Errorf("log line is not JSON: %s", line)
		}
	}
}

// due tells whether the victim's old key is at the step of phase.
func (e *e2e) due(u e2eUser, oldKey, phase string) bool {
	st := e.state(u, oldKey)
	now := e.sim.Now()
	switch phase {
	case "issue":
		return st.Phase == ""
	case "deactivate":
		return st.Phase == rotation.PhaseIssued && !now.Before(st.Since().Add(e2eDeactivateAfter))
	case "delete":
		return st.Phase == rotation.PhaseDeactivated && !now.Before(st.Deactivated.Add(e2eDeleteAfter))
	}
	e.t.Fatalf("unknown phase %q", phase)
	return false
}

// converged tells whether every stale user is down to the key in its
// secret and no rotation state is left.
func (e *e2e) converged() bool {
	for _, u := range e.stale {
		keys := e.keysOf(u)
		if len(keys) != 1 || keys[0].ID != e.secretKeyID(u) || keys[0].Status != string(vocab.KeyActive) {
			return false
		}
		for k := range e.sim.UserTags(u.account, u.name) {
			if _, ok := rotation.IsStateTag(k); ok {
				return false
			}
		}
	}
	return true
}

func (e *e2e) nextDay() { e.sim.Clock().Advance(e2eDay) }

// schedule moves the clock to the next daily run after rep's run: the next
// day if the run left something unfinished (a step failed or was skipped),
// else the day the next step falls due, skipping the days in between
// on which a daily run would do nothing.
func (e *e2e) schedule(rep *report.Report) {
	e.t.Helper()
	now := e.sim.Now()
	stale := map[e2eUser]bool{}
	for _, u := range e.stale {
		stale[u] = true
	}
	for _, k := range rep.Keys {
		if stale[e2eUser{k.AccountID, k.User}] && (k.Result == "failed" || k.Result == "skipped") {
			e.nextDay()
			return
		}
	}
	var earliest time.Time
	for _, u := range e.stale {
		for k, v := range e.sim.UserTags(u.account, u.name) {
			if _, ok := rotation.IsStateTag(k); !ok {
				continue
			}
			st, err := rotation.ParseState(v)
			if err != nil {
				e.t.Fatalf("state tag %s of %s: %v", k, u, err)
			}
			due := now.Add(e2eDay) // an intent, or a state this test did not expect
			switch st.Phase {
			case rotation.PhaseIssued, rotation.PhaseReactivated:
				due = st.Since().Add(e2eDeactivateAfter)
			case rotation.PhaseDeactivated:
				due = st.Deactivated.Add(e2eDeleteAfter)
			}
			if earliest.IsZero() || due.Before(earliest) {
				earliest = due
			}
		}
	}
	// Runs are daily: the first one on or after the due time.
	next := now.Add(e2eDay)
	for next.Before(earliest) {
		next = next.Add(e2eDay)
	}
	e.sim.Clock().Set(next)
}

// seedSecret creates u's secret as an earlier rotation would have left it,
// holding keyID.
func (e *e2e) seedSecret(u e2eUser, keyID string) {
	e.t.Helper()
	creds, ok := e.sim.CredentialsFor(keyID)
	if !ok {
		e.t.Fatalf("no credentials for %s", keyID)
	}
	value, err := json.Marshal(map[string]string{"AccessKeyId": keyID, "SecretAccessKey": creds.SecretAccessKey,
		"UserName": u.name, "AccountId": u.account})
	if err != nil {
		e.t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(e.srv.RootConfig(u.account))
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(secretName(u)), SecretString: aws.String(string(value)),
	}); err != nil {
		e.t.Fatal(err)
	}
	e.sim.ResetCalls()
}

// TestRotateRetriesServiceFailure gives the calls a short outage of
// 500s, which keyrotor's SDK retryer rides out: the rotation completes in
// the same run, with one key created.
func TestRotateRetriesServiceFailure(t *testing.T) {
	t.Parallel()
	sc, err := awssim.ParseScenario("fault scenario", []byte(faultScenarioYAML))
	if err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, sc, "", faultStale)
	old := e.staleKey(faultVictim)
	for _, f := range []awssim.Fault{
		// CreateAccessKey is not idempotent, so keyrotor retries it only
		// when throttled (AWS rejected it before acting).
		{Service: "iam", Op: "CreateAccessKey", Code: "Throttling", Status: 400},
		{Service: "iam", Op: "TagUser", Code: "ServiceFailure", Status: 500},
		{Service: "secretsmanager", Op: "CreateSecret", Code: "InternalServiceError", Status: 500},
	} {
		f.AccountID, f.Times, f.Message = faultVictim.account, 3, "injected outage"
		e.sim.InjectFault(f)
	}
	_, rep := e.rotate("--apply")
	if r := row(t, rep, old); r.Action != "issue" || r.Result != "done" {
		t.Fatalf("victim: action %q result %q reason %q", r.Action, r.Result, r.Reason)
	}
	failed, created := 0, 0
	for _, c := range e.sim.Calls() {
		if c.AccountID == faultVictim.account && c.Action() == "iam:CreateAccessKey" {
			if c.ErrorCode == "" {
				created++
			} else {
				failed++
			}
		}
	}
	if failed != 3 || created != 1 {
		t.Errorf("CreateAccessKey: %d failed, %d succeeded; want 3 and 1", failed, created)
	}
	if keys := e.keysOf(faultVictim); len(keys) != 2 || keys[1].ID != e.secretKeyID(faultVictim) {
		t.Errorf("victim's keys %v, secret holds %s", keyIDs(keys), e.secretKeyID(faultVictim))
	}
	e.assertNoSecrets(e.texts...)
}
