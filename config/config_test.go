package config

import (
	"errors"
	"io/fs"
	"keyrotor/accounts"
	"keyrotor/rotation"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// minimal is the smallest valid configuration: notifications are on by
// default and need a sender.
const minimal = "notifications:\n  sender: keyrotor@example.com"

// lines joins its arguments into a YAML document, one per line, so that the
// line numbers expected by a test can be read off the source.
func lines(ls ...string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../accounts.yaml")
	if err != nil {
		t.Fatalf("Load(accounts.yaml): %v", err)
	}
	for _, w := range c.Warnings {
		t.Errorf("unexpected warning: %v", w)
	}
	if !c.Organization.Discovery {
		t.Error("example should have discovery on")
	}
	if len(c.Accounts) != 1 {
		t.Fatalf("example should list one explicit account, got %d", len(c.Accounts))
	}
	id := c.Accounts[0].ID
	p := c.PolicyFor(id)
	if p.MaxKeyAge != 60*day || p.DeactivateAfter != 3*day || p.UnusedAfter != 45*day {
		t.Errorf("PolicyFor(%s) = %+v, want the 60d/3d override on top of defaults", id, p)
	}
	if got, want := c.PolicyFor("999999999999"), rotation.DefaultPolicy(); got != want {
		t.Errorf("PolicyFor(other) = %+v, want defaults %+v", got, want)
	}
	if got := c.RoleFor(id).ARN(id); got != "arn:aws:iam::123456789012:role/KeyrotorPaymentsRole" {
		t.Errorf("role ARN = %s", got)
	}
	if got := c.RoleFor("999999999999").ARN("999999999999"); got != "arn:aws:iam::999999999999:role/KeyrotorRotationRole" {
		t.Errorf("default role ARN = %s", got)
	}
	if !c.Excluded("210987654321") || c.Excluded(id) {
		t.Error("Excluded does not follow exclude_accounts")
	}
	if c.Secrets.Region != "us-east-1" || c.Notifications.Region != "us-east-1" {
		t.Errorf("derived regions = %q, %q", c.Secrets.Region, c.Notifications.Region)
	}
	a, ok := c.Account(id)
	if !ok || len(a.Contacts) != 1 || !c.UserExempt(id, "break-glass") {
		t.Errorf("Account(%s) = %+v, %v", id, a, ok)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse("accounts.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Region:       "us-east-1",
		Organization: OrganizationConfig{Discovery: true},
		Role: RoleConfig{
			Name: "KeyrotorRotationRole", Path: "/", SessionName: "keyrotor", Duration: Duration(time.Hour),
		},
		Exemptions: ExemptionsConfig{Tag: TagConfig{Key: "keyrotor:exempt", Value: "true"}},
		Secrets: SecretsConfig{
			Region: "us-east-1", NameTemplate: "keyrotor/{{.AccountID}}/{{.UserName}}", UserReadPolicy: true,
		},
		Notifications: NotificationsConfig{
			Enabled: true, Sender: "keyrotor@example.com", Region: "us-east-1",
			RecipientTags: []string{"email", "Email", "owner"}, Digest: true,
		},
		Concurrency: ConcurrencyConfig{Accounts: 16, PerAccount: 4},
		Report:      ReportConfig{Out: "reports", Formats: []string{"json", "xlsx", "csv"}},
		File:        "accounts.yaml",
		// The digest has no recipients by default.
		Warnings: c.Warnings,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if len(c.Warnings) != 1 || c.Warnings[0].Field != "notifications.digest" {
		t.Errorf("warnings = %v, want one about the digest", c.Warnings)
	}
	if got := c.PolicyFor("123456789012"); got != rotation.DefaultPolicy() {
		t.Errorf("PolicyFor with no policy = %+v, want DefaultPolicy", got)
	}
	if got := c.RoleFor("123456789012"); got != (accounts.Role{Name: "KeyrotorRotationRole", Path: "/", SessionName: "keyrotor", Duration: time.Hour, Partition: "aws"}) {
		t.Errorf("RoleFor = %+v", got)
	}
}

func TestParseNullsKeepDefaults(t *testing.T) {
	c, err := Parse("a.yaml", lines(
		"region:",
		"organization:",
		"policy:",
		"  max_key_age:",
		"concurrency:",
		"  accounts: ~",
		minimal,
	))
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != DefaultRegion || !c.Organization.Discovery || c.Concurrency.Accounts != 16 || c.PolicyFor("").MaxKeyAge != 90*day {
		t.Errorf("null values replaced defaults: %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   []byte
		line  int
		field string
		msg   string
	}{
		// Structure: syntax, unknown keys, types.
		{"syntax", lines("region: us-east-1", "policy: {max_key_age: [}"), 2, "", "'{'"},
		{"duplicate key", lines("region: us-east-1", "region: eu-west-1"), 2, "", `"region" already defined`},
		{"two documents", lines(minimal, "---", "region: eu-west-1"), 4, "", "only one YAML document"},
		{"root not a mapping", lines("- region"), 1, "", "want a mapping, got a list"},
		{"unknown top-level key", lines(minimal, "regoin: eu-west-1"), 3, "regoin", `did you mean "region"`},
		{"unknown nested key", lines("policy:", "  max_age: 60d"), 2, "policy.max_age", `did you mean "max_key_age"`},
		{"unknown key lists valid ones", lines("report:", "  zzz: 1"), 2, "report.zzz", "valid: out, formats, s3"},
		{"unknown key in account", lines("accounts:", "  - id: \"123456789012\"", "    contact: [a@example.com]"), 3, "accounts[0].contact", `did you mean "contacts"`},
		{"int wanted", lines("concurrency:", "  accounts: many"), 2, "concurrency.accounts", `want a whole number, got string "many"`},
		{"quoted int", lines("concurrency:", "  accounts: \"8\""), 2, "concurrency.accounts", "want a whole number"},
		{"bool wanted", lines("organization:", "  discovery: yes"), 2, "organization.discovery", `want true or false, got string "yes"`},
		{"quoted bool", lines("organization:", "  discovery: \"true\""), 2, "organization.discovery", "want true or false"},
		{"list wanted", lines("exclude_accounts: \"123456789012\""), 1, "exclude_accounts", "want a list"},
		{"mapping wanted", lines("policy: 90d"), 1, "policy", "want a mapping"},
		{"string wanted", lines("region:", "  - us-east-1"), 2, "region", "want a string, got a list"},
		{"int too large", lines("concurrency:", "  accounts: 99999999999999999999"), 2, "concurrency.accounts", "too large"},
		{"alias of the wrong type", lines("exemptions:", "  users: &u [alice]", "policy: *u"), 3, "policy", "want a mapping, got a list"},
		{"merged unknown key", lines("notifications: &n", "  sender: a@example.com", "secrets:", "  <<: *n"), 4, "secrets.sender", "unknown field"},

		// Durations.
		{"bad duration", lines(minimal, "policy:", "  max_key_age: 9x"), 4, "policy.max_key_age", `bad duration "9x" (use e.g. 90d, 36h)`},
		{"negative duration", lines("policy:", "  delete_after: -7d"), 2, "policy.delete_after", `negative duration "-7d"`},
		{"duration without unit", lines("policy:", "  unused_after: 45"), 2, "policy.unused_after", `bad duration "45"`},
		{"duration in account override", lines("accounts:", "  - id: \"123456789012\"", "    policy: {max_key_age: 60days}"), 3, "accounts[0].policy.max_key_age", `bad duration "60days"`},
		{"role duration", lines("role:", "  duration: soon"), 2, "role.duration", "bad duration"},

		// Account IDs, quoted or not.
		{"short id", lines("accounts:", "  - id: 12345"), 2, "accounts[0].id", `bad account ID "12345" (want exactly 12 digits)`},
		{"quoted short id", lines("accounts:", "  - id: \"12345678901\""), 2, "accounts[0].id", `bad account ID "12345678901"`},
		{"long id", lines("exclude_accounts:", "  - 1234567890123"), 2, "exclude_accounts[0]", "want exactly 12 digits"},
		{"id with letters", lines("exclude_accounts: [\"12345678901a\"]"), 1, "exclude_accounts[0]", "want exactly 12 digits"},
		{"id as float", lines("exclude_accounts: [1.23456789012e11]"), 1, "exclude_accounts[0]", "want exactly 12 digits"},
		{"id as hex", lines("exclude_accounts: [0x1234567890]"), 1, "exclude_accounts[0]", "want exactly 12 digits"},
		{"id as mapping", lines("accounts:", "  - id: {a: 1}"), 2, "accounts[0].id", "want a 12-digit account ID"},

		// Rule violations.
		{"missing id", lines(minimal, "accounts:", "  - name: payments"), 4, "accounts[0].id", "required"},
		{"duplicate id", lines(minimal, "accounts:", "  - id: \"123456789012\"", "  - id: 123456789012"), 5, "accounts[1].id", "duplicate account ID 123456789012 (first listed at line 4)"},
		{"bad OU", lines(minimal, "organization:", "  include_ous: [ou-1234]"), 4, "organization.include_ous[0]", `bad OU id "ou-1234"`},
		{"bad root", lines(minimal, "organization:", "  exclude_ous:", "    - r-ab"), 5, "organization.exclude_ous[0]", "bad OU id"},
		{"OU both included and excluded", lines(minimal, "organization:", "  include_ous: [ou-ab12-cd34ef56]", "  exclude_ous: [ou-ab12-cd34ef56]"), 5, "organization.exclude_ous[0]", "also in include_ous (line 4)"},
		{"no targets", lines(minimal, "organization:", "  discovery: false"), 4, "organization.discovery", "nothing to rotate"},
		{"all explicit excluded", lines(minimal, "organization: {discovery: false}", "accounts: [{id: \"123456789012\"}]", "exclude_accounts: [\"123456789012\"]"), 3, "organization.discovery", "every listed account is excluded"},
		{"no sender", lines("region: us-east-1"), 1, "notifications.sender", "required while notifications are enabled"},
		{"empty file", []byte(""), 1, "notifications.sender", "required"},
		{"bad sender", lines("notifications:", "  sender: keyrotor.example.com"), 2, "notifications.sender", `bad email "keyrotor.example.com"`},
		{"bad contact", lines(minimal, "accounts:", "  - id: \"123456789012\"", "    contacts:", "      - ok@example.com", "      - not an email"), 7, "accounts[0].contacts[1]", "bad email"},
		{"bad security team", lines(minimal, "  security_team: [\"@example.com\"]"), 3, "notifications.security_team[0]", "bad email"},
		{"bad reply-to", lines(minimal, "  reply_to: [x]"), 3, "notifications.reply_to[0]", "bad email"},
		{"zero concurrency", lines(minimal, "concurrency:", "  accounts: 0"), 4, "concurrency.accounts", "must be at least 1, got 0"},
		{"negative concurrency", lines(minimal, "concurrency:", "  per_account: -2"), 4, "concurrency.per_account", "must be at least 1, got -2"},
		{"unknown format", lines(minimal, "report:", "  formats: [json, pdf]"), 4, "report.formats[1]", `unknown format "pdf"`},
		{"no formats", lines(minimal, "report:", "  formats: []"), 4, "report.formats", "at least one"},
		{"bad s3", lines(minimal, "report:", "  s3: bucket/prefix"), 4, "report.s3", "not an S3 location"},
		{"bad s3 bucket", lines(minimal, "report:", "  s3: s3://Bad_Bucket/x"), 4, "report.s3", "not an S3 location"},
		{"empty out", lines(minimal, "report:", "  out: \"\""), 4, "report.out", "must not be empty"},
		{"bad region", lines(minimal, "region: virginia"), 3, "region", `"virginia" is not an AWS region`},
		{"bad secrets region", lines(minimal, "secrets: {region: EU}"), 3, "secrets.region", "not an AWS region"},
		{"empty role name", lines(minimal, "role:", "  name: \"\""), 4, "role.name", "must not be empty"},
		{"bad role name", lines(minimal, "role:", "  name: rotation role"), 4, "role.name", "not a valid IAM role name"},
		{"bad role path", lines(minimal, "role:", "  path: keyrotor"), 4, "role.path", "not an IAM path"},
		{"long session name", lines(minimal, "role:", "  session_name: "+strings.Repeat("k", 33)), 4, "role.session_name", "up to 32"},
		{"short role duration", lines(minimal, "role:", "  duration: 10m"), 4, "role.duration", "outside the 15m to 12h"},
		{"long role duration", lines(minimal, "role:", "  duration: 1d"), 4, "role.duration", "outside the 15m to 12h"},
		{"bad account role name", lines(minimal, "accounts:", "  - id: \"123456789012\"", "    role_name: a/b"), 5, "accounts[0].role_name", "not a valid IAM role name"},
		{"bad exempt user", lines(minimal, "exemptions:", "  users: [\"bob smith\"]"), 4, "exemptions.users[0]", "not a valid IAM user name"},
		{"bad exempt group", lines(minimal, "exemptions:", "  groups: [\"a*b\"]"), 4, "exemptions.groups[0]", "not a valid IAM group name"},
		{"empty tag key", lines(minimal, "exemptions:", "  tag: {key: \"\"}"), 4, "exemptions.tag.key", "must not be empty"},
		{"zero max age", lines(minimal, "policy:", "  max_key_age: 0"), 4, "policy.max_key_age", "must be greater than 0"},
		{"deadline inside grace", lines(minimal, "policy:", "  deactivate_after: 7d", "  hard_deadline: 5d"), 5, "policy.hard_deadline", "hard_deadline (5d) must be 0 or longer than deactivate_after (7d)"},
		{"account grace beyond inherited deadline", lines(minimal, "policy:", "  hard_deadline: 14d", "accounts:", "  - id: \"123456789012\"", "    policy:", "      deactivate_after: 30d"), 8, "accounts[0].policy.deactivate_after", "must be 0 or longer than deactivate_after (30d)"},
		{"template does not parse", lines(minimal, "secrets:", "  name_template: \"keyrotor/{{.UserName\""), 4, "secrets.name_template", "bad template"},
		{"template unknown field", lines(minimal, "secrets:", "  name_template: \"keyrotor/{{.User}}\""), 4, "secrets.name_template", "fields are .AccountID, .AccountName, .UserName"},
		{"template without prefix", lines(minimal, "secrets:", "  name_template: \"{{.UserName}}\""), 4, "secrets.name_template", "fixed prefix"},
		{"template without user", lines(minimal, "secrets:", "  name_template: \"keyrotor/{{.AccountID}}\""), 4, "secrets.name_template", "must include {{.UserName}}"},
		{"template bad name", lines(minimal, "secrets:", "  name_template: \"keyrotor/{{.UserName}} key\""), 4, "secrets.name_template", "not a valid secret name"},
		{"bad kms key", lines(minimal, "secrets:", "  kms_key_id: my-key"), 4, "secrets.kms_key_id", "not a KMS key"},
		{"break-glass principal not a role or user ARN", lines(minimal, "secrets:", "  break_glass_principals: [\"arn:aws:iam::*:role/BreakGlass\", \"BreakGlass\"]"),
			4, "secrets.break_glass_principals[1]", "not a valid IAM role or user ARN"},
		{"address template not an address", lines(minimal, "  address_template: \"{{.UserName}}\""), 3, "notifications.address_template", `renders "alice"`},
		{"address template does not parse", lines(minimal, "  address_template: \"{{.UserName}@example.com\""), 3, "notifications.address_template", "bad template"},
		{"bad recipient tag", lines(minimal, "  recipient_tags: [\"e*mail\"]"), 3, "notifications.recipient_tags[0]", "not a valid IAM tag key"},
		{"bad configuration set", lines(minimal, "  configuration_set: \"a b\""), 3, "notifications.configuration_set", "not a valid SES configuration set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("accounts.yaml", tt.src)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c)
			}
			if c != nil {
				t.Errorf("Parse returned a config with an error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *Error", err, err)
			}
			all := Errors(err)
			var match *Error
			for _, e := range all {
				if e.Line == tt.line && e.Field == tt.field && strings.Contains(e.Msg, tt.msg) {
					match = e
				}
				if e.File != "accounts.yaml" {
					t.Errorf("error names file %q", e.File)
				}
			}
			if match == nil {
				t.Fatalf("got %v\nwant an error at accounts.yaml:%d field %q containing %q", err, tt.line, tt.field, tt.msg)
			}
		})
	}
}

func TestParseErrorNeverEchoesExternalID(t *testing.T) {
	const secretish = "bad external id with spaces"
	_, err := Parse("accounts.yaml", lines(minimal, "role:", "  external_id: "+secretish))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	if strings.Contains(err.Error(), secretish) {
		t.Errorf("error echoes the external ID: %v", err)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Field != "role.external_id" || ce.Line != 4 {
		t.Errorf("error = %v", err)
	}
}

func TestParseReportsEveryError(t *testing.T) {
	// Structural problems are reported together, and (issue 11: they were
	// reported alone, the rules only once the structure was fixed) with
	// the rule violations of the rest: the sender this file leaves out.
	_, err := Parse("accounts.yaml", lines(
		"policy:",
		"  max_key_age: 9x",
		"  unused_after: -1d",
		"exclude_accounts: [123]",
		"concurrency: {accounts: many}",
		"bogus: 1",
	))
	got := errorSummaries(Errors(err))
	want := []string{
		"1 notifications.sender",
		"2 policy.max_key_age",
		"3 policy.unused_after",
		"4 exclude_accounts[0]",
		"5 concurrency.accounts",
		"6 bogus",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("structural errors = %v, want %v\n%v", got, want, err)
	}

	// ... and so are rule violations, sorted by line.
	_, err = Parse("accounts.yaml", lines(
		"notifications:",
		"  sender: nobody",
		"concurrency:",
		"  per_account: 0",
		"  accounts: 0",
		"report:",
		"  formats: [pdf]",
	))
	got = errorSummaries(Errors(err))
	want = []string{
		"2 notifications.sender",
		"4 concurrency.per_account",
		"5 concurrency.accounts",
		"7 report.formats[0]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rule errors = %v, want %v\n%v", got, want, err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 4 {
		t.Errorf("joined error has %d lines, want 4:\n%v", n, err)
	}
}

// TestParseReportsStructuralAndRuleErrorsAtOnce: one bad value does not
// hide a broken rule elsewhere, and a field with a structural problem is
// not blamed again by the rule checked on its default.
func TestParseReportsStructuralAndRuleErrorsAtOnce(t *testing.T) {
	_, err := Parse("accounts.yaml", lines(
		minimal,
		"policy:",
		"  max_key_age: 9x",
		"  hard_deadline: 1d",
		"concurrency:",
		"  per_account: 0",
		"accounts:",
		"  - id: \"12345\"",
		"  - id: \"123456789012\"",
		"    contacts: [nobody]",
		"    unknown: 1",
		"report:",
		"  formats: [pdf]",
		"  out: !env OUT",
	))
	got := errorSummaries(Errors(err))
	want := []string{
		"4 policy.max_key_age",
		"5 policy.hard_deadline",
		"7 concurrency.per_account",
		"9 accounts[0].id",
		"11 accounts[1].contacts[0]",
		"12 accounts[1].unknown",
		"14 report.formats[0]",
		"15 report.out",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %v, want %v\n%v", got, want, err)
	}
	// A syntax error leaves nothing to check rules on.
	_, err = Parse("accounts.yaml", lines(minimal, "policy: [", "concurrency: {per_account: 0}"))
	if got := errorSummaries(Errors(err)); len(got) != 1 {
		t.Errorf("syntax error: %v", got)
	}
}

func errorSummaries(errs []*Error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, strconv.Itoa(e.Line)+" "+e.Field)
	}
	return out
}

func TestConfigErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "accounts.yaml", Line: 14, Field: "policy.max_key_age", Msg: `bad duration "9x" (use e.g. 90d, 36h)`},
			`accounts.yaml:14: policy.max_key_age: bad duration "9x" (use e.g. 90d, 36h)`},
		{Error{File: "a.yaml", Line: 2, Msg: "syntax"}, "a.yaml:2: syntax"},
		{Error{File: "a.yaml", Field: "x", Msg: "m"}, "a.yaml: x: m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseWarnings(t *testing.T) {
	c, err := Parse("accounts.yaml", lines(
		minimal,
		"  security_team: [sec@example.com]",
		"exclude_accounts:",
		"  - \"123456789012\"",
		"  - \"123456789012\"",
		"accounts:",
		"  - id: \"123456789012\"",
		"  - id: \"210987654321\"",
		"    policy: {max_key_age: 120d}",
		"policy:",
		"  unused_after: 60d",
		"report:",
		"  formats: [json, json]",
	))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, w := range c.Warnings {
		got[w.Field] = w.Line
	}
	want := map[string]int{
		"exclude_accounts[1]":            6,
		"accounts[0].id":                 8,
		"accounts[1].policy.max_key_age": 10,
		"policy.unused_after":            12,
		"report.formats[1]":              14,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings = %v, want fields/lines %v", c.Warnings, want)
	}
	for _, w := range c.Warnings {
		if w.Field == "accounts[0].id" && !strings.Contains(w.Msg, "exclude_accounts (line 5)") {
			t.Errorf("listed-and-excluded warning = %q", w.Msg)
		}
	}
	if !c.Excluded("123456789012") {
		t.Error("listed-and-excluded account is not excluded")
	}
}

