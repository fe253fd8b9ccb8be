package rotation_test

import (
	"context"
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
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

const invAccount = "222222222222"

// invEnv is a simulated member account reached with the real SDK clients.
type invEnv struct {
	sim *awssim.Sim
	iam *iam.Client
	sm  *secretsmanager.Client
	now time.Time
}

func newInvEnv(t *testing.T, opts ...awssim.Option) *invEnv {
	t.Helper()
	sim := awssim.New(append([]awssim.Option{awssim.WithSeed(7)}, opts...)...)
	sim.CreateOrganization("111111111111", "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: invAccount, Name: "member"})
	// Throttling is retried by the SDK's standard retryer as in
	// production, with backoff short enough for a test and without the
	// client-side retry quota, which a deliberately throttled test
	// would exhaust.
	cfg := awssimtest.Start(t, sim).RootConfig(invAccount, awssimtest.Retries(50, 100*time.Millisecond))
	return &invEnv{sim: sim, iam: iam.NewFromConfig(cfg), sm: secretsmanager.NewFromConfig(cfg), now: sim.Now()}
}

func (e *invEnv) ago(d time.Duration) time.Time { return e.now.Add(-d) }

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// options are the inventory options of a typical run; Sleep fails the
// collection because only the report-wait tests expect a wait.
func (e *invEnv) options() rotation.InventoryOptions {
	return rotation.InventoryOptions{
		AccountID:    invAccount,
		AccountName:  "member",
		ExemptTag:    rotation.TagMatch{Key: "keyrotor:exempt", Value: "true"},
		ExemptGroups: []string{"BreakGlass"},
		SecretName:   func(user string) (string, error) { return "keyrotor/" + invAccount + "/" + user, nil },
		Concurrency:  4,
		Sleep: func(context.Context, time.Duration) error {
			return errors.New("unexpected wait for the credential report")
		},
		FreshLastUsed: inProgress,
		Logger:        slog.New(slog.DiscardHandler),
	}
}

// inProgress asks fresh last use for every active key of a non-exempt user
// with a rotation in progress: a superset of what the planner can need,
// whatever the policy's grace period.
func inProgress(u rotation.User, k rotation.Key) bool {
	if u.Exempt != "" || !k.Active() {
		return false
	}
	st, err := rotation.ParseState(u.Tags[rotation.TagKey(k.ID)])
	if err != nil {
		return false
	}
	switch st.Phase {
	case rotation.PhaseIssuing, rotation.PhaseIssued, rotation.PhaseReactivated:
		return true
	}
	return false
}

func (e *invEnv) collect(t *testing.T, o rotation.InventoryOptions) (rotation.Inventory, rotation.CollectStats) {
	t.Helper()
	inv, stats, err := rotation.Collect(context.Background(), e.iam, e.sm, o)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return inv, stats
}

// tagUser sets a user tag through IAM (the simulator seeds tags only at
// user creation, before the key IDs that state tags name exist).
func (e *invEnv) tagUser(t *testing.T, user, key, value string) {
	t.Helper()
	_, err := e.iam.TagUser(context.Background(), &iam.TagUserInput{
		UserName: aws.String(user), Tags: []iamtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}},
	})
	if err != nil {
		t.Fatalf("tag user %s: %v", user, err)
	}
}

// putSecret creates user's secret holding value, tagged with tagKV (key,
// value, ...).
func (e *invEnv) putSecret(t *testing.T, user, value string, tagKV ...string) {
	t.Helper()
	var tags []smtypes.Tag
	for i := 0; i+1 < len(tagKV); i += 2 {
		tags = append(tags, smtypes.Tag{Key: aws.String(tagKV[i]), Value: aws.String(tagKV[i+1])})
	}
	_, err := e.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("keyrotor/" + invAccount + "/" + user), SecretString: aws.String(value), Tags: tags,
	})
	if err != nil {
		t.Fatalf("create secret of %s: %v", user, err)
	}
}

