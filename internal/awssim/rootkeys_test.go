package awssim_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"keyrotor/internal/awssim"
)

// TestRootAccessKeysInTheCredentialReport: the <root_account> row as AWS
// writes it, read back with encoding/csv, for a root user with an active,
// used key and an inactive, unused one.
func TestRootAccessKeysInTheCredentialReport(t *testing.T) {
	w := newIAMWorld(t)
	ctx := context.Background()
	now := w.sim.Now()
	day := 24 * time.Hour
	used := now.Add(-3 * day)
	active := w.sim.AddRootAccessKey(iamMemberID, awssim.KeySpec{Created: now.Add(-400 * day), LastUsed: &used, Service: "iam", Region: "us-east-1"})
	inactive := w.sim.AddRootAccessKey(iamMemberID, awssim.KeySpec{Created: now.Add(-10 * day), Inactive: true})
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice"})
	w.sim.AddAccessKey(iamMemberID, "alice", awssim.KeySpec{})

	// The root key signs as the root user; the inactive one is refused.
	id, err := sts.NewFromConfig(cfgFor(w.url, active)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != "arn:aws:iam::"+iamMemberID+":root" {
		t.Fatalf("root key identity: %v %v", err, id)
	}
	_, err = sts.NewFromConfig(cfgFor(w.url, inactive), func(o *sts.Options) { o.RetryMaxAttempts = 1 }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if iamErrCode(err) != "InvalidClientTokenId" {
		t.Fatalf("inactive root key: %v", err)
	}
	keys := w.sim.RootKeys(iamMemberID)
	if len(keys) != 2 || keys[0].ID != active.AccessKeyID || keys[0].LastService != "sts" || !keys[0].LastUsed.Equal(now) {
		t.Fatalf("root keys after use: %+v", keys)
	}

	client := w.iam(w.root)
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatal(err)
	}
	rep, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	header, rows, order := parseCredReport(t, rep.Content)
	if order[0] != "<root_account>" {
		t.Fatalf("first row is %q", order[0])
	}
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }
	want := map[string]string{
		"user": "<root_account>", "arn": "arn:aws:iam::" + iamMemberID + ":root", "user_creation_time": ts(now),
		"password_enabled": "not_supported", "password_last_used": "no_information",
		"password_last_changed": "not_supported", "password_next_rotation": "not_supported", "mfa_active": "false",
		"access_key_1_active": "true", "access_key_1_last_rotated": ts(now.Add(-400 * day)),
		"access_key_1_last_used_date": ts(now), "access_key_1_last_used_region": "us-east-1", "access_key_1_last_used_service": "sts",
		"access_key_2_active": "false", "access_key_2_last_rotated": ts(now.Add(-10 * day)),
		"access_key_2_last_used_date": "N/A", "access_key_2_last_used_region": "N/A", "access_key_2_last_used_service": "N/A",
		"cert_1_active": "false", "cert_1_last_rotated": "N/A", "cert_2_active": "false", "cert_2_last_rotated": "N/A",
	}
	if len(header) != len(want) {
		t.Fatalf("%d columns, want %d", len(header), len(want))
	}
	for _, col := range header {
		if got := rows["<root_account>"][col]; got != want[col] {
			t.Errorf("root %s = %q, want %q", col, got, want[col])
		}
	}

	// Root keys are no IAM user's keys.
	users, err := client.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil || len(users.Users) != 1 {
		t.Fatalf("ListUsers: %v %+v", err, users)
	}
	ak, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil || len(ak.AccessKeyMetadata) != 1 {
		t.Fatalf("alice's keys: %v %+v", err, ak)
	}
	for _, k := range w.sim.Keys("") {
		if k.ID == active.AccessKeyID || k.ID == inactive.AccessKeyID {
			t.Errorf("a root key is listed as %s's", k.User)
		}
	}
	// The root user lists its own keys (and the scaffolding key it signs with).
	own, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range own.AccessKeyMetadata {
		ids = append(ids, aws.ToString(k.AccessKeyId)+"="+string(k.Status))
		if k.UserName != nil {
			t.Errorf("root key with a user name: %+v", k)
		}
	}
	for _, want := range []string{active.AccessKeyID + "=Active", inactive.AccessKeyID + "=Inactive"} {
		if !slices.Contains(ids, want) {
			t.Errorf("root's ListAccessKeys %v lacks %s", ids, want)
		}
	}
	_, err = w.iam(w.root, iamNoRetries).GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(active.AccessKeyID)})
	iamWantError(t, err, "NoSuchEntity", 404)
	if strings.Contains(string(rep.Content), active.SecretAccessKey) {
		t.Error("the report holds a secret")
	}
}

// TestIAMTagKeysCaseInsensitive: as IAM does for users, a key that differs
// only in case replaces the tag, and the key takes the new spelling
// (observed on IAM: tag Test, then test, lists test); UntagUser matches
// keys case-insensitively.
func TestIAMTagKeysCaseInsensitive(t *testing.T) {
	w := newIAMWorld(t)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "alice", Tags: map[string]string{"Team": "red", "email": "a@example.com"}})
	ctx := context.Background()
	c := w.iam(w.root, iamNoRetries)
	tag := func(k, v string) {
		t.Helper()
		if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: []iamtypes.Tag{{Key: aws.String(k), Value: aws.String(v)}}}); err != nil {
			t.Fatal(err)
		}
	}
	list := func() string {
		t.Helper()
		out, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatal(err)
		}
		var kv []string
		for _, tg := range out.Tags {
			kv = append(kv, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
		return strings.Join(kv, ",")
	}
	tag("TEAM", "blue")
	if got := list(); got != "TEAM=blue,email=a@example.com" {
		t.Fatalf("after TagUser TEAM: %s", got)
	}
	tag("keyrotor:AKIAEXAMPLE", "v1")
	tag("KEYROTOR:akiaexample", "v2")
	if got := list(); got != "TEAM=blue,email=a@example.com,KEYROTOR:akiaexample=v2" {
		t.Fatalf("after a state tag in two spellings: %s", got)
	}
	if _, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("alice"), TagKeys: []string{"team", "Keyrotor:AkiaExample"}}); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "email=a@example.com" {
		t.Fatalf("after UntagUser: %s", got)
	}
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "bob", Tags: map[string]string{"Owner": "x", "owner": "y"}})
	if got := w.sim.UserTags(iamMemberID, "bob"); len(got) != 1 || got["owner"] != "y" {
		t.Fatalf("seeded keys differing in case: %v", got)
	}
}
