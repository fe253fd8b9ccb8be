package rotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

const (
	exAccount = "222222222222"
	exRegion  = "us-east-1"
	exDay     = 24 * time.Hour
)

// exEnv is one simulated member account, reached over HTTP with the real
// SDK clients, plus everything a test needs to plan and apply in it. Every
// test using it is checked, at cleanup, for secrets leaked into logs,
// outcomes and notices.
type exEnv struct {
	t        *testing.T
	sim      *awssim.Sim
	srv      *awssimtest.Server
	root     awssim.Credentials
	iam      *iam.Client
	sm       *secretsmanager.Client
	pol      rotation.Policy
	notifier *exNotifier
	logs     *awssimtest.SyncBuffer
	logger   *slog.Logger
	users    []string
	// maxAttempts is the SDK's attempts per call (1: no retries).
	maxAttempts int

	mu       sync.Mutex
	outcomes []rotation.Outcome
}

func exNewEnv(t *testing.T, maxAttempts int) *exEnv {
	t.Helper()
	sim := awssim.New(awssim.WithSeed(11))
	sim.CreateOrganization("111111111111", "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: exAccount, Name: "member"})
	srv := awssimtest.Start(t, sim)
	e := &exEnv{
		t: t, sim: sim, srv: srv, root: sim.RootCredentials(exAccount),
		pol: rotation.DefaultPolicy(), notifier: &exNotifier{}, logs: &awssimtest.SyncBuffer{},
		maxAttempts: maxAttempts,
	}
	e.logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := e.config(e.root)
	e.iam, e.sm = iam.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	t.Cleanup(e.checkNoLeak)
	return e
}

// config is an SDK config signing with c. Retries back off for at most a
// millisecond so that tests with failures stay fast.
func (e *exEnv) config(c awssim.Credentials) aws.Config {
	return e.srv.Config(c, awssimtest.Region(exRegion), awssimtest.Retries(e.maxAttempts, time.Millisecond))
}

func (e *exEnv) secretName(user string) string { return "keyrotor/" + exAccount + "/" + user }

func (e *exEnv) userARN(user string) string { return "arn:aws:iam::" + exAccount + ":user/" + user }

// writerARN is the principal the tests' executor acts as (the account's
// root, standing in for the rotation role), which the secrets' policies
// let write.
func (e *exEnv) writerARN() string { return "arn:aws:iam::" + exAccount + ":root" }

func (e *exEnv) ago(d time.Duration) time.Time { return e.sim.Now().Add(-d) }

// addUser creates a user with keys and returns the keys' credentials.
func (e *exEnv) addUser(name string, keys ...awssim.KeySpec) []awssim.Credentials {
	e.sim.AddUser(exAccount, awssim.UserSpec{Name: name, Created: e.ago(400 * exDay)})
	e.users = append(e.users, name)
	var out []awssim.Credentials
	for _, k := range keys {
		out = append(out, e.sim.AddAccessKey(exAccount, name, k))
	}
	return out
}

// inventory builds the account's inventory from the simulator's state, as a
// fresh Collect would see it (last use always fresh).
func (e *exEnv) inventory() rotation.Inventory {
	e.t.Helper()
	inv := rotation.Inventory{AccountID: exAccount, AccountName: "member"}
	keys := e.sim.Keys(exAccount)
	for _, name := range e.users {
		u := rotation.User{
			Name: name, ARN: e.userARN(name), UserID: "AIDA" + strings.ToUpper(name),
			Tags: e.sim.UserTags(exAccount, name), SecretName: e.secretName(name),
		}
		for _, k := range keys {
			if k.User != name {
				continue
			}
			u.Keys = append(u.Keys, rotation.Key{
				ID: k.ID, Status: vocab.KeyStatus(k.Status), Created: k.Created, LastUsed: k.LastUsed,
				LastUsedService: k.LastService, LastUsedRegion: k.LastRegion, LastUsedFresh: true,
			})
		}
		if u.HasState() {
			m, err := rotation.ReadSecretMeta(context.Background(), e.sm, e.secretName(name))
			if err != nil {
				e.t.Fatalf("secret metadata of %s: %v", name, err)
			}
			u.Secret = m
		}
		inv.Users = append(inv.Users, u)
	}
	return inv
}

func (e *exEnv) executor(runID string) *rotation.Executor {
	return &rotation.Executor{
		IAM:      e.iam,
		Secrets:  rotation.SecretStore{API: e.sm, UserReadPolicy: true, WriterARN: e.writerARN()},
		Notifier: e.notifier,
		Now:      e.sim.Now,
		RunID:    runID, AccountID: exAccount, AccountName: "member", SecretRegion: exRegion,
		Logger: e.logger, Concurrency: 2,
	}
}

// run plans on a fresh inventory and applies the plan.
func (e *exEnv) run(ctx context.Context, runID string) ([]rotation.Action, []rotation.Outcome) {
	e.t.Helper()
	inv := e.inventory()
	actions := rotation.Plan(inv, e.pol, e.sim.Now(), runID)
	outs := e.executor(runID).Apply(ctx, inv, actions)
	e.record(outs)
	return actions, outs
}

func (e *exEnv) record(outs []rotation.Outcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outcomes = append(e.outcomes, outs...)
}

// checkNoLeak fails the test if any secret the simulator ever issued shows
// up in the logs, in an outcome or in a notice.
func (e *exEnv) checkNoLeak() {
	var hay strings.Builder
	hay.WriteString(e.logs.String())
	e.mu.Lock()
	for _, o := range e.outcomes {
		fmt.Fprintf(&hay, "%v %+v %#v\n", o, o, o)
		if o.Err != nil {
			hay.WriteString(o.Err.Error())
		}
		if o.NotifyErr != nil {
			hay.WriteString(o.NotifyErr.Error())
		}
	}
	e.mu.Unlock()
	for _, n := range e.notifier.all() {
		fmt.Fprintf(&hay, "%+v\n", n)
	}
	text := hay.String()
	for _, s := range e.sim.IssuedSecrets() {
		if strings.Contains(text, s) {
			e.t.Errorf("a secret access key leaked into logs, outcomes or notices")
			return
		}
	}
}

func (e *exEnv) tags(user string) map[string]string { return e.sim.UserTags(exAccount, user) }

func (e *exEnv) state(user, keyID string) rotation.State {
	e.t.Helper()
	v, ok := e.tags(user)[rotation.TagKey(keyID)]
	if !ok {
		e.t.Fatalf("user %s has no state tag for %s", user, keyID)
	}
	st, err := rotation.ParseState(v)
	if err != nil {
		e.t.Fatalf("state tag of %s: %v", keyID, err)
	}
	return st
}

// keysOf returns a user's keys by ID.
func (e *exEnv) keysOf(user string) map[string]awssim.KeyInfo {
	out := map[string]awssim.KeyInfo{}
	for _, k := range e.sim.Keys(exAccount) {
		if k.User == user {
			out[k.ID] = k
		}
	}
	return out
}

func (e *exEnv) setTag(user, key, value string) {
	e.t.Helper()
	_, err := e.iam.TagUser(context.Background(), &iam.TagUserInput{
		UserName: aws.String(user), Tags: []iamtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}},
	})
	if err != nil {
		e.t.Fatalf("tag user %s: %v", user, err)
	}
}