// accountCalls counts the simulator's logged calls in the member account
// by operation, retries and failed calls included.
func (e *invEnv) accountCalls() map[string]int {
	n := map[string]int{}
	for _, c := range e.sim.Calls() {
		if c.AccountID == invAccount {
			n[c.Op]++
		}
	}
	return n
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func userByName(t *testing.T, inv rotation.Inventory, name string) rotation.User {
	t.Helper()
	for _, u := range inv.Users {
		if u.Name == name {
			return u
		}
	}
	t.Fatalf("user %s not in inventory", name)
	return rotation.User{}
}

func userNames(inv rotation.Inventory) []string {
	var out []string
	for _, u := range inv.Users {
		out = append(out, u.Name)
	}
	return out
}

func encodeState(t *testing.T, s rotation.State) string {
	t.Helper()
	v, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkLastUsed(t *testing.T, who string, k rotation.Key, used *time.Time, service, region string, fresh bool) {
	t.Helper()
	switch {
	case used == nil && k.LastUsed != nil:
		t.Errorf("%s: LastUsed = %v, want never used", who, *k.LastUsed)
	case used != nil && (k.LastUsed == nil || !k.LastUsed.Equal(*used)):
		t.Errorf("%s: LastUsed = %v, want %v", who, k.LastUsed, *used)
	}
	if k.LastUsedService != service || k.LastUsedRegion != region || k.LastUsedFresh != fresh {
		t.Errorf("%s: service/region/fresh = %q %q %v, want %q %q %v", who,
			k.LastUsedService, k.LastUsedRegion, k.LastUsedFresh, service, region, fresh)
	}
}

func TestCollectUsersKeysExemptionsAndLastUse(t *testing.T) {
	// Page size 2 makes ListUsers, ListUserTags and GetGroup paginate.
	e := newInvEnv(t, awssim.WithPageSize(2))
	used3, used1 := e.ago(days(3)), e.ago(days(1))
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "alice", Tags: map[string]string{"team": "payments", "owner": "alice@example.com", "cost": "42"}})
	// Added newest first: the inventory orders keys by creation.
	aliceNew := e.sim.AddAccessKey(invAccount, "alice", awssim.KeySpec{Created: e.ago(days(10))})
	aliceOld := e.sim.AddAccessKey(invAccount, "alice", awssim.KeySpec{Created: e.ago(days(200)), LastUsed: &used3, Service: "s3", Region: "eu-west-1"})
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "bob", Tags: map[string]string{"keyrotor:exempt": "true"}})
	e.sim.AddAccessKey(invAccount, "bob", awssim.KeySpec{Created: e.ago(days(400))})
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "bob2", Tags: map[string]string{"keyrotor:exempt": "false"}})
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "carol", Groups: []string{"Developers", "BreakGlass"}})
	e.sim.AddAccessKey(invAccount, "carol", awssim.KeySpec{Created: e.ago(days(100))})
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "dave"})
	dave := e.sim.AddAccessKey(invAccount, "dave", awssim.KeySpec{Created: e.ago(days(95)), Inactive: true})
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "erin", Groups: []string{"Developers"}})
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "frank", Groups: []string{"BreakGlass"}})
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "henry", Groups: []string{"BreakGlass"}})
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "grace"})
	graceOld := e.sim.AddAccessKey(invAccount, "grace", awssim.KeySpec{Created: e.ago(days(120)), LastUsed: &used1, Service: "sts", Region: "us-east-1"})
	graceNew := e.sim.AddAccessKey(invAccount, "grace", awssim.KeySpec{Created: e.ago(days(8))})
	e.tagUser(t, "grace", rotation.TagKey(graceOld.AccessKeyID), encodeState(t,
		rotation.State{}.WithIssued(graceNew.AccessKeyID, e.ago(days(8)))))
	e.sim.ResetCalls()

	o := e.options()
	o.ExemptGroups = []string{"BreakGlass", "NoSuchGroup", "breakglass"}
	o.ExemptUsers = []string{"DAVE", "frank"}
	inv, stats := e.collect(t, o)

	if inv.AccountID != invAccount || inv.AccountName != "member" {
		t.Errorf("account = %s %s", inv.AccountID, inv.AccountName)
	}
	want := []string{"alice", "bob", "bob2", "carol", "dave", "erin", "frank", "grace", "henry"}
	if got := userNames(inv); !slices.Equal(got, want) {
		t.Fatalf("users = %v, want %v", got, want)
	}
	exempt := map[string]string{
		"alice": "", "bob": "tag keyrotor:exempt=true", "bob2": "", "carol": "group BreakGlass",
		"dave": "listed in accounts.yaml", "erin": "", "frank": "group BreakGlass", "grace": "", "henry": "group BreakGlass",
	}
	for _, u := range inv.Users {
		if u.Exempt != exempt[u.Name] {
			t.Errorf("%s: Exempt = %q, want %q", u.Name, u.Exempt, exempt[u.Name])
		}
		if !strings.HasPrefix(u.ARN, "arn:aws:iam::"+invAccount+":user/") || u.UserID == "" {
			t.Errorf("%s: ARN %q, UserID %q", u.Name, u.ARN, u.UserID)
		}
		if u.SecretName != "keyrotor/"+invAccount+"/"+u.Name {
			t.Errorf("%s: SecretName = %q", u.Name, u.SecretName)
		}
		if u.Secret.Read != u.HasState() || u.Problem != nil {
			t.Errorf("%s: secret read %v (problem %+v), but has a state tag: %v", u.Name, u.Secret.Read, u.Problem, u.HasState())
		}
	}
	if g := userByName(t, inv, "carol").Groups; !slices.Equal(g, []string{"BreakGlass"}) {
		t.Errorf("carol groups = %v, want the exempt group only", g)
	}
	if g := userByName(t, inv, "erin").Groups; len(g) != 0 {
		t.Errorf("erin groups = %v", g)
	}
	alice := userByName(t, inv, "alice")
	if len(alice.Tags) != 3 || alice.Tags["owner"] != "alice@example.com" {
		t.Errorf("alice tags = %v", alice.Tags)
	}
	if len(alice.Keys) != 2 || alice.Keys[0].ID != aliceOld.AccessKeyID || alice.Keys[1].ID != aliceNew.AccessKeyID {
		t.Fatalf("alice keys = %+v, want old then new", alice.Keys)
	}
	if !alice.Keys[0].Created.Equal(e.ago(days(200))) || alice.Keys[0].Status != vocab.KeyActive {
		t.Errorf("alice old key = %+v", alice.Keys[0])
	}
	checkLastUsed(t, "alice old", alice.Keys[0], &used3, "s3", "eu-west-1", false)
	checkLastUsed(t, "alice new", alice.Keys[1], nil, "", "", false)
	if k := userByName(t, inv, "dave").Keys; len(k) != 1 || k[0].ID != dave.AccessKeyID || k[0].Status != vocab.KeyInactive {
		t.Errorf("dave keys = %+v", k)
	}
	grace := userByName(t, inv, "grace")
	checkLastUsed(t, "grace old (rotation in progress)", grace.Keys[0], &used1, "sts", "us-east-1", true)
	checkLastUsed(t, "grace new", grace.Keys[1], nil, "", "", false)

	// Every simulated key is in the inventory, with its status and age.
	var n int
	for _, k := range e.sim.Keys(invAccount) {
		got, ok := userByName(t, inv, k.User).Key(k.ID)
		if !ok || string(got.Status) != k.Status || !got.Created.Equal(k.Created) {
			t.Errorf("key %s of %s: got %+v, want %+v", k.ID, k.User, got, k)
		}
		n++
	}
	if n != 7 {
		t.Errorf("simulator has %d keys, want 7", n)
	}

	if !stats.ReportUsed || stats.ReportProblem != "" || !stats.ReportGenerated.Equal(e.now) {
		t.Errorf("report: used %v, generated %v, problem %q", stats.ReportUsed, stats.ReportGenerated, stats.ReportProblem)
	}
	if stats.FreshLastUsed != 1 || stats.FallbackLastUsed != 0 {
		t.Errorf("fresh %d, fallback %d; want 1, 0", stats.FreshLastUsed, stats.FallbackLastUsed)
	}
	calls := e.accountCalls()
	if calls["ListGroupsForUser"] != 0 || calls["GetUser"] != 0 {
		t.Errorf("per-user group or user reads: %v", calls)
	}
	// BreakGlass has 3 members (2 pages); NoSuchGroup is one failed call;
	// the case-insensitive duplicate is not read again.
	if calls["GetGroup"] != 3 || calls["GetAccessKeyLastUsed"] != 1 || calls["ListUsers"] != 5 {
		t.Errorf("calls = %v", calls)
	}
	if w := e.sim.WriteCalls(); len(w) != 0 {
		t.Errorf("inventory made write calls: %v", w)
	}
}

