package awssim

import (
	_ "embed"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Scenario describes a whole simulated organization: its accounts and OUs,
// the rotation role in each account, every IAM user with its access keys,
// and the SES identities mail can be sent from. Load one from YAML with
// ParseScenario or LoadScenario, make one with Generate or DemoScenario, and
// turn it into a running Sim with Build.
type Scenario struct {
	// Now is where the simulated clock starts; key ages and last uses are
	// measured back from it. Zero means the wall clock at the time Build
	// runs, so that a tool using its own clock sees the ages the scenario
	// describes.
	Now time.Time `yaml:"now,omitempty"`
	// Seed makes the simulator's generated IDs and secrets reproducible.
	Seed uint64 `yaml:"seed,omitempty"`
	// PageSize is the default page size of every list call (0: 100).
	PageSize int `yaml:"page_size,omitempty"`
	// Organization names the management and the security account.
	Organization ScenarioOrg `yaml:"organization"`
	// OUs is the tree of organizational units under the root.
	OUs []ScenarioOU `yaml:"ous,omitempty"`
	// Role is the rotation role created in every account whose Role mode
	// does not say otherwise.
	Role ScenarioRole `yaml:"role"`
	// Accounts are the member accounts besides management and security.
	Accounts []ScenarioAccount `yaml:"accounts,omitempty"`
	// SES lists the mail identities verified in every account.
	SES ScenarioSES `yaml:"ses,omitempty"`
}

// ScenarioOrg names the organization's two special accounts.
type ScenarioOrg struct {
	// ManagementAccount owns the organization and sits at the root; its OU
	// and Status must stay empty.
	ManagementAccount ScenarioAccount `yaml:"management_account"`
	// SecurityAccount is the delegated administrator from which keyrotor
	// runs: Build returns a root key of it as the central credentials, and
	// every rotation role trusts it.
	SecurityAccount ScenarioAccount `yaml:"security_account"`
}

// ScenarioOU is an organizational unit and the OUs nested in it.
type ScenarioOU struct {
	// Name is the OU's name, unique among its siblings, without "/".
	Name string `yaml:"name"`
	// Children are the OUs nested in this one.
	Children []ScenarioOU `yaml:"children,omitempty"`
}

// ScenarioRole is the rotation role's name, path and external ID.
type ScenarioRole struct {
	// Name is the role's name (default KeyrotorRotationRole).
	Name string `yaml:"name,omitempty"`
	// Path is the role's path (default "/").
	Path string `yaml:"path,omitempty"`
	// ExternalID, when set, must be presented by AssumeRole.
	ExternalID string `yaml:"external_id,omitempty"`
	// Policies and ManagedPolicies (AWS managed policy names or ARNs) are
	// the role's identity policies in every account; with any, its
	// sessions are evaluated strictly (see SetPrincipalPolicy).
	Policies        []PolicyDocument `yaml:"policies,omitempty"`
	ManagedPolicies []string         `yaml:"managed_policies,omitempty"`
}

// Role modes of an account: what becomes of the rotation role in it.
const (
	// RoleOK creates the role, trusting the security account.
	RoleOK = "ok"
	// RoleMissing creates no role, so AssumeRole is AccessDenied.
	RoleMissing = "missing"
	// RoleWrongTrust creates the role but trusts a principal the security
	// account's credentials are not (a retired runner role), so AssumeRole is
	// AccessDenied even though the role exists.
	RoleWrongTrust = "wrong_trust"
)

// scnWrongTrustRole is the principal a RoleWrongTrust role trusts instead of
// the security account: a role nobody holds credentials for.
const scnWrongTrustRole = "keyrotor-runner-retired"

// DefaultRoleName is the rotation role's name when a scenario names none.
const DefaultRoleName = "KeyrotorRotationRole"

// ExemptGroup is the IAM group that generated scenarios put break-glass
// users in; keyrotor is expected to be configured to leave its members alone.
const ExemptGroup = "BreakGlass"

// ExemptTag is the user tag (with value "true") that generated scenarios
// put on users keyrotor must not touch.
const ExemptTag = "keyrotor:exempt"

// ScenarioAccount is one AWS account of the scenario.
type ScenarioAccount struct {
	// ID is the 12-digit account ID, unique in the scenario.
	ID string `yaml:"id"`
	// Name is the account's name in Organizations.
	Name string `yaml:"name"`
	// Email is the account's email (default aws+<id>@example.com).
	Email string `yaml:"email,omitempty"`
	// OU is the path of OU names holding the account, like
	// "Workloads/Prod"; empty means the root.
	OU string `yaml:"ou,omitempty"`
	// Status is ACTIVE (default) or SUSPENDED.
	Status string `yaml:"status,omitempty"`
	// Role is the rotation role's mode here: ok (default), missing or
	// wrong_trust.
	Role string `yaml:"role,omitempty"`
	// Groups are IAM groups to create even if no user is in them.
	Groups []string `yaml:"groups,omitempty"`
	// Users are the account's IAM users, in creation order.
	Users []ScenarioUser `yaml:"users,omitempty"`
	// Generate adds generated users after the listed ones.
	Generate *ScenarioFill `yaml:"generate,omitempty"`
	// Roles are roles besides the rotation role.
	Roles []ScenarioExtraRole `yaml:"roles,omitempty"`
	// CustomerPolicies are customer managed policies that users and roles
	// of this account may name in managed_policies.
	CustomerPolicies []ScenarioManagedPolicy `yaml:"customer_policies,omitempty"`
	// KMSKeys are customer managed KMS keys; with any, KmsKeyIds must name
	// one of them.
	KMSKeys []ScenarioKMSKey `yaml:"kms_keys,omitempty"`
	// RootKeys are the root user's own access keys (at most two), as the
	// credential report shows them.
	RootKeys []ScenarioKey `yaml:"root_keys,omitempty"`
	// SecurityHub is enabled (default) or disabled: disabled turns Security
	// Hub off in every region of the account.
	SecurityHub string `yaml:"security_hub,omitempty"`
}

// ScenarioFill asks Build for generated users in an account, with the same
// spread of key ages and uses as Generate.
type ScenarioFill struct {
	// Users is how many users to add.
	Users int `yaml:"users"`
	// Seed picks the users; the account ID is mixed in, so accounts with the
	// same seed still get different users.
	Seed uint64 `yaml:"seed,omitempty"`
}

// ScenarioUser is an IAM user and its access keys.
type ScenarioUser struct {
	// Name is the user's name, unique in its account.
	Name string `yaml:"name"`
	// Path is the user's path (default "/").
	Path string `yaml:"path,omitempty"`
	// Tags are the user's tags, e.g. email: alice@example.com.
	Tags map[string]string `yaml:"tags,omitempty"`
	// Groups are the IAM groups the user is in (created as needed).
	Groups []string `yaml:"groups,omitempty"`
	// Keys are the user's access keys, at most two, oldest first.
	Keys []ScenarioKey `yaml:"keys,omitempty"`
	// Policies and ManagedPolicies are the user's identity policies: JSON
	// or YAML documents, and names of AWS managed or the account's
	// customer managed policies (or their ARNs). With any, the user is
	// evaluated strictly (see SetPrincipalPolicy).
	Policies        []PolicyDocument `yaml:"policies,omitempty"`
	ManagedPolicies []string         `yaml:"managed_policies,omitempty"`
}

// ScenarioKey is an access key. Its creation time is given either as an age
// or as an absolute time.
type ScenarioKey struct {
	// Age is how long before the scenario's Now the key was created.
	Age Duration `yaml:"age,omitempty"`
	// Created is the key's absolute creation time; set it instead of Age.
	Created time.Time `yaml:"created,omitempty"`
	// Status is Active (default) or Inactive.
	Status string `yaml:"status,omitempty"`
	// LastUsed is how long before Now the key was last used; nil means
	// never (in YAML: omitted, null or "never").
	LastUsed *Duration `yaml:"last_used,omitempty"`
	// Service is the last-used service (default s3).
	Service string `yaml:"service,omitempty"`
	// Region is the last-used region (default us-east-1).
	Region string `yaml:"region,omitempty"`
	// Usage is the key's CloudTrail history: calls made with it before now.
	Usage []ScenarioUsage `yaml:"usage,omitempty"`
}

// ScenarioUsage is a run of past calls made with a key from one client,
// seeded as CloudTrail events: Events calls, evenly spread over Over, the
// newest Last before now.
type ScenarioUsage struct {
	// SourceIP is the client's IP address.
	SourceIP string `yaml:"source_ip"`
	// UserAgent is the client's User-Agent header.
	UserAgent string `yaml:"user_agent"`
	// Service is the service called, like s3 (its events come from
	// s3.amazonaws.com).
	Service string `yaml:"service"`
	// Event is the operation called, like ListBuckets.
	Event string `yaml:"event"`
	// Region is where the calls were made (default us-east-1). IAM and
	// Organizations calls are recorded in us-east-1 whatever it says.
	Region string `yaml:"region,omitempty"`
	// Events is how many calls were made (1 to 1000).
	Events int `yaml:"events"`
	// Over is the span the calls are spread over, back from the newest.
	Over Duration `yaml:"over,omitempty"`
	// Last is how long before now the newest call was made; nil means the
	// key's last_used.
	Last *Duration `yaml:"last,omitempty"`
}

// Security Hub modes of an account.
const (
	SecurityHubEnabled  = "enabled"
	SecurityHubDisabled = "disabled"
)

// scnMaxUsageEvents bounds one usage entry, so a typo cannot exhaust memory.
const scnMaxUsageEvents = 1000

// ScenarioSES holds the SES identities verified in every account.
type ScenarioSES struct {
	// Verified are addresses and domains, verified in Region of every account.
	Verified []string `yaml:"verified,omitempty"`
	// Region is the SES region (default us-east-1). Build reports it as the
	// region to use.
	Region string `yaml:"region,omitempty"`
}

// Duration is a span of time written with an optional day count in front of
// a Go duration: "120d", "36h", "2d12h", "90m". Scenarios use it for key ages
// and last uses.
type Duration time.Duration

// Days returns a Duration of n days.
func Days(n int) Duration { return Duration(time.Duration(n) * 24 * time.Hour) }

// Ago returns a pointer to d, for ScenarioKey.LastUsed.
func Ago(d Duration) *Duration { return &d }

// scnNeverUsed is what "last_used: never" decodes to until ParseScenario turns
// it into a nil pointer: a Duration cannot nil the pointer that holds it.
const scnNeverUsed = Duration(math.MinInt64)

// String formats d as ParseDuration reads it back: "120d", "2d12h", "36m".
func (d Duration) String() string {
	td := time.Duration(d)
	days := td / (24 * time.Hour)
	if td < 0 || days == 0 {
		return scnTrimZeroUnits(td.String())
	}
	rest := td - days*24*time.Hour
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, scnTrimZeroUnits(rest.String()))
}

