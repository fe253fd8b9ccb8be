package awssim

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
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

// ---- security fields ----

// Scenario fields for what security tests need: identity policies on users
// and roles, extra roles, customer managed policies, KMS keys and the root
// user's access keys. Build applies them after the accounts' users, so
// policies can name any principal of the scenario.

// PolicyDocument is an IAM policy document in a scenario: either a JSON
// string or the document written as YAML, which is kept as JSON.
type PolicyDocument string

// UnmarshalYAML reads a JSON string or a YAML mapping.
func (p *PolicyDocument) UnmarshalYAML(node ast.Node) error {
	if node.Type() == ast.StringType {
		*p = PolicyDocument(node.GetToken().Value)
		return nil
	}
	var v any
	if err := yaml.NodeToValue(node, &v); err != nil {
		return &yaml.SyntaxError{Message: err.Error(), Token: node.GetToken()}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return &yaml.SyntaxError{Message: "a policy document must be a JSON string or a mapping: " + err.Error(), Token: node.GetToken()}
	}
	*p = PolicyDocument(b)
	return nil
}

// MarshalYAML writes the document as its JSON text.
func (p PolicyDocument) MarshalYAML() (any, error) { return string(p), nil }

// ScenarioExtraRole is a role besides the rotation role, such as a
// break-glass or an attacker's role.
type ScenarioExtraRole struct {
	// Name and Path are the role's (default path "/").
	Name string `yaml:"name"`
	Path string `yaml:"path,omitempty"`
	// Trusted are the principal ARNs or account IDs that may assume it
	// (default: the security account).
	Trusted []string `yaml:"trusted,omitempty"`
	// ExternalID, when set, must be presented by AssumeRole.
	ExternalID string `yaml:"external_id,omitempty"`
	// Policies and ManagedPolicies are its identity policies.
	Policies        []PolicyDocument `yaml:"policies,omitempty"`
	ManagedPolicies []string         `yaml:"managed_policies,omitempty"`
}

// ScenarioManagedPolicy is a customer managed policy of an account.
type ScenarioManagedPolicy struct {
	Name     string         `yaml:"name"`
	Document PolicyDocument `yaml:"document"`
}

// ScenarioKMSKey is a customer managed KMS key.
type ScenarioKMSKey struct {
	// ID is the key ID (default generated from the scenario's seed).
	ID string `yaml:"id,omitempty"`
	// Aliases name the key, like alias/keyrotor.
	Aliases []string `yaml:"aliases,omitempty"`
	// Region is the key's region (default the scenario's SES region).
	Region      string `yaml:"region,omitempty"`
	Description string `yaml:"description,omitempty"`
	// Policy is the key policy (default: the account root, so identity
	// policies decide).
	Policy PolicyDocument `yaml:"policy,omitempty"`
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