func TestCollectMapsReportSlotsAndFallsBack(t *testing.T) {
	e := newInvEnv(t)
	usedA, usedB := e.ago(days(5)), e.ago(time.Hour)
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "hank"})
	// Newest first, with distinct last use, so a swapped mapping shows.
	b := e.sim.AddAccessKey(invAccount, "hank", awssim.KeySpec{Created: e.ago(days(30)), LastUsed: &usedB, Service: "iam", Region: "N/A"})
	a := e.sim.AddAccessKey(invAccount, "hank", awssim.KeySpec{Created: e.ago(days(100)), LastUsed: &usedA, Service: "ec2", Region: "us-west-2"})
	// Two keys created in the same second cannot be told apart in the
	// report: both are asked directly.
	sameSecond := e.ago(days(50))
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "jack"})
	j1 := e.sim.AddAccessKey(invAccount, "jack", awssim.KeySpec{Created: sameSecond, LastUsed: &usedA})
	j2 := e.sim.AddAccessKey(invAccount, "jack", awssim.KeySpec{Created: sameSecond})
	// ivy is in the report, without keys yet.
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "ivy"})

	inv, stats := e.collect(t, e.options())
	hank := userByName(t, inv, "hank")
	if len(hank.Keys) != 2 || hank.Keys[0].ID != a.AccessKeyID || hank.Keys[1].ID != b.AccessKeyID {
		t.Fatalf("hank keys = %+v", hank.Keys)
	}
	checkLastUsed(t, "hank key 1", hank.Keys[0], &usedA, "ec2", "us-west-2", false)
	checkLastUsed(t, "hank key 2", hank.Keys[1], &usedB, "iam", "", false)
	jack := userByName(t, inv, "jack")
	for _, k := range jack.Keys {
		var want *time.Time
		svc, region := "", ""
		if k.ID == j1.AccessKeyID {
			want, svc, region = &usedA, "s3", "us-east-1"
		} else if k.ID != j2.AccessKeyID {
			t.Fatalf("unexpected jack key %s", k.ID)
		}
		checkLastUsed(t, "jack "+k.ID, k, want, svc, region, true)
	}
	if !stats.ReportUsed || stats.FallbackLastUsed != 2 || e.accountCalls()["GetAccessKeyLastUsed"] != 2 {
		t.Errorf("first run stats = %+v", stats)
	}

	// An hour later the report (good for 4 hours) is served again; a key
	// created since is not in it and is asked directly.
	e.sim.Clock().Advance(time.Hour)
	usedI := e.sim.Now().Add(-10 * time.Minute)
	ivy := e.sim.AddAccessKey(invAccount, "ivy", awssim.KeySpec{Created: e.sim.Now().Add(-30 * time.Minute), LastUsed: &usedI, Service: "sqs", Region: "eu-central-1"})
	e.sim.ResetCalls()
	inv, stats = e.collect(t, e.options())
	if !stats.ReportUsed || !stats.ReportGenerated.Equal(e.now) {
		t.Errorf("second run report: used %v generated %v, want the first run's", stats.ReportUsed, stats.ReportGenerated)
	}
	ik := userByName(t, inv, "ivy").Keys
	if len(ik) != 1 || ik[0].ID != ivy.AccessKeyID {
		t.Fatalf("ivy keys = %+v", ik)
	}
	checkLastUsed(t, "ivy (created after the report)", ik[0], &usedI, "sqs", "eu-central-1", true)
	checkLastUsed(t, "hank key 1 again", userByName(t, inv, "hank").Keys[0], &usedA, "ec2", "us-west-2", false)
	if stats.FallbackLastUsed != 3 {
		t.Errorf("fallbacks = %d, want 3 (ivy and both of jack's keys)", stats.FallbackLastUsed)
	}
	var asked []string
	for _, c := range e.sim.Calls() {
		if c.Op == "GetAccessKeyLastUsed" {
			asked = append(asked, c.Op)
		}
	}
	if len(asked) != 3 {
		t.Errorf("GetAccessKeyLastUsed calls = %d, want 3", len(asked))
	}
}

