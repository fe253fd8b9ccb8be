package awssim_test

import (
	"context"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
)

// waitForCall polls the call log (bounded) for a call of op with code: a
// hung handler logs its call only when it returns.
func waitForCall(t *testing.T, sim *awssim.Sim, op, code string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range sim.Calls() {
			if c.Op == op && c.ErrorCode == code {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s call with code %q in %+v", op, code, sim.Calls())
}

func countCalls(sim *awssim.Sim, op string) int {
	n := 0
	for _, c := range sim.Calls() {
		if c.Op == op {
			n++
		}
	}
	return n
}

func TestFaultHangReleasedByTheClient(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.InjectFault(awssim.Fault{Service: "iam", Op: "ListUsers", Kind: awssim.FaultHang})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := w.iam(w.root).ListUsers(ctx, &iam.ListUsersInput{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the client waited %s", d)
	}
	// The server let go of the call when the client did.
	waitForCall(t, w.sim, "ListUsers", "RequestCanceled")
	if _, err := w.iam(w.root).ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
		t.Fatalf("the fault is spent, yet: %v", err)
	}
}

func TestFaultHangBound(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.InjectFault(awssim.Fault{Service: "iam", Op: "*", Kind: awssim.FaultHang, HangFor: 100 * time.Millisecond})
	_, err := w.iam(w.root, iamNoRetries).ListAccountAliases(context.Background(), &iam.ListAccountAliasesInput{})
	var ae smithy.APIError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("err = %v, want a transport error after the bound", err)
	}
	waitForCall(t, w.sim, "ListAccountAliases", "HangTimeout")
}

func TestFaultUnsupported(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "R", TrustedPrincipals: []string{iamMgmtID}})
	w.sim.InjectFault(awssim.Fault{Service: "iam", Op: "SimulatePrincipalPolicy", Kind: awssim.FaultUnsupported})
	client := w.iam(w.root) // the SDK's default retryer
	for range 3 {
		_, err := client.SimulatePrincipalPolicy(context.Background(), &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String("arn:aws:iam::" + iamMemberID + ":role/R"), ActionNames: []string{"iam:ListUsers"}})
		iamWantError(t, err, "InternalFailure", 501)
		if !strings.Contains(err.Error(), "API action 'SimulatePrincipalPolicy' for service 'iam' not yet implemented") {
			t.Fatalf("message: %v", err)
		}
	}
	if n := countCalls(w.sim, "SimulatePrincipalPolicy"); n != 3 {
		t.Fatalf("%d calls for 3 requests: the SDK retried a 501", n)
	}
}

func TestFaultTruncate(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	w.sim.InjectFault(awssim.Fault{Service: "iam", Op: "CreateAccessKey", Kind: awssim.FaultTruncate})
	_, err := w.iam(w.root).CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	// This SDK reports an XML body it cannot decode as the decoder's
	// error inside the 200 response's error; no API error.
	var se *xml.SyntaxError
	if !errors.As(err, &se) || iamHTTPStatus(err) != 200 || iamErrCode(err) != "" {
		t.Fatalf("err = %v, want an XML syntax error on a 200 response", err)
	}
	// The call took effect, once: the SDK does not retry a 200.
	if keys := w.sim.Keys(iamMemberID); len(keys) != 1 || countCalls(w.sim, "CreateAccessKey") != 1 {
		t.Fatalf("keys %+v after %d calls", keys, countCalls(w.sim, "CreateAccessKey"))
	}

	// The same on a JSON protocol.
	e := newSecretsEnv(t)
	e.sim.InjectFault(awssim.Fault{Service: "secretsmanager", Op: "CreateSecret", Kind: awssim.FaultTruncate})
	_, err = e.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v")})
	var de *smithy.DeserializationError
	if !errors.As(err, &de) || iamHTTPStatus(err) != 200 {
		t.Fatalf("JSON: err = %v (%T), want a deserialization error", err, err)
	}
	if _, ok := e.sim.SecretValue(secAcct, "us-east-1", "s"); !ok {
		t.Fatal("the truncated CreateSecret did not take effect")
	}
}

