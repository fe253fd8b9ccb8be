// Package awssim is a wire-level emulator of the AWS APIs keyrotor calls:
// IAM and STS (query/XML), Organizations and Secrets Manager (JSON 1.1) and
// SES v2 (REST-JSON). Tests point the stock aws-sdk-go-v2 clients at it over
// HTTP, so serializers, paginators, typed errors and the retryer run exactly
// as they do against AWS.
//
// A Sim holds the whole simulated world under one lock: the organization, its
// accounts, their IAM users and keys, roles, secrets and mail identities.
// Which account a request is for comes from the access key in its SigV4
// Authorization header, so credentials handed out by AssumeRole or
// CreateAccessKey are real credentials here.
package awssim

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultRegion is the region the simulator reports when a request names none.
const DefaultRegion = "us-east-1"

// Sim is the simulated AWS world. Create it with New; it is safe for
// concurrent use, and it is an http.Handler.
type Sim struct {
	mu       sync.Mutex
	rngMu    sync.Mutex
	rng      *rand.Rand
	org      *Organization
	accounts map[string]*Account
	creds    map[string]*Credential
	outbox   []Email

	clock    *Clock
	ctl      *controls
	pageSize int

	// CredentialReportDelay is how long a generated credential report stays
	// in progress before it completes. Zero completes it at once.
	credReportDelay time.Duration
}

// Option configures a Sim.
type Option func(*Sim)