func TestCollectWaitsForReportInProgress(t *testing.T) {
	tests := []struct {
		name       string
		delay      time.Duration
		wait       time.Duration
		wantUsed   bool
		wantSlept  time.Duration // exact total
		minGetCall int
	}{
		// Polls after 1s, 2s, 4s, 8s: ready at 15s >= 10s.
		{name: "ready within the wait", delay: 10 * time.Second, wait: 0, wantUsed: true, wantSlept: 15 * time.Second, minGetCall: 5},
		{name: "not ready in time", delay: 10 * time.Minute, wait: 20 * time.Second, wantUsed: false, wantSlept: 20 * time.Second, minGetCall: 6},
		{name: "no wait", delay: time.Minute, wait: -1, wantUsed: false, wantSlept: 0, minGetCall: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newInvEnv(t, awssim.WithCredentialReportDelay(tc.delay))
			used := e.ago(days(2))
			for i := range 3 {
				name := fmt.Sprintf("user%d", i)
				e.sim.AddUser(invAccount, awssim.UserSpec{Name: name})
				e.sim.AddAccessKey(invAccount, name, awssim.KeySpec{Created: e.ago(days(40 + i)), LastUsed: &used})
			}
			var mu sync.Mutex
			var slept time.Duration
			o := e.options()
			o.ReportWait = tc.wait
			o.Sleep = func(ctx context.Context, d time.Duration) error {
				mu.Lock()
				slept += d
				mu.Unlock()
				e.sim.Clock().Advance(d)
				return ctx.Err()
			}
			inv, stats := e.collect(t, o)
			if slept != tc.wantSlept {
				t.Errorf("slept %v, want %v", slept, tc.wantSlept)
			}
			if stats.ReportUsed != tc.wantUsed || (stats.ReportProblem == "") != tc.wantUsed {
				t.Errorf("report used %v (problem %q), want %v", stats.ReportUsed, stats.ReportProblem, tc.wantUsed)
			}
			if calls := e.accountCalls(); calls["GetCredentialReport"] < tc.minGetCall || calls["GenerateCredentialReport"] != 1 {
				t.Errorf("calls = %v", calls)
			}
			wantFallback := 0
			if !tc.wantUsed {
				wantFallback = 3
			}
			if stats.FallbackLastUsed != wantFallback {
				t.Errorf("fallbacks = %d, want %d", stats.FallbackLastUsed, wantFallback)
			}
			for _, u := range inv.Users {
				checkLastUsed(t, u.Name, u.Keys[0], &used, "s3", "us-east-1", !tc.wantUsed)
			}
		})
	}
}

