package awssim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"keyrotor/internal/awssim"
)

// ctRecord is the part of a CloudTrail record the tests read, decoded with
// the standard library rather than anything the simulator shares.
type ctRecord struct {
	EventVersion string `json:"eventVersion"`
	UserIdentity struct {
		Type           string `json:"type"`
		PrincipalID    string `json:"principalId"`
		Arn            string `json:"arn"`
		AccountID      string `json:"accountId"`
		AccessKeyID    string `json:"accessKeyId"`
		UserName       string `json:"userName"`
		SessionContext *struct {
			SessionIssuer struct {
				Type     string `json:"type"`
				Arn      string `json:"arn"`
				UserName string `json:"userName"`
			} `json:"sessionIssuer"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	EventTime          string          `json:"eventTime"`
	EventSource        string          `json:"eventSource"`
	EventName          string          `json:"eventName"`
	AwsRegion          string          `json:"awsRegion"`
	SourceIPAddress    string          `json:"sourceIPAddress"`
	UserAgent          string          `json:"userAgent"`
	ErrorCode          string          `json:"errorCode"`
	ErrorMessage       string          `json:"errorMessage"`
	RequestParameters  json.RawMessage `json:"requestParameters"`
	ResponseElements   json.RawMessage `json:"responseElements"`
	RequestID          string          `json:"requestID"`
	EventID            string          `json:"eventID"`
	ReadOnly           *bool           `json:"readOnly"`
	EventType          string          `json:"eventType"`
	ManagementEvent    *bool           `json:"managementEvent"`
	RecipientAccountID string          `json:"recipientAccountId"`
}

func decodeRecord(t *testing.T, e cttypes.Event) ctRecord {
	t.Helper()
	var rec ctRecord
	if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec); err != nil {
		t.Fatalf("CloudTrailEvent is not JSON: %v\n%s", err, aws.ToString(e.CloudTrailEvent))
	}
	return rec
}

// stableCfg is cfgFor with an HTTP client that hands the transport a copy
// of each request body. The SDK closes a request's body as soon as the
// response arrives; when that beats the transport's last read of the body,
// the transport drops the connection under the response, and the SDK fails
// with "use of closed network connection" (aws/aws-sdk-go-v2#2737). Its
// retryer retries that, but these tests count calls, tokens and events
// exactly, and some turn retries off.
func stableCfg(url string, c awssim.Credentials) aws.Config {
	cfg := cfgFor(url, c)
	cfg.HTTPClient = &http.Client{Transport: bufferedBody{http.DefaultTransport.(*http.Transport).Clone()}}
	return cfg
}

type bufferedBody struct{ rt http.RoundTripper }

func (b bufferedBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(raw))
	}
	return b.rt.RoundTrip(r)
}

func ctClient(url string, c awssim.Credentials, region string, opts ...func(*cloudtrail.Options)) *cloudtrail.Client {
	cfg := stableCfg(url, c)
	cfg.Region = region
	return cloudtrail.NewFromConfig(cfg, opts...)
}

func ctNoRetries(o *cloudtrail.Options) { o.RetryMaxAttempts = 1 }

// lookupAll pages through LookupEvents with the SDK's paginator.
func lookupAll(t *testing.T, c *cloudtrail.Client, in *cloudtrail.LookupEventsInput) []cttypes.Event {
	t.Helper()
	var out []cttypes.Event
	p := cloudtrail.NewLookupEventsPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		out = append(out, page.Events...)
	}
	return out
}

func byKey(id string) []cttypes.LookupAttribute {
	return []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(id)}}
}

// ctWorld is an IAM world whose member account has a user with a key, and
// with LookupEvents' own rate limit lifted unless a test wants it.
func ctWorld(t *testing.T) (*iamWorld, awssim.Credentials) {
	t.Helper()
	w := newIAMWorld(t)
	w.sim.SetOperationRateLimit("cloudtrail:LookupEvents", 0, 0)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "bob"})
	return w, w.sim.AddAccessKey(iamMemberID, "bob", awssim.KeySpec{})
}

func TestCloudTrailRecordsServedCalls(t *testing.T) {
	w, bob := ctWorld(t)
	ctx := context.Background()
	cfg := stableCfg(w.url, bob)
	cfg.AppID = "nightly-report"
	if _, err := iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	w.sim.Clock().Advance(time.Minute)
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	// IAM is global: a call signed for another region is recorded in us-east-1.
	euCfg := cfg.Copy()
	euCfg.Region = "eu-west-1"
	if _, err := iam.NewFromConfig(euCfg).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
	// STS is regional: this one is recorded in eu-west-1 only.
	if _, err := sts.NewFromConfig(euCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}

	root := ctClient(w.url, w.root, "us-east-1")
	events := lookupAll(t, root, &cloudtrail.LookupEventsInput{LookupAttributes: byKey(bob.AccessKeyID)})
	var names []string
	for _, e := range events {
		names = append(names, aws.ToString(e.EventSource)+":"+aws.ToString(e.EventName))
	}
	// Newest first; the two calls of the same second newest recorded first.
	want := []string{"iam.amazonaws.com:ListUsers", "sts.amazonaws.com:GetCallerIdentity", "iam.amazonaws.com:ListAccessKeys"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("events = %v, want %v", names, want)
	}

	e := events[2]
	if aws.ToString(e.AccessKeyId) != bob.AccessKeyID || aws.ToString(e.Username) != "bob" || aws.ToString(e.ReadOnly) != "true" {
		t.Errorf("event = key %s user %s readOnly %s", aws.ToString(e.AccessKeyId), aws.ToString(e.Username), aws.ToString(e.ReadOnly))
	}
	if e.EventTime == nil || !e.EventTime.Equal(w.sim.Now().Add(-time.Minute)) {
		t.Errorf("event time = %v, want %v", e.EventTime, w.sim.Now().Add(-time.Minute))
	}
	if len(e.Resources) != 1 || aws.ToString(e.Resources[0].ResourceType) != "AWS::IAM::User" || aws.ToString(e.Resources[0].ResourceName) != "bob" {
		t.Errorf("resources = %+v", e.Resources)
	}
	rec := decodeRecord(t, e)
	ui := rec.UserIdentity
	if ui.Type != "IAMUser" || !strings.HasPrefix(ui.PrincipalID, "AIDA") || ui.Arn != "arn:aws:iam::"+iamMemberID+":user/bob" ||
		ui.AccountID != iamMemberID || ui.AccessKeyID != bob.AccessKeyID || ui.UserName != "bob" {
		t.Errorf("userIdentity = %+v", ui)
	}
	if rec.EventVersion == "" || rec.EventSource != "iam.amazonaws.com" || rec.EventName != "ListAccessKeys" || rec.AwsRegion != "us-east-1" {
		t.Errorf("record = %+v", rec)
	}
	if rec.SourceIPAddress != "127.0.0.1" {
		t.Errorf("sourceIPAddress = %q, want the loopback client", rec.SourceIPAddress)
	}
	if !strings.Contains(rec.UserAgent, "aws-sdk-go-v2/") || !strings.Contains(rec.UserAgent, "app/nightly-report") {
		t.Errorf("userAgent = %q, want the SDK's User-Agent with the app ID", rec.UserAgent)
	}
	if string(rec.RequestParameters) != `{"userName":"bob"}` || string(rec.ResponseElements) != "null" {
		t.Errorf("requestParameters = %s, responseElements = %s", rec.RequestParameters, rec.ResponseElements)
	}
	if rec.EventID != aws.ToString(e.EventId) || len(rec.RequestID) != 36 || rec.ReadOnly == nil || !*rec.ReadOnly ||
		rec.EventType != "AwsApiCall" || rec.ManagementEvent == nil || !*rec.ManagementEvent || rec.RecipientAccountID != iamMemberID {
		t.Errorf("record = %+v", rec)
	}
	if rec.EventTime != e.EventTime.UTC().Format(time.RFC3339) {
		t.Errorf("eventTime %s, Event time %v", rec.EventTime, e.EventTime)
	}

	eu := lookupAll(t, ctClient(w.url, w.root, "eu-west-1"), &cloudtrail.LookupEventsInput{LookupAttributes: byKey(bob.AccessKeyID)})
	if len(eu) != 1 || aws.ToString(eu[0].EventName) != "GetCallerIdentity" || decodeRecord(t, eu[0]).AwsRegion != "eu-west-1" {
		t.Fatalf("eu-west-1 events = %+v", eu)
	}
	// Another account's history does not hold them.
	if got := lookupAll(t, ctClient(w.url, w.sim.RootCredentials(iamMgmtID), "us-east-1"), &cloudtrail.LookupEventsInput{LookupAttributes: byKey(bob.AccessKeyID)}); len(got) != 0 {
		t.Fatalf("the management account sees %d of the member's events", len(got))
	}
}

func TestCloudTrailRecordsSessionsAndDenials(t *testing.T) {
	w, _ := ctWorld(t)
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Auditor", TrustedPrincipals: []string{iamMgmtID},
		AllowedActions: []string{"iam:ListAccessKeys"}})
	sess := w.sim.SessionCredentials(iamMemberID, "Auditor", "audit-run", time.Hour)
	ctx := context.Background()
	_, err := iam.NewFromConfig(stableCfg(w.url, sess), iamNoRetries).ListUsers(ctx, &iam.ListUsersInput{})
	iamWantError(t, err, "AccessDenied", 403)
	// A failure of the handler is recorded too, with its error code.
	_, err = iam.NewFromConfig(stableCfg(w.url, sess), iamNoRetries).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("nobody")})
	iamWantError(t, err, "NoSuchEntity", 404)

	events := lookupAll(t, ctClient(w.url, w.root, "us-east-1"), &cloudtrail.LookupEventsInput{LookupAttributes: byKey(sess.AccessKeyID)})
	if len(events) != 2 {
		t.Fatalf("%d events, want 2", len(events))
	}
	denied := decodeRecord(t, events[1])
	if denied.EventName != "ListUsers" || denied.ErrorCode != "AccessDenied" || !strings.Contains(denied.ErrorMessage, "iam:ListUsers") {
		t.Errorf("denied call = %s %s %q", denied.EventName, denied.ErrorCode, denied.ErrorMessage)
	}
	if got := decodeRecord(t, events[0]); got.ErrorCode != "NoSuchEntity" {
		t.Errorf("failed call errorCode = %q", got.ErrorCode)
	}
	ui := denied.UserIdentity
	if ui.Type != "AssumedRole" || !strings.HasSuffix(ui.PrincipalID, ":audit-run") || ui.AccessKeyID != sess.AccessKeyID ||
		ui.SessionContext == nil || ui.SessionContext.SessionIssuer.Type != "Role" ||
		ui.SessionContext.SessionIssuer.Arn != "arn:aws:iam::"+iamMemberID+":role/Auditor" || ui.SessionContext.SessionIssuer.UserName != "Auditor" {
		t.Errorf("userIdentity = %+v", ui)
	}
	if aws.ToString(events[1].Username) != "audit-run" {
		t.Errorf("Username = %q, want the session name", aws.ToString(events[1].Username))
	}
}

func TestCloudTrailNeverRecordsSecretsOrDataEvents(t *testing.T) {
	w, bob := ctWorld(t)
	ctx := context.Background()
	const secretValue = "s3cr3t-value-that-must-not-leak"
	sm := secretsmanager.NewFromConfig(stableCfg(w.url, w.root))
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String(secretValue)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String(secretValue + "-2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")}); err != nil {
		t.Fatal(err)
	}
	created, err := iam.NewFromConfig(stableCfg(w.url, w.root)).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	if err != nil {
		t.Fatal(err)
	}
	newSecret := aws.ToString(created.AccessKey.SecretAccessKey)
	// S3 object calls are data events, which the Event history leaves out.
	s3c := s3.NewFromConfig(stableCfg(w.url, bob), func(o *s3.Options) { o.UsePathStyle = true })
	_, _ = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String("a.txt"), Body: strings.NewReader(secretValue)})

	events := lookupAll(t, ctClient(w.url, w.root, "us-east-1"), &cloudtrail.LookupEventsInput{})
	var names []string
	for _, e := range events {
		names = append(names, aws.ToString(e.EventName))
		raw := aws.ToString(e.CloudTrailEvent)
		for _, s := range append(w.sim.IssuedSecrets(), secretValue, newSecret) {
			if strings.Contains(raw, s) {
				t.Fatalf("event %s holds a secret: %s", aws.ToString(e.EventName), raw)
			}
		}
	}
	want := "CreateAccessKey GetSecretValue PutSecretValue CreateSecret"
	if strings.Join(names, " ") != want {
		t.Fatalf("events = %v, want %s (no S3 object call)", names, want)
	}
	// The benign parameters CloudTrail records are there.
	rec := decodeRecord(t, events[3])
	if string(rec.RequestParameters) != `{"name":"app/db"}` {
		t.Errorf("CreateSecret requestParameters = %s", rec.RequestParameters)
	}
	for _, e := range w.sim.TrailEvents(iamMemberID, "us-east-1") {
		for k, v := range e.RequestParameters {
			if strings.Contains(v, secretValue) || strings.Contains(strings.ToLower(k), "secretstring") {
				t.Fatalf("recorded parameter %s=%s", k, v)
			}
		}
	}
}

func TestCloudTrailLookupAttributes(t *testing.T) {
	w, bob := ctWorld(t)
	// Only the events added here: the lookups themselves go unrecorded.
	w.sim.SetTrailRecording(false)
	now := w.sim.Now()
	w.sim.AddTrailEvent(iamMemberID, "us-east-1", awssim.TrailEvent{
		Time: now.Add(-2 * time.Hour), EventSource: "s3.amazonaws.com", EventName: "ListBuckets",
		AccessKeyID: bob.AccessKeyID, SourceIP: "203.0.113.7", UserAgent: "aws-cli/2.15.0",
	})
	w.sim.AddTrailEvent(iamMemberID, "us-east-1", awssim.TrailEvent{
		Time: now.Add(-time.Hour), EventSource: "ec2.amazonaws.com", EventName: "RunInstances",
		AccessKeyID: "AKIAOTHER00000000000", UserName: "carol", PrincipalARN: "arn:aws:iam::" + iamMemberID + ":user/carol",
		Resources: []awssim.TrailResource{{Type: "AWS::EC2::Instance", Name: "i-0123456789abcdef0"}},
	})
	root := ctClient(w.url, w.root, "us-east-1")
	all := lookupAll(t, root, &cloudtrail.LookupEventsInput{})
	if len(all) != 2 {
		t.Fatalf("%d events", len(all))
	}
	listID := aws.ToString(all[1].EventId)
	cases := []struct {
		key   cttypes.LookupAttributeKey
		value string
		want  string
	}{
		{cttypes.LookupAttributeKeyAccessKeyId, bob.AccessKeyID, "ListBuckets"},
		{cttypes.LookupAttributeKeyEventId, listID, "ListBuckets"},
		{cttypes.LookupAttributeKeyEventName, "RunInstances", "RunInstances"},
		{cttypes.LookupAttributeKeyEventSource, "s3.amazonaws.com", "ListBuckets"},
		{cttypes.LookupAttributeKeyReadOnly, "false", "RunInstances"},
		{cttypes.LookupAttributeKeyReadOnly, "true", "ListBuckets"},
		{cttypes.LookupAttributeKeyUsername, "bob", "ListBuckets"},
		{cttypes.LookupAttributeKeyUsername, "carol", "RunInstances"},
		{cttypes.LookupAttributeKeyResourceType, "AWS::EC2::Instance", "RunInstances"},
		{cttypes.LookupAttributeKeyResourceName, "i-0123456789abcdef0", "RunInstances"},
		{cttypes.LookupAttributeKeyEventName, "DeleteBucket", ""},
	}
	for _, c := range cases {
		got := lookupAll(t, root, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: c.key, AttributeValue: aws.String(c.value)}}})
		var names []string
		for _, e := range got {
			names = append(names, aws.ToString(e.EventName))
		}
		if strings.Join(names, " ") != c.want {
			t.Errorf("%s=%s: events %v, want %q", c.key, c.value, names, c.want)
		}
	}
	// The synthetic event carries its client and the key's identity.
	rec := decodeRecord(t, all[1])
	if rec.SourceIPAddress != "203.0.113.7" || rec.UserAgent != "aws-cli/2.15.0" || rec.UserIdentity.UserName != "bob" || rec.UserIdentity.Type != "IAMUser" {
		t.Errorf("synthetic record = %+v", rec)
	}

	// Time range, inclusive at both ends.
	got := lookupAll(t, root, &cloudtrail.LookupEventsInput{StartTime: aws.Time(now.Add(-90 * time.Minute)), EndTime: aws.Time(now)})
	if len(got) != 1 || aws.ToString(got[0].EventName) != "RunInstances" {
		t.Errorf("range: %d events", len(got))
	}
	got = lookupAll(t, root, &cloudtrail.LookupEventsInput{StartTime: aws.Time(now.Add(-2 * time.Hour)), EndTime: aws.Time(now.Add(-2 * time.Hour))})
	if len(got) != 1 || aws.ToString(got[0].EventName) != "ListBuckets" {
		t.Errorf("instant range: %d events", len(got))
	}
	// Events past the Event history's 90 days are not shown.
	w.sim.AddTrailEvent(iamMemberID, "us-east-1", awssim.TrailEvent{Time: now.Add(-91 * 24 * time.Hour), EventSource: "s3.amazonaws.com", EventName: "ListBuckets", AccessKeyID: bob.AccessKeyID})
	if got := lookupAll(t, root, &cloudtrail.LookupEventsInput{LookupAttributes: byKey(bob.AccessKeyID)}); len(got) != 1 {
		t.Errorf("%d events for bob, want the old one left out", len(got))
	}
	if n := len(w.sim.TrailEvents(iamMemberID, "us-east-1")); n < 3 {
		t.Errorf("TrailEvents holds %d events", n)
	}
}

func TestCloudTrailLookupPaginates(t *testing.T) {
	w, bob := ctWorld(t)
	now := w.sim.Now()
	// Added out of order: the history is kept in time order.
	for i := range 120 {
		at := now.Add(-time.Duration((i*37)%120) * time.Minute)
		w.sim.AddTrailEvent(iamMemberID, "us-east-1", awssim.TrailEvent{Time: at, EventSource: "sts.amazonaws.com", EventName: "GetCallerIdentity", AccessKeyID: bob.AccessKeyID})
	}
	// Events within one second are kept apart by the order they were recorded.
	for range 3 {
		w.sim.AddTrailEvent(iamMemberID, "us-east-1", awssim.TrailEvent{Time: now.Add(-30 * time.Minute), EventSource: "s3.amazonaws.com", EventName: "ListBuckets", AccessKeyID: bob.AccessKeyID})
	}
	root := ctClient(w.url, w.root, "us-east-1")
	ctx := context.Background()
	in := &cloudtrail.LookupEventsInput{LookupAttributes: byKey(bob.AccessKeyID), MaxResults: aws.Int32(50)}
	p := cloudtrail.NewLookupEventsPaginator(root, in)
	var sizes []int
	seen := map[string]bool{}
	var prev time.Time
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Events))
		for _, e := range page.Events {
			id := aws.ToString(e.EventId)
			if seen[id] {
				t.Fatalf("event %s twice", id)
			}
			seen[id] = true
			if !prev.IsZero() && e.EventTime.After(prev) {
				t.Fatalf("event at %v after %v: not newest first", e.EventTime, prev)
			}
			prev = *e.EventTime
		}
	}
	if fmt.Sprint(sizes) != "[50 50 23]" || len(seen) != 123 {
		t.Fatalf("pages %v, %d events", sizes, len(seen))
	}
	// The default page is 50.
	page, err := root.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if err != nil || len(page.Events) != 50 || page.NextToken == nil {
		t.Fatalf("default page: %v, %d events", err, len(page.Events))
	}

	// A token is good only with the parameters it came with.
	var bad *cttypes.InvalidNextTokenException
	_, err = root.LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: page.NextToken, LookupAttributes: byKey(bob.AccessKeyID)})
	if !errors.As(err, &bad) {
		t.Fatalf("token with other attributes: err = %v", err)
	}
	_, err = root.LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: aws.String("not-a-token")})
	if !errors.As(err, &bad) {
		t.Fatalf("garbage token: err = %v", err)
	}
	_, err = ctClient(w.url, w.root, "eu-west-1").LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: page.NextToken})
	if !errors.As(err, &bad) {
		t.Fatalf("token in another region: err = %v", err)
	}
}

func TestCloudTrailLookupValidation(t *testing.T) {
	w, _ := ctWorld(t)
	c := ctClient(w.url, w.root, "us-east-1", ctNoRetries)
	ctx := context.Background()
	now := w.sim.Now()
	two := []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("ListUsers")},
		{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("bob")},
	}
	var attrs *cttypes.InvalidLookupAttributesException
	if _, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: two}); !errors.As(err, &attrs) {
		t.Errorf("two attributes: err = %v", err)
	}
	for _, a := range []cttypes.LookupAttribute{
		{AttributeKey: "Colour", AttributeValue: aws.String("blue")},
		{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String("")},
	} {
		if _, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{a}}); !errors.As(err, &attrs) {
			t.Errorf("attribute %s=%q: err = %v", a.AttributeKey, aws.ToString(a.AttributeValue), err)
		}
	}
	var tr *cttypes.InvalidTimeRangeException
	if _, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Second))}); !errors.As(err, &tr) {
		t.Errorf("start after end: err = %v", err)
	}
	var mr *cttypes.InvalidMaxResultsException
	for _, n := range []int32{0, 51} {
		if _, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(n)}); !errors.As(err, &mr) {
			t.Errorf("MaxResults %d: err = %v", n, err)
		}
	}
	var cat *cttypes.InvalidEventCategoryException
	if _, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{EventCategory: "management"}); !errors.As(err, &cat) {
		t.Errorf("bad category: err = %v", err)
	}
	if out, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{EventCategory: cttypes.EventCategoryInsight}); err != nil || len(out.Events) != 0 {
		t.Errorf("insight events: %v, %d", err, len(out.Events))
	}
}

func TestCloudTrailThrottlesPerAccountAndRegion(t *testing.T) {
	w, _ := ctWorld(t)
	ctx := context.Background()
	// Two calls of burst, then a refill no test waits for.
	w.sim.SetOperationRateLimit("cloudtrail:LookupEvents", 0.001, 2)
	c := ctClient(w.url, w.root, "us-east-1", ctNoRetries)
	for i := range 2 {
		if _, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	iamWantError(t, err, "ThrottlingException", 400)
	// Another region and another account have buckets of their own.
	if _, err := ctClient(w.url, w.root, "eu-west-1", ctNoRetries).LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
		t.Errorf("other region: %v", err)
	}
	if _, err := ctClient(w.url, w.sim.RootCredentials(iamMgmtID), "us-east-1", ctNoRetries).LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
		t.Errorf("other account: %v", err)
	}
	// The limit can be lifted.
	w.sim.SetOperationRateLimit("cloudtrail:LookupEvents", 0, 0)
	for i := range 5 {
		if _, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
			t.Fatalf("unlimited call %d: %v", i, err)
		}
	}
	// The lookups served are in the history, as CloudTrail records its own
	// API; the throttled one is not.
	lookups := 0
	for _, e := range w.sim.TrailEvents(iamMemberID, "us-east-1") {
		if e.ErrorCode != "" {
			t.Errorf("recorded %s with %s", e.EventName, e.ErrorCode)
		}
		if e.EventSource == "cloudtrail.amazonaws.com" && e.EventName == "LookupEvents" && e.ReadOnly {
			lookups++
		}
	}
	if lookups != 7 {
		t.Errorf("%d lookups recorded in us-east-1, want 7", lookups)
	}
}

func TestCloudTrailDefaultLimitIsRetried(t *testing.T) {
	sim := awssim.New()
	sim.CreateOrganization(iamMgmtID, "management", "mgmt@example.com")
	url := newTestServer(t, sim)
	cfg := stableCfg(url, sim.RootCredentials(iamMgmtID))
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 10; so.MaxBackoff = 300 * time.Millisecond })
	}
	c := cloudtrail.NewFromConfig(cfg)
	// Five back-to-back lookups exceed 2 per second with a burst of 2.
	for i := range 5 {
		if _, err := c.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	throttled := 0
	for _, call := range sim.Calls() {
		if call.Op == "LookupEvents" && call.ErrorCode == "ThrottlingException" {
			throttled++
		}
		if call.IsWrite() {
			t.Errorf("%s counted as a write", call.Action())
		}
	}
	if throttled == 0 {
		t.Fatal("no lookup was throttled at the default 2 per second")
	}
}

func TestCloudTrailCapacityAndRecordingSwitch(t *testing.T) {
	w, bob := ctWorld(t)
	ctx := context.Background()
	w.sim.SetTrailCapacity(5)
	c := iam.NewFromConfig(stableCfg(w.url, bob))
	for range 8 {
		if _, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")}); err != nil {
			t.Fatal(err)
		}
		w.sim.Clock().Advance(time.Second)
	}
	events := w.sim.TrailEvents(iamMemberID, "us-east-1")
	if len(events) != 5 || !events[0].Time.Equal(w.sim.Now().Add(-time.Second)) {
		t.Fatalf("%d events kept, newest at %v", len(events), events[0].Time)
	}
	// An old event added to a full history is the one dropped.
	w.sim.AddTrailEvent(iamMemberID, "us-east-1", awssim.TrailEvent{Time: w.sim.Now().Add(-time.Hour), EventSource: "s3.amazonaws.com", EventName: "ListBuckets"})
	if got := w.sim.TrailEvents(iamMemberID, "us-east-1"); len(got) != 5 || got[4].EventName != "ListAccessKeys" {
		t.Fatalf("after an old event: %+v", got)
	}

	w.sim.SetTrailRecording(false)
	if _, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	if got := w.sim.TrailEvents(iamMemberID, "us-east-1"); !got[0].Time.Equal(events[0].Time) {
		t.Fatalf("recorded with recording off: %+v", got[0])
	}
	w.sim.AddTrailEvent(iamMemberID, "us-east-1", awssim.TrailEvent{EventSource: "s3.amazonaws.com", EventName: "ListBuckets"})
	if got := w.sim.TrailEvents(iamMemberID, "us-east-1"); !got[0].Time.Equal(w.sim.Now()) || got[0].EventName != "ListBuckets" {
		t.Fatalf("AddTrailEvent with recording off: %+v", got[0])
	}
}

func TestCloudTrailAllowList(t *testing.T) {
	w, _ := ctWorld(t)
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Tracer", TrustedPrincipals: []string{iamMgmtID},
		AllowedActions: []string{"cloudtrail:LookupEvents"}})
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Other", TrustedPrincipals: []string{iamMgmtID},
		AllowedActions: []string{"iam:*"}})
	ctx := context.Background()
	ok := ctClient(w.url, w.sim.SessionCredentials(iamMemberID, "Tracer", "s", time.Hour), "us-east-1", ctNoRetries)
	if _, err := ok.LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
		t.Fatalf("allowed role: %v", err)
	}
	no := ctClient(w.url, w.sim.SessionCredentials(iamMemberID, "Other", "s", time.Hour), "us-east-1", ctNoRetries)
	_, err := no.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if iamErrCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "cloudtrail:LookupEvents") {
		t.Fatalf("role without cloudtrail:LookupEvents: err = %v", err)
	}
}

// TestCloudTrailBotocoreTarget sends LookupEvents with the target prefix of
// the service model, as the AWS CLI does.
func TestCloudTrailBotocoreTarget(t *testing.T) {
	w, _ := ctWorld(t)
	w.sim.AddTrailEvent(iamMemberID, "us-east-1", awssim.TrailEvent{EventSource: "s3.amazonaws.com", EventName: "ListBuckets"})
	body := []byte(`{"MaxResults":5}`)
	req, err := http.NewRequest(http.MethodPost, w.url+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: w.root.AccessKeyID, SecretAccessKey: w.root.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "cloudtrail", "us-east-1", w.sim.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Events []struct{ EventName string }
	}
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil || len(out.Events) != 1 || out.Events[0].EventName != "ListBuckets" {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
}

// BenchmarkIAMListUsersNoTrail is BenchmarkIAMListUsers with CloudTrail
// recording off, so the difference is the cost of recording a call.
func BenchmarkIAMListUsersNoTrail(b *testing.B) {
	sim, root := newIAMBenchSim(250)
	sim.SetTrailRecording(false)
	req, body := iamBenchRequest(b, root, "Action=ListUsers&MaxItems=20&Version=2010-05-08")
	iamBenchServe(b, sim, req, body)
}

// BenchmarkTrailBigOrg serves 55 calls in each of 1,000 accounts (a run
// over a big organization) and reports the heap their CloudTrail history
// holds.
func BenchmarkTrailBigOrg(b *testing.B) {
	const accounts, calls = 1000, 55
	b.ReportAllocs()
	var heap float64
	for b.Loop() {
		sim := awssim.New()
		sim.SetCallLog(false)
		sim.CreateOrganization(iamMgmtID, "management", "mgmt@example.com")
		reqs := make([]*http.Request, accounts)
		bodies := make([][]byte, accounts)
		for i := range accounts {
			root := iamBenchAccount(sim, fmt.Sprintf("%012d", 300000000000+i), 1)
			reqs[i], bodies[i] = iamBenchRequest(b, root, "Action=ListAccessKeys&UserName=user-000&Version=2010-05-08")
			reqs[i].Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/iam#1.65.0 app/keyrotor")
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range accounts {
			for range calls {
				reqs[i].Body = io.NopCloser(bytes.NewReader(bodies[i]))
				rec := httptest.NewRecorder()
				sim.ServeHTTP(rec, reqs[i])
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if n := len(sim.TrailEvents("300000000000", "us-east-1")); n != calls {
			b.Fatalf("%d events recorded, want %d", n, calls)
		}
		heap = float64(after.HeapAlloc) - float64(before.HeapAlloc)
		runtime.KeepAlive(sim)
	}
	b.ReportMetric(heap/(1<<20), "trail-heap-MiB")
	b.ReportMetric(heap/(accounts*calls), "trail-B/event")
}
