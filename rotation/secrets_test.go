package rotation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"keyrotor/internal/awssim"
	"keyrotor/rotation"
)

func TestClientRequestToken(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a := rotation.ClientRequestToken("AKIAAAAAAAAAAAAAAAAA")
	if !uuid.MatchString(a) {
		t.Errorf("token %q is not a version 8 UUID", a)
	}
	if n := len(a); n < 32 || n > 64 {
		t.Errorf("token length %d outside Secrets Manager's 32-64", n)
	}
	if b := rotation.ClientRequestToken("AKIAAAAAAAAAAAAAAAAA"); b != a {
		t.Errorf("token not deterministic: %s != %s", a, b)
	}
	if b := rotation.ClientRequestToken("AKIAAAAAAAAAAAAAAAAB"); b == a {
		t.Errorf("two keys share token %s", a)
	}
}

func TestSecretValueNeverPrintsSecret(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	v := rotation.SecretValue{
		AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: secret, UserName: "alice",
		UserARN: "arn:aws:iam::222222222222:user/alice", AccountID: "222222222222",
		CreateDate: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC), Replaces: "AKIAOLDOLDOLDOLDOLD1",
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%10.3v"} {
		outputs = append(outputs, fmt.Sprintf(verb, v), fmt.Sprintf(verb, &v))
	}
	outputs = append(outputs, fmt.Sprint(v), fmt.Sprintln(&v), fmt.Sprintf("%v", []rotation.SecretValue{v}),
		fmt.Sprintf("%+v", struct{ V rotation.SecretValue }{v}), fmt.Errorf("storing %v: %w", v, errors.New("boom")).Error())
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(h(&buf))
		l.Info("value", "v", v, "p", &v, slog.Any("any", v), slog.Group("g", "v", v))
		outputs = append(outputs, buf.String())
	}
	for _, x := range []any{v, &v, map[string]any{"v": v}} {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(b))
	}
	for _, out := range outputs {
		if strings.Contains(out, secret) || strings.Contains(out, secret[:12]) {
			t.Errorf("secret printed: %s", out)
		}
		if !strings.Contains(out, "AKIAIOSFODNN7EXAMPLE") && !strings.Contains(out, "SecretValue") {
			t.Errorf("output says nothing about the value (test would be vacuous): %s", out)
		}
	}
}

// secretTags reads a secret's tags.
func secretTags(t *testing.T, e *exEnv, name string) (map[string]string, *secretsmanager.DescribeSecretOutput) {
	t.Helper()
	d, err := e.sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tg := range d.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return tags, d
}

func secretFields(t *testing.T, e *exEnv, user string) map[string]string {
	t.Helper()
	raw, ok := e.sim.SecretValue(exAccount, exRegion, e.secretName(user))
	if !ok {
		t.Fatalf("no secret for %s", user)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("secret of %s is not a JSON object of strings", user)
	}
	return m
}

func valueFor(e *exEnv, user string, c awssim.Credentials, replaces string) rotation.SecretValue {
	return rotation.SecretValue{
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, UserName: user, UserARN: e.userARN(user),
		AccountID: exAccount, CreateDate: e.sim.Now(), Replaces: replaces,
	}
}

