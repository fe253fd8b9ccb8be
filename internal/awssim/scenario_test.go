package awssim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/goccy/go-yaml"
)

var scnNow = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

// scnBase is a valid scenario that test cases append to.
const scnBase = `now: 2026-11-26T06:00:00Z
seed: 7
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security, ou: Security}
ous:
  - name: Security
  - name: Workloads
    children: [{name: Prod}, {name: Dev}]
role: {name: RotRole, path: /keyrotor/, external_id: ext-1}
`

func TestParseScenarioErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // substrings of the error, each with its file:line
	}{
		{"unknown top-level key", scnBase + "colour: blue\n", []string{`s.yaml:11:1: unknown field "colour"`}},
		{"unknown key in a key", scnBase + `accounts:
  - id: "333333333333"
    name: a
    users:
      - name: u
        keys:
          - {age: 3d, colour: red}
`, []string{`s.yaml:17:23: unknown field "colour"`}},
		{"wrong type", scnBase + "page_size: many\n", []string{"s.yaml:11:12: cannot unmarshal string"}},
		{"syntax", scnBase + "accounts: [\n", []string{"s.yaml:11:"}},
		{"bad duration", scnBase + `accounts:
  - id: "333333333333"
    name: a
    users:
      - name: u
        keys: [{age: 12x}]
`, []string{`s.yaml:16:22: "12x" is not a duration`}},
		{"bad time", scnBase + `accounts:
  - id: "333333333333"
    name: a
    users:
      - name: u
        keys: [{created: last tuesday}]
`, []string{`s.yaml:16: accounts[0].users[0].keys[0].created: "last tuesday" is not an RFC 3339 time`}},
		{"bad now", strings.Replace(scnBase, "2026-11-26T06:00:00Z", "yesterday", 1), []string{`s.yaml:1: now: "yesterday" is not an RFC 3339 time`}},
		{"values", scnBase + `page_size: 5000
accounts:
  - id: "3333"
    name: a
    ou: Workloads/QA
    status: GONE
    role: broken
  - id: "222222222222"
    name: b
    users:
      - name: "bad name!"
      - name: u
        tags: {"aws:x": y}
        keys:
          - {age: 10d, last_used: 20d}
          - {age: 10d, created: 2026-01-01T00:00:00Z}
          - {status: Disabled, region: mars}
  - id: "444444444444"
    name: c
    users: [{name: u, keys: [{age: never}]}]
`, []string{
			"s.yaml:11: page_size: must be between 1 and 1000",
			`s.yaml:13: accounts[0].id: "3333" is not a 12-digit account ID`,
			`s.yaml:15: accounts[0].ou: no OU "Workloads/QA"`,
			`s.yaml:16: accounts[0].status: status must be ACTIVE or SUSPENDED, got "GONE"`,
			`s.yaml:17: accounts[0].role: role must be ok, missing or wrong_trust, got "broken"`,
			"s.yaml:18: accounts[1].id: account 222222222222 is already defined at organization.security_account",
			`s.yaml:21: accounts[1].users[0].name: "bad name!" is not a valid IAM user name`,
			`s.yaml:23: accounts[1].users[1].tags: tag "aws:x" is invalid`,
			"s.yaml:24: accounts[1].users[1].keys: IAM allows at most two access keys per user, got 3",
			"s.yaml:25: accounts[1].users[1].keys[0].last_used: the key was last used 20d ago but created only 10d ago",
			"s.yaml:26: accounts[1].users[1].keys[1].created: give either age or created, not both",
			`s.yaml:27: accounts[1].users[1].keys[2].status: status must be Active or Inactive, got "Disabled"`,
			`s.yaml:27: accounts[1].users[1].keys[2].region: "mars" is not a region`,
			`s.yaml:30: accounts[2].users[0].keys[0].age: "never" is only for last_used`,
		}},
		{"missing security account", `organization:
  management_account: {id: "111111111111", name: m}
`, []string{
			"s.yaml:1: organization.security_account.id: an account needs an id",
			"s.yaml:1: organization.security_account.name: an account needs a name",
		}},
		{"management in an OU", strings.Replace(scnBase, `name: management}`, `name: management, ou: Security}`, 1),
			[]string{"s.yaml:4: organization.management_account.ou: the management account always sits at the root"}},
		{"duplicate key", scnBase + "ous: [{name: A}]\n", []string{`s.yaml:11:1: mapping key "ous" already defined`}},
		{"duplicate OU", strings.Replace(scnBase, "  - name: Security\n", "  - name: Security\n  - name: Security\n", 1),
			[]string{`s.yaml:8: ous[1].name: OU "Security" is defined twice`}},
		{"duplicate nested OU", strings.Replace(scnBase, "[{name: Prod}, {name: Dev}]", "[{name: Prod}, {name: Prod}]", 1),
			[]string{`s.yaml:9: ous[1].children[1].name: OU "Workloads/Prod" is defined twice`}},
		{"usage", scnBase + `accounts:
  - id: "333333333333"
    name: a
    security_hub: off
    users:
      - name: u
        keys:
          - age: 10d
            last_used: 1d
            usage:
              - {source_ip: 10.0.0.300, user_agent: "", service: S3, event: listBuckets, region: mars, events: 0, over: 30d}
              - {source_ip: 10.0.0.3, user_agent: cli, service: s3, event: ListBuckets, events: 2, last: 1h}
          - age: 10d
            usage: [{source_ip: 10.0.0.3, user_agent: cli, service: s3, event: ListBuckets, events: 1}]
`, []string{
			`s.yaml:14: accounts[0].security_hub: security_hub must be enabled or disabled, got "off"`,
			`s.yaml:21: accounts[0].users[0].keys[0].usage[0].source_ip: "10.0.0.300" is not an IP address`,
			`s.yaml:21: accounts[0].users[0].keys[0].usage[0].user_agent: a user agent of 1 to 1024 characters is needed`,
			`s.yaml:21: accounts[0].users[0].keys[0].usage[0].service: "S3" is not a service name`,
			`s.yaml:21: accounts[0].users[0].keys[0].usage[0].event: "listBuckets" is not an operation name`,
			`s.yaml:21: accounts[0].users[0].keys[0].usage[0].region: "mars" is not a region`,
			`s.yaml:21: accounts[0].users[0].keys[0].usage[0].events: must be between 1 and 1000, got 0`,
			"s.yaml:21: accounts[0].users[0].keys[0].usage[0].over: the oldest call (31d ago) would be before the key was created (10d ago)",
			"s.yaml:22: accounts[0].users[0].keys[0].usage[1].last: the newest call (1h ago) would be after the key's last_used (1d ago)",
			"s.yaml:24: accounts[0].users[0].keys[1].usage[0]: the key was never used (no last_used), so it cannot have usage",
		}},
		{"created after now", scnBase + `accounts:
  - id: "333333333333"
    name: a
    users: [{name: u, keys: [{created: 2027-01-01T00:00:00Z}]}]
`, []string{"s.yaml:14: accounts[0].users[0].keys[0].created: 2027-01-01T00:00:00Z is after the scenario's now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario("s.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%v", n, len(tt.want), err)
			}
		})
	}
}