// writeOps lists the write operations the simulator saw for the member
// account since the last ResetCalls, failed ones included.
func (e *exEnv) writeOps() []string {
	var out []string
	for _, c := range e.sim.WriteCalls() {
		if c.AccountID == exAccount {
			out = append(out, c.Service+":"+c.Op)
		}
	}
	return out
}

// callerARN signs GetCallerIdentity with c and returns the ARN, or the
// error code.
func (e *exEnv) callerARN(c awssim.Credentials) (arn, code string) {
	out, err := sts.NewFromConfig(e.config(c)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return "", ae.ErrorCode()
		}
		return "", err.Error()
	}
	return aws.ToString(out.Arn), ""
}

// readSecretAs reads a user's secret signing with c.
func (e *exEnv) readSecretAs(c awssim.Credentials, user string) (string, error) {
	out, err := secretsmanager.NewFromConfig(e.config(c)).GetSecretValue(context.Background(),
		&secretsmanager.GetSecretValueInput{SecretId: aws.String(e.secretName(user))})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.SecretString), nil
}

// exNotifier records notices; fail makes it fail, hook runs on every call.
type exNotifier struct {
	mu      sync.Mutex
	notices []rotation.Notice
	fail    error
	hook    func(rotation.Notice)
}

func (n *exNotifier) Notify(_ context.Context, e rotation.Notice) (rotation.Delivery, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hook != nil {
		n.hook(e)
	}
	if n.fail != nil {
		return rotation.Delivery{}, n.fail
	}
	n.notices = append(n.notices, e)
	return rotation.Delivery{To: []string{e.User + "@example.com"}, Subject: string(e.Kind)}, nil
}

func (n *exNotifier) all() []rotation.Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.notices)
}

func (n *exNotifier) setFail(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fail = err
}

// only returns the single outcome of kind for key, failing otherwise.
func only(t *testing.T, outs []rotation.Outcome, kind rotation.ActionKind, keyID string) rotation.Outcome {
	t.Helper()
	var found []rotation.Outcome
	for _, o := range outs {
		if o.Action.Kind == kind && o.Action.KeyID == keyID {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s outcome for %s, got %d in %s", kind, keyID, len(found), describeOutcomes(outs))
	}
	return found[0]
}

func describeOutcomes(outs []rotation.Outcome) string {
	var b strings.Builder
	for _, o := range outs {
		fmt.Fprintf(&b, "\n  %s %s %s: %q err=%v notifyErr=%v", o.Action.User, o.Action.Kind, o.Action.KeyID, o.Result, o.Err, o.NotifyErr)
		if o.Action.Kind == rotation.ActionHold {
			fmt.Fprintf(&b, " (%s: %s)", o.Action.Code, o.Action.Reason)
		}
	}
	return b.String()
}

// mutating counts the actions that would call AWS (or mail).
func mutating(actions []rotation.Action) []rotation.Action {
	var out []rotation.Action
	for _, a := range actions {
		if a.Kind.Mutates() || a.Notify != "" {
			out = append(out, a)
		}
	}
	return out
}

// assertRotated checks the end state of a successful issue for user: the
// old key untouched, exactly one replacement, which signs, is in the secret
// (which the user can read with it) and recorded in the state tag.
func (e *exEnv) assertRotated(user, oldKey string) string {
	t := e.t
	t.Helper()
	keys := e.keysOf(user)
	if len(keys) != 2 || keys[oldKey].Status != "Active" {
		t.Fatalf("keys of %s = %+v, want the old key %s active and one replacement", user, keys, oldKey)
	}
	var newKey string
	for id := range keys {
		if id != oldKey {
			newKey = id
		}
	}
	if keys[newKey].Status != "Active" {
		t.Fatalf("replacement %s is %s", newKey, keys[newKey].Status)
	}
	creds, ok := e.sim.CredentialsFor(newKey)
	if !ok {
		t.Fatalf("simulator does not know %s", newKey)
	}
	if arn, code := e.callerARN(creds); arn != e.userARN(user) {
		t.Fatalf("GetCallerIdentity with the new key: arn=%q err=%s", arn, code)
	}
	raw, ok := e.sim.SecretValue(exAccount, exRegion, e.secretName(user))
	if !ok {
		t.Fatalf("secret %s missing", e.secretName(user))
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("secret value is not a JSON object of strings")
	}
	want := map[string]string{
		"AccessKeyId": newKey, "SecretAccessKey": creds.SecretAccessKey, "UserName": user,
		"AccountId": exAccount, "Replaces": oldKey, "CreateDate": keys[newKey].Created.UTC().Format(time.RFC3339),
	}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("secret field %s does not hold the expected value (key %s)", k, newKey)
		}
	}
	if len(v) != len(want) {
		t.Errorf("secret has fields %d, want %d", len(v), len(want))
	}
	got, err := e.readSecretAs(creds, user)
	if err != nil || got != raw {
		t.Fatalf("the user cannot read its secret with its new key: %v", err)
	}
	st := e.state(user, oldKey)
	if st.Phase != rotation.PhaseIssued || st.NewKeyID != newKey {
		t.Fatalf("state of %s = %s, want issued new=%s", oldKey, st, newKey)
	}
	return newKey
}