// WithSeed makes generated IDs and secrets reproducible.
func WithSeed(seed uint64) Option {
	return func(s *Sim) { s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// WithClock sets the simulator's clock (for example one shared with a test).
func WithClock(c *Clock) Option { return func(s *Sim) { s.clock = c } }

// WithPageSize sets the default page size of every list call, so tests can
// force many pages. A request's own MaxItems/MaxResults still wins when smaller.
func WithPageSize(n int) Option { return func(s *Sim) { s.pageSize = n } }

// WithCredentialReportDelay keeps generated credential reports in progress for d.
func WithCredentialReportDelay(d time.Duration) Option {
	return func(s *Sim) { s.credReportDelay = d }
}

// New returns an empty simulator. Call CreateOrganization and the other
// seeding methods to populate it.
func New(opts ...Option) *Sim {
	s := &Sim{
		rng:      rand.New(rand.NewPCG(1, 2)),
		accounts: map[string]*Account{},
		creds:    map[string]*Credential{},
		clock:    NewClock(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)),
		ctl:      newControls(),
		pageSize: 100,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Clock returns the simulator's clock. Keys, reports, secrets and mail take
// their dates from it.
func (s *Sim) Clock() *Clock { return s.clock }

// Now is shorthand for s.Clock().Now().
func (s *Sim) Now() time.Time { return s.clock.Now() }

// PageSize returns the default page size.
func (s *Sim) PageSize() int { return s.pageSize }

// Clock is a settable clock shared by the simulator and tests.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t.UTC()} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.UTC()
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

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

// ---- seeding ----

// CreateOrganization creates the organization with its management account.
func (s *Sim) CreateOrganization(mgmtAccountID, mgmtName, mgmtEmail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	orgID := "o-" + s.randLower(10)
	rootID := "r-" + s.randLower(4)
	s.org = &Organization{
		ID:                orgID,
		ARN:               fmt.Sprintf("arn:aws:organizations::%s:organization/%s", mgmtAccountID, orgID),
		ManagementAccount: mgmtAccountID,
		RootID:            rootID,
		OUs:               map[string]*OU{},
		DelegatedAdmins:   map[string]bool{},
	}
	s.addAccountLocked(AccountSpec{ID: mgmtAccountID, Name: mgmtName, Email: mgmtEmail, ParentID: rootID})
}

// Org returns a copy of the organization's identifiers (nil if none).
func (s *Sim) Org() *Organization {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.org == nil {
		return nil
	}
	o := *s.org
	return &o
}

// AddDelegatedAdmin lets accountID call the Organizations read APIs.
func (s *Sim) AddDelegatedAdmin(accountID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.org.DelegatedAdmins[accountID] = true
}

// AddOU creates an OU under parentID (the root or another OU) and returns its ID.
func (s *Sim) AddOU(parentID, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("ou-%s-%s", strings.TrimPrefix(s.org.RootID, "r-"), s.randLower(8))
	s.org.OUs[id] = &OU{
		ID: id, Name: name, ParentID: parentID,
		ARN: fmt.Sprintf("arn:aws:organizations::%s:ou/%s/%s", s.org.ManagementAccount, s.org.ID, id),
	}
	return id
}

// AccountSpec describes an account to seed.
type AccountSpec struct {
	ID, Name, Email string
	// ParentID is the root or OU holding the account; empty means the root.
	ParentID string
	// Status is ACTIVE (default) or SUSPENDED.
	Status  string
	Aliases []string
}

// AddAccount adds a member account to the organization.
func (s *Sim) AddAccount(spec AccountSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addAccountLocked(spec)
}

// AddStandaloneAccount adds an account that is not in the organization
// (for tests of explicit account targets and foreign principals).
func (s *Sim) AddStandaloneAccount(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[id] = newAccount(AccountSpec{ID: id, Name: name, Status: StatusActive}, s.clock.Now())
}

func newAccount(spec AccountSpec, now time.Time) *Account {
	if spec.Status == "" {
		spec.Status = StatusActive
	}
	return &Account{
		ID: spec.ID, Name: spec.Name, Email: spec.Email, Status: spec.Status,
		ParentID: spec.ParentID, JoinedAt: now, Aliases: spec.Aliases,
		users: map[string]*User{}, roles: map[string]*Role{}, groups: map[string]*Group{},
		secrets: map[string]*Secret{}, ses: map[string]*EmailIdentity{},
	}
}

func (s *Sim) addAccountLocked(spec AccountSpec) {
	if spec.ParentID == "" && s.org != nil {
		spec.ParentID = s.org.RootID
	}
	if spec.Email == "" {
		spec.Email = fmt.Sprintf("aws+%s@example.com", spec.ID)
	}
	s.accounts[spec.ID] = newAccount(spec, s.clock.Now())
}

// SetAccountStatus changes an account's status (ACTIVE or SUSPENDED).
func (s *Sim) SetAccountStatus(accountID, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAccount(accountID).Status = status
}

// AccountIDs returns every account ID, sorted.
func (s *Sim) AccountIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.accounts))
	for id := range s.accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (s *Sim) mustAccount(id string) *Account {
	a, ok := s.accounts[id]
	if !ok {
		panic(fmt.Sprintf("awssim: no account %s", id))
	}
	return a
}

// RoleSpec describes a role to seed. See Role for the fields' meaning.
type RoleSpec struct {
	Name, Path         string
	TrustedPrincipals  []string
	ExternalID         string
	TrustOrgID         string
	AllowedActions     []string
	ResourcePrefixes   map[string][]string
	MaxSessionDuration time.Duration
}

// AddRole creates a role in accountID.
func (s *Sim) AddRole(accountID string, spec RoleSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(accountID)
	if spec.Path == "" {
		spec.Path = "/"
	}
	if spec.MaxSessionDuration == 0 {
		spec.MaxSessionDuration = time.Hour
	}
	a.roles[spec.Name] = &Role{
		Name: spec.Name, Path: spec.Path, ID: "AROA" + s.randUpper(17),
		ARN:               fmt.Sprintf("arn:aws:iam::%s:role%s%s", accountID, spec.Path, spec.Name),
		Created:           s.clock.Now(),
		TrustedPrincipals: spec.TrustedPrincipals, ExternalID: spec.ExternalID, TrustOrgID: spec.TrustOrgID,
		AllowedActions: spec.AllowedActions, ResourcePrefixes: spec.ResourcePrefixes,
		MaxSessionDuration: spec.MaxSessionDuration,
	}
}

// SetRoleAllowedActions replaces a role's action allow-list (nil allows all).
func (s *Sim) SetRoleAllowedActions(accountID, role string, actions []string, resources map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustAccount(accountID).roles[role]
	if r == nil {
		panic(fmt.Sprintf("awssim: no role %s in %s", role, accountID))
	}
	r.AllowedActions = actions
	r.ResourcePrefixes = resources
}

// UserSpec describes an IAM user to seed.
type UserSpec struct {
	Name    string
	Path    string
	Created time.Time
	Tags    map[string]string
	Groups  []string
}

// AddUser creates an IAM user (and any groups it names).
func (s *Sim) AddUser(accountID string, spec UserSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(accountID)
	if spec.Path == "" {
		spec.Path = "/"
	}
	if spec.Created.IsZero() {
		spec.Created = s.clock.Now()
	}
	u := &User{
		Name: spec.Name, Path: spec.Path, ID: "AIDA" + s.randUpper(17), Created: spec.Created.UTC(),
		ARN: fmt.Sprintf("arn:aws:iam::%s:user%s%s", accountID, spec.Path, spec.Name),
	}
	keys := make([]string, 0, len(spec.Tags))
	for k := range spec.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// IAM user tag keys are case-insensitive: keys that differ only in
		// case are one tag, the last in sort order winning.
		if i := tagIndex(u.Tags, k); i >= 0 {
			u.Tags[i] = Tag{Key: k, Value: spec.Tags[k]}
			continue
		}
		u.Tags = append(u.Tags, Tag{Key: k, Value: spec.Tags[k]})
	}
	for _, g := range spec.Groups {
		s.addGroupLocked(a, g)
		u.Groups = append(u.Groups, g)
	}
	if _, exists := a.users[spec.Name]; !exists {
		a.userOrder = append(a.userOrder, spec.Name)
	}
	a.users[spec.Name] = u
}

