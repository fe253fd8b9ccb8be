package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/xuri/excelize/v2"

	"keyrotor/internal/awssim"
	"keyrotor/report"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// The end-to-end organization: a security account and two workload
// accounts, with one user per case rotate must handle.
const (
	e2eSecurity = "222222222222"
	e2eProd     = "333333333333"
	e2eDev      = "444444444444"
	e2eDay      = 24 * time.Hour
	// e2eDeleteAfter and e2eDeactivateAfter are the default policy's.
	e2eDeactivateAfter = 7 * e2eDay
	e2eDeleteAfter     = 7 * e2eDay
)

// e2eScenarioYAML is the organization of the rotate tests. Ages are
// measured back from the harness's fixed clock.
const e2eScenarioYAML = `
seed: 14
page_size: 3
organization:
  management_account: {id: "111111111111", name: management}
  security_account:
    id: "222222222222"
    name: security
    ou: Security
    users:
      - {name: sec-fresh, keys: [{age: 20d, last_used: 1h, service: sts}]}
      - {name: sec-stale, keys: [{age: 130d, last_used: 5d, service: sts}]}
ous:
  - name: Security
  - name: Workloads
role: {name: KeyrotorRotationRole, external_id: keyrotor-e2e}
ses: {region: us-east-1}
accounts:
  - id: "333333333333"
    name: prod
    ou: Workloads
    groups: [BreakGlass]
    users:
      - {name: alice, keys: [{age: 100d, last_used: 1d, service: s3}]}              # stale, keeps using its old key
      - {name: bob, keys: [{age: 200d, last_used: 3d, service: dynamodb}]}         # stale
      - {name: carol, keys: [{age: 30d, last_used: 2h}]}                           # fresh
      - {name: dave, tags: {"keyrotor:exempt": "true"}, keys: [{age: 300d, last_used: 1d}]}  # exempt by tag
      - {name: erin, groups: [BreakGlass], keys: [{age: 150d, last_used: never}]}  # exempt by group
      - name: frank                                                                # two active keys: held
        keys: [{age: 120d, last_used: 1d}, {age: 10d, last_used: 1d}]
      - name: gina                                                                 # stale + foreign inactive: held
        keys: [{age: 200d, status: Inactive, last_used: 150d}, {age: 100d, last_used: 1d}]
      - {name: lena, keys: [{age: 120d, status: Inactive, last_used: 100d}]}       # foreign inactive alone
  - id: "444444444444"
    name: dev
    ou: Workloads
    users:
      - {name: henry, keys: [{age: 95d, last_used: never}]}                        # stale, never used
      - {name: ivan, keys: [{age: 91d, last_used: 10d, service: ec2}]}             # stale
      - {name: judy, keys: [{age: 5d, last_used: 1h}]}                             # fresh
      - {name: ken}                                                                # no keys
      - {name: olga, keys: [{age: 400d, last_used: 2d}]}                           # exempt in accounts.yaml
      - name: mia                                                                  # stale + deletable foreign inactive
        keys: [{age: 200d, status: Inactive, last_used: 150d}, {age: 120d, last_used: 2d}]
`

// e2eAccountsYAML is appended to the harness's accounts.yaml: the dev
// account lets keyrotor delete old foreign inactive keys (so mia's two-key
// case is rotated) and exempts olga.
const e2eAccountsYAML = `accounts:
  - id: "444444444444"
    policy:
      delete_foreign_inactive: true
    exempt_users: [olga]
`

// e2eUser names a user of the end-to-end organization.
type e2eUser struct{ account, name string }

func (u e2eUser) String() string { return u.account + "/" + u.name }

var (
	// e2eStale are the users whose stale key rotate replaces.
	e2eStale = []e2eUser{{e2eSecurity, "sec-stale"}, {e2eProd, "alice"}, {e2eProd, "bob"},
		{e2eDev, "henry"}, {e2eDev, "ivan"}, {e2eDev, "mia"}}
	// e2eUntouched are the users whose keys must never change.
	e2eUntouched = []e2eUser{{e2eSecurity, "sec-fresh"}, {e2eProd, "carol"}, {e2eProd, "dave"},
		{e2eProd, "erin"}, {e2eProd, "frank"}, {e2eProd, "gina"}, {e2eProd, "lena"}, {e2eDev, "judy"},
		{e2eDev, "olga"}}
	e2eExempt = []e2eUser{{e2eProd, "dave"}, {e2eProd, "erin"}, {e2eDev, "olga"}}
)