// scnTrimZeroUnits drops the zero minutes and seconds time.Duration.String
// writes after larger units ("12h0m0s" -> "12h").
func scnTrimZeroUnits(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ParseDuration reads "120d", "36h", "2d12h" or any Go duration; a number
// of days comes first. Negative spans are refused.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	var total time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil || n > scnMaxDays {
			return 0, fmt.Errorf("%q is not a duration like 120d, 36h or 2d12h", s)
		}
		total = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return Duration(total), nil
		}
	}
	if s == "0" {
		return Duration(total), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("%q is not a duration like 120d, 36h or 2d12h", s)
	}
	return Duration(total + d), nil
}

// scnMaxDays keeps day counts far from time.Duration's overflow (292 years).
const scnMaxDays = 100 * 366

// UnmarshalYAML reads a Duration, or "never" for a key that was never used.
// The error carries the node's position, which goccy/go-yaml does not add
// to errors from custom unmarshalers.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	v := node.GetToken().Value
	if v == "never" {
		*d = scnNeverUsed
		return nil
	}
	p, err := ParseDuration(v)
	if err != nil {
		return &yaml.SyntaxError{Message: err.Error(), Token: node.GetToken()}
	}
	*d = p
	return nil
}

// MarshalYAML writes d as ParseDuration reads it.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// LoadScenario reads and parses a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return ParseScenario(path, data)
}