// AddGroup creates an IAM group in accountID.
func (s *Sim) AddGroup(accountID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addGroupLocked(s.mustAccount(accountID), name)
}

func (s *Sim) addGroupLocked(a *Account, name string) {
	if _, ok := a.groups[name]; ok {
		return
	}
	a.groups[name] = &Group{
		Name: name, Path: "/", ID: "AGPA" + s.randUpper(17), Created: s.clock.Now(),
		ARN: fmt.Sprintf("arn:aws:iam::%s:group/%s", a.ID, name),
	}
}

// KeySpec describes an access key to seed.
type KeySpec struct {
	Created  time.Time
	Inactive bool
	LastUsed *time.Time
	Service  string
	Region   string
}

// AddAccessKey gives an existing user a key and returns its credentials,
// with which tests can sign requests as that user.
func (s *Sim) AddAccessKey(accountID, userName string, spec KeySpec) Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(accountID)
	u := a.users[userName]
	if u == nil {
		panic(fmt.Sprintf("awssim: no user %s in %s", userName, accountID))
	}
	if spec.Created.IsZero() {
		spec.Created = s.clock.Now()
	}
	k, c := s.newAccessKeyLocked(a, u, spec.Created)
	if spec.Inactive {
		k.Status = "Inactive"
	}
	if spec.LastUsed != nil {
		t := spec.LastUsed.UTC()
		k.LastUsed = &t
		k.LastService, k.LastRegion = spec.Service, spec.Region
		if k.LastService == "" {
			k.LastService = "s3"
		}
		if k.LastRegion == "" {
			k.LastRegion = DefaultRegion
		}
	}
	return Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
}

// newAccessKeyLocked creates a key for u and registers it as a credential.
func (s *Sim) newAccessKeyLocked(a *Account, u *User, created time.Time) (*AccessKey, *Credential) {
	k := &AccessKey{ID: "AKIA" + s.randUpper(16), Status: "Active", Created: created.UTC().Truncate(time.Second), user: u, account: a}
	u.Keys = append(u.Keys, k)
	c := &Credential{
		AccessKeyID: k.ID, SecretAccessKey: s.randSecret(), AccountID: a.ID,
		PrincipalARN: u.ARN, Kind: CredUser, key: k,
	}
	s.creds[k.ID] = c
	return k, c
}

// RootCredentials creates a root access key for accountID: the management
// account's credentials for demos, or a central account's for tests.
func (s *Sim) RootCredentials(accountID string) Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAccount(accountID)
	c := &Credential{
		AccessKeyID: "AKIA" + s.randUpper(16), SecretAccessKey: s.randSecret(), AccountID: accountID,
		PrincipalARN: fmt.Sprintf("arn:aws:iam::%s:root", accountID), Kind: CredRoot,
	}
	s.creds[c.AccessKeyID] = c
	return Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
}

// SessionCredentials issues STS-style session credentials for a role without
// going through AssumeRole (for tests that act as a central runner role).
func (s *Sim) SessionCredentials(accountID, roleName, sessionName string, d time.Duration) Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustAccount(accountID).roles[roleName]
	if r == nil {
		panic(fmt.Sprintf("awssim: no role %s in %s", roleName, accountID))
	}
	c := s.newSessionLocked(accountID, r, sessionName, s.clock.Now().Add(d))
	return Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
}

