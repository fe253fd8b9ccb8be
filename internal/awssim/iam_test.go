package awssim_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
)

const (
	iamMgmtID   = "111111111111"
	iamMemberID = "222222222222"
)

// iamWorld is an organization with a member account, served over HTTP.
type iamWorld struct {
	sim  *awssim.Sim
	url  string
	root awssim.Credentials // the member account's root
}

func newIAMWorld(t *testing.T, opts ...awssim.Option) *iamWorld {
	t.Helper()
	sim := awssim.New(opts...)
	sim.CreateOrganization(iamMgmtID, "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: iamMemberID, Name: "member", Aliases: []string{"member-prod"}})
	return &iamWorld{sim: sim, url: newTestServer(t, sim), root: sim.RootCredentials(iamMemberID)}
}

func (w *iamWorld) iam(c awssim.Credentials, opts ...func(*iam.Options)) *iam.Client {
	return iam.NewFromConfig(cfgFor(w.url, c), opts...)
}

func iamNoRetries(o *iam.Options) { o.RetryMaxAttempts = 1 }

// errCode returns the AWS error code of err ("" if it is no API error).
func iamErrCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func iamHTTPStatus(err error) int {
	var se interface{ HTTPStatusCode() int }
	if errors.As(err, &se) {
		return se.HTTPStatusCode()
	}
	return 0
}

func iamWantError(t *testing.T, err error, code string, status int) {
	t.Helper()
	if iamErrCode(err) != code || iamHTTPStatus(err) != status {
		t.Fatalf("err = %v (code %q, status %d), want %s/%d", err, iamErrCode(err), iamHTTPStatus(err), code, status)
	}
}

func TestIAMListUsersPaginates(t *testing.T) {
	w := newIAMWorld(t, awssim.WithPageSize(20))
	want := make([]string, 0, 250)
	created := map[string]time.Time{}
	for i := range 250 {
		// Created out of alphabetical order: AWS still lists by name.
		name := fmt.Sprintf("user-%03d", (i*37)%250)
		created[name] = time.Date(1999+i/20, time.Month(1+i%12), 1+i%28, i%24, i%60, (i*7)%60, 0, time.UTC)
		w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: name, Created: created[name], Tags: map[string]string{"team": "a"}})
		want = append(want, name)
	}
	w.sim.AddUser(iamMgmtID, awssim.UserSpec{Name: "other-account-user"})
	slices.Sort(want)
	ctx := context.Background()
	client := w.iam(w.root)

	var got []string
	pages := 0
	p := iam.NewListUsersPaginator(client, &iam.ListUsersInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.Users) > 20 {
			t.Fatalf("page %d has %d users, page size is 20", pages, len(out.Users))
		}
		for _, u := range out.Users {
			if len(u.Tags) != 0 {
				t.Fatalf("ListUsers returned tags for %s; AWS leaves them out", aws.ToString(u.UserName))
			}
			name := aws.ToString(u.UserName)
			if aws.ToString(u.Arn) != "arn:aws:iam::"+iamMemberID+":user/"+name || !aws.ToTime(u.CreateDate).Equal(created[name]) ||
				aws.ToString(u.Path) != "/" || !strings.HasPrefix(aws.ToString(u.UserId), "AIDA") {
				t.Fatalf("user %+v", u)
			}
			got = append(got, aws.ToString(u.UserName))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %d users (first %v), want %d sorted", len(got), got[:min(3, len(got))], len(want))
	}
	if pages != 13 {
		t.Fatalf("pages = %d, want 13", pages)
	}
	if names := w.sim.UserNames(iamMemberID); !slices.Equal(names, want) {
		t.Fatalf("UserNames = %d names", len(names))
	}

	out, err := client.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Users) != 7 || !out.IsTruncated || out.Marker == nil {
		t.Fatalf("MaxItems 7: %d users, truncated %v", len(out.Users), out.IsTruncated)
	}
	_, err = client.ListUsers(ctx, &iam.ListUsersInput{Marker: aws.String("not-a-marker")})
	iamWantError(t, err, "InvalidInput", 400)
	_, err = client.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(0)})
	iamWantError(t, err, "ValidationError", 400)
	_, err = client.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1001)})
	iamWantError(t, err, "ValidationError", 400)
}