func e2eScenario(t *testing.T) *awssim.Scenario {
	t.Helper()
	sc, err := awssim.ParseScenario("e2e scenario", []byte(e2eScenarioYAML))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// e2e drives the CLI through rotation runs and watches every key of the
// simulated organization between runs, so that tests can assert on the
// whole history (when a key went inactive, when it disappeared) and not
// only on the final state.
type e2e struct {
	*harness
	runs int
	// texts collects every run's stdout and stderr for the secret scan.
	texts []string
	// keys is every access key ever observed, by ID.
	keys map[string]*keyLife
	// foreignDeletable are original inactive keys the configuration lets
	// keyrotor delete without deactivating them first.
	foreignDeletable map[string]bool
	deleteAfter      time.Duration
	// stale are the users whose stale key must be rotated.
	stale []e2eUser
	// t0 is the simulated time of the first run.
	t0 time.Time
	// lastDir is the report directory of the latest run.
	lastDir string
}

// keyLife is what the test saw of one access key.
type keyLife struct {
	awssim.KeyInfo
	// original keys existed before the first run.
	original bool
	// initial is an original key's status before the first run.
	initial string
	// inactiveAt is when the key was first seen Inactive (keys only change
	// during runs, and the simulated clock stands still during a run, so
	// this is the time of the change).
	inactiveAt time.Time
	// recorded is the deactivation time keyrotor last recorded for the key.
	recorded time.Time
	// stored tells the key was at some point the one in its user's secret.
	stored bool
	// replacement tells a state tag named the key as the replacement of
	// an old key: keyrotor told its owner to use it.
	replacement bool
	goneAt      time.Time
}

// newE2E serves sc for the CLI (see newHarness) and starts watching its
// keys; stale lists the users whose stale key rotate must replace.
func newE2E(t *testing.T, sc *awssim.Scenario, extraYAML string, stale []e2eUser) *e2e {
	t.Helper()
	e := &e2e{harness: newHarness(t, sc, extraYAML), keys: map[string]*keyLife{},
		foreignDeletable: map[string]bool{}, deleteAfter: e2eDeleteAfter, stale: stale}
	e.t0 = e.sim.Now()
	if strings.Contains(extraYAML, e2eAccountsYAML) {
		// mia's old inactive key is one the configuration lets keyrotor
		// delete without deactivating it first.
		for _, k := range e.sim.Keys(e2eDev) {
			if k.User == "mia" && k.Status == string(vocab.KeyInactive) {
				e.foreignDeletable[k.ID] = true
			}
		}
	}
	for _, k := range e.sim.Keys("") {
		e.keys[k.ID] = &keyLife{KeyInfo: k, original: true, initial: k.Status}
	}
	e.observe()
	return e
}

// rotate runs `keyrotor rotate ARGS` at the simulator's time with a report
// directory of its own, checks the invariants on the organization it left
// behind, and returns its result and JSON report.
func (e *e2e) rotate(args ...string) (result, *report.Report) {
	e.t.Helper()
	return e.cli("rotate", args...)
}

func (e *e2e) cli(command string, args ...string) (result, *report.Report) {
	e.t.Helper()
	e.runs++
	dir := filepath.Join(e.dir, "runs", fmt.Sprintf("%02d-%s", e.runs, command))
	e.lastDir = dir
	if !slices.Contains(args, "--format") {
		// XLSX is slow to write under -race; the tests that read it ask.
		args = append(args, "--format", "json,csv")
	}
	res := e.runAt(append([]string{command, "--out", dir}, args...)...)
	e.texts = append(e.texts, res.stdout, res.stderr)
	e.observe()
	if res.code != ExitOK {
		e.t.Logf("%s %v at %s: exit %d\n%s", command, args, e.sim.Now().Format(time.RFC3339), res.code, res.stderr)
	}
	// A run that stops before it starts (bad input) writes no report, but
	// may have created the report directory when it checked it.
	if m, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(m) == 0 {
		return res, nil
	}
	return res, e.latestReport(dir)
}

// observe records the current keys and checks the invariants that must
// hold after every run, whatever failed in it.
func (e *e2e) observe() {
	e.t.Helper()
	now := e.sim.Now()
	status := map[string]string{}
	for _, k := range e.sim.Keys("") {
		status[k.ID] = k.Status
		l := e.keys[k.ID]
		if l == nil {
			l = &keyLife{KeyInfo: k}
			e.keys[k.ID] = l
		}
		l.Status = k.Status
		switch {
		case k.Status == string(vocab.KeyActive):
			l.inactiveAt = time.Time{} // reactivated
		case l.inactiveAt.IsZero():
			l.inactiveAt = now
		}
		if v, ok := e.sim.UserTags(k.AccountID, k.User)[rotation.TagKey(k.ID)]; ok {
			if st, err := rotation.ParseState(v); err == nil && !st.Deactivated.IsZero() {
				l.recorded = st.Deactivated
			}
		}
	}
	for _, u := range e2eAllUsers(e.sim) {
		for tk, v := range e.sim.UserTags(u.account, u.name) {
			if _, ok := rotation.IsStateTag(tk); !ok {
				continue
			}
			if st, err := rotation.ParseState(v); err == nil && st.Phase != rotation.PhaseIssuing && e.keys[st.NewKeyID] != nil {
				e.keys[st.NewKeyID].replacement = true
			}
		}
	}
	for _, u := range e2eAllUsers(e.sim) {
		if id := e.secretKeyID(u); id != "" && e.keys[id] != nil {
			e.keys[id].stored = true
		}
	}
	for id, l := range e.keys {
		if status[id] != "" || !l.goneAt.IsZero() {
			continue
		}
		l.goneAt = now
		if l.replacement {
			e.t.Errorf("%s of %s/%s, recorded as a replacement, was deleted at %s", id, l.AccountID, l.User, now)
		}
		if !l.original || e.foreignDeletable[id] {
			continue
		}
		// An original key is deleted only delete_after after keyrotor
		// deactivated it, measured from the deactivation it recorded,
		// which is never earlier than the one that happened.
		switch {
		case l.inactiveAt.IsZero():
			e.t.Errorf("%s of %s/%s was deleted while active at %s", id, l.AccountID, l.User, now)
		case l.recorded.IsZero():
			e.t.Errorf("%s of %s/%s was deleted at %s with no deactivation recorded", id, l.AccountID, l.User, now)
		case l.recorded.Before(l.inactiveAt.Add(-time.Second)):
			e.t.Errorf("%s of %s/%s: recorded deactivation %s is before the key went inactive (%s)",
				id, l.AccountID, l.User, l.recorded, l.inactiveAt)
		case now.Sub(l.recorded) < e.deleteAfter || now.Sub(l.inactiveAt) < e.deleteAfter:
			e.t.Errorf("%s of %s/%s deleted early: inactive since %s, recorded %s, deleted %s",
				id, l.AccountID, l.User, l.inactiveAt, l.recorded, now)
		}
	}
	// The secret is stored before anything happens to the old key: once
	// the old key is off or gone, the key in the secret works. And a user
	// always has a working key.
	for _, u := range e.stale {
		if !slices.Contains(e.userKeys(u, status), string(vocab.KeyActive)) {
			e.t.Errorf("%s has no active key at %s", u, now)
		}
		for id, l := range e.keys {
			if l.AccountID != u.account || l.User != u.name || l.initial != string(vocab.KeyActive) ||
				status[id] == string(vocab.KeyActive) {
				continue
			}
			if sid := e.secretKeyID(u); status[sid] != string(vocab.KeyActive) {
				e.t.Errorf("%s: old key %s is %q at %s, but the secret holds %q (%q)", u, id, status[id], now, sid, status[sid])
			}
		}
	}
}

// userKeys returns the statuses of u's keys in status.
func (e *e2e) userKeys(u e2eUser, status map[string]string) []string {
	var out []string
	for id, st := range status {
		if l := e.keys[id]; l.AccountID == u.account && l.User == u.name {
			out = append(out, st)
		}
	}
	return out
}

// e2eAllUsers lists every user that has a key.
func e2eAllUsers(sim *awssim.Sim) []e2eUser {
	seen := map[e2eUser]bool{}
	var out []e2eUser
	for _, k := range sim.Keys("") {
		u := e2eUser{k.AccountID, k.User}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// keysOf returns u's keys, oldest first.
func (e *e2e) keysOf(u e2eUser) []awssim.KeyInfo {
	var out []awssim.KeyInfo
	for _, k := range e.sim.Keys(u.account) {
		if k.User == u.name {
			out = append(out, k)
		}
	}
	return out
}

// assertUntouched checks that u has exactly the keys it started with, in
// the same status.
func (e *e2e) assertUntouched(u e2eUser) {
	e.t.Helper()
	var want []string
	for id, l := range e.keys {
		if l.original && l.AccountID == u.account && l.User == u.name {
			want = append(want, id+":"+l.initial)
		}
	}
	got := keyIDs(e.keysOf(u))
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		e.t.Errorf("%s: keys %v, want them untouched: %v", u, got, want)
	}
}

// originalKeys returns the IDs of u's keys from before the first run.
func (e *e2e) originalKeys(u e2eUser) []string {
	var out []string
	for id, l := range e.keys {
		if l.original && l.AccountID == u.account && l.User == u.name {
			out = append(out, id)
		}
	}
	return out
}

// staleKey returns u's original active key that is older than 90 days.
func (e *e2e) staleKey(u e2eUser) string {
	e.t.Helper()
	for id, l := range e.keys {
		if l.initial == string(vocab.KeyActive) && l.AccountID == u.account && l.User == u.name &&
			l.Created.Before(e.t0.Add(-90*e2eDay)) {
			return id
		}
	}
	e.t.Fatalf("%s has no stale key", u)
	return ""
}

// secretName is the default name_template's secret of u.
func secretName(u e2eUser) string { return "keyrotor/" + u.account + "/" + u.name }

// storedSecret is the part of a user's secret value the tests read; the
// secret access key itself is only checked for presence.
type storedSecret struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	UserName        string `json:"UserName"`
	AccountID       string `json:"AccountId"`
	Replaces        string `json:"Replaces"`
}

// secret returns u's current secret value (zero if there is none).
func (e *e2e) secret(u e2eUser) storedSecret {
	e.t.Helper()
	v, ok := e.sim.SecretValue(u.account, e.seeded.Region, secretName(u))
	if !ok {
		return storedSecret{}
	}
	var p storedSecret
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		e.t.Fatalf("secret %s is not JSON: %v", secretName(u), err)
	}
	if p.AccessKeyID == "" || p.SecretAccessKey == "" || p.UserName != u.name || p.AccountID != u.account {
		e.t.Fatalf("secret %s holds an incomplete value (key %q, user %q, account %q)", secretName(u), p.AccessKeyID, p.UserName, p.AccountID)
	}
	return p
}