func TestParseScenarioValues(t *testing.T) {
	src := scnBase + `page_size: 3
ses: {region: eu-west-1, verified: [keyrotor@example.com]}
accounts:
  - id: "333333333333"
    name: payments
    email: pay@example.com
    ou: Workloads/Prod
    status: SUSPENDED
    role: missing
    groups: [BreakGlass]
    users:
      - name: alice
        path: /people/
        tags: {email: alice@example.com, "keyrotor:exempt": "true"}
        groups: [Dev]
        keys:
          - {age: 2d12h, status: Inactive, last_used: never}
          - {created: 2026-01-02T03:04:05Z, last_used: 36h, service: iam, region: eu-west-1}
    generate: {users: 4, seed: 9}
`
	sc, err := ParseScenario("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := &Scenario{
		Now: scnNow, Seed: 7, PageSize: 3,
		Organization: ScenarioOrg{
			ManagementAccount: ScenarioAccount{ID: "111111111111", Name: "management"},
			SecurityAccount:   ScenarioAccount{ID: "222222222222", Name: "security", OU: "Security"},
		},
		OUs:  []ScenarioOU{{Name: "Security"}, {Name: "Workloads", Children: []ScenarioOU{{Name: "Prod"}, {Name: "Dev"}}}},
		Role: ScenarioRole{Name: "RotRole", Path: "/keyrotor/", ExternalID: "ext-1"},
		SES:  ScenarioSES{Region: "eu-west-1", Verified: []string{"keyrotor@example.com"}},
		Accounts: []ScenarioAccount{{
			ID: "333333333333", Name: "payments", Email: "pay@example.com", OU: "Workloads/Prod",
			Status: StatusSuspended, Role: RoleMissing, Groups: []string{"BreakGlass"},
			Users: []ScenarioUser{{
				Name: "alice", Path: "/people/", Groups: []string{"Dev"},
				Tags: map[string]string{"email": "alice@example.com", "keyrotor:exempt": "true"},
				Keys: []ScenarioKey{
					{Age: Days(2) + Duration(12*time.Hour), Status: "Inactive"},
					{Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), LastUsed: Ago(Duration(36 * time.Hour)), Service: "iam", Region: "eu-west-1"},
				},
			}},
			Generate: &ScenarioFill{Users: 4, Seed: 9},
		}},
	}
	if !reflect.DeepEqual(sc, want) {
		t.Fatalf("parsed\n%#v\nwant\n%#v", sc, want)
	}
}