func TestIAMListUsersPathPrefix(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "svc-ci", Path: "/service/"})
	out, err := w.iam(w.root).ListUsers(context.Background(), &iam.ListUsersInput{PathPrefix: aws.String("/service/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Users) != 1 || aws.ToString(out.Users[0].UserName) != "svc-ci" || aws.ToString(out.Users[0].Path) != "/service/" {
		t.Fatalf("users = %+v", out.Users)
	}
}

func TestIAMGetUser(t *testing.T) {
	w := newIAMWorld(t)
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice", Created: created, Tags: map[string]string{"owner": "alice@example.com"}})
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Auditor"})
	aliceKey := w.sim.AddAccessKey(iamMemberID, "alice", awssim.KeySpec{})
	ctx := context.Background()

	tests := []struct {
		name     string
		creds    awssim.Credentials
		in       *iam.GetUserInput
		wantUser string
		wantArn  string
		wantCode string
	}{
		{"by name", w.root, &iam.GetUserInput{UserName: aws.String("alice")}, "alice", "arn:aws:iam::222222222222:user/alice", ""},
		{"caller's own user", aliceKey, &iam.GetUserInput{}, "alice", "arn:aws:iam::222222222222:user/alice", ""},
		{"root caller", w.root, &iam.GetUserInput{}, "", "arn:aws:iam::222222222222:root", ""},
		{"role session needs a name", w.sim.SessionCredentials(iamMemberID, "Auditor", "s", time.Hour), &iam.GetUserInput{}, "", "", "ValidationError"},
		{"unknown user", w.root, &iam.GetUserInput{UserName: aws.String("nobody")}, "", "", "NoSuchEntity"},
		{"bad name", w.root, &iam.GetUserInput{UserName: aws.String("no spaces")}, "", "", "ValidationError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := w.iam(tc.creds).GetUser(ctx, tc.in)
			if tc.wantCode != "" {
				if iamErrCode(err) != tc.wantCode {
					t.Fatalf("err = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u := out.User
			if aws.ToString(u.UserName) != tc.wantUser || aws.ToString(u.Arn) != tc.wantArn {
				t.Fatalf("user = %s %s", aws.ToString(u.UserName), aws.ToString(u.Arn))
			}
			if tc.wantUser == "alice" {
				if !u.CreateDate.Equal(created) || len(u.Tags) != 1 || aws.ToString(u.Tags[0].Value) != "alice@example.com" {
					t.Fatalf("alice = created %v tags %+v", u.CreateDate, u.Tags)
				}
			}
		})
	}

	_, err := w.iam(w.root).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) || nse.ErrorMessage() != "The user with name nobody cannot be found." || iamHTTPStatus(err) != 404 {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestIAMAccessKeyLifecycle(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	seeded := w.sim.AddAccessKey(iamMemberID, "alice", awssim.KeySpec{Created: w.sim.Now().Add(-100 * 24 * time.Hour)})
	ctx := context.Background()
	admin := w.iam(w.root)

	created, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	nk := created.AccessKey
	if aws.ToString(nk.UserName) != "alice" || nk.Status != types.StatusTypeActive || !nk.CreateDate.Equal(w.sim.Now()) ||
		!strings.HasPrefix(aws.ToString(nk.AccessKeyId), "AKIA") || len(aws.ToString(nk.SecretAccessKey)) != 40 {
		t.Fatalf("new key = %+v", nk)
	}
	newKey := awssim.Credentials{AccessKeyID: *nk.AccessKeyId, SecretAccessKey: *nk.SecretAccessKey}

	_, err = admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	var lee *types.LimitExceededException
	if !errors.As(err, &lee) || lee.ErrorMessage() != "Cannot exceed quota for AccessKeysPerUser: 2" || iamHTTPStatus(err) != 409 {
		t.Fatalf("third key: %v", err)
	}

	// A key nobody used yet reports N/A.
	lu, err := admin.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: nk.AccessKeyId})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(lu.UserName) != "alice" || lu.AccessKeyLastUsed.LastUsedDate != nil ||
		aws.ToString(lu.AccessKeyLastUsed.ServiceName) != "N/A" || aws.ToString(lu.AccessKeyLastUsed.Region) != "N/A" {
		t.Fatalf("unused key last used = %+v", lu.AccessKeyLastUsed)
	}

	// The new key is a working credential, and using it is recorded.
	w.sim.Clock().Advance(time.Hour)
	id, err := sts.NewFromConfig(cfgFor(w.url, newKey)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Arn) != "arn:aws:iam::222222222222:user/alice" {
		t.Fatalf("caller = %s", aws.ToString(id.Arn))
	}
	lu, err = admin.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: nk.AccessKeyId})
	if err != nil {
		t.Fatal(err)
	}
	if lu.AccessKeyLastUsed.LastUsedDate == nil || !lu.AccessKeyLastUsed.LastUsedDate.Equal(w.sim.Now()) ||
		aws.ToString(lu.AccessKeyLastUsed.ServiceName) != "sts" || aws.ToString(lu.AccessKeyLastUsed.Region) != "us-east-1" {
		t.Fatalf("used key last used = %+v", lu.AccessKeyLastUsed)
	}

	// A user lists their own keys without naming themselves.
	own, err := w.iam(newKey).ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range own.AccessKeyMetadata {
		ids = append(ids, aws.ToString(k.AccessKeyId))
	}
	if !slices.Equal(ids, []string{seeded.AccessKeyID, newKey.AccessKeyID}) {
		t.Fatalf("own keys = %v", ids)
	}

	// Deactivated: the key no longer signs; reactivated: it does again.
	if _, err := admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String("alice"), AccessKeyId: aws.String(seeded.AccessKeyID), Status: types.StatusTypeInactive,
	}); err != nil {
		t.Fatal(err)
	}
	_, err = w.iam(seeded).GetUser(ctx, &iam.GetUserInput{})
	iamWantError(t, err, "InvalidClientTokenId", 403)
	if _, err := w.iam(newKey).UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		AccessKeyId: aws.String(seeded.AccessKeyID), Status: types.StatusTypeActive,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.iam(seeded).GetUser(ctx, &iam.GetUserInput{}); err != nil {
		t.Fatalf("reactivated key: %v", err)
	}
	_, err = admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String("alice"), AccessKeyId: aws.String(seeded.AccessKeyID), Status: "Disabled",
	})
	iamWantError(t, err, "ValidationError", 400)

	// Deleted: the key no longer signs and is gone from every view.
	if _, err := admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{
		UserName: aws.String("alice"), AccessKeyId: aws.String(seeded.AccessKeyID),
	}); err != nil {
		t.Fatal(err)
	}
	_, err = sts.NewFromConfig(cfgFor(w.url, seeded)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	iamWantError(t, err, "InvalidClientTokenId", 403)
	_, err = admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(seeded.AccessKeyID)})
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) || nse.ErrorMessage() != "The Access Key with id "+seeded.AccessKeyID+" cannot be found." {
		t.Fatalf("delete twice: %v", err)
	}
	_, err = admin.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(seeded.AccessKeyID)})
	iamWantError(t, err, "NoSuchEntity", 404)
	keys := w.sim.Keys(iamMemberID)
	if len(keys) != 1 || keys[0].ID != newKey.AccessKeyID {
		t.Fatalf("keys after delete = %+v", keys)
	}
	_, err = admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("nobody")})
	iamWantError(t, err, "NoSuchEntity", 404)
	_, err = admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String("alice"), AccessKeyId: aws.String("AKIANOSUCHKEY0000000"), Status: types.StatusTypeInactive,
	})
	iamWantError(t, err, "NoSuchEntity", 404)
}