func TestParseWarningsWithoutDiscovery(t *testing.T) {
	c, err := Parse("accounts.yaml", lines(
		minimal,
		"  digest: false",
		"organization:",
		"  discovery: false",
		"  include_ous: [r-ab12]",
		"  include_management_account: true",
		"accounts:",
		"  - id: \"123456789012\"",
	))
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, w := range c.Warnings {
		fields = append(fields, w.Field)
	}
	want := []string{"organization.include_ous", "organization.include_management_account"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("warnings = %v, want %v", c.Warnings, want)
	}
}

func TestAccountIDsKeepTheirDigits(t *testing.T) {
	// Unquoted, 000000000001 is the YAML integer 1 and 012345670123 an octal
	// number; both must keep their 12 digits.
	c, err := Parse("accounts.yaml", lines(
		minimal,
		"exclude_accounts: [012345670123]",
		"accounts:",
		"  - id: 000000000001",
		"  - id: '000000000002'",
		"  - id: 123456789012",
	))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"012345670123"}; !reflect.DeepEqual(c.ExcludeAccounts, want) {
		t.Errorf("exclude_accounts = %v, want %v", c.ExcludeAccounts, want)
	}
	var ids []string
	for _, a := range c.Accounts {
		ids = append(ids, a.ID)
	}
	if want := []string{"000000000001", "000000000002", "123456789012"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("account ids = %v, want %v", ids, want)
	}
	if _, ok := c.Account("000000000001"); !ok {
		t.Error("Account(000000000001) not found")
	}
}