// secretKeyID returns the access key ID stored in u's secret ("" if none).
func (e *e2e) secretKeyID(u e2eUser) string { return e.secret(u).AccessKeyID }

// assertSigns checks that keyID authenticates as u.
func (e *e2e) assertSigns(u e2eUser, keyID string) {
	e.t.Helper()
	arn, code := e.callerIdentity(keyID)
	if want := "arn:aws:iam::" + u.account + ":user/" + u.name; arn != want {
		e.t.Errorf("%s signing as %s: arn %q, error %q; want %s", keyID, u, arn, code, want)
	}
}

// assertRejected checks that AWS refuses requests signed with keyID.
func (e *e2e) assertRejected(keyID string) {
	e.t.Helper()
	if arn, code := e.callerIdentity(keyID); code != "InvalidClientTokenId" {
		e.t.Errorf("%s signs as %q (error %q); want InvalidClientTokenId", keyID, arn, code)
	}
}

// assertRotated checks u's final state: exactly one key, active, the one
// in its secret, replacing oldKey, and working.
func (e *e2e) assertRotated(u e2eUser, oldKey string) {
	e.t.Helper()
	keys := e.keysOf(u)
	sec := e.secret(u)
	stored := sec.AccessKeyID
	if len(keys) != 1 || keys[0].ID != stored || keys[0].Status != string(vocab.KeyActive) || stored == oldKey {
		e.t.Errorf("%s: keys %v, secret holds %q, old key %s; want only the stored key, active", u, keyIDs(keys), stored, oldKey)
		return
	}
	if sec.Replaces != oldKey {
		e.t.Errorf("%s: the secret says its key replaces %q, want %s", u, sec.Replaces, oldKey)
	}
	e.assertSigns(u, stored)
	for k := range e.sim.UserTags(u.account, u.name) {
		if _, ok := rotation.IsStateTag(k); ok {
			e.t.Errorf("%s still has state tag %s", u, k)
		}
	}
}

func keyIDs(keys []awssim.KeyInfo) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID+":"+k.Status)
	}
	return out
}