func TestFaultKindsCountAndCut(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	client := w.iam(w.root, iamNoRetries)
	list := func() error {
		_, err := client.ListUsers(context.Background(), &iam.ListUsersInput{})
		return err
	}
	// From the 2nd call on, every call: 503 with the code given.
	w.sim.InjectFault(awssim.Fault{Service: "iam", Op: "ListUsers", Nth: 2, Times: -1, Code: "ServiceUnavailable", Status: 503})
	if err := list(); err != nil {
		t.Fatalf("1st call: %v", err)
	}
	for range 3 {
		iamWantError(t, list(), "ServiceUnavailable", 503)
	}
	w.sim.ClearFaults()
	w.sim.InjectFault(awssim.Fault{Service: "iam", Op: "TagUser", Kind: awssim.FaultCut})
	_, err := client.TagUser(context.Background(), &iam.TagUserInput{UserName: aws.String("alice"), Tags: nil})
	if err == nil || iamErrCode(err) != "" {
		t.Fatalf("cut: %v", err)
	}
}

// TestRateLimitsPerAccountAndService: STS and Organizations calls of the
// central account have buckets of their own, apart from the members' and
// the other services'.
func TestRateLimitsPerAccountAndService(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddDelegatedAdmin(iamMgmtID)
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "R", TrustedPrincipals: []string{iamMgmtID}})
	central := w.sim.RootCredentials(iamMgmtID)
	for _, svc := range []string{"sts", "organizations", "iam"} {
		w.sim.SetRateLimit(svc, 1, 1)
	}
	ctx := context.Background()
	stsc := sts.NewFromConfig(cfgFor(w.url, central), func(o *sts.Options) { o.RetryMaxAttempts = 1 })
	assume := func() error {
		_, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + iamMemberID + ":role/R"), RoleSessionName: aws.String("run")})
		return err
	}
	org := organizations.NewFromConfig(cfgFor(w.url, central), func(o *organizations.Options) { o.RetryMaxAttempts = 1 })
	listAccounts := func() error {
		_, err := org.ListAccounts(ctx, &organizations.ListAccountsInput{})
		return err
	}
	memberSTS := sts.NewFromConfig(cfgFor(w.url, w.root), func(o *sts.Options) { o.RetryMaxAttempts = 1 })

	wantOK(t, "central AssumeRole", assume())
	iamWantError(t, assume(), "Throttling", 400)
	// Another service of the same account, and the same service of
	// another account, have their own buckets.
	wantOK(t, "central ListAccounts", listAccounts())
	if err := listAccounts(); iamErrCode(err) != "TooManyRequestsException" {
		t.Errorf("second ListAccounts: %v", err)
	}
	_, err := memberSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantOK(t, "member STS", err)
	_, err = w.iam(central, iamNoRetries).ListUsers(ctx, &iam.ListUsersInput{})
	wantOK(t, "central IAM", err)
}

func TestRateLimitScopePerRegion(t *testing.T) {
	e := newSecretsEnv(t)
	ctx := context.Background()
	e.sim.SetRateLimit("secretsmanager", 1, 1)
	in := func(region string) error {
		_, err := e.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{}, func(o *secretsmanager.Options) {
			o.Region, o.RetryMaxAttempts = region, 1
		})
		return err
	}
	wantOK(t, "us-east-1", in("us-east-1"))
	if err := in("eu-west-1"); iamErrCode(err) != "ThrottlingException" {
		t.Fatalf("per account by default: eu-west-1 err = %v", err)
	}

	e2 := newSecretsEnv(t)
	e2.sim.SetRateLimitScope("secretsmanager", true)
	e2.sim.SetRateLimit("secretsmanager", 1, 1)
	in2 := func(region string) error {
		_, err := e2.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{}, func(o *secretsmanager.Options) {
			o.Region, o.RetryMaxAttempts = region, 1
		})
		return err
	}
	wantOK(t, "us-east-1", in2("us-east-1"))
	wantOK(t, "eu-west-1 has its own bucket", in2("eu-west-1"))
	if err := in2("us-east-1"); iamErrCode(err) != "ThrottlingException" {
		t.Fatalf("second us-east-1 call: %v", err)
	}
}