func (s *Sim) newSessionLocked(accountID string, r *Role, sessionName string, expires time.Time) *Credential {
	c := &Credential{
		AccessKeyID: "ASIA" + s.randUpper(16), SecretAccessKey: s.randSecret(),
		SessionToken: "FwoGZXIvYXdzE" + s.randSecret() + s.randSecret(),
		AccountID:    accountID, Kind: CredSession, RoleName: r.Name, Expires: expires,
		PrincipalARN: fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", accountID, r.Name, sessionName),
	}
	s.creds[c.AccessKeyID] = c
	return c
}

// VerifyEmailIdentity marks an SES identity (address or domain) verified in
// accountID and region.
func (s *Sim) VerifyEmailIdentity(accountID, region, identity string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(accountID)
	a.ses[region+"\x00"+strings.ToLower(identity)] = &EmailIdentity{Name: identity, Verified: true}
}

// ---- inspection for tests ----

// KeyInfo is a snapshot of one access key for assertions.
type KeyInfo struct {
	AccountID, User, ID, Status string
	Created                     time.Time
	LastUsed                    *time.Time
	LastService, LastRegion     string
}

// Keys returns a snapshot of every access key of accountID (all accounts
// when accountID is empty), ordered by account, user, creation.
func (s *Sim) Keys(accountID string) []KeyInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []KeyInfo
	ids := make([]string, 0, len(s.accounts))
	for id := range s.accounts {
		if accountID == "" || id == accountID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := s.accounts[id]
		for _, name := range sortedUserNames(a) {
			for _, k := range a.users[name].Keys {
				ki := KeyInfo{AccountID: id, User: name, ID: k.ID, Status: k.Status, Created: k.Created,
					LastService: k.LastService, LastRegion: k.LastRegion}
				if k.LastUsed != nil {
					t := *k.LastUsed
					ki.LastUsed = &t
				}
				out = append(out, ki)
			}
		}
	}
	return out
}

// UserTags returns a copy of a user's tags.
func (s *Sim) UserTags(accountID, userName string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.mustAccount(accountID).users[userName]
	if u == nil {
		return nil
	}
	m := make(map[string]string, len(u.Tags))
	for _, t := range u.Tags {
		m[t.Key] = t.Value
	}
	return m
}

// SecretValue returns the current (AWSCURRENT) string value of a secret.
func (s *Sim) SecretValue(accountID, region, name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.mustAccount(accountID).secrets[region+"\x00"+name]
	if sec == nil || sec.Deleted != nil {
		return "", false
	}
	for _, v := range sec.Versions {
		for _, st := range v.Stages {
			if st == "AWSCURRENT" {
				return v.String, true
			}
		}
	}
	return "", false
}

// IssuedSecrets returns every secret access key the simulator ever issued
// (seeded, CreateAccessKey, AssumeRole), so tests can prove none of them
// leaked into logs, reports or mail.
func (s *Sim) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.creds))
	for _, c := range s.creds {
		out = append(out, c.SecretAccessKey)
	}
	sort.Strings(out)
	return out
}

// CredentialsFor returns the credentials of an existing access key (for
// tests that sign as a user with a key the tool created).
func (s *Sim) CredentialsFor(accessKeyID string) (Credentials, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[accessKeyID]
	if !ok {
		return Credentials{}, false
	}
	return Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, true
}

// Outbox returns a copy of every message SES accepted.
func (s *Sim) Outbox() []Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Email(nil), s.outbox...)
}

func sortedUserNames(a *Account) []string {
	names := make([]string, 0, len(a.users))
	for n := range a.users {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ---- ids ----

func (s *Sim) randFrom(alphabet string, n int) string {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (s *Sim) randUpper(n int) string { return s.randFrom(upperAlnum, n) }
func (s *Sim) randLower(n int) string { return s.randFrom(lowerAlnum, n) }
func (s *Sim) randSecret() string     { return s.randFrom(secretChars, 40) }
func (s *Sim) requestID() string      { return s.randUUID() }
func (s *Sim) randHex(n int) string   { return s.randFrom("0123456789abcdef", n) }
func (s *Sim) randUUID() string {
	return s.randHex(8) + "-" + s.randHex(4) + "-" + s.randHex(4) + "-" + s.randHex(4) + "-" + s.randHex(12)
}
