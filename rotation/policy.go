package rotation

import (
	"errors"
	"strings"
	"time"
)

// Policy is the rotation policy in force for one account. It is plain data so
// that the planner can be a pure function of it; package config builds it
// from accounts.yaml.
type Policy struct {
	// MaxKeyAge is the age at which an active key is stale and a new key is
	// issued (CIS 1.14: 90 days).
	MaxKeyAge time.Duration
	// UnusedAfter is how long an active key may go without use before it is
	// reported as unused (CIS 1.12: 45 days).
	UnusedAfter time.Duration
	// DeactivateAfter is the grace period between issuing the new key and
	// deactivating the old one.
	DeactivateAfter time.Duration
	// DeleteAfter is the grace period between keyrotor deactivating the old
	// key and deleting it, measured from the recorded deactivation time.
	DeleteAfter time.Duration
	// HardDeadline, when non-zero, is the time after issue at which the old
	// key is deactivated even if it is still in use. Zero means never.
	HardDeadline time.Duration
	// DeleteForeignInactive allows deleting inactive keys that keyrotor did
	// not deactivate itself, when they meet the two conditions below.
	DeleteForeignInactive bool
	// ForeignMinAge is the minimum key age for a foreign inactive key to be
	// deleted.
	ForeignMinAge time.Duration
	// ForeignUnusedFor is how long a foreign inactive key must have gone
	// unused before it is deleted.
	ForeignUnusedFor time.Duration
	// Notices are the owner notices the planner plans beyond a rotation's
	// own steps. The zero value plans none.
	Notices NoticePolicy
}

// MaxDueSoon is how many due-soon notices a key may get before it becomes
// due.
const MaxDueSoon = 4

// NoticePolicy says which notices beyond the steps of a rotation the
// planner plans: one to the owner of a held key per hold reason, and
// notices before a key becomes due. Package config turns them on with
// notifications.enabled and notifications.due_soon.
type NoticePolicy struct {
	// Holds mails a held key's owner, once per hold reason code (the
	// reminder of old_key_in_use is that hold's notice).
	Holds bool
	// DueSoon are how long before a key reaches MaxKeyAge its owner is
	// told, longest first; zero entries are unused. An array rather than a
	// slice keeps Policy comparable plain data.
	DueSoon [MaxDueSoon]time.Duration
}

// DefaultPolicy returns the CIS-aligned defaults documented in accounts.yaml.
func DefaultPolicy() Policy {
	const day = 24 * time.Hour
	return Policy{
		MaxKeyAge:        90 * day,
		UnusedAfter:      45 * day,
		DeactivateAfter:  7 * day,
		DeleteAfter:      7 * day,
		ForeignMinAge:    90 * day,
		ForeignUnusedFor: 90 * day,
	}
}

// Exemptions name the users keyrotor reports but never changes, beyond the
// per-account lists a target carries.
type Exemptions struct {
	// Tag exempts users carrying this IAM tag.
	Tag TagMatch
	// Groups exempts members of these IAM groups, in every account.
	Groups []string
	// Users exempts these IAM user names in every account.
	Users []string
}

// TagMatch matches an IAM tag by key and, unless Value is empty, value.
type TagMatch struct {
	Key   string // tag key, matched ignoring case
	Value string // tag value, matched ignoring case; empty matches any value
}

// Matches reports whether a tag with this key and value satisfies t. IAM
// compares tag keys case-insensitively (a user tagged Keyrotor:Exempt
// carries the tag keyrotor:exempt), so the key is compared that way. The
// value is too: for an exemption, "True" meaning anything but true would
// rotate a break-glass user by surprise, and erring that way is the unsafe
// side.
func (t TagMatch) Matches(key, value string) bool {
	return t.Key != "" && strings.EqualFold(key, t.Key) && (t.Value == "" || strings.EqualFold(value, t.Value))
}

// SecretSettings say where and how the secrets of new keys are stored.
type SecretSettings struct {
	// Region is the Secrets Manager region.
	Region string
	// KMSKeyID encrypts newly created secrets; "" uses the account's
	// aws/secretsmanager key.
	KMSKeyID string
	// UserReadPolicy lets the key's IAM user read its own secret through
	// the secret's resource policy (which denies everyone else in any case).
	UserReadPolicy bool
	// BreakGlass are principal ARNs (patterns with *) excepted from the
	// denials of every secret's resource policy, for recovery.
	BreakGlass []string
	// Name gives the secret name of a user in an account (from the
	// configured template); it must give every user a name of their own.
	Name func(accountID, accountName, userName string) (string, error)
}

// SecretName renders the secret name of one user, failing when no name
// function is configured.
func (s SecretSettings) SecretName(accountID, accountName, userName string) (string, error) {
	if s.Name == nil {
		return "", errors.New("no secret name template configured")
	}
	return s.Name(accountID, accountName, userName)
}
