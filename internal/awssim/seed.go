package awssim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Seeding: the methods tests and scenarios use to build the simulated
// world before (or while) clients call it.

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