// row returns the report row of keyID.
func row(t *testing.T, rep *report.Report, keyID string) report.Key {
	t.Helper()
	for _, k := range rep.Keys {
		if k.AccessKeyID == keyID {
			return k
		}
	}
	t.Fatalf("report has no row for %s", keyID)
	return report.Key{}
}

// writes returns the write calls logged since the last ResetCalls, as
// "account service:Op" strings.
func writes(sim *awssim.Sim) []string {
	var out []string
	for _, c := range sim.WriteCalls() {
		out = append(out, c.AccountID+" "+c.Action())
	}
	return out
}

// advanceTo moves the simulated clock to t0+d.
func (e *e2e) advanceTo(d time.Duration) {
	e.t.Helper()
	target := e.t0.Add(d)
	if target.Before(e.sim.Now()) {
		e.t.Fatalf("clock at %s is past %s", e.sim.Now(), target)
	}
	e.sim.Clock().Set(target)
}

// TestRotateLifecycle follows the organization through a whole rotation,
// 17 simulated days of daily `rotate --apply` runs condensed to the days
// something is due or must not yet happen: new keys issued and stored; the
// old keys working through the grace period and refused after
// deactivation; one old key still in use held, then deactivated at the
// hard deadline; deletion exactly delete_after after the recorded
// deactivation and not an hour before; in the end one working key per user,
// the one in its secret; exempt, fresh and held users untouched.
func TestRotateLifecycle(t *testing.T) {
	t.Parallel()
	e := newE2E(t, e2eScenario(t), "policy:\n  hard_deadline: 10d\n"+e2eAccountsYAML, e2eStale)
	alice := e2eUser{e2eProd, "alice"}
	old := map[e2eUser]string{}
	for _, u := range e2eStale {
		old[u] = e.staleKey(u)
	}
	var miaForeign string
	for id := range e.foreignDeletable {
		miaForeign = id
	}

	// Day 0: every stale key gets a replacement, stored in its secret.
	res, rep := e.rotate("--apply", "--format", "json,xlsx,csv")
	if res.code != ExitOK {
		t.Fatalf("day 0: exit %d", res.code)
	}
	newKey := map[e2eUser]string{}
	for _, u := range e2eStale {
		r := row(t, rep, old[u])
		stored := e.secretKeyID(u)
		if r.Action != "issue" || r.Result != "done" || r.Reason == "" || r.SecretName != secretName(u) ||
			r.NewAccessKeyID == "" || r.NewAccessKeyID != stored {
			t.Errorf("day 0 %s: action %q result %q reason %q secret %q new %q (secret holds %q)",
				u, r.Action, r.Result, r.Reason, r.SecretName, r.NewAccessKeyID, stored)
		}
		if got, want := keyIDs(e.keysOf(u)), []string{old[u] + ":Active", stored + ":Active"}; !slices.Equal(got, want) {
			t.Errorf("day 0 %s: keys %v, want %v", u, got, want)
		}
		e.assertSigns(u, stored)
		newKey[u] = stored
	}
	if r := row(t, rep, miaForeign); r.Action != "delete" || r.Result != "done" {
		t.Errorf("mia's foreign inactive key: action %q result %q (%s)", r.Action, r.Result, r.Reason)
	}
	e.assertHeld(rep, e2eUser{e2eProd, "frank"}, "two active keys")
	e.assertHeld(rep, e2eUser{e2eProd, "gina"}, "delete-access-key")
	for _, u := range e2eExempt {
		for _, k := range e.keysOf(u) {
			if r := row(t, rep, k.ID); !r.Exempt || r.Action != "" || r.Result != "" || r.NewAccessKeyID != "" {
				t.Errorf("exempt %s: exempt %v action %q result %q", u, r.Exempt, r.Action, r.Result)
			}
		}
	}
	e.assertActionsSheet(old[e2eUser{e2eProd, "bob"}])

	// Day 2: alice's workload still signs with its old key, which works
	// during the grace period.
	e.advanceTo(2 * e2eDay)
	e.assertSigns(alice, old[alice])

	// 6d23h: the grace period is not over: nothing is written.
	e.advanceTo(e2eDeactivateAfter - time.Hour)
	e.sim.ResetCalls()
	_, rep = e.rotate("--apply")
	if w := writes(e.sim); len(w) != 0 {
		t.Errorf("6d23h: writes %v", w)
	}
	for _, u := range e2eStale {
		if r := row(t, rep, old[u]); r.Status != vocab.KeyActive || r.PlannedAction != "none" || !strings.Contains(r.Reason, "deactivation due") {
			t.Errorf("6d23h %s: status %s planned %q reason %q", u, r.Status, r.PlannedAction, r.Reason)
		}
	}

	// 7d1h: a dry run plans the deactivations and writes nothing; the real
	// run deactivates every old key but alice's, which is still in use.
	e.advanceTo(e2eDeactivateAfter + time.Hour)
	deactivated := e.sim.Now()
	e.sim.ResetCalls()
	_, rep = e.rotate()
	if w := writes(e.sim); len(w) != 0 {
		t.Errorf("dry run at 7d1h: writes %v", w)
	}
	if r := row(t, rep, old[e2eUser{e2eProd, "bob"}]); r.PlannedAction != "deactivate" || r.Result != "planned" {
		t.Errorf("dry run at 7d1h: bob planned %q result %q", r.PlannedAction, r.Result)
	}
	_, rep = e.rotate("--apply")
	for _, u := range e2eStale {
		r := row(t, rep, old[u])
		if u == alice {
			if r.Result != "held" || !strings.Contains(r.Reason, "still in use") || r.NewAccessKeyID != newKey[u] {
				t.Errorf("7d1h alice: action %q result %q reason %q", r.Action, r.Result, r.Reason)
			}
			e.assertSigns(alice, old[alice]) // and goes on using it
			continue
		}
		if r.Action != "deactivate" || r.Result != "done" || r.Reason == "" || r.NewAccessKeyID != newKey[u] || r.SecretName != secretName(u) {
			t.Errorf("7d1h %s: action %q result %q reason %q new %q secret %q", u, r.Action, r.Result, r.Reason, r.NewAccessKeyID, r.SecretName)
		}
		e.assertRejected(old[u])
		e.assertSigns(u, newKey[u])
		if st := e.state(u, old[u]); st.Phase != rotation.PhaseDeactivated || !st.Deactivated.Equal(deactivated) {
			t.Errorf("7d1h %s: state %s, want deactivated at %s", u, st, deactivated)
		}
	}

	// 10d1h: the hard deadline retires alice's old key although it is in use.
	e.advanceTo(10*e2eDay + time.Hour)
	_, rep = e.rotate("--apply")
	if r := row(t, rep, old[alice]); r.Action != "deactivate" || r.Result != "done" || !strings.Contains(r.Reason, "hard deadline") {
		t.Errorf("10d1h alice: action %q result %q reason %q", r.Action, r.Result, r.Reason)
	}
	e.assertRejected(old[alice])

	// 6d23h after the deactivation: nothing deleted, nothing written.
	e.advanceTo(e2eDeactivateAfter + time.Hour + e2eDeleteAfter - time.Hour)
	e.sim.ResetCalls()
	_, rep = e.rotate("--apply")
	if w := writes(e.sim); len(w) != 0 {
		t.Errorf("deactivation + 6d23h: writes %v", w)
	}
	for _, u := range e2eStale {
		if r := row(t, rep, old[u]); r.Status != vocab.KeyInactive || !strings.Contains(r.Reason, "deletion due") {
			t.Errorf("deactivation + 6d23h %s: status %s reason %q", u, r.Status, r.Reason)
		}
	}

	// 7d1h after the deactivation: deleted, alice's (3 days younger) not.
	e.advanceTo(e2eDeactivateAfter + time.Hour + e2eDeleteAfter + time.Hour)
	_, rep = e.rotate("--apply")
	for _, u := range e2eStale {
		r := row(t, rep, old[u])
		if u == alice {
			if r.Action != "" || r.Status != vocab.KeyInactive {
				t.Errorf("alice deleted 4 days early: action %q result %q", r.Action, r.Result)
			}
			continue
		}
		if r.Action != "delete" || r.Result != "done" || r.Reason == "" || r.SecretName != secretName(u) {
			t.Errorf("deletion day %s: action %q result %q reason %q secret %q", u, r.Action, r.Result, r.Reason, r.SecretName)
		}
		e.assertRotated(u, old[u])
	}

	// Alice's turn, 7 days after her hard-deadline deactivation.
	e.advanceTo(17*e2eDay + 2*time.Hour)
	_, rep = e.rotate("--apply")
	if r := row(t, rep, old[alice]); r.Action != "delete" || r.Result != "done" {
		t.Errorf("alice deletion: action %q result %q reason %q", r.Action, r.Result, r.Reason)
	}

	// Converged: the next run has nothing to do.
	e.advanceTo(18 * e2eDay)
	e.sim.ResetCalls()
	if res, _ := e.rotate("--apply"); res.code != ExitOK {
		t.Errorf("final run: exit %d", res.code)
	}
	if w := writes(e.sim); len(w) != 0 {
		t.Errorf("final run writes %v", w)
	}
	for _, u := range e2eStale {
		e.assertRotated(u, old[u])
		if got := e.secretKeyID(u); got != newKey[u] {
			t.Errorf("%s: secret holds %s, issued %s", u, got, newKey[u])
		}
	}
	for _, u := range e2eUntouched {
		e.assertUntouched(u)
	}
	e.assertNoSecrets(e.texts...)
}