// ParseScenario parses a scenario strictly: unknown keys, values of the
// wrong type and invalid values are errors naming file:line.
func ParseScenario(file string, data []byte) (*Scenario, error) {
	var sc Scenario
	if err := yaml.UnmarshalWithOptions(data, &sc, yaml.Strict()); err != nil {
		return nil, scnYAMLError(file, err)
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, scnYAMLError(file, err)
	}
	idx := scnIndexFile(f)
	if len(idx.errs) > 0 {
		return nil, scnFormatErrors(file, idx.errs, idx.lines)
	}
	sc.resolveNever()
	if errs := sc.validate(); len(errs) > 0 {
		return nil, scnFormatErrors(file, errs, idx.lines)
	}
	return &sc, nil
}

// scnYAMLError turns a goccy/go-yaml error into "file:line:col: message".
func scnYAMLError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return fmt.Errorf("%s:%d:%d: %s", file, p.Line, p.Column, ye.GetMessage())
	}
	return fmt.Errorf("%s: %w", file, err)
}

// scnFieldError is an invalid value, located by its YAML path ("$.accounts[2].ou").
type scnFieldError struct {
	path, msg string
}

// scnFileIndex maps YAML paths to lines and holds the errors found while
// walking the file.
type scnFileIndex struct {
	lines map[string]int
	errs  []scnFieldError
}

// scnTimestampPath matches the paths of the fields decoded as time.Time, whose
// bad values goccy/go-yaml silently decodes as the zero time.
var scnTimestampPath = regexp.MustCompile(`^\$\.now$|\.keys\[\d+\]\.created$`)

