package awssimtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awsclient"
	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
)

const (
	mgmtID   = "111111111111"
	memberID = "222222222222"
)

// newSim is an organization with one member account, a role in it and a
// user with one key.
func newSim() (*awssim.Sim, awssim.Credentials) {
	sim := awssim.New(awssim.WithSeed(3))
	sim.CreateOrganization(mgmtID, "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: memberID, Name: "member"})
	sim.AddRole(memberID, awssim.RoleSpec{Name: "Runner", TrustedPrincipals: []string{mgmtID}})
	sim.AddUser(memberID, awssim.UserSpec{Name: "alice"})
	return sim, sim.AddAccessKey(memberID, "alice", awssim.KeySpec{})
}

// callerARN asks STS who cfg signs as.
func callerARN(t *testing.T, cfg aws.Config) string {
	t.Helper()
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	return aws.ToString(out.Arn)
}

func TestStartServesOnLoopbackUntilCleanup(t *testing.T) {
	sim, _ := newSim()
	var url string
	t.Run("serving", func(t *testing.T) {
		srv := awssimtest.Start(t, sim)
		url = srv.URL
		if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
			t.Errorf("URL = %s, want a loopback address", srv.URL)
		}
		if srv.Sim != sim || srv.Seeded.Central.AccessKeyID != "" {
			t.Errorf("Server = %+v, want the sim and nothing seeded", srv)
		}
		if got, want := callerARN(t, srv.RootConfig(mgmtID)), "arn:aws:iam::"+mgmtID+":root"; got != want {
			t.Errorf("caller = %s, want %s", got, want)
		}
	})
	// The subtest's cleanup has closed the server.
	client := &http.Client{Timeout: 5 * time.Second}
	if resp, err := client.Get(url); err == nil {
		_ = resp.Body.Close()
		t.Errorf("GET %s after the test ended answered %s", url, resp.Status)
	}
}

func TestConfigsSignAsTheirCredentials(t *testing.T) {
	sim, alice := newSim()
	srv := awssimtest.Start(t, sim)
	for name, tc := range map[string]struct {
		cfg  aws.Config
		want string
	}{
		"root":    {srv.RootConfig(memberID), "arn:aws:iam::" + memberID + ":root"},
		"role":    {srv.RoleConfig(memberID, "Runner", "kit-test"), "arn:aws:sts::" + memberID + ":assumed-role/Runner/kit-test"},
		"given":   {srv.Config(alice), "arn:aws:iam::" + memberID + ":user/alice"},
		"package": {awssimtest.Config(srv.URL, alice), "arn:aws:iam::" + memberID + ":user/alice"},
	} {
		if got := callerARN(t, tc.cfg); got != tc.want {
			t.Errorf("%s: caller = %s, want %s", name, got, tc.want)
		}
		if tc.cfg.Region != awssim.DefaultRegion || aws.ToString(tc.cfg.BaseEndpoint) != srv.URL {
			t.Errorf("%s: region %q endpoint %q, want %q and %q", name, tc.cfg.Region, aws.ToString(tc.cfg.BaseEndpoint), awssim.DefaultRegion, srv.URL)
		}
	}

	cfg, ok := srv.KeyConfig(alice.AccessKeyID)
	if !ok {
		t.Fatal("KeyConfig does not know alice's key")
	}
	if got, want := callerARN(t, cfg), "arn:aws:iam::"+memberID+":user/alice"; got != want {
		t.Errorf("KeyConfig: caller = %s, want %s", got, want)
	}
	if _, ok := srv.KeyConfig("AKIANOSUCHKEY0000000"); ok {
		t.Error("KeyConfig made a config for a key the simulator never issued")
	}
	if got := srv.Config(alice, awssimtest.Region("eu-central-1")).Region; got != "eu-central-1" {
		t.Errorf("Region option: region = %q", got)
	}
	p, err := awssimtest.Provider(alice).Retrieve(context.Background())
	if err != nil || p.AccessKeyID != alice.AccessKeyID || p.SecretAccessKey != alice.SecretAccessKey || p.SessionToken != "" {
		t.Errorf("Provider = %+v, %v", p, err)
	}
}

const scenarioYAML = `now: 2026-11-26T06:00:00Z
seed: 5
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "333333333333", name: security}
role: {name: Rotator, external_id: ext-1}
ses: {region: eu-west-1}
accounts:
  - id: "444444444444"
    name: prod
    users:
      - name: bob
        keys: [{age: 100d}]
`

func TestStartScenario(t *testing.T) {
	sc, err := awssim.ParseScenario("kit.yaml", []byte(scenarioYAML))
	if err != nil {
		t.Fatal(err)
	}
	srv := awssimtest.StartScenario(t, sc, awssim.WithPageSize(1))
	sd := srv.Seeded
	if sd.SecurityAccountID != "333333333333" || sd.RoleName != "Rotator" || sd.ExternalID != "ext-1" ||
		sd.Region != "eu-west-1" || sd.Keys != 1 {
		t.Errorf("Seeded = %+v", sd)
	}
	if srv.Sim.PageSize() != 1 {
		t.Errorf("page size %d: the Build options were not applied", srv.Sim.PageSize())
	}
	if !srv.Sim.Now().Equal(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("clock at %s, want the scenario's now", srv.Sim.Now())
	}
	central := srv.CentralConfig()
	if got, want := callerARN(t, central), "arn:aws:iam::333333333333:root"; got != want {
		t.Errorf("central caller = %s, want %s", got, want)
	}
	if central.Region != "eu-west-1" || srv.RootConfig("444444444444").Region != "eu-west-1" {
		t.Errorf("central region %q: configs of a scenario's server must default to its region", central.Region)
	}
	if got := srv.CentralConfig(awssimtest.Region("us-west-2")).Region; got != "us-west-2" {
		t.Errorf("Region option after the scenario's: region = %q", got)
	}
	// The central identity reaches a member account through the seeded role.
	out, err := sts.NewFromConfig(central).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(sd.RoleARN("444444444444")), RoleSessionName: aws.String("kit"), ExternalId: aws.String(sd.ExternalID),
	})
	if err != nil || !strings.HasPrefix(aws.ToString(out.AssumedRoleUser.Arn), "arn:aws:sts::444444444444:assumed-role/Rotator/") {
		t.Errorf("AssumeRole as central: %+v, %v", out, err)
	}
}