// assertHeld checks that u's stale key was held with a reason containing
// want and nothing was attempted.
func (e *e2e) assertHeld(rep *report.Report, u e2eUser, want string) {
	e.t.Helper()
	r := row(e.t, rep, e.staleKey(u))
	if r.Result != "held" || r.PlannedAction != "hold" || !strings.Contains(r.Reason, want) {
		e.t.Errorf("%s: planned %q result %q reason %q; want held, %q", u, r.PlannedAction, r.Result, r.Reason, want)
	}
}

// state returns the parsed state tag of u's keyID.
func (e *e2e) state(u e2eUser, keyID string) rotation.State {
	e.t.Helper()
	v, ok := e.sim.UserTags(u.account, u.name)[rotation.TagKey(keyID)]
	if !ok {
		return rotation.State{}
	}
	st, err := rotation.ParseState(v)
	if err != nil {
		e.t.Fatalf("state tag of %s: %v", keyID, err)
	}
	return st
}

// assertActionsSheet checks the latest run's XLSX for an Actions sheet
// that lists keyID.
func (e *e2e) assertActionsSheet(keyID string) {
	e.t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.lastDir, "*.xlsx"))
	if len(files) != 1 {
		e.t.Fatalf("xlsx files in %s: %v", e.lastDir, files)
	}
	f, err := excelize.OpenFile(files[0])
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if !slices.Contains(f.GetSheetList(), "Actions") {
		e.t.Fatalf("sheets %v: no Actions", f.GetSheetList())
	}
	rows, err := f.GetRows("Actions")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rows[1:] {
		if slices.Contains(r, keyID) && slices.Contains(r, "issue") && slices.Contains(r, "done") {
			return
		}
	}
	e.t.Errorf("Actions sheet has no done issue row for %s; header %v, %d rows", keyID, rows[0], len(rows))
}

