package awssim

import (
	"sort"
	"strings"
	"time"
)

// The simulated world's state: the organization, its accounts and
// everything in them. These types carry no behaviour beyond small lookups;
// the seeding methods (seed.go) fill them, and the services act on them
// with the Sim's lock held.

// Organization is the simulated AWS Organization.
type Organization struct {
	ID                string
	ARN               string
	ManagementAccount string
	RootID            string
	// OUs by ID; the root is not an OU.
	OUs map[string]*OU
	// DelegatedAdmins may call the Organizations read APIs besides the
	// management account.
	DelegatedAdmins map[string]bool
}

// OU is an organizational unit.
type OU struct {
	ID, ARN, Name string
	ParentID      string
}

// Account status values, as Organizations reports them.
const (
	StatusActive    = "ACTIVE"
	StatusSuspended = "SUSPENDED"
)

// Account is one simulated AWS account and everything in it.
type Account struct {
	ID, Name, Email string
	Status          string
	ParentID        string
	JoinedAt        time.Time
	Aliases         []string

	users     map[string]*User
	roles     map[string]*Role
	groups    map[string]*Group
	secrets   map[string]*Secret // by region + "\x00" + name
	ses       map[string]*EmailIdentity
	credRep   *credentialReport
	iamx      *accountIAM
	userOrder []string // user names in creation order, kept sorted on demand
}

// User is an IAM user.
type User struct {
	Name, ID, Path, ARN string
	Created             time.Time
	Tags                []Tag
	Groups              []string
	Keys                []*AccessKey
	PasswordEnabled     bool
}

// IAM quotas on users the simulator enforces, as AWS does.
const (
	maxKeysPerUser = 2
	maxTagsPerUser = 50
)

// Tag is an IAM or Secrets Manager tag.
type Tag struct{ Key, Value string }

// Group is an IAM group.
type Group struct {
	Name, ID, Path, ARN string
	Created             time.Time
}

// AccessKey is an IAM user's access key. Its secret lives only in the
// simulator's credential table and in the CreateAccessKey response.
type AccessKey struct {
	ID          string
	Status      string // Active or Inactive
	Created     time.Time
	LastUsed    *time.Time
	LastService string
	LastRegion  string
	user        *User
	account     *Account
}

// Role is an IAM role that AssumeRole can target.
type Role struct {
	Name, Path, ARN, ID string
	Created             time.Time
	// TrustedPrincipals are the principal ARNs (or 12-digit account IDs,
	// meaning that account's root, i.e. any principal in it) allowed to
	// assume the role.
	TrustedPrincipals []string
	// ExternalID, when set, must be presented by AssumeRole.
	ExternalID string
	// TrustOrgID, when set, requires the caller's account to be in this
	// organization (aws:PrincipalOrgID).
	TrustOrgID string
	// AllowedActions, when non-nil, is the allow-list of "service:Action"
	// patterns (with * wildcards) for sessions of this role; anything else
	// is AccessDenied. Nil allows everything.
	AllowedActions []string
	// ResourcePrefixes narrows actions to resources: action pattern ->
	// allowed resource ARN patterns (with * wildcards).
	ResourcePrefixes map[string][]string
	// MaxSessionDuration caps DurationSeconds (default 1h).
	MaxSessionDuration time.Duration
}

// Secret is a Secrets Manager secret.
type Secret struct {
	Name, ARN, Region string
	KMSKeyID          string
	Description       string
	Created           time.Time
	LastChanged       time.Time
	Deleted           *time.Time
	Tags              []Tag
	Policy            string
	Versions          []*SecretVersion

	policyDoc *policy // Policy, parsed
}

// SecretVersion is one version of a secret's value.
type SecretVersion struct {
	ID      string
	String  string
	Binary  []byte
	Stages  []string
	Created time.Time
}

// EmailIdentity is an SES identity (an address or a domain).
type EmailIdentity struct {
	Name     string
	Verified bool
}

// Email is a message SES accepted, as kept in the outbox.
type Email struct {
	AccountID        string
	Region           string
	MessageID        string
	From             string
	To, Cc, Bcc      []string
	ReplyTo          []string
	Subject          string
	Text, HTML       string
	Raw              []byte
	ConfigurationSet string
	Sent             time.Time
}

