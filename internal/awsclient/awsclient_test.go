package awsclient_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"keyrotor/internal/awsclient"
	"keyrotor/internal/awssim"
)

// simEnv is a small simulated organization served on loopback, and a
// configuration of the central account built by awsclient.Load.
type simEnv struct {
	sim    *awssim.Sim
	seeded awssim.Seeded
	url    string
}

func newSim(t *testing.T, wrap func(http.Handler) http.Handler) *simEnv {
	t.Helper()
	sim, seeded, err := awssim.Generate(awssim.GenOptions{Accounts: 1, UsersPerAccount: 3, Seed: 3}).Build()
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &simEnv{sim: sim, seeded: seeded, url: srv.URL}
}

func (e *simEnv) load(t *testing.T, o awsclient.Options) aws.Config {
	t.Helper()
	c := e.seeded.Central
	dir := t.TempDir()
	o.Extra = append(o.Extra,
		awsconfig.WithRegion(e.seeded.Region),
		awsconfig.WithBaseEndpoint(e.url),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)),
		awsconfig.WithSharedConfigFiles([]string{filepath.Join(dir, "none")}),
		awsconfig.WithSharedCredentialsFiles([]string{filepath.Join(dir, "none")}),
		awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	)
	cfg, err := awsclient.Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// calls counts the simulator's calls of op.
func (e *simEnv) calls(op string) int {
	n := 0
	for _, c := range e.sim.Calls() {
		if c.Op == op {
			n++
		}
	}
	return n
}

// TestHungCallIsBounded: a server that accepts a call and never answers
// costs one attempt timeout per attempt, and the call as a whole ends at
// the call timeout with an error that says so; a hang that clears is
// retried like a dropped connection.
func TestHungCallIsBounded(t *testing.T) {
	t.Parallel()
	e := newSim(t, nil)
	cfg := e.load(t, awsclient.Options{Timeouts: awsclient.Timeouts{Attempt: 200 * time.Millisecond, Call: 900 * time.Millisecond}})
	client := iam.NewFromConfig(cfg)

	e.sim.InjectFault(awssim.Fault{Service: "iam", Op: "ListUsers", Kind: awssim.FaultHang, Times: -1, HangFor: time.Minute})
	start := time.Now()
	_, err := client.ListUsers(context.Background(), &iam.ListUsersInput{})
	took := time.Since(start)
	var ct *awsclient.CallTimeoutError
	if !errors.As(err, &ct) || ct.Timeout != 900*time.Millisecond || !strings.Contains(err.Error(), "--aws-call-timeout") {
		t.Fatalf("hung call: err %v, want a CallTimeoutError of 900ms", err)
	}
	if took > 5*time.Second {
		t.Fatalf("a call bounded by 900ms took %s", took)
	}

	// One hang, then answers: the second attempt succeeds.
	e.sim.InjectFault(awssim.Fault{Service: "iam", Op: "ListAccountAliases", Kind: awssim.FaultHang, HangFor: time.Minute})
	if _, err := client.ListAccountAliases(context.Background(), &iam.ListAccountAliasesInput{}); err != nil {
		t.Fatalf("a call whose first attempt hung was not retried: %v", err)
	}
	// The hung attempt is logged when the server sees the client give up,
	// which may come just after the retry.
	deadline := time.Now().Add(5 * time.Second)
	for e.calls("ListAccountAliases") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.calls("ListAccountAliases"); n != 2 {
		t.Errorf("%d ListAccountAliases attempts, want the hung one and its retry", n)
	}
}