func TestExecutorIssueEndToEnd(t *testing.T) {
	e := exNewEnv(t, 3)
	alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
	bob := e.addUser("bob", awssim.KeySpec{Created: e.ago(10 * exDay)})
	oldKey := alice[0].AccessKeyID
	now := e.sim.Now()

	actions, outs := e.run(context.Background(), "run-1")
	if len(outs) != len(actions) {
		t.Fatalf("%d outcomes for %d actions", len(outs), len(actions))
	}
	for i := range outs {
		if outs[i].Action.KeyID != actions[i].KeyID || outs[i].Action.Kind != actions[i].Kind {
			t.Fatalf("outcome %d is for %s %s, action is %s %s", i, outs[i].Action.Kind, outs[i].Action.KeyID, actions[i].Kind, actions[i].KeyID)
		}
	}
	o := only(t, outs, rotation.ActionIssue, oldKey)
	if o.Result != vocab.ResultDone || o.Err != nil || o.NotifyErr != nil {
		t.Fatalf("issue: %s", describeOutcomes(outs))
	}
	newKey := e.assertRotated("alice", oldKey)
	if o.NewKeyID != newKey || o.SecretName != e.secretName("alice") {
		t.Errorf("outcome new key %s secret %s", o.NewKeyID, o.SecretName)
	}
	if b := only(t, outs, rotation.ActionNone, bob[0].AccessKeyID); b.Result != "" || b.Err != nil {
		t.Errorf("bob's young key: result %q err %v", b.Result, b.Err)
	}

	st := e.state("alice", oldKey)
	if !st.Issued.Equal(now) || st.RunID != "run-1" || !st.Notified.Has(rotation.EventIssued) {
		t.Errorf("state = %s, want issued at %s by run-1 with the issued mail recorded", st, now)
	}
	if o.Notified == nil || len(o.Notified.To) != 1 {
		t.Errorf("Notified = %+v", o.Notified)
	}
	notices := e.notifier.all()
	if len(notices) != 1 {
		t.Fatalf("%d notices, want 1", len(notices))
	}
	n := notices[0]
	if n.Kind != rotation.EventIssued || n.OldKeyID != oldKey || n.NewKeyID != newKey ||
		n.SecretName != e.secretName("alice") || !strings.HasPrefix(n.SecretARN, "arn:aws:secretsmanager:us-east-1:"+exAccount+":secret:") ||
		n.SecretRegion != exRegion || !n.DeactivateOn.Equal(now.Add(e.pol.DeactivateAfter)) ||
		n.UserARN != e.userARN("alice") || n.AccountName != "member" {
		t.Errorf("notice = %+v", n)
	}

	// Secret tags and policy: the policy lets alice's new key read the
	// secret (checked above), and nobody else's key.
	desc, err := e.sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(e.secretName("alice"))})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tg := range desc.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if tags[rotation.SecretTagUser] != "alice" || tags[rotation.SecretTagAccessKeyID] != newKey || tags[rotation.SecretTagManaged] != "true" {
		t.Errorf("secret tags = %v", tags)
	}
	if _, err := e.readSecretAs(bob[0], "alice"); err == nil {
		t.Errorf("bob can read alice's secret")
	}

	// Exactly the documented calls, in order: the intent, the secret made
	// the owner's (created without a value, given its policy), the key,
	// the key recorded on the secret, its value, the issued state and the
	// mail recorded.
	wantOps := []string{"iam:TagUser", "secretsmanager:CreateSecret", "secretsmanager:PutResourcePolicy", "iam:CreateAccessKey",
		"secretsmanager:TagResource", "secretsmanager:PutSecretValue", "iam:TagUser", "iam:TagUser"}
	var ops []string
	for _, c := range e.writeOps() {
		if c != "sts:GetCallerIdentity" {
			ops = append(ops, c)
		}
	}
	if !slices.Equal(ops, wantOps) {
		t.Errorf("write calls = %v, want %v", ops, wantOps)
	}

	// The next run finds nothing to do: no mail owed, nothing to write.
	e.sim.Clock().Advance(exDay)
	e.sim.ResetCalls()
	actions, _ = e.run(context.Background(), "run-2")
	if m := mutating(actions); len(m) != 0 {
		t.Errorf("second run plans %v", m)
	}
	if ops := e.writeOps(); len(ops) != 0 {
		t.Errorf("second run wrote %v", ops)
	}
}