// TestRotateDryRunAndAuditWriteNothing runs audit and rotate without
// --apply, before and after a real rotation started, and checks the
// simulator's call log for write calls.
func TestRotateDryRunAndAuditWriteNothing(t *testing.T) {
	t.Parallel()
	e := newE2E(t, e2eScenario(t), e2eAccountsYAML, e2eStale)
	bob := e2eUser{e2eProd, "bob"}
	oldBob := e.staleKey(bob)
	for _, cmd := range []string{"audit", "rotate"} {
		res, rep := e.cli(cmd)
		if res.code != ExitOK {
			t.Fatalf("%s: exit %d", cmd, res.code)
		}
		if w := writes(e.sim); len(w) != 0 {
			t.Errorf("%s made write calls: %v", cmd, w)
		}
		r := row(t, rep, oldBob)
		if r.PlannedAction != "issue" || r.Action != "" {
			t.Errorf("%s: bob's stale key planned %q action %q", cmd, r.PlannedAction, r.Action)
		}
		if cmd == "rotate" && (rep.Run.Mode != vocab.ModePlan || r.Result != "planned") {
			t.Errorf("rotate without --apply: mode %q result %q", rep.Run.Mode, r.Result)
		}
	}
	for _, u := range append(slices.Clone(e2eStale), e2eUntouched...) {
		e.assertUntouched(u)
	}

	// Mid-rotation, when decisions need fresh last-used data, still no write.
	e.rotate("--apply")
	e.advanceTo(e2eDeactivateAfter + time.Hour)
	e.sim.ResetCalls()
	for _, cmd := range []string{"audit", "rotate"} {
		_, rep := e.cli(cmd)
		if r := row(t, rep, oldBob); r.PlannedAction != "deactivate" || r.Status != vocab.KeyActive {
			t.Errorf("%s at 7d1h: bob planned %q, status %s", cmd, r.PlannedAction, r.Status)
		}
	}
	if w := writes(e.sim); len(w) != 0 {
		t.Errorf("audit/rotate at 7d1h made write calls: %v", w)
	}
	e.assertNoSecrets(e.texts...)
}

// TestRotateFilters checks --phase, --user and --account: filtered-out
// steps are reported as skipped and make no call; the rest go ahead.
func TestRotateFilters(t *testing.T) {
	t.Parallel()
	e := newE2E(t, e2eScenario(t), e2eAccountsYAML, e2eStale)
	alice, bob, mia := e2eUser{e2eProd, "alice"}, e2eUser{e2eProd, "bob"}, e2eUser{e2eDev, "mia"}
	old := map[e2eUser]string{}
	for _, u := range e2eStale {
		old[u] = e.staleKey(u)
	}

	// Only deactivations allowed, none due: nothing happens.
	_, rep := e.rotate("--apply", "--phase", "deactivate")
	if w := writes(e.sim); len(w) != 0 {
		t.Errorf("--phase deactivate on day 0 wrote %v", w)
	}
	for _, u := range e2eStale {
		if r := row(t, rep, old[u]); r.Result != "skipped" || !strings.Contains(r.Reason, "--phase") {
			t.Errorf("--phase deactivate %s: result %q reason %q", u, r.Result, r.Reason)
		}
		e.assertUntouched(u)
	}

	// One user of one account.
	e.sim.ResetCalls()
	_, rep = e.rotate("--apply", "--phase", "issue", "--user", "bob", "--account", e2eProd)
	for _, c := range e.sim.WriteCalls() {
		if c.AccountID != e2eProd {
			t.Errorf("--account %s: write %s in %s", e2eProd, c.Action(), c.AccountID)
		}
	}
	if len(rep.Accounts) != 1 || rep.Accounts[0].AccountID != e2eProd {
		t.Errorf("--account %s: report accounts %+v", e2eProd, rep.Accounts)
	}
	if r := row(t, rep, old[bob]); r.Action != "issue" || r.Result != "done" {
		t.Errorf("--user bob: bob's action %q result %q reason %q", r.Action, r.Result, r.Reason)
	}
	if r := row(t, rep, old[alice]); r.Result != "skipped" || !strings.Contains(r.Reason, "--user") {
		t.Errorf("--user bob: alice's result %q reason %q", r.Result, r.Reason)
	}
	newBob := e.secretKeyID(bob)
	for _, u := range e2eStale {
		if n := len(e.keysOf(u)); u == bob && n != 2 || u != bob && n != len(e.originalKeys(u)) {
			t.Errorf("after --user bob: %s has keys %v", u, keyIDs(e.keysOf(u)))
		}
	}
	if res, _ := e.rotate("--apply", "--account", "999999999999"); res.code != ExitUsage || !strings.Contains(res.stderr, "999999999999") {
		t.Errorf("--account of a stranger: exit %d, stderr %q", res.code, res.stderr)
	}

	// A week later, --phase issue issues for the others but neither
	// deactivates bob's old key nor deletes mia's foreign key (and so
	// cannot issue for mia, whose slot that delete would free).
	e.advanceTo(e2eDeactivateAfter + time.Hour)
	e.sim.ResetCalls()
	_, rep = e.rotate("--apply", "--phase", "issue")
	for _, c := range e.sim.WriteCalls() {
		if op := c.Action(); op != "iam:TagUser" && op != "iam:CreateAccessKey" && !strings.HasPrefix(op, "secretsmanager:") {
			t.Errorf("--phase issue made a %s call in %s", op, c.AccountID)
		}
	}
	for _, u := range e2eStale {
		r := row(t, rep, old[u])
		switch u {
		case bob:
			if r.PlannedAction != "deactivate" || r.Result != "skipped" || e.keysOf(bob)[0].Status != string(vocab.KeyActive) {
				t.Errorf("--phase issue: bob planned %q result %q", r.PlannedAction, r.Result)
			}
		case mia:
			if r.Action != "issue" || r.Result != "skipped" || len(e.keysOf(mia)) != 2 {
				t.Errorf("--phase issue: mia action %q result %q reason %q, keys %v", r.Action, r.Result, r.Reason, keyIDs(e.keysOf(mia)))
			}
		default:
			if r.Action != "issue" || r.Result != "done" || e.secretKeyID(u) == "" {
				t.Errorf("--phase issue: %s action %q result %q reason %q", u, r.Action, r.Result, r.Reason)
			}
		}
	}

	// Then only bob's deactivation.
	e.sim.ResetCalls()
	_, rep = e.rotate("--apply", "--phase", "deactivate", "--user", "bob")
	// UpdateAccessKey, then the deactivation mirrored on bob's secret, then
	// TagUser to record it (and the notice).
	if w := writes(e.sim); len(w) < 3 || w[0] != e2eProd+" iam:UpdateAccessKey" || w[1] != e2eProd+" secretsmanager:TagResource" ||
		slices.ContainsFunc(w[2:], func(c string) bool { return c != e2eProd+" iam:TagUser" }) {
		t.Errorf("--phase deactivate --user bob: writes %v", w)
	}
	if r := row(t, rep, old[bob]); r.Action != "deactivate" || r.Result != "done" || r.NewAccessKeyID != newBob {
		t.Errorf("--phase deactivate: bob's action %q result %q", r.Action, r.Result)
	}
	e.assertRejected(old[bob])
	e.assertSigns(bob, newBob)

	// --phase delete frees mia's slot; the issue waits for a run that
	// allows it.
	_, rep = e.rotate("--apply", "--phase", "delete", "--user", "mia")
	if keys := e.keysOf(mia); len(keys) != 1 || keys[0].ID != old[mia] {
		t.Errorf("--phase delete --user mia: keys %v", keyIDs(keys))
	}
	if r := row(t, rep, old[mia]); r.Result != "skipped" || !strings.Contains(r.Reason, "--phase") {
		t.Errorf("--phase delete: mia's issue result %q reason %q", r.Result, r.Reason)
	}
	e.assertNoSecrets(e.texts...)
}

