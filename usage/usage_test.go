package usage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"golang.org/x/time/rate"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/usage"
)

func TestTool(t *testing.T) {
	for ua, want := range map[string]string{
		"aws-cli/2.15.0 Python/3.11.6 Linux/6.5 exe/x86_64.ubuntu.22 prompt/off command/s3.ls":                                                                             "AWS CLI 2.15.0",
		"Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.60.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.3 os/linux": "Terraform 1.9.5",
		"aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22.5 md/GOOS#linux api/sts#1.30.0":                                                                                        "Go SDK v2 1.30.0",
		"Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux Python/3.12.1 Botocore/1.34.0":                                                                                    "Python SDK (boto3) 1.34.0",
		"aws-sdk-java/2.25.10 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10":                                                                                                 "Java SDK 2.25.10",
		"aws-sdk-js/3.540.0 ua/2.0 os/linux lang/js md/nodejs#20.11.1":                                                                                                     "JavaScript SDK 3.540.0",
		"console.amazonaws.com": "AWS console",
		"AWS Internal":          "AWS console",
		"curl/8.5.0":            "",
		"":                      "",
	} {
		if got := usage.Tool(ua); got != want {
			t.Errorf("Tool(%q) = %q, want %q", ua, got, want)
		}
	}
	if usage.Service("s3.amazonaws.com") != "s3" || usage.Service("sts.amazonaws.com") != "sts" {
		t.Error("Service does not shorten event sources")
	}
}

var t0 = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

func TestSummarize(t *testing.T) {
	cli := "aws-cli/2.15.0 Python/3.11.6"
	tf := "Terraform/1.9.5 terraform-provider-aws/5.60.0 aws-sdk-go-v2/1.30.3"
	var events []usage.Event
	for i := range 7 {
		events = append(events, usage.Event{ID: fmt.Sprintf("e%d", i), Name: "ListBuckets", Source: "s3.amazonaws.com",
			Time: t0.Add(-time.Duration(i) * time.Hour), SourceIP: "203.0.113.7", UserAgent: cli})
	}
	for i := range 3 {
		events = append(events, usage.Event{ID: fmt.Sprintf("f%d", i), Name: "GetCallerIdentity", Source: "sts.amazonaws.com",
			Time: t0.Add(-time.Duration(30+i) * time.Minute), SourceIP: "198.51.100.20", UserAgent: tf})
	}
	s := usage.Summarize(events, t0.Add(-30*24*time.Hour), t0, []string{"us-east-1"})
	if s.Events != 10 || !s.Used() || !s.LastSeen.Equal(t0) || !s.FirstSeen.Equal(t0.Add(-6*time.Hour)) {
		t.Errorf("events %d, first %v, last %v", s.Events, s.FirstSeen, s.LastSeen)
	}
	if len(s.SourceIPs) != 2 || s.SourceIPs[0] != (usage.Count{Value: "203.0.113.7", Count: 7, LastSeen: t0}) || s.SourceIPs[1].Value != "198.51.100.20" {
		t.Errorf("source IPs %+v", s.SourceIPs)
	}
	if len(s.UserAgents) != 2 || s.UserAgents[0].Tool != "AWS CLI 2.15.0" || s.UserAgents[1].Tool != "Terraform 1.9.5" {
		t.Errorf("user agents %+v", s.UserAgents)
	}
	if got := s.Tools(); !slices.Equal(got, []string{"AWS CLI 2.15.0", "Terraform 1.9.5"}) {
		t.Errorf("tools %v", got)
	}
	if len(s.Services) != 2 || s.Services[0].Value != "s3" || s.Calls[1] != (usage.Count{Value: "GetCallerIdentity", Count: 3, LastSeen: t0.Add(-30 * time.Minute)}) {
		t.Errorf("services %+v calls %+v", s.Services, s.Calls)
	}
	// Newest first, at most five.
	if !slices.Equal(s.EventIDs, []string{"e0", "f0", "f1", "f2", "e1"}) {
		t.Errorf("event IDs %v", s.EventIDs)
	}
	if empty := usage.Summarize(nil, t0, t0, nil); empty.Used() || empty.Tools() != nil {
		t.Errorf("empty summary %+v", empty)
	}
	if got := usage.Regions("eu-west-1", "us-east-1", "us-east-1", "N/A", ""); !slices.Equal(got, []string{"eu-west-1", "us-east-1"}) {
		t.Errorf("Regions = %v", got)
	}
}

// trailEnv is a member account with a user's key whose use CloudTrail
// recorded in two regions.
type trailEnv struct {
	srv *awssimtest.Server
	key string
}

const acct = "333333333333"