func TestDurationRoundTrip(t *testing.T) {
	tests := []struct {
		in   string
		want Duration
		out  string
	}{
		{"120d", Days(120), "120d"},
		{"36h", Duration(36 * time.Hour), "1d12h"},
		{"2d12h", Days(2) + Duration(12*time.Hour), "2d12h"},
		{"1d1h30m", Days(1) + Duration(90*time.Minute), "1d1h30m"},
		{"90m", Duration(90 * time.Minute), "1h30m"},
		{"0", 0, "0s"},
		{"0d", 0, "0s"},
		{"45s", Duration(45 * time.Second), "45s"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.out {
			t.Errorf("%q.String() = %q, want %q", tt.in, s, tt.out)
		}
		if back, err := ParseDuration(got.String()); err != nil || back != got {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got.String(), back, err, got)
		}
	}
	for _, bad := range []string{"", "d", "5", "-3d", "3d-1h", "x1d", "1.5d", "+3h", "99999999d", "never"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

// scnAssume tries the scenario's role in accountID with the central credentials.
func scnAssume(ctx context.Context, url string, sd Seeded, accountID string) error {
	c := sd.Central
	client := sts.NewFromConfig(aws.Config{
		Region: sd.Region, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
	}, func(o *sts.Options) { o.RetryMaxAttempts = 1 })
	_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(sd.RoleARN(accountID)), RoleSessionName: aws.String("scenario-test"),
		ExternalId: aws.String(sd.ExternalID),
	})
	return err
}