type scnIndexVisitor struct{ idx *scnFileIndex }

func (v scnIndexVisitor) Visit(n ast.Node) ast.Visitor {
	p := n.GetPath()
	if _, seen := v.idx.lines[p]; !seen && p != "" {
		v.idx.lines[p] = n.GetToken().Position.Line
	}
	if mv, ok := n.(*ast.MappingValueNode); ok && scnTimestampPath.MatchString(p) && mv.Value.Type() != ast.NullType {
		s := mv.Value.GetToken().Value
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			if _, err := time.Parse(time.DateOnly, s); err != nil {
				v.idx.errs = append(v.idx.errs, scnFieldError{p, fmt.Sprintf("%q is not an RFC 3339 time like 2026-11-26T06:00:00Z", s)})
			}
		}
	}
	return v
}

func scnIndexFile(f *ast.File) *scnFileIndex {
	idx := &scnFileIndex{lines: map[string]int{}}
	for _, d := range f.Docs {
		ast.Walk(scnIndexVisitor{idx}, d)
	}
	return idx
}

// scnFormatErrors reports every error with its line, found by walking up the
// path until a node exists (a missing field is reported at its parent).
func scnFormatErrors(file string, errs []scnFieldError, lines map[string]int) error {
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		line := 0
		for p := e.path; p != "" && line == 0; p = scnParentPath(p) {
			line = lines[p]
		}
		name := strings.TrimPrefix(strings.TrimPrefix(e.path, "$"), ".")
		switch {
		case file == "" && name == "":
			out = append(out, errors.New(e.msg))
		case file == "":
			out = append(out, fmt.Errorf("%s: %s", name, e.msg))
		case line == 0 && name == "":
			out = append(out, fmt.Errorf("%s: %s", file, e.msg))
		case line == 0:
			out = append(out, fmt.Errorf("%s: %s: %s", file, name, e.msg))
		case name == "":
			out = append(out, fmt.Errorf("%s:%d: %s", file, line, e.msg))
		default:
			out = append(out, fmt.Errorf("%s:%d: %s: %s", file, line, name, e.msg))
		}
	}
	return errors.Join(out...)
}

func scnParentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// resolveNever turns the "never" sentinel into the nil LastUsed it means.
func (sc *Scenario) resolveNever() {
	fix := func(a *ScenarioAccount) {
		for j := range a.RootKeys {
			if k := &a.RootKeys[j]; k.LastUsed != nil && *k.LastUsed == scnNeverUsed {
				k.LastUsed = nil
			}
		}
		for i := range a.Users {
			for j := range a.Users[i].Keys {
				if k := &a.Users[i].Keys[j]; k.LastUsed != nil && *k.LastUsed == scnNeverUsed {
					k.LastUsed = nil
				}
			}
		}
	}
	fix(&sc.Organization.ManagementAccount)
	fix(&sc.Organization.SecurityAccount)
	for i := range sc.Accounts {
		fix(&sc.Accounts[i])
	}
}

var (
	scnAccountIDRe  = regexp.MustCompile(`^\d{12}$`)
	scnIAMNameRe    = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	scnGroupNameRe  = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	scnIAMPathRe    = regexp.MustCompile(`^/([\x21-\x7e]{0,510}/)?$`)
	scnExternalIDRe = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	scnRegionRe     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
)

// scnMaxFillUsers bounds a generate section, so a typo cannot exhaust memory.
const scnMaxFillUsers = 100000

type scnValidator struct {
	errs []scnFieldError
	now  time.Time
}

func (v *scnValidator) add(path, format string, args ...any) {
	v.errs = append(v.errs, scnFieldError{path, fmt.Sprintf(format, args...)})
}