func TestCollectUnderThrottling(t *testing.T) {
	e := newInvEnv(t)
	for i := range 25 {
		name := fmt.Sprintf("svc-%02d", i)
		e.sim.AddUser(invAccount, awssim.UserSpec{Name: name, Tags: map[string]string{"n": fmt.Sprint(i)}})
		e.sim.AddAccessKey(invAccount, name, awssim.KeySpec{Created: e.ago(days(i * 7))})
	}
	e.sim.SetRateLimit("iam", 50, 3)
	o := e.options()
	o.Concurrency = 5
	inv, stats := e.collect(t, o)
	if len(inv.Users) != 25 {
		t.Fatalf("collected %d users, want 25", len(inv.Users))
	}
	for i, u := range inv.Users {
		if len(u.Keys) != 1 || u.Tags["n"] != fmt.Sprint(i) {
			t.Errorf("%s: keys %v tags %v", u.Name, u.Keys, u.Tags)
		}
	}
	throttled := 0
	for _, c := range e.sim.Calls() {
		if c.ErrorCode == "Throttling" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("no call was throttled; the test does not exercise retries")
	}
	if !stats.ReportUsed {
		t.Errorf("report not used: %s", stats.ReportProblem)
	}
	t.Logf("%d throttled attempts retried, %d calls", throttled, total(e.accountCalls()))
}

func TestCollectCallBudget(t *testing.T) {
	e := newInvEnv(t)
	const users = 25
	for i := range users {
		name := fmt.Sprintf("user-%02d", i)
		spec := awssim.UserSpec{Name: name, Tags: map[string]string{"team": "t" + fmt.Sprint(i%3)}}
		if i%10 == 0 {
			spec.Groups = []string{"BreakGlass"}
		}
		e.sim.AddUser(invAccount, spec)
		used := e.ago(days(i))
		e.sim.AddAccessKey(invAccount, name, awssim.KeySpec{Created: e.ago(days(100 + i)), LastUsed: &used})
		if i%2 == 0 {
			e.sim.AddAccessKey(invAccount, name, awssim.KeySpec{Created: e.ago(days(10 + i)), Inactive: i%4 == 0})
		}
	}
	inv, stats := e.collect(t, e.options())
	if len(inv.Users) != users {
		t.Fatalf("collected %d users", len(inv.Users))
	}
	calls := e.accountCalls()
	if n := total(calls); n > 2*users+10 {
		t.Errorf("%d calls for %d users, budget %d: %v", n, users, 2*users+10, calls)
	}
	if calls["GetAccessKeyLastUsed"] != 0 || calls["ListGroupsForUser"] != 0 || calls["GetSecretValue"] != 0 {
		t.Errorf("per-key or per-user extra calls: %v", calls)
	}
	if stats.FallbackLastUsed != 0 || stats.FreshLastUsed != 0 {
		t.Errorf("stats = %+v", stats)
	}
}

