package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
)

// running is a run call serving in the background.
type running struct {
	env map[string]string
	// stderr collects run's stderr, which the server writes while the
	// test reads.
	stderr *awssimtest.SyncBuffer
	stop   func() error
}

// startRun calls run with args and waits for the exports it prints.
func startRun(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &awssimtest.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw, stderr)
		pw.CloseWithError(fmt.Errorf("run returned: %v", err))
		done <- err
	}()
	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		env[k] = strings.Trim(v, "'")
		if k == "KEYROTOR_EXTERNAL_ID" {
			break
		}
	}
	if _, ok := env["KEYROTOR_EXTERNAL_ID"]; !ok {
		cancel()
		t.Fatalf("run printed no exports: %v\nstderr: %s", sc.Err(), stderr)
	}
	// Drain anything else run prints, so that it never blocks on the pipe.
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("run did not return 10s after cancel")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return &running{env: env, stderr: stderr, stop: stop}
}

// useEnv points the SDK's default configuration at the printed exports,
// and nowhere else.
func useEnv(t *testing.T, env map[string]string) {
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if env[k] == "" {
			t.Fatalf("no export of %s in %v", k, env)
		}
	}
	awssimtest.SetEnv(t, env["AWS_ENDPOINT_URL"], env["AWS_REGION"],
		awssim.Credentials{AccessKeyID: env["AWS_ACCESS_KEY_ID"], SecretAccessKey: env["AWS_SECRET_ACCESS_KEY"]})
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestServeDemoToTheSDK(t *testing.T) {
	r := startRun(t, "--addr", "127.0.0.1:0", "--demo", "--freeze-clock")
	useEnv(t, r.env)
	if !strings.HasPrefix(r.env["AWS_ENDPOINT_URL"], "http://127.0.0.1:") {
		t.Fatalf("endpoint %s", r.env["AWS_ENDPOINT_URL"])
	}

	// What the server must hold: the same scenario, built the same way.
	demo := awssim.DemoScenario()
	want, wantSeeded, err := demo.Build()
	if err != nil {
		t.Fatal(err)
	}
	if r.env["KEYROTOR_ROLE_NAME"] != wantSeeded.RoleName || r.env["KEYROTOR_EXTERNAL_ID"] != wantSeeded.ExternalID {
		t.Fatalf("role exports %v", r.env)
	}
	wrongTrust, status := map[string]bool{}, map[string]string{}
	for _, a := range demo.Accounts {
		wrongTrust[a.ID] = a.Role == awssim.RoleWrongTrust
		status[a.ID] = a.Status
	}

	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var accounts []string
	var listed, denied, keys int
	pages := organizations.NewListAccountsPaginator(organizations.NewFromConfig(cfg), &organizations.ListAccountsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("list accounts: %v", err)
		}
		for _, a := range page.Accounts {
			id := aws.ToString(a.Id)
			accounts = append(accounts, id)
			if st := string(a.Status); st != awssim.StatusActive && st != status[id] {
				t.Errorf("account %s is %s", id, st)
			}
			if string(a.Status) != awssim.StatusActive {
				continue
			}
			n, err := countKeys(ctx, t, cfg, id, r.env, want)
			switch {
			case wrongTrust[id]:
				if apiCode(err) != "AccessDenied" {
					t.Errorf("account %s with a wrong trust: err = %v, want AccessDenied", id, err)
				}
				denied++
			case err != nil:
				t.Errorf("account %s: %v", id, err)
			case n != len(want.Keys(id)):
				t.Errorf("account %s: %d keys listed, %d seeded", id, n, len(want.Keys(id)))
			default:
				listed++
				keys += n
			}
		}
	}
	if len(accounts) != wantSeeded.Accounts {
		t.Errorf("listed %d accounts, want %d", len(accounts), wantSeeded.Accounts)
	}
	// All but the suspended account and the one with the wrong trust.
	if listed != wantSeeded.Accounts-2 || denied != 1 || keys == 0 {
		t.Errorf("listed the keys of %d accounts (%d keys), %d denied", listed, keys, denied)
	}

	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	summary := fmt.Sprintf("serves %d accounts (1 suspended), %d users, %d access keys", wantSeeded.Accounts, wantSeeded.Users, wantSeeded.Keys)
	if out := r.stderr.String(); !strings.Contains(out, summary) || !strings.Contains(out, "awssim: stopped after") {
		t.Errorf("stderr lacks %q or the stop line:\n%s", summary, out)
	}
}