// validate checks every value and cross-reference, returning the errors
// with their YAML paths.
func (sc *Scenario) validate() []scnFieldError {
	v := &scnValidator{now: sc.Now}
	if sc.PageSize < 0 || sc.PageSize > 1000 {
		v.add("$.page_size", "must be between 1 and 1000 (0 for the default 100), got %d", sc.PageSize)
	}
	ous := map[string]bool{"": true}
	v.ous("$.ous", "", sc.OUs, ous)

	r := sc.Role
	if r.Name != "" && !scnIAMNameRe.MatchString(r.Name) {
		v.add("$.role.name", "%q is not a valid IAM role name", r.Name)
	}
	if r.Path != "" && !scnIAMPathRe.MatchString(r.Path) {
		v.add("$.role.path", "%q is not a valid IAM path: it must start and end with /", r.Path)
	}
	if r.ExternalID != "" && (len(r.ExternalID) < 2 || len(r.ExternalID) > 1224 || !scnExternalIDRe.MatchString(r.ExternalID)) {
		v.add("$.role.external_id", "%q is not a valid external ID (2-1224 characters of [\\w+=,.@:/-])", r.ExternalID)
	}
	if sc.SES.Region != "" && !scnRegionRe.MatchString(sc.SES.Region) {
		v.add("$.ses.region", "%q is not a region like us-east-1", sc.SES.Region)
	}
	for i, id := range sc.SES.Verified {
		if strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t\n") {
			v.add(fmt.Sprintf("$.ses.verified[%d]", i), "%q is not an email address or domain", id)
		}
	}

	ids := map[string]string{}
	mgmt, sec := &sc.Organization.ManagementAccount, &sc.Organization.SecurityAccount
	v.account("$.organization.management_account", mgmt, ous, ids)
	if mgmt.OU != "" {
		v.add("$.organization.management_account.ou", "the management account always sits at the root")
	}
	if mgmt.Status != "" && mgmt.Status != StatusActive {
		v.add("$.organization.management_account.status", "the management account must be ACTIVE")
	}
	v.account("$.organization.security_account", sec, ous, ids)
	if sec.Status != "" && sec.Status != StatusActive {
		v.add("$.organization.security_account.status", "the security account must be ACTIVE")
	}
	for i := range sc.Accounts {
		v.account(fmt.Sprintf("$.accounts[%d]", i), &sc.Accounts[i], ous, ids)
	}
	roleName := sc.Role.Name
	if roleName == "" {
		roleName = DefaultRoleName
	}
	v.identityPolicies("$.role", sc.Role.Policies, sc.Role.ManagedPolicies, nil)
	v.accountSecurity("$.organization.management_account", mgmt, roleName)
	v.accountSecurity("$.organization.security_account", sec, roleName)
	for i := range sc.Accounts {
		v.accountSecurity(fmt.Sprintf("$.accounts[%d]", i), &sc.Accounts[i], roleName)
	}
	return v.errs
}

func (v *scnValidator) ous(path, prefix string, list []ScenarioOU, seen map[string]bool) {
	for i, ou := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		full := ou.Name
		if prefix != "" {
			full = prefix + "/" + ou.Name
		}
		switch {
		case strings.TrimSpace(ou.Name) == "":
			v.add(p+".name", "an OU needs a name")
			continue
		case strings.Contains(ou.Name, "/") || len(ou.Name) > 128:
			v.add(p+".name", "%q is not a valid OU name (at most 128 characters, no /)", ou.Name)
			continue
		case seen[full]:
			v.add(p+".name", "OU %q is defined twice", full)
			continue
		}
		seen[full] = true
		v.ous(p+".children", full, ou.Children, seen)
	}
}

func (v *scnValidator) account(path string, a *ScenarioAccount, ous map[string]bool, ids map[string]string) {
	switch {
	case a.ID == "":
		v.add(path+".id", "an account needs an id")
	case !scnAccountIDRe.MatchString(a.ID):
		v.add(path+".id", "%q is not a 12-digit account ID", a.ID)
	case ids[a.ID] != "":
		v.add(path+".id", "account %s is already defined at %s", a.ID, strings.TrimPrefix(ids[a.ID], "$."))
	default:
		ids[a.ID] = path
	}
	if strings.TrimSpace(a.Name) == "" {
		v.add(path+".name", "an account needs a name")
	}
	if a.Email != "" && !strings.Contains(a.Email, "@") {
		v.add(path+".email", "%q is not an email address", a.Email)
	}
	if !ous[a.OU] {
		v.add(path+".ou", "no OU %q is defined under ous (write the path of names, like Workloads/Prod)", a.OU)
	}
	switch a.Status {
	case "", StatusActive, StatusSuspended:
	default:
		v.add(path+".status", "status must be ACTIVE or SUSPENDED, got %q", a.Status)
	}
	switch a.Role {
	case "", RoleOK, RoleMissing, RoleWrongTrust:
	default:
		v.add(path+".role", "role must be ok, missing or wrong_trust, got %q", a.Role)
	}
	for i, g := range a.Groups {
		if !scnGroupNameRe.MatchString(g) {
			v.add(fmt.Sprintf("%s.groups[%d]", path, i), "%q is not a valid IAM group name", g)
		}
	}
	switch a.SecurityHub {
	case "", SecurityHubEnabled, SecurityHubDisabled:
	default:
		v.add(path+".security_hub", "security_hub must be enabled or disabled, got %q", a.SecurityHub)
	}
	if f := a.Generate; f != nil && (f.Users < 0 || f.Users > scnMaxFillUsers) {
		v.add(path+".generate.users", "must be between 0 and %d, got %d", scnMaxFillUsers, f.Users)
	}
	names := map[string]bool{}
	for i := range a.Users {
		v.user(fmt.Sprintf("%s.users[%d]", path, i), &a.Users[i], names)
	}
}