// TestCollectReadsSecretMetadataOfStateUsersOnly: the inventory learns
// which key a user's secret holds from the secret's tags (DescribeSecret),
// for users with a state tag only, and never reads a secret's value.
func TestCollectReadsSecretMetadataOfStateUsersOnly(t *testing.T) {
	e := newInvEnv(t)
	intentAt := e.ago(time.Hour)
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "kate"})
	kOld := e.sim.AddAccessKey(invAccount, "kate", awssim.KeySpec{Created: e.ago(days(100))})
	kNew := e.sim.AddAccessKey(invAccount, "kate", awssim.KeySpec{Created: intentAt.Add(time.Minute)})
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "liam"})
	lOld := e.sim.AddAccessKey(invAccount, "liam", awssim.KeySpec{Created: e.ago(days(100))})
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "mona"})
	e.sim.AddAccessKey(invAccount, "mona", awssim.KeySpec{Created: e.ago(days(10))})
	intent := encodeState(t, rotation.State{Phase: rotation.PhaseIssuing, RunID: "run-1", At: intentAt})
	e.tagUser(t, "kate", rotation.TagKey(kOld.AccessKeyID), intent)
	e.tagUser(t, "liam", rotation.TagKey(lOld.AccessKeyID), intent)
	const secretValue = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
	e.putSecret(t, "kate", fmt.Sprintf(`{"AccessKeyId":%q,"SecretAccessKey":%q,"UserName":"kate"}`, kNew.AccessKeyID, secretValue),
		rotation.SecretTagAccessKeyID, kNew.AccessKeyID, rotation.SecretTagReplaces, kOld.AccessKeyID)
	e.putSecret(t, "mona", `{"AccessKeyId":"AKIAMONAMONAMONA0000","SecretAccessKey":"x"}`)
	e.sim.ResetCalls()

	var logs strings.Builder
	o := e.options()
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	inv, stats := e.collect(t, o)
	if m := userByName(t, inv, "kate").Secret; !m.Exists || m.AccessKeyID != kNew.AccessKeyID || m.Replaces != kOld.AccessKeyID ||
		m.Changed.IsZero() || !strings.Contains(m.ARN, ":secret:keyrotor/"+invAccount+"/kate-") {
		t.Errorf("kate's secret metadata = %+v, want it to name %s replacing %s", m, kNew.AccessKeyID, kOld.AccessKeyID)
	}
	if m := userByName(t, inv, "liam").Secret; !m.Read || m.Exists {
		t.Errorf("liam (no secret): %+v", m)
	}
	if m := userByName(t, inv, "mona").Secret; m.Read {
		t.Errorf("mona (no state) had her secret read: %+v", m)
	}
	calls := e.accountCalls()
	if calls["DescribeSecret"] != 2 || calls["GetSecretValue"] != 0 {
		t.Errorf("DescribeSecret calls = %d, GetSecretValue calls = %d; want 2 (the state users) and none", calls["DescribeSecret"], calls["GetSecretValue"])
	}
	// The default fresh rule asks directly for the keys under rotation.
	if stats.FreshLastUsed != 2 {
		t.Errorf("fresh = %d, want 2", stats.FreshLastUsed)
	}
	if strings.Contains(fmt.Sprintf("%+v", inv), secretValue) || strings.Contains(logs.String(), secretValue) {
		t.Error("the secret value leaked into the inventory")
	}
}