func TestIAMListAccessKeysPaginates(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	keyCreated := time.Date(2026, 2, 9, 23, 59, 58, 0, time.UTC)
	a := w.sim.AddAccessKey(iamMemberID, "alice", awssim.KeySpec{Created: keyCreated})
	b := w.sim.AddAccessKey(iamMemberID, "alice", awssim.KeySpec{Created: keyCreated, Inactive: true})
	var ids []string
	p := iam.NewListAccessKeysPaginator(w.iam(w.root), &iam.ListAccessKeysInput{UserName: aws.String("alice"), MaxItems: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(out.AccessKeyMetadata) != 1 {
			t.Fatalf("page of %d keys", len(out.AccessKeyMetadata))
		}
		k := out.AccessKeyMetadata[0]
		if aws.ToString(k.UserName) != "alice" || !aws.ToTime(k.CreateDate).Equal(keyCreated) {
			t.Fatalf("key %+v", k)
		}
		ids = append(ids, aws.ToString(k.AccessKeyId)+"/"+string(k.Status))
	}
	if want := []string{a.AccessKeyID + "/Active", b.AccessKeyID + "/Inactive"}; !slices.Equal(ids, want) {
		t.Fatalf("keys = %v, want %v", ids, want)
	}
}

func TestIAMAssumedRoleSeesOnlyItsAccount(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMgmtID, awssim.UserSpec{Name: "mgmt-admin"})
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "member-dev"})
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "member-ops"})
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Rotator", TrustedPrincipals: []string{iamMgmtID}})
	ctx := context.Background()
	out, err := sts.NewFromConfig(cfgFor(w.url, w.sim.RootCredentials(iamMgmtID))).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::222222222222:role/Rotator"), RoleSessionName: aws.String("keyrotor"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	sess := awssim.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
	users, err := w.iam(sess).ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users.Users {
		names = append(names, aws.ToString(u.UserName))
	}
	if !slices.Equal(names, []string{"member-dev", "member-ops"}) {
		t.Fatalf("session sees %v", names)
	}
	_, err = w.iam(sess).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("mgmt-admin")})
	iamWantError(t, err, "NoSuchEntity", 404)
}