// Credential kinds.
const (
	CredRoot    = "root"
	CredUser    = "user"
	CredSession = "session"
)

// Credential is anything that can sign a request: an account root key, an
// IAM user's access key, or an STS session.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	AccountID       string
	// PrincipalARN is the caller identity's ARN.
	PrincipalARN string
	Kind         string
	// RoleName is set for sessions: the role they were issued for.
	RoleName string
	// Expires is set for sessions.
	Expires time.Time
	key     *AccessKey
}

// Credentials is a seeded credential as handed to tests.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// accountIAM is what an account holds besides its users, roles and groups:
// identity policies, customer managed policies, KMS keys and the root
// user's access keys. It is created on first use, so accounts that use
// none of these cost nothing.
type accountIAM struct {
	// entities holds the identity policies of users, roles and groups by
	// "user/NAME", "role/NAME" or "group/NAME". An entry, even an empty
	// one, makes the principal strict.
	entities map[string]*entityPolicies
	// managed are the account's customer managed policies, by ARN.
	managed map[string]*managedPolicy
	// kms holds the account's KMS keys (kms_keys.go).
	kms []*kmsKey
	// root holds the root user's access keys in Keys. It is no IAM user:
	// it is never in the account's user table, so ListUsers and the user
	// calls never see it.
	root *User
}

// entityPolicies are one user's, role's or group's identity policies.
type entityPolicies struct {
	inline   []namedPolicy
	attached []string // managed policy ARNs
}

type namedPolicy struct {
	name, text string
	doc        *policy
}

// managedPolicy is a customer managed policy, or one of the AWS managed
// policies the simulator knows (awsManagedPolicies).
type managedPolicy struct {
	name, arn, id, path, text string
	doc                       *policy
	created                   time.Time
	awsManaged                bool
}

// kmsKey is a customer managed KMS key.
type kmsKey struct {
	id, arn, region, account string
	aliases                  []string // "alias/NAME"
	policyText               string
	policy                   *policy
	description              string
	created                  time.Time
	tags                     []Tag
	// implicit marks a key of an account without keys, standing for
	// whatever KmsKeyId named.
	implicit bool
	// awsManaged marks aws/secretsmanager, the key Secrets Manager uses by
	// default; using it needs no permission.
	awsManaged bool
	// disabled is set by DisableKey: the key encrypts and decrypts nothing
	// until EnableKey.
	disabled bool
}

// credReportMaxAge is how long IAM serves a generated credential report
// before GenerateCredentialReport starts a new one.
const credReportMaxAge = 4 * time.Hour

// credentialReport is an account's IAM credential report: a snapshot taken
// when generation started, so later key changes do not show in it until a
// new report is generated.
type credentialReport struct {
	generated time.Time
	// readyAt is when generation completes (generated + the simulator's
	// credential report delay).
	readyAt time.Time
	content []byte
}

// stale tells whether the report is old enough that generating again
// starts a new one.
func (c *credentialReport) stale(now time.Time) bool {
	return !now.Before(c.generated.Add(credReportMaxAge))
}

// ready tells whether generation has completed.
func (c *credentialReport) ready(now time.Time) bool { return !now.Before(c.readyAt) }

// tagIndex finds a tag by key; IAM tag keys are case-insensitive.
func tagIndex(tags []Tag, key string) int {
	for i, t := range tags {
		if strings.EqualFold(t.Key, key) {
			return i
		}
	}
	return -1
}

// sortedUsersLocked returns the account's user names in alphabetical order
// (the order AWS lists them in). It sorts userOrder in place and only when
// needed, so a list call costs a binary search, not a sort.
func (a *Account) sortedUsersLocked() []string {
	if len(a.userOrder) != len(a.users) {
		a.userOrder = a.userOrder[:0]
		for n := range a.users {
			a.userOrder = append(a.userOrder, n)
		}
	}
	if !sort.StringsAreSorted(a.userOrder) {
		sort.Strings(a.userOrder)
	}
	return a.userOrder
}

// keyAttached tells whether a key is still on its user: a deleted key's
// credential stays in the simulator's table, so authentication asks.
func keyAttached(k *AccessKey) bool {
	for _, kk := range k.user.Keys {
		if kk == k {
			return true
		}
	}
	return false
}