func TestExecutorStoreFailureDeletesNewKey(t *testing.T) {
	for _, deleteFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("deleteFails=%v", deleteFails), func(t *testing.T) {
			e := exNewEnv(t, 3)
			alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
			oldKey := alice[0].AccessKeyID
			e.sim.InjectFault(awssim.Fault{Service: "secretsmanager", Op: "PutSecretValue", Times: 100,
				Code: "InternalServiceError", Status: 500})
			if deleteFails {
				e.sim.InjectFault(awssim.Fault{Service: "iam", Op: "DeleteAccessKey", Times: 100, Code: "ServiceFailure", Status: 500})
			}

			_, outs := e.run(context.Background(), "run-1")
			o := only(t, outs, rotation.ActionIssue, oldKey)
			if o.Result != vocab.ResultFailed || o.Err == nil {
				t.Fatalf("issue: %s", describeOutcomes(outs))
			}
			msg := o.Err.Error()
			if !strings.Contains(msg, "store the new key") || !strings.Contains(msg, "old key "+oldKey+" is untouched") {
				t.Errorf("error does not say what happened: %s", msg)
			}
			keys := e.keysOf("alice")
			if keys[oldKey].Status != "Active" {
				t.Fatalf("old key is %q", keys[oldKey].Status)
			}
			if deleteFails {
				if len(keys) != 2 || !strings.Contains(msg, "failed too") || o.NewKeyID == "" {
					t.Fatalf("keys %v, outcome %s", keys, msg)
				}
			} else if len(keys) != 1 {
				t.Fatalf("the new key was not deleted: %v", keys)
			}
			if len(e.notifier.all()) != 0 {
				t.Errorf("a failed issue mailed")
			}
			if st := e.state("alice", oldKey); st.Phase != rotation.PhaseIssuing {
				t.Errorf("state = %s, want the intent kept", st)
			}

			// A day later, with AWS healthy again, the next run converges:
			// it deletes a leftover key and issues again.
			e.sim.ClearFaults()
			e.sim.Clock().Advance(exDay)
			_, outs = e.run(context.Background(), "run-2")
			for _, o := range outs {
				if o.Result == vocab.ResultFailed {
					t.Fatalf("second run: %s", describeOutcomes(outs))
				}
			}
			if deleteFails {
				only(t, outs, rotation.ActionCleanup, o.NewKeyID)
			}
			e.assertRotated("alice", oldKey)
		})
	}
}

// TestExecutorCutConnectionConverges drops the connection after AWS applied
// each write of an issue, with and without SDK retries, and checks that
// reruns (a day apart, each planning on a fresh inventory) end in a clean
// rotation: one replacement, stored, recorded, no orphan.
func TestExecutorCutConnectionConverges(t *testing.T) {
	cases := []struct {
		name        string
		service, op string
		nth         int
		attempts    int
		// existing seeds a secret from an earlier rotation, so the store
		// goes through PutSecretValue.
		existing bool
	}{
		{name: "CreateSecret retried", service: "secretsmanager", op: "CreateSecret", attempts: 3},
		{name: "CreateSecret", service: "secretsmanager", op: "CreateSecret", attempts: 1},
		{name: "PutSecretValue retried", service: "secretsmanager", op: "PutSecretValue", attempts: 3, existing: true},
		{name: "PutSecretValue", service: "secretsmanager", op: "PutSecretValue", attempts: 1, existing: true},
		{name: "PutResourcePolicy", service: "secretsmanager", op: "PutResourcePolicy", attempts: 1},
		{name: "CreateAccessKey retried", service: "iam", op: "CreateAccessKey", attempts: 3},
		{name: "CreateAccessKey", service: "iam", op: "CreateAccessKey", attempts: 1},
		{name: "intent TagUser", service: "iam", op: "TagUser", nth: 1, attempts: 1},
		{name: "issued TagUser", service: "iam", op: "TagUser", nth: 2, attempts: 1},
		{name: "notified TagUser", service: "iam", op: "TagUser", nth: 3, attempts: 1},
		{name: "record TagResource", service: "secretsmanager", op: "TagResource", attempts: 1},
		{name: "PutSecretValue of a new secret", service: "secretsmanager", op: "PutSecretValue", attempts: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := exNewEnv(t, tc.attempts)
			alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
			oldKey := alice[0].AccessKeyID
			if tc.existing {
				_, err := e.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
					Name: aws.String(e.secretName("alice")), SecretString: aws.String(`{"AccessKeyId":"` + oldKey + `"}`),
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			e.sim.InjectFault(awssim.Fault{Service: tc.service, Op: tc.op, AccountID: exAccount, Nth: tc.nth, CutAfter: true})
			for i := 1; ; i++ {
				if i > 4 {
					t.Fatalf("no convergence after 4 runs")
				}
				actions, outs := e.run(context.Background(), fmt.Sprintf("run-%d", i))
				t.Logf("run %d: %s", i, describeOutcomes(outs))
				if len(mutating(actions)) == 0 {
					break
				}
				e.sim.Clock().Advance(exDay)
			}
			newKey := e.assertRotated("alice", oldKey)
			st := e.state("alice", oldKey)
			if !st.Notified.Has(rotation.EventIssued) {
				t.Errorf("issued mail never recorded: %s", st)
			}
			if n := e.notifier.all(); len(n) == 0 || n[len(n)-1].NewKeyID != newKey {
				t.Errorf("notices = %+v", n)
			}
		})
	}
}