func TestPolicyLayers(t *testing.T) {
	c, err := Parse("accounts.yaml", lines(
		minimal,
		"policy:",
		"  max_key_age: 80d",
		"  hard_deadline: 30d",
		"  delete_foreign_inactive: true",
		"accounts:",
		"  - id: \"111111111111\"",
		"    policy:",
		"      max_key_age: 30d",
		"      delete_foreign_inactive: false",
		"      foreign_min_age: 1d12h",
		"  - id: \"222222222222\"",
	))
	if err != nil {
		t.Fatal(err)
	}
	top := rotation.DefaultPolicy()
	top.MaxKeyAge = 80 * day
	top.HardDeadline = 30 * day
	top.DeleteForeignInactive = true

	one := top
	one.MaxKeyAge = 30 * day
	one.DeleteForeignInactive = false
	one.ForeignMinAge = 36 * time.Hour

	tests := []struct {
		id   string
		want rotation.Policy
	}{
		{"111111111111", one},
		{"222222222222", top},
		{"333333333333", top},
	}
	for _, tt := range tests {
		if got := c.PolicyFor(tt.id); got != tt.want {
			t.Errorf("PolicyFor(%s) =\n %+v\nwant %+v", tt.id, got, tt.want)
		}
	}
}

func TestRoleFor(t *testing.T) {
	c, err := Parse("accounts.yaml", lines(
		minimal,
		"region: cn-north-1",
		"role:",
		"  name: Rotator",
		"  path: /security/",
		"  external_id: org-wide-42",
		"  session_name: kr",
		"  duration: 2h",
		"accounts:",
		"  - id: \"111111111111\"",
		"    role_name: LegacyRotator",
		"  - id: \"222222222222\"",
		"    external_id: special-43",
	))
	if err != nil {
		t.Fatal(err)
	}
	base := accounts.Role{Name: "Rotator", Path: "/security/", ExternalID: "org-wide-42", SessionName: "kr", Duration: 2 * time.Hour, Partition: "aws-cn"}
	one, two := base, base
	one.Name = "LegacyRotator"
	two.ExternalID = "special-43"
	tests := []struct {
		id   string
		want accounts.Role
		arn  string
	}{
		{"111111111111", one, "arn:aws-cn:iam::111111111111:role/security/LegacyRotator"},
		{"222222222222", two, "arn:aws-cn:iam::222222222222:role/security/Rotator"},
		{"333333333333", base, "arn:aws-cn:iam::333333333333:role/security/Rotator"},
	}
	for _, tt := range tests {
		got := c.RoleFor(tt.id)
		if got != tt.want {
			t.Errorf("RoleFor(%s) = %+v, want %+v", tt.id, got, tt.want)
		}
		if arn := got.ARN(tt.id); arn != tt.arn {
			t.Errorf("ARN(%s) = %s, want %s", tt.id, arn, tt.arn)
		}
	}
	if got := (accounts.Role{Name: "R"}).ARN("123456789012"); got != "arn:aws:iam::123456789012:role/R" {
		t.Errorf("zero accounts.Role ARN = %s", got)
	}
}