// TestCollectHoldsUserWhoseSecretCannotBeUsed: one user's unreadable secret
// metadata, or a name that gives no secret name, holds that user; the rest
// of the account is collected as usual.
func TestCollectHoldsUserWhoseSecretCannotBeUsed(t *testing.T) {
	tests := []struct {
		name string
		user string
		// denyDescribe gives the user's secret a policy denying
		// DescribeSecret to everyone.
		denyDescribe bool
		wantCode     vocab.Reason
		wantText     []string
	}{
		{name: "access denied", user: "kate", denyDescribe: true,
			wantCode: vocab.ReasonSecretUnreadable, wantText: []string{"keyrotor/" + invAccount + "/kate", "AccessDeniedException"}},
		{name: "comma in the user name", user: "ops,kate", wantCode: vocab.ReasonSecretNameInvalid,
			wantText: []string{`"keyrotor/` + invAccount + `/ops,kate"`, "secrets.name_template"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newInvEnv(t)
			for _, name := range []string{tc.user, "zoe"} {
				e.sim.AddUser(invAccount, awssim.UserSpec{Name: name})
				old := e.sim.AddAccessKey(invAccount, name, awssim.KeySpec{Created: e.ago(days(100))})
				e.tagUser(t, name, rotation.TagKey(old.AccessKeyID),
					encodeState(t, rotation.State{Phase: rotation.PhaseIssuing, RunID: "run-1", At: e.ago(time.Hour)}))
			}
			if tc.denyDescribe {
				e.putSecret(t, tc.user, `{"AccessKeyId":"x"}`)
				if _, err := e.sm.PutResourcePolicy(context.Background(), &secretsmanager.PutResourcePolicyInput{
					SecretId:       aws.String("keyrotor/" + invAccount + "/" + tc.user),
					ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"secretsmanager:DescribeSecret","Resource":"*"}]}`),
				}); err != nil {
					t.Fatal(err)
				}
			}
			inv, _ := e.collect(t, e.options())
			u := userByName(t, inv, tc.user)
			if u.Problem == nil || u.Problem.Code != tc.wantCode {
				t.Fatalf("%s: problem %+v, want %s", tc.user, u.Problem, tc.wantCode)
			}
			for _, w := range tc.wantText {
				if !strings.Contains(u.Problem.Reason, w) {
					t.Errorf("reason %q does not say %q", u.Problem.Reason, w)
				}
			}
			if z := userByName(t, inv, "zoe"); z.Problem != nil || !z.Secret.Read || len(z.Keys) != 1 {
				t.Errorf("the other user was not collected as usual: %+v", z)
			}
			for _, a := range rotation.Plan(inv, rotation.DefaultPolicy(), e.now, "run-2") {
				if a.User == tc.user && (a.Kind != rotation.ActionHold || a.Code != tc.wantCode) {
					t.Errorf("%s: planned %s %s (%s), want a hold", tc.user, a.Kind, a.KeyID, a.Code)
				}
			}
		})
	}
}

func TestCollectWrapsReadErrors(t *testing.T) {
	tests := []struct {
		op, want string
	}{
		{"ListUsers", "list users: "},
		{"ListAccessKeys", "list access keys of user alice: "},
		{"ListUserTags", "list tags of user alice: "},
		{"GetGroup", "read exempt group BreakGlass: "},
		{"GetAccessKeyLastUsed", "get last use of access key "},
	}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			e := newInvEnv(t)
			e.sim.AddUser(invAccount, awssim.UserSpec{Name: "alice"})
			e.sim.AddAccessKey(invAccount, "alice", awssim.KeySpec{Created: e.ago(days(100))})
			e.sim.InjectFault(awssim.Fault{Service: "iam", Op: tc.op, Code: "AccessDenied", Status: 403, Message: "denied"})
			o := e.options()
			o.FreshLastUsed = func(rotation.User, rotation.Key) bool { return true }
			_, _, err := rotation.Collect(context.Background(), e.iam, e.sm, o)
			var ae smithy.APIError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
				t.Errorf("err = %v, want %q wrapping AccessDenied", err, tc.want)
			}
		})
	}
}

func TestCollectFallsBackWhenReportDenied(t *testing.T) {
	e := newInvEnv(t)
	used := e.ago(days(4))
	e.sim.AddUser(invAccount, awssim.UserSpec{Name: "alice"})
	k := e.sim.AddAccessKey(invAccount, "alice", awssim.KeySpec{Created: e.ago(days(100)), LastUsed: &used, Service: "s3", Region: "us-east-2"})
	e.sim.InjectFault(awssim.Fault{Service: "iam", Op: "GenerateCredentialReport", Code: "AccessDenied", Status: 403, Message: "denied"})
	inv, stats := e.collect(t, e.options())
	if stats.ReportUsed || !strings.Contains(stats.ReportProblem, "generate credential report") || stats.FallbackLastUsed != 1 {
		t.Errorf("stats = %+v", stats)
	}
	got := userByName(t, inv, "alice").Keys
	if len(got) != 1 || got[0].ID != k.AccessKeyID {
		t.Fatalf("keys = %+v", got)
	}
	checkLastUsed(t, "alice", got[0], &used, "s3", "us-east-2", true)
}

// inflightIAM tracks how many IAM calls are in flight at once.
type inflightIAM struct {
	*iam.Client
	mu       sync.Mutex
	cur, max int
}

func track[T any](c *inflightIAM, f func() (T, error)) (T, error) {
	c.mu.Lock()
	c.cur++
	c.max = max(c.max, c.cur)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cur--
		c.mu.Unlock()
	}()
	return f()
}

func (c *inflightIAM) ListUsers(ctx context.Context, in *iam.ListUsersInput, f ...func(*iam.Options)) (*iam.ListUsersOutput, error) {
	return track(c, func() (*iam.ListUsersOutput, error) { return c.Client.ListUsers(ctx, in, f...) })
}

func (c *inflightIAM) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, f ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	return track(c, func() (*iam.ListAccessKeysOutput, error) { return c.Client.ListAccessKeys(ctx, in, f...) })
}

func (c *inflightIAM) ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, f ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	return track(c, func() (*iam.ListUserTagsOutput, error) { return c.Client.ListUserTags(ctx, in, f...) })
}

func (c *inflightIAM) GetGroup(ctx context.Context, in *iam.GetGroupInput, f ...func(*iam.Options)) (*iam.GetGroupOutput, error) {
	return track(c, func() (*iam.GetGroupOutput, error) { return c.Client.GetGroup(ctx, in, f...) })
}

func (c *inflightIAM) GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, f ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	return track(c, func() (*iam.GetAccessKeyLastUsedOutput, error) { return c.Client.GetAccessKeyLastUsed(ctx, in, f...) })
}

func (c *inflightIAM) GenerateCredentialReport(ctx context.Context, in *iam.GenerateCredentialReportInput, f ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	return track(c, func() (*iam.GenerateCredentialReportOutput, error) {
		return c.Client.GenerateCredentialReport(ctx, in, f...)
	})
}

func (c *inflightIAM) GetCredentialReport(ctx context.Context, in *iam.GetCredentialReportInput, f ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	return track(c, func() (*iam.GetCredentialReportOutput, error) { return c.Client.GetCredentialReport(ctx, in, f...) })
}

func TestCollectBoundsConcurrency(t *testing.T) {
	e := newInvEnv(t)
	for i := range 16 {
		name := fmt.Sprintf("user-%02d", i)
		e.sim.AddUser(invAccount, awssim.UserSpec{Name: name})
		e.sim.AddAccessKey(invAccount, name, awssim.KeySpec{Created: e.ago(days(i))})
	}
	e.sim.SetLatency("iam:*", 5*time.Millisecond)
	api := &inflightIAM{Client: e.iam}
	o := e.options()
	o.Concurrency = 3
	// Every key asked directly, so the last-use phase runs in the pool too.
	o.FreshLastUsed = func(rotation.User, rotation.Key) bool { return true }
	inv, _, err := rotation.Collect(context.Background(), api, e.sm, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Users) != 16 {
		t.Fatalf("users = %d", len(inv.Users))
	}
	// The pool plus the credential report fetched alongside it.
	if api.max > o.Concurrency+1 || api.max < 2 {
		t.Errorf("max in flight = %d, want 2..%d", api.max, o.Concurrency+1)
	}
}

func TestCollectDropsUserDeletedDuringInventory(t *testing.T) {
	e := newInvEnv(t)
	for _, name := range []string{"alice", "bob"} {
		e.sim.AddUser(invAccount, awssim.UserSpec{Name: name})
		e.sim.AddAccessKey(invAccount, name, awssim.KeySpec{Created: e.ago(days(100))})
	}
	// The first ListUserTags finds its user gone, as if deleted after ListUsers.
	e.sim.InjectFault(awssim.Fault{Service: "iam", Op: "ListUserTags", Code: "NoSuchEntity", Status: 404, Message: "gone"})
	o := e.options()
	o.Concurrency = 1
	inv, _ := e.collect(t, o)
	if got := userNames(inv); len(got) != 1 {
		t.Errorf("users = %v, want the one still there", got)
	}
}