func TestSecretStoreCreateThenRotate(t *testing.T) {
	e := exNewEnv(t, 3)
	keys := e.addUser("alice", awssim.KeySpec{Created: e.ago(100 * exDay)}, awssim.KeySpec{})
	bob := e.addUser("bob", awssim.KeySpec{})
	name := e.secretName("alice")
	store := rotation.SecretStore{API: e.sm, KMSKeyID: "alias/keyrotor", UserReadPolicy: true, WriterARN: e.writerARN()}
	ctx := context.Background()

	// First rotation: the secret is created with tags and KMS key, given a
	// policy letting alice alone read it, and only then its value.
	e.sim.ResetCalls()
	st, err := store.Store(ctx, name, valueFor(e, "alice", keys[1], keys[0].AccessKeyID))
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != name || st.VersionID != rotation.ClientRequestToken(keys[1].AccessKeyID) ||
		!strings.HasPrefix(st.ARN, "arn:aws:secretsmanager:"+exRegion+":"+exAccount+":secret:"+name+"-") {
		t.Errorf("stored = %+v", st)
	}
	if got := e.writeOps(); !slices.Equal(got, []string{"secretsmanager:CreateSecret", "secretsmanager:PutResourcePolicy",
		"secretsmanager:TagResource", "secretsmanager:PutSecretValue"}) {
		t.Errorf("calls = %v", got)
	}
	f := secretFields(t, e, "alice")
	want := map[string]string{
		"AccessKeyId": keys[1].AccessKeyID, "SecretAccessKey": keys[1].SecretAccessKey, "UserName": "alice",
		"AccountId": exAccount, "CreateDate": e.sim.Now().Format(time.RFC3339), "Replaces": keys[0].AccessKeyID,
	}
	if len(f) != len(want) {
		t.Errorf("secret has %d fields, want %d", len(f), len(want))
	}
	for k, w := range want {
		if f[k] != w {
			t.Errorf("field %s is wrong", k)
		}
	}
	tags, d := secretTags(t, e, name)
	if tags[rotation.SecretTagUser] != "alice" || tags[rotation.SecretTagAccessKeyID] != keys[1].AccessKeyID || tags[rotation.SecretTagManaged] != "true" ||
		tags[rotation.SecretTagReplaces] != keys[0].AccessKeyID {
		t.Errorf("tags = %v", tags)
	}
	if aws.ToString(d.KmsKeyId) != "alias/keyrotor" || !strings.Contains(aws.ToString(d.Description), "alice") {
		t.Errorf("kms key %q, description %q", aws.ToString(d.KmsKeyId), aws.ToString(d.Description))
	}
	pol, err := e.sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	doc := policyStatements(t, aws.ToString(pol.ResourcePolicy))
	if len(doc) != 3 {
		t.Fatalf("policy %q: want the owner's allow and two denials", aws.ToString(pol.ResourcePolicy))
	}
	s := doc[0]
	if s.Effect != "Allow" || string(s.Principal) != `{"AWS":"`+e.userARN("alice")+`"}` ||
		!slices.Equal(s.Action, []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}) {
		t.Errorf("policy statement = %+v", s)
	}
	if doc[1].Effect != "Deny" || doc[2].Effect != "Deny" || string(doc[1].Principal) != `"*"` {
		t.Errorf("denials = %+v %+v", doc[1], doc[2])
	}
	if _, err := e.readSecretAs(keys[1], "alice"); err != nil {
		t.Errorf("alice cannot read her secret: %v", err)
	}
	if _, err := e.readSecretAs(bob[0], "alice"); err == nil {
		t.Errorf("bob can read alice's secret")
	}

	// Storing the same key again (a retried step) adds no version.
	again, err := store.Store(ctx, name, valueFor(e, "alice", keys[1], keys[0].AccessKeyID))
	if err != nil || again.VersionID != st.VersionID {
		t.Fatalf("repeat store: %+v, %v", again, err)
	}
	if _, d := secretTags(t, e, name); len(d.VersionIdsToStages) != 1 {
		t.Errorf("versions after a repeated store: %v", d.VersionIdsToStages)
	}

	// Next rotation: a new current version, the previous one kept, the tag
	// follows.
	e.sim.Clock().Advance(90 * exDay)
	next := e.sim.AddAccessKey(exAccount, "alice", awssim.KeySpec{})
	e.sim.ResetCalls()
	st2, err := store.Store(ctx, name, valueFor(e, "alice", next, keys[1].AccessKeyID))
	if err != nil {
		t.Fatal(err)
	}
	if st2.VersionID != rotation.ClientRequestToken(next.AccessKeyID) || st2.ARN != st.ARN {
		t.Errorf("second store = %+v", st2)
	}
	// On the existing secret, Prepare also clears the key tags before
	// Record writes them.
	if got := e.writeOps(); !slices.Equal(got, []string{"secretsmanager:CreateSecret", "secretsmanager:PutResourcePolicy",
		"secretsmanager:TagResource", "secretsmanager:TagResource", "secretsmanager:PutSecretValue"}) {
		t.Errorf("calls = %v", got)
	}
	if f := secretFields(t, e, "alice"); f["AccessKeyId"] != next.AccessKeyID || f["Replaces"] != keys[1].AccessKeyID {
		t.Errorf("current value holds %s", f["AccessKeyId"])
	}
	tags, d = secretTags(t, e, name)
	if tags[rotation.SecretTagAccessKeyID] != next.AccessKeyID {
		t.Errorf("tags = %v", tags)
	}
	if got := d.VersionIdsToStages[st.VersionID]; !slices.Equal(got, []string{"AWSPREVIOUS"}) {
		t.Errorf("previous version stages = %v", got)
	}
}

// TestSecretStoreWithoutOwnerAllow: with user_read_policy off the owner
// gets no allow from the secret, but the denials protect it all the same.
func TestSecretStoreWithoutOwnerAllow(t *testing.T) {
	e := exNewEnv(t, 3)
	keys := e.addUser("alice", awssim.KeySpec{})
	store := rotation.SecretStore{API: e.sm, WriterARN: e.writerARN()}
	v := valueFor(e, "alice", keys[0], "")
	if _, err := store.Store(context.Background(), e.secretName("alice"), v); err != nil {
		t.Fatal(err)
	}
	if got := e.writeOps(); !slices.Equal(got, []string{"secretsmanager:CreateSecret", "secretsmanager:PutResourcePolicy",
		"secretsmanager:TagResource", "secretsmanager:PutSecretValue"}) {
		t.Errorf("calls = %v", got)
	}
	pol, err := e.sm.GetResourcePolicy(context.Background(), &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(e.secretName("alice"))})
	if err != nil {
		t.Fatal(err)
	}
	if doc := policyStatements(t, aws.ToString(pol.ResourcePolicy)); len(doc) != 2 || doc[0].Effect != "Deny" || doc[1].Effect != "Deny" {
		t.Errorf("policy = %s, want the two denials only", aws.ToString(pol.ResourcePolicy))
	}
	if _, ok := secretFields(t, e, "alice")["Replaces"]; ok {
		t.Errorf("empty Replaces stored")
	}
}