func TestUserExempt(t *testing.T) {
	c, err := Parse("accounts.yaml", lines(
		minimal,
		"exemptions:",
		"  users: [Break-Glass]",
		"accounts:",
		"  - id: \"111111111111\"",
		"    exempt_users: [ci-deployer]",
	))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		account, user string
		want          bool
	}{
		{"111111111111", "break-glass", true},
		{"999999999999", "BREAK-GLASS", true},
		{"111111111111", "ci-deployer", true},
		{"999999999999", "ci-deployer", false},
		{"111111111111", "alice", false},
	}
	for _, tt := range tests {
		if got := c.UserExempt(tt.account, tt.user); got != tt.want {
			t.Errorf("UserExempt(%s, %s) = %v, want %v", tt.account, tt.user, got, tt.want)
		}
	}
}

func TestTemplatesAndTags(t *testing.T) {
	c, err := Parse("accounts.yaml", lines(
		minimal,
		"  address_template: \"{{.UserName}}@example.com\"",
		"secrets:",
		"  name_template: \"rotated/{{.AccountName}}/{{.UserName}}\"",
		"exemptions:",
		"  tag: {key: Exempt, value: \"\"}",
	))
	if err != nil {
		t.Fatal(err)
	}
	d := TemplateData{AccountID: "123456789012", AccountName: "payments-prod", UserName: "alice"}
	if got, err := c.Secrets.SecretName(d); err != nil || got != "rotated/payments-prod/alice" {
		t.Errorf("SecretName = %q, %v", got, err)
	}
	if got, err := c.Notifications.Address(d); err != nil || got != "alice@example.com" {
		t.Errorf("Address = %q, %v", got, err)
	}
	if got, err := (NotificationsConfig{}).Address(d); err != nil || got != "" {
		t.Errorf("Address without template = %q, %v", got, err)
	}
	tag := c.RotationExemptions().Tag
	// IAM tag keys are case-insensitive, so the exemption tag is too.
	if !tag.Matches("Exempt", "anything") || !tag.Matches("exempt", "x") || tag.Matches("Exempted", "x") {
		t.Errorf("TagMatch %+v with empty value", tag)
	}
	def := defaultConfig().RotationExemptions().Tag
	if !def.Matches("keyrotor:exempt", "true") || !def.Matches("Keyrotor:Exempt", "True") || def.Matches("keyrotor:exempt", "false") {
		t.Errorf("TagMatch %+v", def)
	}
}

func TestReportS3Location(t *testing.T) {
	tests := []struct {
		s3, bucket, prefix string
		ok                 bool
	}{
		{"", "", "", false},
		{"s3://reports-bucket", "reports-bucket", "", true},
		{"s3://reports-bucket/keyrotor/daily", "reports-bucket", "keyrotor/daily", true},
	}
	for _, tt := range tests {
		b, p, ok := ReportConfig{S3: tt.s3}.S3Location()
		if b != tt.bucket || p != tt.prefix || ok != tt.ok {
			t.Errorf("S3Location(%q) = %q, %q, %v", tt.s3, b, p, ok)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}