func (v *scnValidator) user(path string, u *ScenarioUser, names map[string]bool) {
	switch {
	case !scnIAMNameRe.MatchString(u.Name):
		v.add(path+".name", "%q is not a valid IAM user name", u.Name)
	case names[u.Name]:
		v.add(path+".name", "user %q is defined twice in this account", u.Name)
	default:
		names[u.Name] = true
	}
	if u.Path != "" && !scnIAMPathRe.MatchString(u.Path) {
		v.add(path+".path", "%q is not a valid IAM path: it must start and end with /", u.Path)
	}
	if len(u.Tags) > 50 {
		v.add(path+".tags", "IAM allows at most 50 tags, got %d", len(u.Tags))
	}
	for k, val := range u.Tags {
		if k == "" || len(k) > 128 || len(val) > 256 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			v.add(path+".tags", "tag %q is invalid (key 1-128 characters not starting with aws:, value at most 256)", k)
		}
	}
	for i, g := range u.Groups {
		if !scnGroupNameRe.MatchString(g) {
			v.add(fmt.Sprintf("%s.groups[%d]", path, i), "%q is not a valid IAM group name", g)
		}
	}
	if len(u.Keys) > 2 {
		v.add(path+".keys", "IAM allows at most two access keys per user, got %d", len(u.Keys))
	}
	for i := range u.Keys {
		v.key(fmt.Sprintf("%s.keys[%d]", path, i), &u.Keys[i])
	}
}

func (v *scnValidator) key(path string, k *ScenarioKey) {
	switch {
	case k.Age == scnNeverUsed:
		v.add(path+".age", `"never" is only for last_used; give the key's age, like 120d`)
	case k.Age < 0:
		v.add(path+".age", "age must not be negative")
	}
	age := k.Age
	if !k.Created.IsZero() {
		if k.Age != 0 {
			v.add(path+".created", "give either age or created, not both")
		}
		if !v.now.IsZero() {
			if k.Created.After(v.now) {
				v.add(path+".created", "%s is after the scenario's now (%s)", ISO(k.Created), ISO(v.now))
			}
			age = Duration(v.now.Sub(k.Created))
		}
	}
	switch k.Status {
	case "", "Active", "Inactive":
	default:
		v.add(path+".status", "status must be Active or Inactive, got %q", k.Status)
	}
	if k.LastUsed != nil {
		switch {
		case *k.LastUsed < 0:
			v.add(path+".last_used", "last_used must not be negative")
		case *k.LastUsed > age && (k.Created.IsZero() || !v.now.IsZero()):
			v.add(path+".last_used", "the key was last used %s ago but created only %s ago", *k.LastUsed, age)
		}
	}
	if k.Region != "" && !scnRegionRe.MatchString(k.Region) {
		v.add(path+".region", "%q is not a region like eu-west-1", k.Region)
	}
	for i := range k.Usage {
		v.usage(fmt.Sprintf("%s.usage[%d]", path, i), &k.Usage[i], k, age)
	}
}