func newTrailEnv(t *testing.T, perRegion map[string]int) *trailEnv {
	t.Helper()
	sc, err := awssim.ParseScenario("usage", []byte(fmt.Sprintf(`now: %s
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
accounts:
  - id: "%s"
    name: prod
    users:
      - {name: alice, keys: [{age: 100d, last_used: 1h}]}
`, t0.Format(time.RFC3339), acct)))
	if err != nil {
		t.Fatal(err)
	}
	srv := awssimtest.StartScenario(t, sc)
	e := &trailEnv{srv: srv, key: srv.Sim.Keys(acct)[0].ID}
	for region, n := range perRegion {
		for i := range n {
			srv.Sim.AddTrailEvent(acct, region, awssim.TrailEvent{
				Time: t0.Add(-time.Duration(i+1) * time.Hour), EventSource: "s3.amazonaws.com", EventName: "GetBucketLocation",
				AccessKeyID: e.key, SourceIP: map[string]string{"eu-west-1": "203.0.113.7"}[region] + map[string]string{"us-east-1": "198.51.100.20"}[region], UserAgent: "aws-cli/2.15.0 Python/3.11",
				RequestParameters: map[string]string{"bucketName": "payroll-exports-confidential"},
			})
		}
	}
	return e
}

func (e *trailEnv) options(regions ...string) usage.Options {
	lim := rate.NewLimiter(2, 1) // CloudTrail's own rate
	return usage.Options{
		Limiter: func(string) usage.Limiter { return lim },
		Regions: regions, Start: t0.Add(-30 * 24 * time.Hour), End: t0, MaxEvents: 1000,
		Client: func(region string) usage.API {
			return cloudtrail.NewFromConfig(e.srv.RootConfig(acct, awssimtest.Region(region)))
		},
	}
}

func TestLookupAcrossPagesAndRegions(t *testing.T) {
	e := newTrailEnv(t, map[string]int{"eu-west-1": 123, "us-east-1": 9})
	s := usage.Lookup(context.Background(), e.key, e.options("eu-west-1", "us-east-1", "ap-south-1"))
	if s.Events != 132 || s.Partial || len(s.Problems) != 0 {
		t.Fatalf("summary %+v", s)
	}
	if len(s.SourceIPs) != 2 || s.SourceIPs[0] != (usage.Count{Value: "203.0.113.7", Count: 123, LastSeen: t0.Add(-time.Hour)}) {
		t.Errorf("source IPs %+v", s.SourceIPs)
	}
	// Request parameters are never read into a summary.
	b, _ := json.Marshal(s)
	if strings.Contains(string(b), "payroll-exports-confidential") {
		t.Error("a request parameter reached the summary")
	}
	// 123 events in a region take three pages of 50.
	pages := 0
	for _, c := range e.srv.Sim.Calls() {
		if c.Op == "LookupEvents" && c.ErrorCode == "" {
			pages++
		}
	}
	if pages != 3+1+1 {
		t.Errorf("%d LookupEvents calls, want paging", pages)
	}
}

func TestLookupCapIsPartial(t *testing.T) {
	e := newTrailEnv(t, map[string]int{"eu-west-1": 23, "us-east-1": 9})
	o := e.options("eu-west-1", "us-east-1")
	o.MaxEvents = 10
	s := usage.Lookup(context.Background(), e.key, o)
	if s.Events != 10 || !s.Partial {
		t.Errorf("capped summary: events %d partial %v", s.Events, s.Partial)
	}
}

func TestLookupDeniedRegionIsReported(t *testing.T) {
	e := newTrailEnv(t, map[string]int{"eu-west-1": 3, "us-east-1": 2})
	e.srv.Sim.InjectFault(awssim.Fault{Service: "cloudtrail", Op: "LookupEvents", Times: -1, Status: 400,
		Code: "AccessDeniedException", Message: "not authorized to perform: cloudtrail:LookupEvents"})
	s := usage.Lookup(context.Background(), e.key, e.options("eu-west-1"))
	if !s.Partial || len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "eu-west-1: AccessDeniedException") {
		t.Errorf("denied lookup: %+v", s)
	}
}

func TestLookupPacedStaysUnderTheLimit(t *testing.T) {
	e := newTrailEnv(t, map[string]int{"eu-west-1": 40})
	// A faster limit than AWS's 2/s keeps the test short; the pacing is the
	// same.
	e.srv.Sim.SetOperationRateLimit("cloudtrail:LookupEvents", 20, 1)
	o := e.options("eu-west-1")
	lim := rate.NewLimiter(20, 1)
	o.Limiter = func(string) usage.Limiter { return lim }
	s := usage.Lookup(context.Background(), e.key, o)
	if s.Events != 40 || s.Partial {
		t.Fatalf("summary %+v", s)
	}
	for _, c := range e.srv.Sim.Calls() {
		if c.Op == "LookupEvents" && c.ErrorCode != "" {
			t.Errorf("paced lookup got %s", c.ErrorCode)
		}
	}
}