// fatalTB records a Fatalf and ends its goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartScenarioFailsOnInvalidScenario(t *testing.T) {
	sc, err := awssim.ParseScenario("kit.yaml", []byte(scenarioYAML))
	if err != nil {
		t.Fatal(err)
	}
	sc.Accounts[0].ID = "333333333333"
	tb := &fatalTB{TB: t}
	done := make(chan *awssimtest.Server)
	go func() {
		defer close(done)
		done <- awssimtest.StartScenario(tb, sc)
	}()
	if srv := <-done; srv != nil {
		t.Fatalf("StartScenario returned a server for an invalid scenario: %+v", srv)
	}
	if !strings.HasPrefix(tb.msg, "build scenario: ") || !strings.Contains(tb.msg, "accounts[0].id") {
		t.Errorf("failure %q does not say what is wrong where", tb.msg)
	}
}

func TestCentralConfigNeedsAScenario(t *testing.T) {
	sim, _ := newSim()
	srv := awssimtest.Start(t, sim)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "StartScenario") {
			t.Errorf("CentralConfig without a scenario: recovered %v, want a panic naming StartScenario", r)
		}
	}()
	srv.CentralConfig()
}

func TestRetryers(t *testing.T) {
	sim, _ := newSim()
	srv := awssimtest.Start(t, sim)
	for _, tc := range []struct {
		name string
		opts []awssimtest.Option
		want int
	}{
		{"default is keyrotor's", nil, awsclient.MaxAttempts},
		{"no retries", []awssimtest.Option{awssimtest.NoRetries()}, 1},
		{"retries", []awssimtest.Option{awssimtest.Retries(4, time.Millisecond)}, 4},
		{"retries at least one attempt", []awssimtest.Option{awssimtest.Retries(0, time.Millisecond)}, 1},
		{"SDK default", []awssimtest.Option{awssimtest.SDKDefaultRetryer()}, retry.DefaultMaxAttempts},
		{"last option wins", []awssimtest.Option{awssimtest.NoRetries(), awssimtest.Retries(5, time.Millisecond)}, 5},
	} {
		cfg := srv.RootConfig(memberID, tc.opts...)
		if got := sts.NewFromConfig(cfg).Options().Retryer.MaxAttempts(); got != tc.want {
			t.Errorf("%s: max attempts %d, want %d", tc.name, got, tc.want)
		}
	}
	if srv.RootConfig(memberID, awssimtest.SDKDefaultRetryer()).Retryer != nil {
		t.Error("SDKDefaultRetryer left a retryer set")
	}

	// What the attempts mean on the wire: two injected 500s are ridden out
	// with three attempts, and reach the caller with one.
	attempts := func(opt awssimtest.Option) (int, error) {
		sim.ResetCalls()
		sim.InjectFault(awssim.Fault{Service: "sts", Op: "GetCallerIdentity", Times: 2})
		defer sim.ClearFaults()
		_, err := sts.NewFromConfig(srv.RootConfig(memberID, opt)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		n := 0
		for _, c := range sim.Calls() {
			if c.Op == "GetCallerIdentity" {
				n++
			}
		}
		return n, err
	}
	if n, err := attempts(awssimtest.Retries(3, time.Millisecond)); err != nil || n != 3 {
		t.Errorf("Retries(3): %d calls, err %v; want 3 calls and success", n, err)
	}
	n, err := attempts(awssimtest.NoRetries())
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InternalFailure" || n != 1 {
		t.Errorf("NoRetries: %d calls, err %v; want 1 call and the injected InternalFailure", n, err)
	}
}

func TestSetEnv(t *testing.T) {
	sim, alice := newSim()
	srv := awssimtest.Start(t, sim)
	// A profile the machine might have set must not take part.
	t.Setenv("AWS_PROFILE", "no-such-profile")
	awssimtest.SetEnv(t, srv.URL, "ap-south-1", alice)
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load the SDK's default configuration: %v", err)
	}
	if cfg.Region != "ap-south-1" {
		t.Errorf("region = %q", cfg.Region)
	}
	if got, want := callerARN(t, cfg), "arn:aws:iam::"+memberID+":user/alice"; got != want {
		t.Errorf("caller = %s, want %s", got, want)
	}
}

func TestSyncBuffer(t *testing.T) {
	const writers, lines = 8, 200
	var buf awssimtest.SyncBuffer
	var wg sync.WaitGroup
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
				_ = buf.String()
			}
		}
	}()
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(&buf, "writer %d line %d\n", w, i)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-readerDone
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	seen := map[string]bool{}
	for _, l := range got {
		seen[l] = true
	}
	for w := range writers {
		for i := range lines {
			if l := fmt.Sprintf("writer %d line %d", w, i); !seen[l] {
				t.Fatalf("line %q lost or torn", l)
			}
		}
	}
}