func TestIAMThrottlingIsRetried(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	w.sim.SetRateLimit("iam", 5, 1)
	// The SDK's standard retryer, with a short backoff cap to keep the test fast.
	client := w.iam(w.root, func(o *iam.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 10
			so.MaxBackoff = 300 * time.Millisecond
		})
	})
	for i := range 4 {
		if _, err := client.ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	throttled, ok := 0, 0
	for _, c := range w.sim.Calls() {
		switch {
		case c.Op == "ListUsers" && c.ErrorCode == "Throttling":
			throttled++
		case c.Op == "ListUsers" && c.ErrorCode == "":
			ok++
		}
	}
	if throttled == 0 || ok != 4 {
		t.Fatalf("throttled %d, succeeded %d; want some throttling and 4 successes", throttled, ok)
	}

	// Without retries the caller sees AWS's throttling error.
	_, err := client.ListUsers(context.Background(), &iam.ListUsersInput{}, iamNoRetries)
	_, err2 := client.ListUsers(context.Background(), &iam.ListUsersInput{}, iamNoRetries)
	if err == nil && err2 == nil {
		t.Fatal("two back-to-back calls at 5/s with burst 1 both passed")
	}
	if err == nil {
		err = err2
	}
	iamWantError(t, err, "Throttling", 400)
}

// parseCredReport parses a credential report into rows keyed by user.
func parseCredReport(t *testing.T, content []byte) (header []string, rows map[string]map[string]string, order []string) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(content)).ReadAll()
	if err != nil {
		t.Fatalf("report is no CSV: %v", err)
	}
	header = recs[0]
	rows = map[string]map[string]string{}
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, v := range r {
			m[header[i]] = v
		}
		rows[r[0]] = m
		order = append(order, r[0])
	}
	return header, rows, order
}