func TestExecutorDeactivateAndDelete(t *testing.T) {
	e := exNewEnv(t, 3)
	alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
	oldKey := alice[0].AccessKeyID
	e.run(context.Background(), "run-1")
	newKey := e.assertRotated("alice", oldKey)

	// Grace period over, old key unused since: deactivate.
	e.sim.Clock().Advance(e.pol.DeactivateAfter + time.Hour)
	deactivatedAt := e.sim.Now()
	_, outs := e.run(context.Background(), "run-2")
	o := only(t, outs, rotation.ActionDeactivate, oldKey)
	if o.Result != vocab.ResultDone || o.NotifyErr != nil || o.NewKeyID != newKey {
		t.Fatalf("deactivate: %s", describeOutcomes(outs))
	}
	if k := e.keysOf("alice")[oldKey]; k.Status != "Inactive" {
		t.Fatalf("old key is %s", k.Status)
	}
	if _, code := e.callerARN(alice[0]); code != "InvalidClientTokenId" {
		t.Errorf("old key after deactivation: error %q, want InvalidClientTokenId", code)
	}
	st := e.state("alice", oldKey)
	if st.Phase != rotation.PhaseDeactivated || !st.Deactivated.Equal(deactivatedAt) || !st.Notified.Has(rotation.EventDeactivated) {
		t.Errorf("state = %s", st)
	}
	n := e.notifier.all()
	if last := n[len(n)-1]; last.Kind != rotation.EventDeactivated || !last.DeleteOn.Equal(deactivatedAt.Add(e.pol.DeleteAfter)) {
		t.Errorf("notice = %+v", last)
	}

	// Deletion due: delete the key and its state tag.
	e.sim.Clock().Advance(e.pol.DeleteAfter + time.Hour)
	_, outs = e.run(context.Background(), "run-3")
	o = only(t, outs, rotation.ActionDelete, oldKey)
	if o.Result != vocab.ResultDone || o.NotifyErr != nil {
		t.Fatalf("delete: %s", describeOutcomes(outs))
	}
	keys := e.keysOf("alice")
	if _, ok := keys[oldKey]; ok || len(keys) != 1 || keys[newKey].Status != "Active" {
		t.Fatalf("keys after delete: %v", keys)
	}
	if _, ok := e.tags("alice")[rotation.TagKey(oldKey)]; ok {
		t.Errorf("state tag kept after delete")
	}
	n = e.notifier.all()
	if last := n[len(n)-1]; last.Kind != rotation.EventDeleted || last.OldKeyID != oldKey {
		t.Errorf("notice = %+v", last)
	}
	if arn, _ := e.callerARN(mustCreds(t, e.sim, newKey)); arn != e.userARN("alice") {
		t.Errorf("the replacement stopped working")
	}

	e.sim.ResetCalls()
	actions, _ := e.run(context.Background(), "run-4")
	if m := mutating(actions); len(m) != 0 || len(e.writeOps()) != 0 {
		t.Errorf("run after delete plans %v, writes %v", m, e.writeOps())
	}
}

func mustCreds(t *testing.T, sim *awssim.Sim, keyID string) awssim.Credentials {
	t.Helper()
	c, ok := sim.CredentialsFor(keyID)
	if !ok {
		t.Fatalf("no credentials for %s", keyID)
	}
	return c
}

func TestExecutorHoldSendsAndRecordsReminder(t *testing.T) {
	e := exNewEnv(t, 3)
	alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
	oldKey := alice[0].AccessKeyID
	e.run(context.Background(), "run-1")
	e.assertRotated("alice", oldKey)

	// The caller keeps using the old key after the replacement was issued.
	e.sim.Clock().Advance(e.pol.DeactivateAfter + time.Hour)
	if arn, _ := e.callerARN(alice[0]); arn == "" {
		t.Fatal("old key does not sign")
	}
	remindedAt := e.sim.Now()
	e.sim.ResetCalls()
	_, outs := e.run(context.Background(), "run-2")
	o := only(t, outs, rotation.ActionHold, oldKey)
	if o.Result != vocab.ResultHeld || o.Notified == nil || o.NotifyErr != nil {
		t.Fatalf("hold: %s", describeOutcomes(outs))
	}
	if got := e.writeOps(); !slices.Equal(got, []string{"iam:TagUser"}) {
		t.Errorf("hold wrote %v, want only the reminder record", got)
	}
	st := e.state("alice", oldKey)
	if st.Phase != rotation.PhaseIssued || !st.Reminded.Equal(remindedAt) || !st.Notified.Has(rotation.EventIssued) {
		t.Errorf("state = %s", st)
	}
	n := e.notifier.all()
	if last := n[len(n)-1]; last.Kind != rotation.EventReminder || last.LastUsed == nil || last.LastUsedService != "sts" {
		t.Errorf("reminder notice = %+v", last)
	}
	if k := e.keysOf("alice")[oldKey]; k.Status != "Active" {
		t.Errorf("held key is %s", k.Status)
	}

	// Next day: still in use, but the reminder is not repeated yet.
	e.sim.Clock().Advance(exDay)
	before := len(e.notifier.all())
	e.sim.ResetCalls()
	_, outs = e.run(context.Background(), "run-3")
	if o := only(t, outs, rotation.ActionHold, oldKey); o.Notified != nil || len(e.notifier.all()) != before || len(e.writeOps()) != 0 {
		t.Errorf("reminder repeated after a day: %s", describeOutcomes(outs))
	}
}

func TestExecutorNotifyFailureIsRetriedLater(t *testing.T) {
	e := exNewEnv(t, 3)
	alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
	oldKey := alice[0].AccessKeyID
	e.notifier.setFail(errors.New("smtp relay down"))

	_, outs := e.run(context.Background(), "run-1")
	o := only(t, outs, rotation.ActionIssue, oldKey)
	if o.Result != vocab.ResultDone || o.NotifyErr == nil || o.Notified != nil {
		t.Fatalf("issue with failing mail: %s", describeOutcomes(outs))
	}
	newKey := e.assertRotated("alice", oldKey)
	if st := e.state("alice", oldKey); st.Notified.Has(rotation.EventIssued) {
		t.Errorf("unsent mail recorded: %s", st)
	}

	e.notifier.setFail(nil)
	e.sim.Clock().Advance(exDay)
	actions, outs := e.run(context.Background(), "run-2")
	if m := mutating(actions); len(m) != 1 || m[0].Kind != rotation.ActionNone || m[0].Notify != rotation.EventIssued {
		t.Fatalf("retry plan = %+v", m)
	}
	o = only(t, outs, rotation.ActionNone, oldKey)
	if o.Notified == nil || o.NotifyErr != nil || o.Result != "" {
		t.Fatalf("retried mail: %s", describeOutcomes(outs))
	}
	if n := e.notifier.all(); len(n) != 1 || n[0].NewKeyID != newKey || n[0].Kind != rotation.EventIssued {
		t.Errorf("notices = %+v", n)
	}
	if st := e.state("alice", oldKey); !st.Notified.Has(rotation.EventIssued) || st.Phase != rotation.PhaseIssued {
		t.Errorf("state after retry = %s", st)
	}
	actions, _ = e.run(context.Background(), "run-3")
	if m := mutating(actions); len(m) != 0 {
		t.Errorf("mail owed again: %+v", m)
	}
}