// policyStatement is a resource policy statement as the tests read it.
type policyStatement struct {
	Sid       string
	Effect    string
	Principal json.RawMessage
	Action    []string
	NotAction []string
	Condition map[string]map[string][]string
}

func policyStatements(t *testing.T, doc string) []policyStatement {
	t.Helper()
	var d struct{ Statement []policyStatement }
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("policy %q: %v", doc, err)
	}
	return d.Statement
}

// TestSecretStoreFailures checks that a failed store names the secret and
// the call but never the value, and that on an existing secret the current
// version still holds the previous key after any failure.
func TestSecretStoreFailures(t *testing.T) {
	for _, op := range []string{"CreateSecret", "PutResourcePolicy", "TagResource", "PutSecretValue"} {
		t.Run(op, func(t *testing.T) {
			e := exNewEnv(t, 1)
			keys := e.addUser("alice", awssim.KeySpec{}, awssim.KeySpec{})
			store := rotation.SecretStore{API: e.sm, UserReadPolicy: true, WriterARN: e.writerARN()}
			name := e.secretName("alice")
			ctx := context.Background()
			if _, err := store.Store(ctx, name, valueFor(e, "alice", keys[0], "")); err != nil {
				t.Fatal(err)
			}
			e.sim.InjectFault(awssim.Fault{Service: "secretsmanager", Op: op, Code: "InternalServiceError", Status: 500})
			_, err := store.Store(ctx, name, valueFor(e, "alice", keys[1], keys[0].AccessKeyID))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, name) || !strings.Contains(msg, "InternalServiceError") {
				t.Errorf("error does not say what failed: %s", msg)
			}
			for _, s := range e.sim.IssuedSecrets() {
				if strings.Contains(msg, s) {
					t.Fatalf("error holds a secret")
				}
			}
			if f := secretFields(t, e, "alice"); f["AccessKeyId"] != keys[0].AccessKeyID {
				t.Errorf("after a failed store the current version holds %s, want the previous key", f["AccessKeyId"])
			}
		})
	}
}

func TestSecretStoreRejectsBadInput(t *testing.T) {
	e := exNewEnv(t, 1)
	keys := e.addUser("alice", awssim.KeySpec{})
	store := rotation.SecretStore{API: e.sm, UserReadPolicy: true, WriterARN: e.writerARN()}
	noARN := valueFor(e, "alice", keys[0], "")
	noARN.UserARN = ""
	noSecret := valueFor(e, "alice", keys[0], "")
	noSecret.SecretAccessKey = ""
	for name, tc := range map[string]struct {
		secret string
		v      rotation.SecretValue
	}{
		"no name":   {"", valueFor(e, "alice", keys[0], "")},
		"no ARN":    {e.secretName("alice"), noARN},
		"no secret": {e.secretName("alice"), noSecret},
	} {
		if _, err := store.Store(context.Background(), tc.secret, tc.v); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if got := e.writeOps(); len(got) != 0 {
		t.Errorf("calls = %v", got)
	}
}

// TestSecretPolicyDenials pins who each denial excepts: reading, the owner
// and the break-glass principals; everything else but the metadata reads,
// the rotation role and the break-glass principals.
func TestSecretPolicyDenials(t *testing.T) {
	const owner, writer, bg = "arn:aws:iam::222222222222:user/alice", "arn:aws:iam::222222222222:role/KeyrotorRotationRole", "arn:aws:iam::*:role/BreakGlass"
	doc, err := rotation.SecretPolicy(rotation.SecretAccess{OwnerARN: owner, WriterARN: writer, BreakGlass: []string{bg}})
	if err != nil {
		t.Fatal(err)
	}
	st := policyStatements(t, doc)
	if len(st) != 2 {
		t.Fatalf("statements = %+v, want the two denials (no owner allow)", st)
	}
	read, write := st[0], st[1]
	if !slices.Equal(read.Action, []string{"secretsmanager:GetSecretValue"}) ||
		!slices.Equal(read.Condition["ArnNotLike"]["aws:PrincipalArn"], []string{owner, bg}) {
		t.Errorf("read denial = %+v", read)
	}
	if len(write.Action) != 0 || !slices.Contains(write.NotAction, "secretsmanager:DescribeSecret") ||
		slices.Contains(write.NotAction, "secretsmanager:PutResourcePolicy") ||
		!slices.Equal(write.Condition["ArnNotLike"]["aws:PrincipalArn"], []string{writer, bg}) {
		t.Errorf("write denial = %+v", write)
	}
	for _, a := range []rotation.SecretAccess{{WriterARN: writer}, {OwnerARN: owner}} {
		if _, err := rotation.SecretPolicy(a); err == nil {
			t.Errorf("SecretPolicy(%+v) without an owner or a writer: no error", a)
		}
	}
}