func TestIAMCredentialReportContent(t *testing.T) {
	w := newIAMWorld(t)
	now := w.sim.Now()
	day := 24 * time.Hour
	aliceCreated := now.Add(-400 * day)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice", Created: aliceCreated})
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "bob"})
	used := now.Add(-3 * day)
	// Added newest first: slot 1 must still be the older key.
	w.sim.AddAccessKey(iamMemberID, "alice", awssim.KeySpec{Created: now.Add(-10 * day), Inactive: true})
	w.sim.AddAccessKey(iamMemberID, "alice", awssim.KeySpec{Created: now.Add(-200 * day), LastUsed: &used, Service: "s3", Region: "eu-west-1"})
	ctx := context.Background()
	client := w.iam(w.root)

	gen, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	if gen.State != types.ReportStateTypeStarted {
		t.Fatalf("state = %s", gen.State)
	}
	rep, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ReportFormat != types.ReportFormatTypeTextCsv || !rep.GeneratedTime.Equal(now) {
		t.Fatalf("format %s generated %v", rep.ReportFormat, rep.GeneratedTime)
	}
	header, rows, order := parseCredReport(t, rep.Content)
	wantHeader := "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
	if strings.Join(header, ",") != wantHeader {
		t.Fatalf("header = %s", strings.Join(header, ","))
	}
	if !slices.Equal(order, []string{"<root_account>", "alice", "bob"}) {
		t.Fatalf("rows = %v", order)
	}
	iso := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }
	want := map[string]map[string]string{
		"<root_account>": {
			"arn":                       "arn:aws:iam::222222222222:root",
			"password_enabled":          "not_supported",
			"password_last_changed":     "not_supported",
			"password_next_rotation":    "not_supported",
			"access_key_1_active":       "false",
			"access_key_1_last_rotated": "N/A",
			"cert_1_active":             "false",
		},
		"alice": {
			"arn":                            "arn:aws:iam::222222222222:user/alice",
			"user_creation_time":             iso(aliceCreated),
			"password_enabled":               "false",
			"password_last_used":             "N/A",
			"mfa_active":                     "false",
			"access_key_1_active":            "true",
			"access_key_1_last_rotated":      iso(now.Add(-200 * day)),
			"access_key_1_last_used_date":    iso(used),
			"access_key_1_last_used_region":  "eu-west-1",
			"access_key_1_last_used_service": "s3",
			"access_key_2_active":            "false",
			"access_key_2_last_rotated":      iso(now.Add(-10 * day)),
			"access_key_2_last_used_date":    "N/A",
			"access_key_2_last_used_region":  "N/A",
			"access_key_2_last_used_service": "N/A",
			"cert_1_active":                  "false",
			"cert_1_last_rotated":            "N/A",
			"cert_2_active":                  "false",
			"cert_2_last_rotated":            "N/A",
		},
		"bob": {
			"access_key_1_active":         "false",
			"access_key_1_last_rotated":   "N/A",
			"access_key_1_last_used_date": "N/A",
			"access_key_2_active":         "false",
			"access_key_2_last_rotated":   "N/A",
		},
	}
	for user, cols := range want {
		for col, v := range cols {
			if got := rows[user][col]; got != v {
				t.Errorf("%s %s = %q, want %q", user, col, got, v)
			}
		}
	}
}