// TestRotateReactivate rolls a deactivation back with `keyrotor
// reactivate`, checks that the deletion it would have met does not happen
// and that the key is retired again only after a new grace period; and
// that keys keyrotor did not deactivate are refused.
func TestRotateReactivate(t *testing.T) {
	t.Parallel()
	e := newE2E(t, e2eScenario(t), e2eAccountsYAML, e2eStale)
	henry, ivan, lena := e2eUser{e2eDev, "henry"}, e2eUser{e2eDev, "ivan"}, e2eUser{e2eProd, "lena"}
	oldHenry, oldIvan := e.staleKey(henry), e.staleKey(ivan)
	lenaKey := e.keysOf(lena)[0].ID
	dev := []string{"--apply", "--account", e2eDev}

	e.rotate(dev...)
	for _, c := range e.sim.WriteCalls() {
		if c.AccountID != e2eDev {
			t.Errorf("--account %s: write %s in %s", e2eDev, c.Action(), c.AccountID)
		}
	}
	newHenry := e.secretKeyID(henry)
	e.advanceTo(e2eDeactivateAfter + time.Hour)
	e.rotate(dev...)
	e.assertRejected(oldHenry)

	// A day later henry's owner finds a forgotten caller and rolls back.
	e.advanceTo(8 * e2eDay)
	reactivated := e.sim.Now()
	res := e.runAt("reactivate", "--account", e2eDev, "--user", "henry", "--key", oldHenry)
	if res.code != ExitOK || !strings.Contains(res.stdout, "Active again") || !strings.Contains(res.stdout, newHenry) {
		t.Fatalf("reactivate: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	e.texts = append(e.texts, res.stdout, res.stderr)
	e.observe()
	if st := e.state(henry, oldHenry); st.Phase != rotation.PhaseReactivated || !st.Reactivated.Equal(reactivated) || st.NewKeyID != newHenry {
		t.Errorf("after reactivate: state %s", st)
	}
	if k := e.keysOf(henry); len(k) != 2 || k[0].ID != oldHenry || k[0].Status != string(vocab.KeyActive) {
		t.Errorf("after reactivate: keys %v", keyIDs(k))
	}

	// Keys keyrotor did not deactivate: refused, nothing written.
	e.sim.ResetCalls()
	for _, c := range []struct {
		u   e2eUser
		key string
	}{{lena, lenaKey}, {ivan, e.secretKeyID(ivan)}, {henry, oldHenry}} {
		res := e.runAt("reactivate", "--account", c.u.account, "--user", c.u.name, "--key", c.key)
		e.texts = append(e.texts, res.stdout, res.stderr)
		// Issue 11: the error line masks the key ID (it echoed it whole),
		// as every line for people does.
		if res.code != ExitFailed || !strings.Contains(res.stderr, "not deactivated by keyrotor") ||
			!strings.Contains(res.stderr, report.MaskKeyID(c.key)) || strings.Contains(res.stderr, c.key) {
			t.Errorf("reactivate %s of %s: exit %d, stderr %q", c.key, c.u, res.code, res.stderr)
		}
	}
	if w := writes(e.sim); len(w) != 0 {
		t.Errorf("refused reactivations wrote %v", w)
	}
	e.assertUntouched(lena)

	// Deletion day of the original deactivation: ivan's old key goes,
	// henry's stays, active.
	e.advanceTo(2*e2eDeactivateAfter + 2*time.Hour)
	_, rep := e.rotate(dev...)
	if r := row(t, rep, oldHenry); r.Action != "" || r.Status != vocab.KeyActive || r.RotationState != "reactivated" {
		t.Errorf("deletion day: henry's reactivated key action %q status %s state %q reason %q", r.Action, r.Status, r.RotationState, r.Reason)
	}
	e.assertRotated(ivan, oldIvan)

	// A full grace period after the reactivation, unused since: retired
	// again, and deleted only delete_after after that.
	e.advanceTo(8*e2eDay + e2eDeactivateAfter + time.Hour)
	_, rep = e.rotate(dev...)
	if r := row(t, rep, oldHenry); r.Action != "deactivate" || r.Result != "done" {
		t.Errorf("reactivated + 7d1h: henry's action %q result %q reason %q", r.Action, r.Result, r.Reason)
	}
	e.assertRejected(oldHenry)
	e.advanceTo(8*e2eDay + e2eDeactivateAfter + e2eDeleteAfter + 2*time.Hour)
	e.rotate(dev...)
	e.assertRotated(henry, oldHenry)
	e.assertNoSecrets(e.texts...)
}

// TestRotateConcurrentRuns starts two `rotate --apply` runs against the same
// organization at once and checks that each stale key was replaced exactly
// once, and that a later run finishes what the loser left behind without
// issuing again.
func TestRotateConcurrentRuns(t *testing.T) {
	t.Parallel()
	for round := range 3 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			e := newE2E(t, e2eScenario(t), e2eAccountsYAML, e2eStale)
			old := map[e2eUser]string{}
			for _, u := range e2eStale {
				old[u] = e.staleKey(u)
			}
			var wg sync.WaitGroup
			results := make([]result, 2)
			for i := range results {
				wg.Go(func() {
					var out, errb strings.Builder
					code := run(context.Background(), []string{"--config", e.config, "rotate", "--apply", "--format", "json",
						"--out", filepath.Join(e.dir, fmt.Sprint("concurrent-", i))}, e.env(&out, &errb, e.sim.Now))
					results[i] = result{code: code, stdout: out.String(), stderr: errb.String()}
				})
			}
			wg.Wait()
			for i, r := range results {
				e.texts = append(e.texts, r.stdout, r.stderr)
				if r.code != ExitOK {
					t.Errorf("run %d: exit %d\n%s", i, r.code, r.stderr)
				}
				rep := e.latestReport(filepath.Join(e.dir, fmt.Sprint("concurrent-", i)))
				outcomes := map[vocab.Result]int{}
				for _, u := range e2eStale {
					outcomes[row(t, rep, old[u]).Result]++
				}
				t.Logf("run %d: stale keys by result %v", i, outcomes)
			}
			e.observe()
			e.assertIssuedOnce(old)

			// After the lease of any intent left behind, one more run adopts
			// or finishes; it never issues a second replacement.
			e.advanceTo(time.Hour)
			e.rotate("--apply")
			e.assertIssuedOnce(old)
			for _, u := range e2eStale {
				st := e.state(u, old[u])
				if st.Phase != rotation.PhaseIssued || st.NewKeyID != e.secretKeyID(u) {
					t.Errorf("%s: state %s, secret holds %s", u, st, e.secretKeyID(u))
				}
			}
			e.assertNoSecrets(e.texts...)
		})
	}
}

