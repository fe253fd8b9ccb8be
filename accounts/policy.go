package accounts

import "time"

// Policy is the rotation policy in force for one account. It is plain data so
// that the planner in package rotation can be a pure function of it.
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