func TestIAMCredentialReportLifecycle(t *testing.T) {
	w := newIAMWorld(t, awssim.WithCredentialReportDelay(10*time.Minute))
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	w.sim.AddAccessKey(iamMemberID, "alice", awssim.KeySpec{})
	ctx := context.Background()
	client := w.iam(w.root)
	clock := w.sim.Clock()
	generate := func(want types.ReportStateType) {
		t.Helper()
		out, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			t.Fatal(err)
		}
		if out.State != want {
			t.Fatalf("state = %s, want %s", out.State, want)
		}
	}
	get := func() *iam.GetCredentialReportOutput {
		t.Helper()
		out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	_, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	var notPresent *types.CredentialReportNotPresentException
	if !errors.As(err, &notPresent) || iamHTTPStatus(err) != 410 {
		t.Fatalf("before generation: %v", err)
	}
	start := clock.Now()
	generate(types.ReportStateTypeStarted)
	_, err = client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	var notReady *types.CredentialReportNotReadyException
	if !errors.As(err, &notReady) || iamHTTPStatus(err) != 404 {
		t.Fatalf("while generating: %v", err)
	}
	clock.Advance(9 * time.Minute)
	generate(types.ReportStateTypeInprogress)
	clock.Advance(time.Minute)
	generate(types.ReportStateTypeComplete)
	first := get()
	if !first.GeneratedTime.Equal(start) {
		t.Fatalf("generated %v, want %v", first.GeneratedTime, start)
	}
	_, rows, _ := parseCredReport(t, first.Content)
	if rows["alice"]["access_key_2_active"] != "false" {
		t.Fatalf("alice has one key, report says key 2 active = %s", rows["alice"]["access_key_2_active"])
	}

	// A second key does not show until a report is generated again, and
	// that only happens once the current one is 4 hours old.
	if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	clock.Set(start.Add(4*time.Hour - time.Second))
	generate(types.ReportStateTypeComplete)
	if again := get(); !bytes.Equal(again.Content, first.Content) || !again.GeneratedTime.Equal(start) {
		t.Fatal("report changed before it was 4 hours old")
	}
	clock.Set(start.Add(4 * time.Hour))
	generate(types.ReportStateTypeStarted)
	clock.Advance(10 * time.Minute)
	fresh := get()
	if !fresh.GeneratedTime.Equal(start.Add(4 * time.Hour)) {
		t.Fatalf("new report generated %v", fresh.GeneratedTime)
	}
	_, rows, _ = parseCredReport(t, fresh.Content)
	if rows["alice"]["access_key_2_active"] != "true" {
		t.Fatal("new report misses alice's second key")
	}
}

func TestIAMTags(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice", Tags: map[string]string{"Owner": "alice"}})
	ctx := context.Background()
	client := w.iam(w.root, iamNoRetries)
	tag := func(tags ...types.Tag) error {
		_, err := client.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: tags})
		return err
	}
	kv := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

	// Keys are case-insensitive: this overwrites Owner.
	if err := tag(kv("owner", "bob"), kv("keyrotor:AKIAEXAMPLE", "v1 state=issued at=2026-11-26T06:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if got := w.sim.UserTags(iamMemberID, "alice"); len(got) != 2 || got["owner"] != "bob" || got["keyrotor:AKIAEXAMPLE"] == "" {
		t.Fatalf("tags = %v", got)
	}
	var batch []types.Tag
	for i := range 48 {
		batch = append(batch, kv(fmt.Sprintf("k%02d", i), ""))
	}
	if err := tag(batch...); err != nil {
		t.Fatalf("50 tags: %v", err)
	}
	err := tag(kv("one-too-many", "x"))
	var lee *types.LimitExceededException
	if !errors.As(err, &lee) || iamHTTPStatus(err) != 409 {
		t.Fatalf("51st tag: %v", err)
	}
	if err := tag(kv("K00", "replaced")); err != nil {
		t.Fatalf("overwriting at the limit: %v", err)
	}

	// Every tag comes back through the paginator, 7 at a time.
	var listed []string
	p := iam.NewListUserTagsPaginator(client, &iam.ListUserTagsInput{UserName: aws.String("alice"), MaxItems: aws.Int32(7)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range out.Tags {
			listed = append(listed, aws.ToString(tg.Key))
		}
	}
	if len(listed) != 50 {
		t.Fatalf("listed %d tags", len(listed))
	}

	invalid := []struct {
		name string
		tags []types.Tag
		code string
	}{
		{"key too long", []types.Tag{kv(strings.Repeat("k", 129), "v")}, "ValidationError"},
		{"empty key", []types.Tag{kv("", "v")}, "ValidationError"},
		{"value too long", []types.Tag{kv("k", strings.Repeat("v", 257))}, "ValidationError"},
		{"comma in value", []types.Tag{kv("k", "issued,reminder")}, "ValidationError"},
		{"reserved prefix", []types.Tag{kv("aws:cloudformation", "v")}, "InvalidInput"},
		{"duplicate keys", []types.Tag{kv("a", "1"), kv("A", "2")}, "InvalidInput"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			iamWantError(t, tag(tc.tags...), tc.code, 400)
		})
	}
	if err := tag(kv(strings.Repeat("k", 128), "")); err == nil || iamErrCode(err) != "LimitExceeded" {
		t.Fatalf("128-char key at the limit: %v", err)
	}

	if _, err := client.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("alice"), TagKeys: []string{"OWNER", "not-there"}}); err != nil {
		t.Fatal(err)
	}
	if got := w.sim.UserTags(iamMemberID, "alice"); len(got) != 49 || got["owner"] != "" {
		t.Fatalf("after untag: %d tags", len(got))
	}
	if err := tag(kv(strings.Repeat("k", 128), strings.Repeat("v", 256))); err != nil {
		t.Fatalf("longest key and value: %v", err)
	}
	_, err = client.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("nobody"), TagKeys: []string{"a"}})
	iamWantError(t, err, "NoSuchEntity", 404)
	_, err = client.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("nobody")})
	iamWantError(t, err, "NoSuchEntity", 404)
}