func TestBuild(t *testing.T) {
	src := scnBase + `page_size: 3
ses: {region: eu-west-1, verified: [keyrotor@example.com, example.com]}
accounts:
  - {id: "333333333333", name: prod-a, ou: Workloads/Prod}
  - {id: "444444444444", name: dev-a, ou: Workloads/Dev, status: SUSPENDED}
  - {id: "555555555555", name: no-role, ou: Workloads, role: missing}
  - id: "666666666666"
    name: bad-trust
    role: wrong_trust
    groups: [Empty]
    users:
      - name: alice
        tags: {email: alice@example.com}
        groups: [BreakGlass]
        keys:
          - {age: 400d, status: Inactive, last_used: 100d, service: ec2, region: eu-west-1}
          - {created: 2026-06-01T00:00:00Z}
      - name: bob
    generate: {users: 10, seed: 3}
`
	sc, err := ParseScenario("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sim, sd, err := sc.Build()
	if err != nil {
		t.Fatal(err)
	}
	if sd.SecurityAccountID != "222222222222" || sd.ManagementAccountID != "111111111111" ||
		sd.RoleName != "RotRole" || sd.RolePath != "/keyrotor/" || sd.ExternalID != "ext-1" || sd.Region != "eu-west-1" {
		t.Errorf("seeded = %+v", sd)
	}
	if sd.RoleARN("333333333333") != "arn:aws:iam::333333333333:role/keyrotor/RotRole" {
		t.Errorf("RoleARN = %s", sd.RoleARN("333333333333"))
	}
	if !sim.Now().Equal(scnNow) || sim.PageSize() != 3 {
		t.Errorf("clock %v page size %d", sim.Now(), sim.PageSize())
	}
	if sd.Accounts != 6 || sd.Users != 12 {
		t.Errorf("counts: %d accounts, %d users", sd.Accounts, sd.Users)
	}
	if got := len(sim.Keys("")); got != sd.Keys {
		t.Errorf("Seeded.Keys = %d, sim has %d", sd.Keys, got)
	}

	org := sim.Org()
	if org.ManagementAccount != "111111111111" || !org.DelegatedAdmins["222222222222"] || len(org.OUs) != 4 {
		t.Errorf("org = %+v", org)
	}
	for path, id := range sd.OUIDs {
		if path == "" {
			if id != org.RootID {
				t.Errorf("OUIDs[\"\"] = %s, root is %s", id, org.RootID)
			}
			continue
		}
		ou := org.OUs[id]
		parent, name := "", path
		if i := strings.LastIndex(path, "/"); i >= 0 {
			parent, name = path[:i], path[i+1:]
		}
		if ou == nil || ou.Name != name || ou.ParentID != sd.OUIDs[parent] {
			t.Errorf("OU %s = %+v", path, ou)
		}
	}
	placement := map[string]string{
		"111111111111": "", "222222222222": "Security", "333333333333": "Workloads/Prod",
		"444444444444": "Workloads/Dev", "555555555555": "Workloads", "666666666666": "",
	}
	sim.mu.Lock()
	for id, ou := range placement {
		a := sim.accounts[id]
		if a == nil || a.ParentID != sd.OUIDs[ou] {
			t.Errorf("account %s: %+v, want under %q", id, a, ou)
			continue
		}
		wantStatus := StatusActive
		if id == "444444444444" {
			wantStatus = StatusSuspended
		}
		if a.Status != wantStatus {
			t.Errorf("account %s status %s", id, a.Status)
		}
		if a.ses["eu-west-1\x00example.com"] == nil || a.ses["eu-west-1\x00keyrotor@example.com"] == nil {
			t.Errorf("account %s: SES identities %v", id, a.ses)
		}
	}
	if r := sim.accounts["555555555555"].roles["RotRole"]; r != nil {
		t.Errorf("role missing: found %+v", r)
	}
	acct := sim.accounts["666666666666"]
	if acct.groups["Empty"] == nil || acct.groups["BreakGlass"] == nil {
		t.Errorf("groups = %v", acct.groups)
	}
	alice := acct.users["alice"]
	sim.mu.Unlock()

	if alice == nil || alice.Path != "/" || !reflect.DeepEqual(alice.Groups, []string{"BreakGlass"}) ||
		!alice.Created.Equal(scnNow.Add(-400*24*time.Hour)) {
		t.Fatalf("alice = %+v", alice)
	}
	keys := sim.Keys("666666666666")
	var aliceKeys []KeyInfo
	for _, k := range keys {
		if k.User == "alice" {
			aliceKeys = append(aliceKeys, k)
		}
	}
	used := scnNow.Add(-100 * 24 * time.Hour)
	if len(aliceKeys) != 2 ||
		aliceKeys[0].Status != "Inactive" || !aliceKeys[0].Created.Equal(scnNow.Add(-400*24*time.Hour)) ||
		aliceKeys[0].LastUsed == nil || !aliceKeys[0].LastUsed.Equal(used) || aliceKeys[0].LastService != "ec2" || aliceKeys[0].LastRegion != "eu-west-1" ||
		aliceKeys[1].Status != "Active" || !aliceKeys[1].Created.Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) || aliceKeys[1].LastUsed != nil {
		t.Errorf("alice's keys = %+v", aliceKeys)
	}
	if tags := sim.UserTags("666666666666", "alice"); !reflect.DeepEqual(tags, map[string]string{"email": "alice@example.com"}) {
		t.Errorf("alice's tags = %v", tags)
	}

	srv := httptest.NewServer(sim)
	defer srv.Close()
	ctx := context.Background()
	for id, wantErr := range map[string]bool{
		"111111111111": false, "222222222222": false, "333333333333": false,
		"444444444444": true, "555555555555": true, "666666666666": true,
	} {
		err := scnAssume(ctx, srv.URL, sd, id)
		var ae smithy.APIError
		switch {
		case !wantErr && err != nil:
			t.Errorf("assume role in %s: %v", id, err)
		case wantErr && (!errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied"):
			t.Errorf("assume role in %s: err = %v, want AccessDenied", id, err)
		}
	}
}

func TestBuildIsReproducible(t *testing.T) {
	build := func() []KeyInfo {
		sc := DemoScenario()
		sc.Now = scnNow
		sim, _, err := sc.Build()
		if err != nil {
			t.Fatal(err)
		}
		return sim.Keys("")
	}
	if a, b := build(), build(); !reflect.DeepEqual(a, b) {
		t.Fatal("two builds of one scenario differ")
	}
}

func TestBuildRejectsInvalid(t *testing.T) {
	sc := Generate(GenOptions{Accounts: 2, UsersPerAccount: 1, Seed: 1, Now: scnNow})
	sc.Accounts[1].ID = sc.Accounts[0].ID
	sc.Accounts[0].Users[0].Keys = append(sc.Accounts[0].Users[0].Keys, ScenarioKey{Status: "on"})
	_, _, err := sc.Build()
	if err == nil || !strings.Contains(err.Error(), "accounts[1].id: account "+sc.Accounts[0].ID+" is already defined at accounts[0]") ||
		!strings.Contains(err.Error(), `status must be Active or Inactive, got "on"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestGenerateReproducible(t *testing.T) {
	o := GenOptions{Accounts: 4, UsersPerAccount: 25, Seed: 5, Now: scnNow}
	a, b := Generate(o), Generate(o)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different scenarios")
	}
	o.Seed = 6
	c := Generate(o)
	if reflect.DeepEqual(a.Accounts, c.Accounts) {
		t.Fatal("different seeds gave the same accounts")
	}
	if errs := a.validate(); len(errs) > 0 {
		t.Fatalf("generated scenario is invalid: %v", scnFormatErrors("", errs, nil))
	}
	// A generated scenario survives YAML, so it can be saved and edited.
	data, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseScenario("gen.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, back) {
		t.Fatal("scenario changed through YAML")
	}
}

// scnCaseOf classifies a generated user's keys the way the generator meant them.
func scnCaseOf(u ScenarioUser) genCase {
	day := Days(1)
	ks := u.Keys
	switch {
	case len(ks) == 0:
		return genNoKeys
	case len(ks) == 2 && ks[0].Status == "Inactive" && ks[1].Status == "":
		return genActiveInactive
	case len(ks) == 2:
		return genTwoActive
	case ks[0].Status == "Inactive":
		return genInactiveOnly
	case ks[0].Age < 90*day && ks[0].LastUsed == nil:
		return genFreshNever
	case ks[0].Age < 90*day:
		return genFreshUsed
	case ks[0].LastUsed == nil:
		return genNeverUsed
	case *ks[0].LastUsed >= 60*day:
		return genUnused
	case ks[0].Age > 365*day:
		return genVeryStale
	default:
		return genStaleUsed
	}
}

func TestGenerateSpread(t *testing.T) {
	sc := Generate(GenOptions{Accounts: 40, UsersPerAccount: 100, Seed: 11, Now: scnNow})
	if len(sc.Accounts) != 40 {
		t.Fatalf("%d accounts", len(sc.Accounts))
	}
	ous := map[string]int{}
	cases := map[genCase]int{}
	var users, emails, exemptTag, breakGlass int
	for _, a := range sc.Accounts {
		ous[a.OU]++
		if len(a.Users) != 100 {
			t.Fatalf("account %s has %d users", a.ID, len(a.Users))
		}
		for _, u := range a.Users {
			users++
			cases[scnCaseOf(u)]++
			if u.Tags["email"] == u.Name+"@example.com" {
				emails++
			}
			if u.Tags[ExemptTag] == "true" {
				exemptTag++
			}
			if len(u.Groups) == 1 && u.Groups[0] == ExemptGroup {
				breakGlass++
			}
		}
	}
	if len(ous) != 3 || ous["Security"] == 0 || ous["Workloads/Prod"] == 0 || ous["Workloads/Dev"] == 0 {
		t.Errorf("OUs = %v", ous)
	}
	pct := func(n int) float64 { return 100 * float64(n) / float64(users) }
	for _, w := range genCaseWeights {
		if got := pct(cases[w.c]); got < float64(w.weight)*0.7 || got > float64(w.weight)*1.3 {
			t.Errorf("case %d: %.1f%% of users, want about %d%%", w.c, got, w.weight)
		}
	}
	for name, c := range map[string]struct {
		n      int
		lo, hi float64
	}{"email": {emails, 55, 80}, "exempt tag": {exemptTag, 2, 4}, "BreakGlass": {breakGlass, 1.2, 2.8}} {
		if got := pct(c.n); got < c.lo || got > c.hi {
			t.Errorf("%s: %.1f%% of users, want %.1f-%.1f%%", name, got, c.lo, c.hi)
		}
	}
}

// TestGenerateAtScale builds a 10,000-user organization; BenchmarkGenerateAndBuild
// measures the 1,000 accounts x 100 users case (about two seconds on two cores).
func TestGenerateAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("large scenario")
	}
	start := time.Now()
	sc := Generate(GenOptions{Accounts: 100, UsersPerAccount: 100, Seed: 1, Now: scnNow})
	sim, sd, err := sc.Build()
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if sd.Accounts != 102 || sd.Users != 10000 || len(sim.AccountIDs()) != 102 || len(sim.Keys("")) != sd.Keys {
		t.Fatalf("seeded %d accounts, %d users, %d keys", sd.Accounts, sd.Users, sd.Keys)
	}
	// A tenth of a second normally; the bound leaves room for -race on a busy machine.
	if elapsed > 30*time.Second {
		t.Fatalf("generate + build of 100 x 100 took %v", elapsed)
	}
}

func BenchmarkGenerateAndBuild(b *testing.B) {
	for b.Loop() {
		sc := Generate(GenOptions{Accounts: 1000, UsersPerAccount: 100, Seed: 1, Now: scnNow})
		if _, _, err := sc.Build(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDemoScenario(t *testing.T) {
	sc := DemoScenario()
	if !sc.Now.IsZero() {
		t.Errorf("demo now = %v, want the wall clock", sc.Now)
	}
	sc.Now = scnNow
	sim, sd, err := sc.Build()
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Accounts) < 12 || sd.Accounts != len(sc.Accounts)+2 {
		t.Errorf("%d member accounts, %d in all", len(sc.Accounts), sd.Accounts)
	}
	if sd.Users < 180 || sd.Users > 220 {
		t.Errorf("%d users, want about 200", sd.Users)
	}
	ous := map[string]bool{}
	var suspended, wrongTrust []string
	for _, a := range sc.Accounts {
		ous[a.OU] = true
		if a.Status == StatusSuspended {
			suspended = append(suspended, a.Name)
		}
		if a.Role == RoleWrongTrust {
			wrongTrust = append(wrongTrust, a.Name)
		}
	}
	if len(ous) != 3 || len(suspended) != 1 || len(wrongTrust) != 1 {
		t.Errorf("OUs %v, suspended %v, wrong trust %v", ous, suspended, wrongTrust)
	}

	// Every case a keyrotor run meets is in the demo, in payments-prod.
	const acct = "410000000001"
	byUser := map[string][]KeyInfo{}
	for _, k := range sim.Keys(acct) {
		byUser[k.User] = append(byUser[k.User], k)
	}
	age := func(k KeyInfo) int { return int(scnNow.Sub(k.Created).Hours() / 24) }
	since := func(k KeyInfo) int {
		if k.LastUsed == nil {
			return -1
		}
		return int(scnNow.Sub(*k.LastUsed).Hours() / 24)
	}
	check := func(user, what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s (%s): keys %+v", user, what, byUser[user])
		}
	}
	one := func(user string) KeyInfo {
		if len(byUser[user]) != 1 {
			t.Fatalf("%s has %d keys", user, len(byUser[user]))
		}
		return byUser[user][0]
	}
	check("alice", "fresh", age(one("alice")) < 90)
	check("bob", "stale 90-120d", age(one("bob")) >= 90 && age(one("bob")) <= 120)
	check("carol", "very stale", age(one("carol")) >= 400)
	check("dave", "unused", one("dave").Status == "Active" && since(one("dave")) >= 60)
	check("erin", "never used", age(one("erin")) == 100 && one("erin").LastUsed == nil)
	frank := byUser["frank"]
	check("frank", "stale active + inactive", len(frank) == 2 && frank[0].Status == "Inactive" && frank[1].Status == "Active" && age(frank[1]) >= 90)
	grace := byUser["grace"]
	check("grace", "two active", len(grace) == 2 && grace[0].Status == "Active" && grace[1].Status == "Active")
	check("ivan", "inactive only", one("ivan").Status == "Inactive")
	check("judy", "no keys", len(byUser["judy"]) == 0 && sim.UserTags(acct, "judy")["email"] != "")
	if sim.UserTags(acct, "heidi")[ExemptTag] != "true" {
		t.Error("heidi is not exempt by tag")
	}
	sim.mu.Lock()
	bg := sim.accounts[acct].users["breakglass-admin"]
	sim.mu.Unlock()
	if bg == nil || !reflect.DeepEqual(bg.Groups, []string{ExemptGroup}) {
		t.Errorf("breakglass-admin = %+v", bg)
	}

	scnCheckDemoHeldKey(t, sim, sd)

	var tagged int
	for _, a := range append([]ScenarioAccount{sc.Organization.ManagementAccount, sc.Organization.SecurityAccount}, sc.Accounts...) {
		users := a.Users
		if a.Generate != nil {
			users = append(users, scnFillUsers(a)...)
		}
		for _, u := range users {
			if strings.HasSuffix(u.Tags["email"], "@example.com") {
				tagged++
			}
		}
	}
	if tagged*2 < sd.Users || tagged == sd.Users {
		t.Errorf("%d of %d users have an email tag, want most but not all", tagged, sd.Users)
	}
}

func TestExampleScenario(t *testing.T) {
	sc, err := LoadScenario("../../examples/scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, sd, err := sc.Build()
	if err != nil {
		t.Fatal(err)
	}
	if sd.Accounts < 3 || sd.Users == 0 || sd.Keys == 0 {
		t.Errorf("example seeds %d accounts, %d users, %d keys", sd.Accounts, sd.Users, sd.Keys)
	}
}

func TestLoadScenarioMissingFile(t *testing.T) {
	_, err := LoadScenario("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestScenarioUsageAndSecurityHub(t *testing.T) {
	src := scnBase + `accounts:
  - id: "333333333333"
    name: a
    security_hub: disabled
    users:
      - name: deployer
        keys:
          - age: 100d
            last_used: 2h
            usage:
              - {source_ip: 203.0.113.7, user_agent: aws-cli/2.15.0, service: s3, event: ListBuckets, region: eu-west-1, events: 4, over: 4d}
              - {source_ip: 198.51.100.20, user_agent: Terraform/1.9.5, service: iam, event: GetUser, region: eu-west-1, events: 1, last: 1d}
  - id: "444444444444"
    name: b
`
	sc, err := ParseScenario("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sim, _, err := sc.Build()
	if err != nil {
		t.Fatal(err)
	}
	key := sim.Keys("333333333333")[0]
	eu := sim.TrailEvents("333333333333", "eu-west-1")
	if len(eu) != 4 {
		t.Fatalf("%d events in eu-west-1, want 4", len(eu))
	}
	for i, e := range eu {
		want := scnNow.Add(-2*time.Hour - time.Duration(i)*24*time.Hour)
		if !e.Time.Equal(want) || e.SourceIP != "203.0.113.7" || e.UserAgent != "aws-cli/2.15.0" || e.EventSource != "s3.amazonaws.com" ||
			e.EventName != "ListBuckets" || e.AccessKeyID != key.ID || e.UserName != "deployer" || e.IdentityType != "IAMUser" || !e.ReadOnly {
			t.Errorf("event %d = %+v, want at %v", i, e, want)
		}
	}
	// IAM is global: its events are in us-east-1 whatever the entry says.
	us := sim.TrailEvents("333333333333", "us-east-1")
	if len(us) != 1 || us[0].EventName != "GetUser" || !us[0].Time.Equal(scnNow.Add(-24*time.Hour)) {
		t.Fatalf("us-east-1 events = %+v", us)
	}
	sim.mu.Lock()
	h := sim.hubLocked()
	off, on := h.isEnabled("333333333333", "us-west-2"), h.isEnabled("444444444444", "us-east-1")
	sim.mu.Unlock()
	if off || !on {
		t.Errorf("security hub enabled: a %v, b %v", off, on)
	}

	// Usage survives YAML.
	out, err := yaml.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseScenario("round.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(back.Accounts[0].Users[0].Keys[0].Usage, sc.Accounts[0].Users[0].Keys[0].Usage) || back.Accounts[0].SecurityHub != SecurityHubDisabled {
		t.Errorf("round trip: %+v", back.Accounts[0])
	}
}

// scnCheckDemoHeldKey checks the key the demo keeps using after its
// replacement is issued. cmd/keyrotor's demo picks the first rotated key in
// account and user order; management is not rotated, so it is the first
// stale key of the security account: ana.lima's. Its CloudTrail history,
// read with LookupEvents, shows two clients.
func scnCheckDemoHeldKey(t *testing.T, sim *Sim, sd Seeded) {
	t.Helper()
	var held *KeyInfo
	for _, k := range sim.Keys(sd.SecurityAccountID) {
		if k.Status == "Active" && scnNow.Sub(k.Created) >= 90*24*time.Hour {
			held = &k
			break
		}
	}
	if held == nil || held.User != "ana.lima" {
		t.Fatalf("the demo's first stale key in the security account is %+v, want ana.lima's", held)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c := sd.Central
	ct := cloudtrail.NewFromConfig(aws.Config{
		Region: sd.Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
	})
	clients := map[string]int{}
	p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(held.ID)}}})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		for _, e := range page.Events {
			var rec struct {
				SourceIPAddress, UserAgent, EventName string
			}
			if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec); err != nil {
				t.Fatal(err)
			}
			agent, _, _ := strings.Cut(rec.UserAgent, " ")
			clients[rec.SourceIPAddress+" "+agent+" "+rec.EventName]++
			if e.EventTime.After(*held.LastUsed) || e.EventTime.Before(scnNow.Add(-31*24*time.Hour)) {
				t.Errorf("event at %v, key last used %v", e.EventTime, held.LastUsed)
			}
		}
	}
	want := map[string]int{"203.0.113.7 aws-cli/2.15.0 ListBuckets": 12, "198.51.100.20 Terraform/1.9.5 GetCallerIdentity": 28}
	if !reflect.DeepEqual(clients, want) {
		t.Errorf("clients of the held key = %v, want %v", clients, want)
	}
}
