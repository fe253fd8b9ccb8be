package awssim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"keyrotor/internal/awssim"
)

// iamBenchRequest builds an IAM query request signed once with the SDK's
// signer, so a benchmark measures the simulator, not the client.
func iamBenchRequest(b testing.TB, c awssim.Credentials, form string) (*http.Request, []byte) {
	b.Helper()
	body := []byte(form)
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	return req, body
}

// iamBenchServe runs the handler on the same signed request b.N times.
func iamBenchServe(b *testing.B, sim *awssim.Sim, req *http.Request, body []byte) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// iamBenchAccount seeds one account with users (two keys each) and returns
// its root credentials.
func iamBenchAccount(sim *awssim.Sim, id string, users int) awssim.Credentials {
	sim.AddAccount(awssim.AccountSpec{ID: id, Name: "bench-" + id})
	for u := range users {
		name := fmt.Sprintf("user-%03d", u)
		sim.AddUser(id, awssim.UserSpec{Name: name, Tags: map[string]string{"owner": name + "@example.com"}})
		sim.AddAccessKey(id, name, awssim.KeySpec{})
		sim.AddAccessKey(id, name, awssim.KeySpec{Inactive: true})
	}
	return sim.RootCredentials(id)
}

func newIAMBenchSim(users int) (*awssim.Sim, awssim.Credentials) {
	sim := awssim.New()
	sim.SetCallLog(false)
	sim.CreateOrganization(iamMgmtID, "management", "mgmt@example.com")
	return sim, iamBenchAccount(sim, iamMemberID, users)
}

func BenchmarkIAMListUsers(b *testing.B) {
	sim, root := newIAMBenchSim(250)
	req, body := iamBenchRequest(b, root, "Action=ListUsers&MaxItems=20&Version=2010-05-08")
	iamBenchServe(b, sim, req, body)
}

func BenchmarkIAMListAccessKeys(b *testing.B) {
	sim, root := newIAMBenchSim(250)
	req, body := iamBenchRequest(b, root, "Action=ListAccessKeys&UserName=user-123&Version=2010-05-08")
	iamBenchServe(b, sim, req, body)
}

// BenchmarkBigOrg seeds 1,000 accounts of 50 users with two keys each
// (100,000 keys) and reports the heap the simulator holds for them.
func BenchmarkBigOrg(b *testing.B) {
	const accounts, usersPer = 1000, 50
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var sim *awssim.Sim
	for b.Loop() {
		sim = awssim.New()
		sim.SetCallLog(false)
		sim.CreateOrganization(iamMgmtID, "management", "mgmt@example.com")
		for i := range accounts {
			iamBenchAccount(sim, fmt.Sprintf("%012d", 300000000000+i), usersPer)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	keys := len(sim.Keys(""))
	if keys != accounts*usersPer*2 {
		b.Fatalf("seeded %d keys", keys)
	}
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	b.ReportMetric(heap/(1<<20), "heap-MiB")
	b.ReportMetric(heap/float64(keys), "heap-B/key")
	runtime.KeepAlive(sim)
}

// BenchmarkIAMListUsersRateLimited is BenchmarkIAMListUsers with a rate
// limit too high to throttle, so the difference is the limiter's cost.
func BenchmarkIAMListUsersRateLimited(b *testing.B) {
	sim, root := newIAMBenchSim(250)
	sim.SetRateLimit("iam", 1e9, 1e9)
	req, body := iamBenchRequest(b, root, "Action=ListUsers&MaxItems=20&Version=2010-05-08")
	iamBenchServe(b, sim, req, body)
}

// BenchmarkIAMListAccessKeysStrictUser is an IAM user with identity
// policies listing its own keys: the cost of evaluating policies per call.
func BenchmarkIAMListAccessKeysStrictUser(b *testing.B) {
	sim, _ := newIAMBenchSim(250)
	arn := "arn:aws:iam::" + iamMemberID + ":user/user-123"
	if err := sim.SetPrincipalPolicy(arn, ownKeysPolicy); err != nil {
		b.Fatal(err)
	}
	if err := sim.AttachPrincipalPolicy(arn, awssim.AWSManagedPolicyARN("PowerUserAccess")); err != nil {
		b.Fatal(err)
	}
	var self awssim.Credentials
	for _, k := range sim.Keys(iamMemberID) {
		if k.User == "user-123" && k.Status == "Active" {
			self, _ = sim.CredentialsFor(k.ID)
		}
	}
	req, body := iamBenchRequest(b, self, "Action=ListAccessKeys&Version=2010-05-08")
	iamBenchServe(b, sim, req, body)
}

// BenchmarkIAMListAccessKeysRoleSession is the rotation role's session,
// held to an allow-list narrowed to users, as keyrotor calls IAM.
func BenchmarkIAMListAccessKeysRoleSession(b *testing.B) {
	sim, _ := newIAMBenchSim(250)
	sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Rotator", TrustedPrincipals: []string{iamMgmtID},
		AllowedActions:   []string{"iam:List*", "iam:*AccessKey*"},
		ResourcePrefixes: map[string][]string{"iam:*AccessKey*": {"arn:aws:iam::*:user/*"}}})
	sess := sim.SessionCredentials(iamMemberID, "Rotator", "bench", 24*time.Hour)
	req, body := iamBenchRequest(b, sess, "Action=ListAccessKeys&UserName=user-123&Version=2010-05-08")
	req.Header.Set("X-Amz-Security-Token", sess.SessionToken)
	iamBenchServe(b, sim, req, body)
}