func TestExecutorLimitExceededSkips(t *testing.T) {
	e := exNewEnv(t, 3)
	alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
	oldKey := alice[0].AccessKeyID
	inv := e.inventory()
	actions := rotation.Plan(inv, e.pol, e.sim.Now(), "run-1")

	// Between inventory and execution, someone creates a second key.
	other := e.sim.AddAccessKey(exAccount, "alice", awssim.KeySpec{})
	e.sim.ResetCalls()
	outs := e.executor("run-1").Apply(context.Background(), inv, actions)
	e.record(outs)
	o := only(t, outs, rotation.ActionIssue, oldKey)
	if o.Result != vocab.ResultSkipped || !errors.Is(o.Err, rotation.ErrConcurrentChange) || o.Code() != vocab.ReasonConcurrentChange {
		t.Fatalf("issue: %s", describeOutcomes(outs))
	}
	if got := e.writeOps(); !slices.Equal(got, []string{"iam:TagUser", "secretsmanager:CreateSecret", "secretsmanager:PutResourcePolicy", "iam:CreateAccessKey"}) {
		t.Errorf("write calls = %v, want the intent, the secret prepared and the refused CreateAccessKey only", got)
	}
	keys := e.keysOf("alice")
	if len(keys) != 2 || keys[oldKey].Status != "Active" || keys[other.AccessKeyID].Status != "Active" {
		t.Errorf("keys = %v", keys)
	}
	if _, ok := e.sim.SecretValue(exAccount, exRegion, e.secretName("alice")); ok {
		t.Errorf("a secret was stored")
	}
}

func TestExecutorConcurrentIntentSkips(t *testing.T) {
	e := exNewEnv(t, 3)
	alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
	oldKey := alice[0].AccessKeyID
	inv := e.inventory()
	actions := rotation.Plan(inv, e.pol, e.sim.Now(), "run-1")

	// Another run records its intent after our inventory.
	theirs := rotation.State{Phase: rotation.PhaseIssuing, RunID: "run-other", At: e.sim.Now()}
	v, err := theirs.Encode()
	if err != nil {
		t.Fatal(err)
	}
	e.setTag("alice", rotation.TagKey(oldKey), v)
	e.sim.ResetCalls()
	outs := e.executor("run-1").Apply(context.Background(), inv, actions)
	e.record(outs)
	o := only(t, outs, rotation.ActionIssue, oldKey)
	if o.Result != vocab.ResultSkipped || !errors.Is(o.Err, rotation.ErrConcurrentChange) || o.Code() != vocab.ReasonConcurrentChange {
		t.Fatalf("issue: %s", describeOutcomes(outs))
	}
	if got := e.writeOps(); len(got) != 0 {
		t.Errorf("write calls = %v, want none", got)
	}
	if e.tags("alice")[rotation.TagKey(oldKey)] != v {
		t.Errorf("the other run's intent was overwritten")
	}
}

// raceIAM makes another run's intent land right after ours, as if two runs
// had written at once and the other won.
type raceIAM struct {
	rotation.IAMWriter
	once  sync.Once
	after func()
}

func (r *raceIAM) TagUser(ctx context.Context, in *iam.TagUserInput, optFns ...func(*iam.Options)) (*iam.TagUserOutput, error) {
	out, err := r.IAMWriter.TagUser(ctx, in, optFns...)
	r.once.Do(r.after)
	return out, err
}

func TestExecutorLosesIntentRace(t *testing.T) {
	e := exNewEnv(t, 3)
	alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
	oldKey := alice[0].AccessKeyID
	inv := e.inventory()
	actions := rotation.Plan(inv, e.pol, e.sim.Now(), "run-1")
	theirs, err := rotation.State{Phase: rotation.PhaseIssuing, RunID: "run-other", At: e.sim.Now()}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ex := e.executor("run-1")
	ex.IAM = &raceIAM{IAMWriter: e.iam, after: func() { e.setTag("alice", rotation.TagKey(oldKey), theirs) }}
	outs := ex.Apply(context.Background(), inv, actions)
	e.record(outs)
	o := only(t, outs, rotation.ActionIssue, oldKey)
	if o.Result != vocab.ResultSkipped || !errors.Is(o.Err, rotation.ErrConcurrentChange) || o.Code() != vocab.ReasonConcurrentChange || !strings.Contains(o.Err.Error(), "run-other") {
		t.Fatalf("issue: %s", describeOutcomes(outs))
	}
	if len(e.keysOf("alice")) != 1 {
		t.Errorf("a key was created after losing the race")
	}
}

// cancelIAM cancels the run when CreateAccessKey is called.
type cancelIAM struct {
	rotation.IAMWriter
	cancel context.CancelFunc
}

func (c cancelIAM) CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error) {
	c.cancel()
	return c.IAMWriter.CreateAccessKey(ctx, in, optFns...)
}