// assertIssuedOnce checks that every stale user got exactly one new key,
// active and stored, next to its untouched old key, and that IAM created
// no other key: the successful CreateAccessKey calls per account equal the
// stale users there.
func (e *e2e) assertIssuedOnce(old map[e2eUser]string) {
	e.t.Helper()
	created := map[string]int{}
	for _, c := range e.sim.Calls() {
		if c.Action() == "iam:CreateAccessKey" && c.ErrorCode == "" {
			created[c.AccountID]++
		}
	}
	want := map[string]int{}
	for _, u := range e2eStale {
		want[u.account]++
		keys := e.keysOf(u)
		var fresh []string
		for _, k := range keys {
			if !e.keys[k.ID].original {
				fresh = append(fresh, k.ID)
			}
		}
		if len(fresh) != 1 || fresh[0] != e.secretKeyID(u) || !slices.Contains(keyIDs(keys), old[u]+":Active") {
			e.t.Errorf("%s: keys %v, secret holds %q; want the old key and one stored replacement", u, keyIDs(keys), e.secretKeyID(u))
		}
	}
	for acct, n := range want {
		if created[acct] != n {
			e.t.Errorf("account %s: %d keys created, want %d (one per stale user)", acct, created[acct], n)
		}
	}
	if len(created) != len(want) {
		e.t.Errorf("keys created per account: %v, want %v", created, want)
	}
}

// TestRotateLeavesKeyToOtherRun plants a fresh issuing intent of another
// run on a stale key, as a runner that is mid-issue right now leaves it:
// rotate leaves the key alone (reported as a skipped issue) until the
// intent's lease ends, then redoes the issue.
func TestRotateLeavesKeyToOtherRun(t *testing.T) {
	t.Parallel()
	e := newE2E(t, e2eScenario(t), e2eAccountsYAML, e2eStale)
	bob := e2eUser{e2eProd, "bob"}
	old := e.staleKey(bob)
	intent, err := rotation.State{Phase: rotation.PhaseIssuing, RunID: "20261126T055500Z-0ther1",
		At: e.t0.Add(-5 * time.Minute)}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	_, err = iam.NewFromConfig(e.srv.RootConfig(bob.account)).TagUser(context.Background(), &iam.TagUserInput{UserName: aws.String(bob.name), Tags: []iamtypes.Tag{{
		Key: aws.String(rotation.TagKey(old)), Value: aws.String(intent)}}})
	if err != nil {
		t.Fatal(err)
	}

	_, rep := e.rotate("--apply")
	if r := row(t, rep, old); r.PlannedAction != "issue" || r.Result != "skipped" || !strings.Contains(r.Reason, "another run") {
		t.Errorf("inside the lease: bob planned %q result %q reason %q", r.PlannedAction, r.Result, r.Reason)
	}
	e.assertUntouched(bob)

	e.advanceTo(time.Hour)
	_, rep = e.rotate("--apply")
	if r := row(t, rep, old); r.Action != "issue" || r.Result != "done" {
		t.Errorf("after the lease: bob action %q result %q reason %q", r.Action, r.Result, r.Reason)
	}
	if st := e.state(bob, old); st.Phase != rotation.PhaseIssued || st.NewKeyID != e.secretKeyID(bob) || len(e.keysOf(bob)) != 2 {
		t.Errorf("after the lease: state %s, keys %v", st, keyIDs(e.keysOf(bob)))
	}
}