var (
	scnServiceRe   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	scnEventNameRe = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,127}$`)
)

// usage checks one usage entry of key k, whose age is age.
func (v *scnValidator) usage(path string, u *ScenarioUsage, k *ScenarioKey, age Duration) {
	if net.ParseIP(u.SourceIP) == nil {
		v.add(path+".source_ip", "%q is not an IP address", u.SourceIP)
	}
	if strings.TrimSpace(u.UserAgent) == "" || len(u.UserAgent) > 1024 {
		v.add(path+".user_agent", "a user agent of 1 to 1024 characters is needed")
	}
	if !scnServiceRe.MatchString(u.Service) {
		v.add(path+".service", "%q is not a service name like s3 or sts", u.Service)
	}
	if !scnEventNameRe.MatchString(u.Event) {
		v.add(path+".event", "%q is not an operation name like ListBuckets", u.Event)
	}
	if u.Region != "" && !scnRegionRe.MatchString(u.Region) {
		v.add(path+".region", "%q is not a region like eu-west-1", u.Region)
	}
	if u.Events < 1 || u.Events > scnMaxUsageEvents {
		v.add(path+".events", "must be between 1 and %d, got %d", scnMaxUsageEvents, u.Events)
	}
	if u.Over < 0 || u.Over == scnNeverUsed {
		v.add(path+".over", "over must be a span like 30d")
	}
	last := k.LastUsed
	if u.Last != nil {
		last = u.Last
		if *u.Last < 0 || *u.Last == scnNeverUsed {
			v.add(path+".last", "last must be a span like 2h")
			return
		}
	}
	switch {
	case last == nil:
		v.add(path, "the key was never used (no last_used), so it cannot have usage")
	case k.LastUsed != nil && *last < *k.LastUsed:
		v.add(path+".last", "the newest call (%s ago) would be after the key's last_used (%s ago)", *last, *k.LastUsed)
	case (k.Created.IsZero() || !v.now.IsZero()) && *last+u.Over > age:
		v.add(path+".over", "the oldest call (%s ago) would be before the key was created (%s ago)", *last+u.Over, age)
	}
}

// Seeded is what Build created that a test or a user needs to reach it.
type Seeded struct {
	// SecurityAccountID and ManagementAccountID are the two special accounts.
	SecurityAccountID, ManagementAccountID string
	// Central is a root access key of the security account: the credentials
	// keyrotor runs with.
	Central Credentials
	// RoleName, RolePath and ExternalID identify the rotation role.
	RoleName, RolePath, ExternalID string
	// Region is the scenario's SES region, the one to point clients at.
	Region string
	// RootID is the organization root's ID.
	RootID string
	// OUIDs maps each OU path ("Workloads/Prod") to its ID.
	OUIDs map[string]string
	// Accounts, Users and Keys count what was seeded, all accounts included.
	Accounts, Users, Keys int
}

// RoleARN returns the rotation role's ARN in accountID.
func (sd Seeded) RoleARN(accountID string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role%s%s", accountID, sd.RolePath, sd.RoleName)
}

// Build creates a Sim (seeded with sc.Seed, paging at sc.PageSize, its
// clock at sc.Now) and seeds the scenario into it. opts are applied after
// those, so they can override any of them; key ages are measured from the
// resulting clock.
func (sc *Scenario) Build(opts ...Option) (*Sim, Seeded, error) {
	if errs := sc.validate(); len(errs) > 0 {
		return nil, Seeded{}, fmt.Errorf("invalid scenario: %w", scnFormatErrors("", errs, nil))
	}
	now := sc.Now
	if now.IsZero() {
		now = time.Now().UTC().Truncate(time.Second)
	}
	base := []Option{WithSeed(sc.Seed), WithClock(NewClock(now))}
	if sc.PageSize > 0 {
		base = append(base, WithPageSize(sc.PageSize))
	}
	sim := New(append(base, opts...)...)
	now = sim.Now()

	mgmt, sec := sc.Organization.ManagementAccount, sc.Organization.SecurityAccount
	sd := Seeded{
		SecurityAccountID: sec.ID, ManagementAccountID: mgmt.ID,
		RoleName: sc.Role.Name, RolePath: sc.Role.Path, ExternalID: sc.Role.ExternalID,
		Region: sc.SES.Region, OUIDs: map[string]string{},
	}
	if sd.RoleName == "" {
		sd.RoleName = DefaultRoleName
	}
	if sd.RolePath == "" {
		sd.RolePath = "/"
	}
	if sd.Region == "" {
		sd.Region = DefaultRegion
	}

	sim.CreateOrganization(mgmt.ID, mgmt.Name, mgmt.Email)
	sd.RootID = sim.Org().RootID
	sd.OUIDs[""] = sd.RootID
	var addOUs func(parentID, prefix string, list []ScenarioOU)
	addOUs = func(parentID, prefix string, list []ScenarioOU) {
		for _, ou := range list {
			p := ou.Name
			if prefix != "" {
				p = prefix + "/" + ou.Name
			}
			id := sim.AddOU(parentID, ou.Name)
			sd.OUIDs[p] = id
			addOUs(id, p, ou.Children)
		}
	}
	addOUs(sd.RootID, "", sc.OUs)

	all := make([]ScenarioAccount, 0, len(sc.Accounts)+2)
	all = append(all, mgmt, sec)
	all = append(all, sc.Accounts...)
	for _, a := range all[1:] {
		sim.AddAccount(AccountSpec{ID: a.ID, Name: a.Name, Email: a.Email, ParentID: sd.OUIDs[a.OU], Status: a.Status})
	}
	sim.AddDelegatedAdmin(sec.ID)

	for _, a := range all {
		sd.Accounts++
		switch a.Role {
		case "", RoleOK:
			sim.AddRole(a.ID, RoleSpec{Name: sd.RoleName, Path: sd.RolePath, ExternalID: sd.ExternalID,
				TrustedPrincipals: []string{fmt.Sprintf("arn:aws:iam::%s:root", sec.ID)}})
		case RoleWrongTrust:
			sim.AddRole(a.ID, RoleSpec{Name: sd.RoleName, Path: sd.RolePath, ExternalID: sd.ExternalID,
				TrustedPrincipals: []string{fmt.Sprintf("arn:aws:iam::%s:role/%s", sec.ID, scnWrongTrustRole)}})
		}
		for _, g := range a.Groups {
			sim.AddGroup(a.ID, g)
		}
		users := a.Users
		if a.Generate != nil && a.Generate.Users > 0 {
			users = append(append([]ScenarioUser(nil), a.Users...), scnFillUsers(a)...)
		}
		for _, u := range users {
			scnSeedUser(sim, a.ID, u, now)
			sd.Users++
			sd.Keys += len(u.Keys)
		}
		if err := scnSeedSecurity(sim, sc, sd, a, users); err != nil {
			return nil, Seeded{}, fmt.Errorf("seed account %s: %w", a.ID, err)
		}
		for _, k := range a.RootKeys {
			sim.AddRootAccessKey(a.ID, scnKeySpec(k, now))
		}
		for _, id := range sc.SES.Verified {
			sim.VerifyEmailIdentity(a.ID, sd.Region, id)
		}
		if a.SecurityHub == SecurityHubDisabled {
			sim.SetSecurityHubEnabled(a.ID, "", false)
		}
	}
	sd.Central = sim.RootCredentials(sec.ID)
	return sim, sd, nil
}

// scnSeedUser creates one user and its keys. The user is as old as its oldest
// key, so that the credential report never shows a key older than its user.
func scnSeedUser(sim *Sim, accountID string, u ScenarioUser, now time.Time) {
	created := now
	keys := make([]KeySpec, len(u.Keys))
	for i, k := range u.Keys {
		ks := KeySpec{Created: k.Created, Inactive: k.Status == "Inactive", Service: k.Service, Region: k.Region}
		if ks.Created.IsZero() {
			ks.Created = now.Add(-time.Duration(k.Age))
		}
		if k.LastUsed != nil {
			t := now.Add(-time.Duration(*k.LastUsed))
			ks.LastUsed = &t
		}
		if ks.Created.Before(created) {
			created = ks.Created
		}
		keys[i] = ks
	}
	sim.AddUser(accountID, UserSpec{Name: u.Name, Path: u.Path, Created: created, Tags: u.Tags, Groups: u.Groups})
	for i, k := range keys {
		c := sim.AddAccessKey(accountID, u.Name, k)
		for _, use := range u.Keys[i].Usage {
			scnSeedUsage(sim, accountID, c.AccessKeyID, u.Keys[i], use, now)
		}
	}
}

// scnSeedUsage adds a usage entry's calls to the key's CloudTrail history.
func scnSeedUsage(sim *Sim, accountID, keyID string, k ScenarioKey, u ScenarioUsage, now time.Time) {
	last := time.Duration(*k.LastUsed)
	if u.Last != nil {
		last = time.Duration(*u.Last)
	}
	region := u.Region
	if region == "" || trailGlobal[u.Service] {
		region = DefaultRegion
	}
	step := time.Duration(0)
	if u.Events > 1 {
		step = time.Duration(u.Over) / time.Duration(u.Events)
	}
	for i := range u.Events {
		sim.AddTrailEvent(accountID, region, TrailEvent{
			Time:        now.Add(-last - time.Duration(i)*step),
			EventSource: u.Service + ".amazonaws.com", EventName: u.Event,
			AccessKeyID: keyID, SourceIP: u.SourceIP, UserAgent: u.UserAgent,
		})
	}
}

// scnFillUsers expands an account's generate section. The account ID is
// mixed into the seed so that equal seeds in two accounts differ.
func scnFillUsers(a ScenarioAccount) []ScenarioUser {
	h := fnv.New64a()
	h.Write([]byte(a.ID))
	r := rand.New(rand.NewPCG(a.Generate.Seed, h.Sum64()))
	taken := make(map[string]bool, len(a.Users)+a.Generate.Users)
	for _, u := range a.Users {
		taken[u.Name] = true
	}
	return genUsers(r, a.Generate.Users, taken)
}

//go:embed scenarios/demo.yaml
var scnDemoYAML []byte

// DemoScenario returns the built-in demo: an organization of 14 accounts in
// three OUs with about 200 users covering every case keyrotor handles. Its
// Now is zero, so Build starts the clock at the wall clock; set Now first
// for reproducible IDs and dates.
func DemoScenario() *Scenario {
	sc, err := ParseScenario("scenarios/demo.yaml", scnDemoYAML)
	if err != nil {
		// The file is embedded and tested; failing here is a build defect.
		panic(fmt.Sprintf("awssim: built-in demo scenario: %v", err))
	}
	return sc
}
