// Package awssim is a wire-level emulator of the AWS APIs keyrotor calls:
// IAM and STS (query/XML), Organizations, Secrets Manager, KMS and
// CloudTrail (JSON 1.1), SES v2 and Security Hub (REST-JSON), and S3
// (REST-XML, path-style object calls). Tests point the stock aws-sdk-go-v2
// clients at it over HTTP, so serializers, paginators, typed errors and the
// retryer run exactly as they do against AWS.
//
// A Sim holds the whole simulated world under one lock: the organization, its
// accounts, their IAM users and keys, groups, roles and policies, secrets,
// KMS keys, mail identities, S3 buckets, CloudTrail events and Security Hub
// findings. Which account a request is for comes from the access key in its
// SigV4 Authorization header, so credentials handed out by AssumeRole or
// CreateAccessKey are real credentials here.
package awssim

import (
	"fmt"
	"math/rand/v2"
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

// ---- lookups ----

// mustAccount returns an account the caller knows exists (a seeding
// method's argument); a wrong ID is a defect of the test.
func (s *Sim) mustAccount(id string) *Account {
	a, ok := s.accounts[id]
	if !ok {
		panic(fmt.Sprintf("awssim: no account %s", id))
	}
	return a
}

// inOrgLocked tells whether an account is a member of the organization.
func (s *Sim) inOrgLocked(a *Account) bool {
	if s.org == nil {
		return false
	}
	if a.ID == s.org.ManagementAccount {
		return true
	}
	if a.ParentID == s.org.RootID {
		return true
	}
	_, ok := s.org.OUs[a.ParentID]
	return ok
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