func TestIAMGroupsAndAliases(t *testing.T) {
	w := newIAMWorld(t)
	for _, n := range []string{"dave", "carol", "bob", "alice"} {
		w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: n, Groups: []string{"developers"}})
	}
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "erin", Groups: []string{"keyrotor-exempt", "developers"}})
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "frank"})
	ctx := context.Background()
	client := w.iam(w.root)

	gs, err := client.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("erin")})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs.Groups) != 2 || aws.ToString(gs.Groups[0].GroupName) != "keyrotor-exempt" ||
		aws.ToString(gs.Groups[0].Arn) != "arn:aws:iam::222222222222:group/keyrotor-exempt" {
		t.Fatalf("groups = %+v", gs.Groups)
	}
	none, err := client.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("frank")})
	if err != nil || len(none.Groups) != 0 {
		t.Fatalf("frank's groups = %v, %v", none, err)
	}

	var members []string
	p := iam.NewGetGroupPaginator(client, &iam.GetGroupInput{GroupName: aws.String("developers"), MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Group.GroupName) != "developers" {
			t.Fatalf("group = %+v", out.Group)
		}
		for _, u := range out.Users {
			members = append(members, aws.ToString(u.UserName))
		}
	}
	if !slices.Equal(members, []string{"alice", "bob", "carol", "dave", "erin"}) {
		t.Fatalf("members = %v", members)
	}
	_, err = client.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("nobody")})
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) || nse.ErrorMessage() != "The group with name nobody cannot be found." {
		t.Fatalf("unknown group: %v", err)
	}
	_, err = client.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("nobody")})
	iamWantError(t, err, "NoSuchEntity", 404)

	al, err := client.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(al.AccountAliases, []string{"member-prod"}) || al.IsTruncated {
		t.Fatalf("aliases = %v", al.AccountAliases)
	}
	mal, err := w.iam(w.sim.RootCredentials(iamMgmtID)).ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	if err != nil || len(mal.AccountAliases) != 0 {
		t.Fatalf("management aliases = %v, %v", mal, err)
	}
}