func TestExecutorInterrupted(t *testing.T) {
	t.Run("before start", func(t *testing.T) {
		e := exNewEnv(t, 3)
		e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
		e.addUser("bob", awssim.KeySpec{Created: e.ago(100 * exDay)})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		e.sim.ResetCalls()
		_, outs := e.run(ctx, "run-1")
		for _, o := range outs {
			if o.Result != vocab.ResultSkipped || !errors.Is(o.Err, rotation.ErrInterrupted) || o.Code() != vocab.ReasonInterrupted {
				t.Errorf("%s", describeOutcomes(outs))
			}
		}
		if got := e.writeOps(); len(got) != 0 {
			t.Errorf("write calls = %v", got)
		}
	})
	t.Run("mid step", func(t *testing.T) {
		e := exNewEnv(t, 3)
		alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
		bob := e.addUser("bob", awssim.KeySpec{Created: e.ago(100 * exDay)})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		inv := e.inventory()
		actions := rotation.Plan(inv, e.pol, e.sim.Now(), "run-1")
		ex := e.executor("run-1")
		ex.Concurrency = 1
		ex.IAM = cancelIAM{IAMWriter: e.iam, cancel: cancel}
		outs := ex.Apply(ctx, inv, actions)
		e.record(outs)
		// alice's step was in flight: it completes, mail and its record
		// included. bob's never starts.
		a := only(t, outs, rotation.ActionIssue, alice[0].AccessKeyID)
		if a.Result != vocab.ResultDone || a.NotifyErr != nil {
			t.Fatalf("%s", describeOutcomes(outs))
		}
		e.assertRotated("alice", alice[0].AccessKeyID)
		if st := e.state("alice", alice[0].AccessKeyID); !st.Notified.Has(rotation.EventIssued) {
			t.Errorf("state = %s", st)
		}
		b := only(t, outs, rotation.ActionIssue, bob[0].AccessKeyID)
		if b.Result != vocab.ResultSkipped || !errors.Is(b.Err, rotation.ErrInterrupted) || b.Code() != vocab.ReasonInterrupted || b.Err.Error() != "run interrupted" {
			t.Fatalf("%s", describeOutcomes(outs))
		}
		if len(e.keysOf("bob")) != 1 || len(e.tags("bob")) != 0 {
			t.Errorf("bob was touched")
		}
	})
}

func TestExecutorSkipsRestOfUserAfterFailure(t *testing.T) {
	e := exNewEnv(t, 3)
	e.pol.DeleteForeignInactive = true
	// alice has a stale key and an old foreign inactive key: the plan
	// deletes the inactive one to free the slot, then issues.
	alice := e.addUser("alice",
		awssim.KeySpec{Created: e.ago(400 * exDay), Inactive: true},
		awssim.KeySpec{Created: e.ago(100 * exDay)})
	bob := e.addUser("bob", awssim.KeySpec{Created: e.ago(100 * exDay)})
	e.sim.InjectFault(awssim.Fault{Service: "iam", Op: "DeleteAccessKey", Times: 100, Code: "ServiceFailure", Status: 500})
	_, outs := e.run(context.Background(), "run-1")
	if o := only(t, outs, rotation.ActionDelete, alice[0].AccessKeyID); o.Result != vocab.ResultFailed {
		t.Fatalf("%s", describeOutcomes(outs))
	}
	o := only(t, outs, rotation.ActionIssue, alice[1].AccessKeyID)
	if o.Result != vocab.ResultSkipped || !errors.Is(o.Err, rotation.ErrEarlierStepFailed) || o.Code() != vocab.ReasonEarlierStepFailed ||
		!strings.HasPrefix(o.Err.Error(), "an earlier step for this user failed") {
		t.Fatalf("%s", describeOutcomes(outs))
	}
	if b := only(t, outs, rotation.ActionIssue, bob[0].AccessKeyID); b.Result != vocab.ResultDone {
		t.Fatalf("another user was affected: %s", describeOutcomes(outs))
	}
	if len(e.keysOf("alice")) != 2 {
		t.Errorf("alice's keys changed")
	}
	if _, ok := e.tags("alice")[rotation.TagKey(alice[1].AccessKeyID)]; ok {
		t.Errorf("skipped issue wrote an intent")
	}

	// With IAM healthy, the next run deletes the foreign key, then issues.
	e.sim.ClearFaults()
	e.sim.Clock().Advance(exDay)
	_, outs = e.run(context.Background(), "run-2")
	if o := only(t, outs, rotation.ActionDelete, alice[0].AccessKeyID); o.Result != vocab.ResultDone {
		t.Fatalf("%s", describeOutcomes(outs))
	}
	e.assertRotated("alice", alice[1].AccessKeyID)
}

func TestExecutorForgetsVanishedKey(t *testing.T) {
	e := exNewEnv(t, 3)
	alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(10 * exDay)})
	gone := "AKIAGONEGONEGONEGONE"
	v, err := rotation.State{Phase: rotation.PhaseDeactivated, NewKeyID: alice[0].AccessKeyID, Deactivated: e.ago(exDay)}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	e.setTag("alice", rotation.TagKey(gone), v)
	e.setTag("alice", "team", "payments")
	_, outs := e.run(context.Background(), "run-1")
	if o := only(t, outs, rotation.ActionForget, gone); o.Result != vocab.ResultDone {
		t.Fatalf("%s", describeOutcomes(outs))
	}
	if tags := e.tags("alice"); len(tags) != 1 || tags["team"] != "payments" {
		t.Errorf("tags = %v", tags)
	}
}

func TestExecutorConcurrentUsers(t *testing.T) {
	e := exNewEnv(t, 3)
	e.sim.SetLatency("iam:CreateAccessKey", 5*time.Millisecond)
	old := map[string]string{}
	for i := range 8 {
		name := fmt.Sprintf("user%02d", i)
		old[name] = e.addUser(name, awssim.KeySpec{Created: e.ago(100 * exDay)})[0].AccessKeyID
	}
	ex := func(runID string) []rotation.Outcome {
		inv := e.inventory()
		x := e.executor(runID)
		x.Concurrency = 4
		outs := x.Apply(context.Background(), inv, rotation.Plan(inv, e.pol, e.sim.Now(), runID))
		e.record(outs)
		return outs
	}
	outs := ex("run-1")
	for _, o := range outs {
		if o.Result != vocab.ResultDone {
			t.Fatalf("%s", describeOutcomes(outs))
		}
	}
	seen := map[string]bool{}
	for name, k := range old {
		n := e.assertRotated(name, k)
		if seen[n] {
			t.Errorf("key %s issued twice", n)
		}
		seen[n] = true
	}
	if got := len(e.notifier.all()); got != len(old) {
		t.Errorf("%d notices for %d users", got, len(old))
	}
}