// countKeys assumes the rotation role in accountID and lists every user's
// keys, checking each against the seeded simulator want.
func countKeys(ctx context.Context, t *testing.T, cfg aws.Config, accountID string, env map[string]string, want *awssim.Sim) (int, error) {
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(fmt.Sprintf("arn:aws:iam::%s:role/%s", accountID, env["KEYROTOR_ROLE_NAME"])),
		RoleSessionName: aws.String("awssim-test"),
		ExternalId:      aws.String(env["KEYROTOR_EXTERNAL_ID"]),
	})
	if err != nil {
		return 0, fmt.Errorf("assume role in %s: %w", accountID, err)
	}
	c := out.Credentials
	member := cfg.Copy()
	member.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	client := iam.NewFromConfig(member)

	seeded := map[string]string{}
	for _, k := range want.Keys(accountID) {
		seeded[k.User+"/"+k.ID] = k.Status
	}
	n := 0
	users := iam.NewListUsersPaginator(client, &iam.ListUsersInput{})
	for users.HasMorePages() {
		page, err := users.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("list users in %s: %w", accountID, err)
		}
		for _, u := range page.Users {
			keys := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: u.UserName})
			for keys.HasMorePages() {
				kp, err := keys.NextPage(ctx)
				if err != nil {
					return 0, fmt.Errorf("list keys of %s in %s: %w", aws.ToString(u.UserName), accountID, err)
				}
				for _, k := range kp.AccessKeyMetadata {
					n++
					id := aws.ToString(u.UserName) + "/" + aws.ToString(k.AccessKeyId)
					if st, ok := seeded[id]; !ok || st != string(k.Status) {
						t.Errorf("key %s in %s: %s, seeded %q", id, accountID, k.Status, st)
					}
				}
			}
		}
	}
	return n, nil
}