func TestIAMCreateAccessKeyFaults(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	ctx := context.Background()
	client := w.iam(w.root, iamNoRetries)
	create := func() error {
		_, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
		return err
	}

	w.sim.InjectFault(awssim.Fault{Service: "iam", Op: "CreateAccessKey", Code: "ServiceFailure", Status: 500})
	iamWantError(t, create(), "ServiceFailure", 500)
	if keys := w.sim.Keys(iamMemberID); len(keys) != 0 {
		t.Fatalf("a failed CreateAccessKey left %d keys", len(keys))
	}

	// The connection drops after IAM acted: the caller sees an error, but
	// the key exists.
	w.sim.InjectFault(awssim.Fault{Service: "iam", Op: "CreateAccessKey", CutAfter: true})
	err := create()
	if err == nil || iamErrCode(err) != "" {
		t.Fatalf("cut connection: err = %v, want a transport error", err)
	}
	if keys := w.sim.Keys(iamMemberID); len(keys) != 1 || keys[0].User != "alice" || keys[0].Status != "Active" {
		t.Fatalf("after cut: keys = %+v", keys)
	}
	if err := create(); err != nil {
		t.Fatalf("faults are spent, yet: %v", err)
	}
}

func TestIAMRoleAllowList(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "ci", Path: "/service/"})
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Auditor"})
	sess := w.sim.SessionCredentials(iamMemberID, "Auditor", "audit", time.Hour)
	ctx := context.Background()
	client := w.iam(sess, iamNoRetries)

	w.sim.SetRoleAllowedActions(iamMemberID, "Auditor", []string{"iam:List*"}, nil)
	if _, err := client.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatalf("allowed ListUsers: %v", err)
	}
	_, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	iamWantError(t, err, "AccessDenied", 403)
	if !strings.Contains(err.Error(), "iam:CreateAccessKey") {
		t.Fatalf("denial does not name the action: %v", err)
	}

	// Narrowed to a path: only service users' keys may be created.
	w.sim.SetRoleAllowedActions(iamMemberID, "Auditor", []string{"iam:*"},
		map[string][]string{"iam:*AccessKey*": {"arn:aws:iam::*:user/service/*"}})
	if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci")}); err != nil {
		t.Fatalf("key for /service/ci: %v", err)
	}
	_, err = client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	iamWantError(t, err, "AccessDenied", 403)
	if keys := w.sim.Keys(iamMemberID); len(keys) != 1 || keys[0].User != "ci" {
		t.Fatalf("keys = %+v", keys)
	}
}

func TestIAMConcurrentCalls(t *testing.T) {
	w := newIAMWorld(t, awssim.WithPageSize(5))
	for i := range 30 {
		w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: fmt.Sprintf("u%02d", 29-i)})
	}
	ctx := context.Background()
	client := w.iam(w.root)
	errs := make(chan error, 64)
	done := make(chan struct{})
	for g := range 6 {
		go func() {
			defer func() { done <- struct{}{} }()
			user := aws.String(fmt.Sprintf("u%02d", g))
			for range 5 {
				n := 0
				p := iam.NewListUsersPaginator(client, &iam.ListUsersInput{})
				for p.HasMorePages() {
					out, err := p.NextPage(ctx)
					if err != nil {
						errs <- err
						return
					}
					n += len(out.Users)
				}
				if n != 30 {
					errs <- fmt.Errorf("listed %d users", n)
				}
				k, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
				if err == nil {
					_, err = client.TagUser(ctx, &iam.TagUserInput{UserName: user, Tags: []types.Tag{{Key: k.AccessKey.AccessKeyId, Value: aws.String("v1")}}})
				}
				if err == nil {
					_, err = client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
				}
				if err == nil {
					_, err = client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: k.AccessKey.AccessKeyId})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 6 {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if keys := w.sim.Keys(iamMemberID); len(keys) != 0 {
		t.Fatalf("%d keys left", len(keys))
	}
	if tags := w.sim.UserTags(iamMemberID, "u03"); len(tags) != 5 {
		t.Fatalf("u03 has %d tags, want one per created key", len(tags))
	}
}