// TestExecutorSecretNeverLogged runs failing and succeeding steps at debug
// level and checks, beyond the cleanup check every test gets, that the
// issued secret really went through the executor (so the check is not
// vacuous).
func TestExecutorSecretNeverLogged(t *testing.T) {
	e := exNewEnv(t, 1)
	alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
	e.sim.InjectFault(awssim.Fault{Service: "iam", Op: "TagUser", Nth: 2, Code: "ServiceFailure", Status: 500})
	_, outs := e.run(context.Background(), "run-1")
	o := only(t, outs, rotation.ActionIssue, alice[0].AccessKeyID)
	if o.Result != vocab.ResultFailed || !strings.Contains(o.Err.Error(), "next run adopts") {
		t.Fatalf("%s", describeOutcomes(outs))
	}
	e.sim.Clock().Advance(exDay)
	_, outs = e.run(context.Background(), "run-2")
	if o := only(t, outs, rotation.ActionAdopt, alice[0].AccessKeyID); o.Result != vocab.ResultDone || o.Notified == nil {
		t.Fatalf("%s", describeOutcomes(outs))
	}
	newKey := e.assertRotated("alice", alice[0].AccessKeyID)
	secret := mustCreds(t, e.sim, newKey).SecretAccessKey
	raw, _ := e.sim.SecretValue(exAccount, exRegion, e.secretName("alice"))
	if !strings.Contains(raw, secret) {
		t.Fatal("the stored secret is not the issued one")
	}
	logs := e.logs.String()
	if !strings.Contains(logs, newKey) || strings.Contains(logs, secret) {
		t.Errorf("logs must name the new key and never its secret")
	}
}

// TestExecutorWithCollect runs a whole rotation on inventories read by
// Collect, as the runner does: issue, an interrupted issue adopted,
// deactivate, delete.
func TestExecutorWithCollect(t *testing.T) {
	e := exNewEnv(t, 1)
	alice := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)})
	bob := e.addUser("bob", awssim.KeySpec{Created: e.ago(120 * exDay)})
	collectRun := func(runID string) []rotation.Outcome {
		t.Helper()
		now := e.sim.Now()
		inv, _, err := rotation.Collect(context.Background(), e.iam, e.sm, rotation.InventoryOptions{
			AccountID: exAccount, AccountName: "member",
			SecretName:  func(user string) (string, error) { return e.secretName(user), nil },
			Concurrency: 2, ReportWait: -1, Logger: e.logger,
			FreshLastUsed: func(u rotation.User, k rotation.Key) bool { return rotation.NeedsFreshLastUsed(u, k, e.pol, now) },
		})
		if err != nil {
			t.Fatalf("Collect: %v", err)
		}
		outs := e.executor(runID).Apply(context.Background(), inv, rotation.Plan(inv, e.pol, now, runID))
		e.record(outs)
		for _, o := range outs {
			if o.Result == vocab.ResultFailed || o.NotifyErr != nil {
				t.Fatalf("%s: %s", runID, describeOutcomes(outs))
			}
		}
		return outs
	}
	// bob's issue fails to record its issued state (the 5th TagUser: alice
	// goes first and tags three times): the next run must adopt through
	// the secret metadata Collect reads.
	e.sim.InjectFault(awssim.Fault{Service: "iam", Op: "TagUser", Nth: 5, Code: "ServiceFailure", Status: 500})
	inv := e.inventory()
	first := e.executor("run-1")
	first.Concurrency = 1
	outs := first.Apply(context.Background(), inv, rotation.Plan(inv, e.pol, e.sim.Now(), "run-1"))
	e.record(outs)
	if o := only(t, outs, rotation.ActionIssue, bob[0].AccessKeyID); o.Result != vocab.ResultFailed {
		t.Fatalf("%s", describeOutcomes(outs))
	}
	e.sim.ClearFaults()
	e.sim.Clock().Advance(exDay)
	outs = collectRun("run-2")
	only(t, outs, rotation.ActionAdopt, bob[0].AccessKeyID)
	aliceNew := e.assertRotated("alice", alice[0].AccessKeyID)
	bobNew := e.assertRotated("bob", bob[0].AccessKeyID)

	e.sim.Clock().Advance(e.pol.DeactivateAfter)
	outs = collectRun("run-3")
	only(t, outs, rotation.ActionDeactivate, alice[0].AccessKeyID)
	only(t, outs, rotation.ActionDeactivate, bob[0].AccessKeyID)

	e.sim.Clock().Advance(e.pol.DeleteAfter)
	outs = collectRun("run-4")
	only(t, outs, rotation.ActionDelete, alice[0].AccessKeyID)
	only(t, outs, rotation.ActionDelete, bob[0].AccessKeyID)
	for user, k := range map[string]string{"alice": aliceNew, "bob": bobNew} {
		keys := e.keysOf(user)
		if len(keys) != 1 || keys[k].Status != "Active" || len(e.tags(user)) != 0 {
			t.Errorf("%s ends with keys %v and tags %v", user, keys, e.tags(user))
		}
	}
	kinds := map[rotation.Event]int{}
	for _, n := range e.notifier.all() {
		kinds[n.Kind]++
	}
	if kinds[rotation.EventIssued] != 2 || kinds[rotation.EventDeactivated] != 2 || kinds[rotation.EventDeleted] != 2 {
		t.Errorf("notices by kind = %v", kinds)
	}
}