func TestServeGeneratedWithRequestLog(t *testing.T) {
	r := startRun(t, "--addr", "127.0.0.1:0", "--accounts", "3", "--users", "4", "--seed", "9", "--verbose")
	useEnv(t, r.env)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != awssim.GenSecurityAccountID {
		t.Errorf("caller account %s", aws.ToString(id.Account))
	}
	out, err := organizations.NewFromConfig(cfg).ListAccounts(ctx, &organizations.ListAccountsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Accounts) != 5 {
		t.Errorf("%d accounts, want 3 members + management + security", len(out.Accounts))
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	log := r.stderr.String()
	for _, w := range []string{
		"serves 5 accounts (0 suspended), 12 users,",
		"service=sts op=GetCallerIdentity key=" + r.env["AWS_ACCESS_KEY_ID"] + " status=200",
		"service=organizations op=ListAccounts",
		"stopped after 2 requests (0 writes)",
	} {
		if !strings.Contains(log, w) {
			t.Errorf("stderr lacks %q:\n%s", w, log)
		}
	}
	if strings.Contains(log, r.env["AWS_SECRET_ACCESS_KEY"]) {
		t.Error("the secret access key is in the log")
	}
}

func TestRunRefusesBadInvocations(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("seed: 1\nowner: me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "0.0.0.0:4566"}, "loopback"},
		{[]string{"--addr", ":4566"}, "loopback"},
		{[]string{"--addr", "[::]:4566"}, "loopback"},
		{[]string{"--addr", "192.0.2.10:4566"}, "loopback"},
		{[]string{"--addr", "4566"}, "missing port"},
		{[]string{"--demo", "--scenario", bad}, "choose one of"},
		{[]string{"--accounts", "2", "--demo"}, "choose one of"},
		{[]string{"--users", "5"}, "go with --accounts"},
		{[]string{"--accounts", "0"}, "at least 1"},
		{[]string{"--now", "tomorrow"}, "RFC 3339"},
		{[]string{"--page-size", "5000"}, "--page-size"},
		{[]string{"serve"}, "unexpected argument"},
		{[]string{"--no-such-flag"}, "not defined"},
		{[]string{"--scenario", bad}, bad + `:2:1: unknown field "owner"`},
		{[]string{"--scenario", filepath.Join(dir, "missing.yaml")}, "no such file"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run %q: err = %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"AKIAABC":            "AKIAABC",
		"abc+/DEF=":          "abc+/DEF=",
		"http://127.0.0.1:1": "http://127.0.0.1:1",
		"":                   "''",
		"it's $HOME":         `'it'\''s $HOME'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParseFault(t *testing.T) {
	valid := []struct {
		spec string
		want awssim.Fault
	}{
		{"iam:ListUsers=500", awssim.Fault{Service: "iam", Op: "ListUsers", Kind: awssim.FaultError, Status: 500}},
		{"iam:ListUsers@123456789012#3x2=500:InternalFailure", awssim.Fault{Service: "iam", Op: "ListUsers", AccountID: "123456789012",
			Nth: 3, Times: 2, Kind: awssim.FaultError, Status: 500, Code: "InternalFailure"}},
		{"sts:AssumeRole=400:Throttling:Rate exceeded: slow down", awssim.Fault{Service: "sts", Op: "AssumeRole", Kind: awssim.FaultError,
			Status: 400, Code: "Throttling", Message: "Rate exceeded: slow down"}},
		{"sts:AssumeRole=hang", awssim.Fault{Service: "sts", Op: "AssumeRole", Kind: awssim.FaultHang}},
		{"organizations:*#2x*=hang:30s", awssim.Fault{Service: "organizations", Op: "*", Nth: 2, Times: -1, Kind: awssim.FaultHang, HangFor: 30 * time.Second}},
		{"iam:SimulatePrincipalPolicy=unsupported", awssim.Fault{Service: "iam", Op: "SimulatePrincipalPolicy", Kind: awssim.FaultUnsupported}},
		{"iam:GetCredentialReport#1x3=truncate", awssim.Fault{Service: "iam", Op: "GetCredentialReport", Nth: 1, Times: 3, Kind: awssim.FaultTruncate}},
		{"iam:CreateAccessKey=cut", awssim.Fault{Service: "iam", Op: "CreateAccessKey", Kind: awssim.FaultCut}},
	}
	for _, tt := range valid {
		got, err := parseFault(tt.spec)
		if err != nil || got != tt.want {
			t.Errorf("parseFault(%q) = %+v, %v\nwant %+v", tt.spec, got, err, tt.want)
		}
	}
	invalid := []struct{ spec, want string }{
		{"iam:ListUsers", "want SERVICE:OP"},
		{"iam=500", "is not SERVICE:OP"},
		{"ec2:RunInstances=500", `awssim serves no service "ec2"`},
		{"iam:listusers=500", "does not serve iam:listusers"},
		{"iam:ListUsers@1234=500", "the account is 12 digits"},
		{"iam:ListUsers#0=500", "calls count from 1"},
		{"iam:ListUsers#1x0=500", "at least one call"},
		{"iam:ListUsers=200", "HTTP error status 400-599"},
		{"iam:ListUsers=explode", "is not an action"},
		{"iam:ListUsers=500:Internal Failure", "is not an error code"},
		{"iam:ListUsers=hang:forever", "hang bound"},
		{"iam:ListUsers=hang:2h", "hang bound"},
		{"iam:ListUsers=cut:now", "cut takes no argument"},
	}
	for _, tt := range invalid {
		_, err := parseFault(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseFault(%q): err = %v, want %q", tt.spec, err, tt.want)
		}
	}
}

func TestParseLatencyAndRateLimit(t *testing.T) {
	if l, err := parseLatency("iam:ListUsers=300ms"); err != nil || l != (latencyControl{"iam:ListUsers", 300 * time.Millisecond}) {
		t.Errorf("latency: %+v %v", l, err)
	}
	if l, err := parseLatency("*=1s"); err != nil || l.pattern != "*" {
		t.Errorf("latency *: %+v %v", l, err)
	}
	if r, err := parseRateLimit("iam=5:10"); err != nil || r != (rateControl{service: "iam", perSecond: 5, burst: 10}) {
		t.Errorf("rate: %+v %v", r, err)
	}
	if r, err := parseRateLimit("secretsmanager/region=2.5"); err != nil || r != (rateControl{service: "secretsmanager", perRegion: true, perSecond: 2.5, burst: 3}) {
		t.Errorf("rate per region: %+v %v", r, err)
	}
	for spec, want := range map[string]string{
		"iam:ListUsers": "want PATTERN=DURATION",
		"iam=1s":        "is not *, SERVICE:*",
		"iam:Nope=1s":   "does not serve iam:Nope",
		"iam:*=-1s":     "is not a duration",
		"iam:*=soon":    "is not a duration",
		"*=3h":          "is not a duration",
	} {
		if _, err := parseLatency(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--latency %q: err = %v, want %q", spec, err, want)
		}
	}
	for spec, want := range map[string]string{
		"iam":                 "want SERVICE",
		"iam=0":               "not a positive number",
		"iam=fast":            "not a positive number",
		"iam=5:0":             "burst",
		"iam/account=5":       "is no scope",
		"cloudwatch/region=2": `no service "cloudwatch"`,
	} {
		if _, err := parseRateLimit(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--rate-limit %q: err = %v, want %q", spec, err, want)
		}
	}
}

// TestServeWithControls: the flags reach the SDK as production failures do.
func TestServeWithControls(t *testing.T) {
	r := startRun(t, "--addr", "127.0.0.1:0", "--demo", "--freeze-clock",
		"--fault", "iam:SimulatePrincipalPolicy=unsupported",
		"--fault", "organizations:ListAccounts#2=503:ServiceUnavailable",
		"--rate-limit", "sts=1:1",
		"--latency", "organizations:DescribeOrganization=50ms")
	useEnv(t, r.env)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = iam.NewFromConfig(cfg).SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::" + awssim.GenSecurityAccountID + ":role/" + r.env["KEYROTOR_ROLE_NAME"]), ActionNames: []string{"iam:ListUsers"}})
	var se interface{ HTTPStatusCode() int }
	if apiCode(err) != "InternalFailure" || !errors.As(err, &se) || se.HTTPStatusCode() != 501 {
		t.Errorf("unsupported: %v", err)
	}
	org := organizations.NewFromConfig(cfg)
	if _, err := org.ListAccounts(ctx, &organizations.ListAccountsInput{}); err != nil {
		t.Errorf("first ListAccounts: %v", err)
	}
	if _, err := org.ListAccounts(ctx, &organizations.ListAccountsInput{}); apiCode(err) != "ServiceUnavailable" {
		t.Errorf("second ListAccounts: %v", err)
	}
	start := time.Now()
	if _, err := org.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{}); err != nil || time.Since(start) < 50*time.Millisecond {
		t.Errorf("DescribeOrganization with latency: %v after %s", err, time.Since(start))
	}
	stsc := sts.NewFromConfig(cfg)
	_, err1 := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	_, err2 := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err1 != nil || apiCode(err2) != "Throttling" {
		t.Errorf("rate-limited STS: %v, %v", err1, err2)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.stderr.String(), "awssim: armed --fault iam:SimulatePrincipalPolicy=unsupported") {
		t.Errorf("stderr lacks the armed controls:\n%s", r.stderr)
	}
}

func TestRunRefusesBadControls(t *testing.T) {
	for _, args := range [][]string{
		{"--fault", "iam:ListUsers=boom"},
		{"--latency", "iam:ListUsers"},
		{"--rate-limit", "iam=0"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "invalid value") || !strings.Contains(err.Error(), args[1]) {
			t.Errorf("run %q: err = %v", args, err)
		}
	}
}