// TestTruncatedAnswerIsRetried: a 200 whose body was cut short is what
// the SDK's default retryer gives up on at once (so one blip failed a
// whole account); keyrotor's retryer retries it, for the query (IAM) and
// JSON (Secrets Manager) protocols alike. ThrottleOnlyRetryer, for calls
// that must not act twice, does not.
func TestTruncatedAnswerIsRetried(t *testing.T) {
	t.Parallel()
	e := newSim(t, nil)
	cfg := e.load(t, awsclient.Options{})
	ctx := context.Background()

	truncate := func(service, op string) {
		e.sim.InjectFault(awssim.Fault{Service: service, Op: op, Kind: awssim.FaultTruncate})
	}
	// The SDK's own retryer: the failure keyrotor's retryer must catch.
	truncate("iam", "ListUsers")
	_, err := iam.NewFromConfig(cfg, func(o *iam.Options) { o.Retryer = aws.NopRetryer{} }).ListUsers(ctx, &iam.ListUsersInput{})
	if err == nil || !awsclient.IsTruncatedResponse(err) {
		t.Fatalf("truncated IAM answer: err %v, want one IsTruncatedResponse recognises", err)
	}
	truncate("secretsmanager", "ListSecrets")
	_, err = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.Retryer = aws.NopRetryer{} }).
		ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	if err == nil || !awsclient.IsTruncatedResponse(err) {
		t.Fatalf("truncated Secrets Manager answer: err %v, want one IsTruncatedResponse recognises", err)
	}

	// ... and the SDK's standard retryer does not retry it.
	truncate("iam", "ListUsers")
	_, err = iam.NewFromConfig(cfg, func(o *iam.Options) { o.Retryer = retry.NewStandard() }).ListUsers(ctx, &iam.ListUsersInput{})
	if !awsclient.IsTruncatedResponse(err) {
		t.Fatalf("the SDK's standard retryer after a truncated answer: err %v, want the truncated answer", err)
	}

	truncate("iam", "ListUsers")
	if _, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatalf("ListUsers after one truncated answer: %v", err)
	}
	truncate("secretsmanager", "ListSecrets")
	if _, err := secretsmanager.NewFromConfig(cfg).ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); err != nil {
		t.Fatalf("ListSecrets after one truncated answer: %v", err)
	}

	truncate("iam", "GetUser")
	before := e.calls("GetUser")
	_, err = iam.NewFromConfig(cfg, func(o *iam.Options) { o.Retryer = awsclient.ThrottleOnlyRetryer() }).GetUser(ctx, &iam.GetUserInput{})
	if !awsclient.IsTruncatedResponse(err) || e.calls("GetUser")-before != 1 {
		t.Errorf("ThrottleOnlyRetryer: err %v after %d calls, want the truncated answer after one", err, e.calls("GetUser")-before)
	}
}

// TestUnsupportedIsRecognised: LocalStack's answer for an operation it
// lacks is recognised, and the retryer does not retry it.
func TestUnsupportedIsRecognised(t *testing.T) {
	t.Parallel()
	e := newSim(t, nil)
	cfg := e.load(t, awsclient.Options{})
	e.sim.InjectFault(awssim.Fault{Service: "iam", Op: "SimulatePrincipalPolicy", Kind: awssim.FaultUnsupported})
	_, err := iam.NewFromConfig(cfg).SimulatePrincipalPolicy(context.Background(), &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(e.seeded.RoleARN(e.seeded.SecurityAccountID)), ActionNames: []string{"iam:ListUsers"},
	})
	if !awsclient.IsUnsupported(err) || !awsclient.IsServerError(err) {
		t.Fatalf("unsupported operation: err %v, want IsUnsupported and IsServerError", err)
	}
	if n := e.calls("SimulatePrincipalPolicy"); n != 1 {
		t.Errorf("%d SimulatePrincipalPolicy calls, want 1 (no retries)", n)
	}
	if awsclient.IsUnsupported(errors.New("other")) {
		t.Error("a plain error is not an unsupported operation")
	}
}

// TestSDKLogIsSlog: the SDK's own warnings (here: a server whose Date
// header the SDK cannot parse, as some emulators send) reach the slog
// logger as records, JSON when the logger writes JSON, and never the
// SDK's default plain-text logger on stderr.
func TestSDKLogIsSlog(t *testing.T) {
	t.Parallel()
	e := newSim(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", "yesterday, around noon")
			h.ServeHTTP(w, r)
		})
	})
	// The SDK logs from the goroutine making the call.
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := e.load(t, awsclient.Options{Logger: log})
	if cfg.ClientLogMode&aws.LogRetries == 0 {
		t.Error("a debug logger should get the SDK's retry log")
	}
	if _, err := iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
	var warned bool
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if rec["msg"] == "AWS SDK" && rec["level"] == "WARN" && strings.Contains(rec["sdk_message"].(string), "Date header") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("the SDK's Date warning is not a JSON record:\n%s", buf.String())
	}

	info := e.load(t, awsclient.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if info.ClientLogMode != 0 {
		t.Errorf("an info logger gets client log mode %v, want none", info.ClientLogMode)
	}
}

// TestConfigure gives a hand-built configuration the same bounds.
func TestConfigure(t *testing.T) {
	t.Parallel()
	e := newSim(t, nil)
	c := e.seeded.Central
	cfg := aws.Config{Region: e.seeded.Region, BaseEndpoint: aws.String(e.url),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	awsclient.Configure(&cfg, awsclient.Options{Timeouts: awsclient.Timeouts{Attempt: 100 * time.Millisecond, Call: 300 * time.Millisecond}})
	e.sim.InjectFault(awssim.Fault{Service: "iam", Op: "ListUsers", Kind: awssim.FaultHang, Times: -1, HangFor: time.Minute})
	_, err := iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{})
	var ct *awsclient.CallTimeoutError
	if !errors.As(err, &ct) {
		t.Fatalf("hung call through Configure: %v, want a CallTimeoutError", err)
	}
}
