package rotation

import (
	"slices"
	"time"
)

// Finding IDs, stable across versions: the JSON report and its consumers key
// on them.
const (
	// FindingStaleKey: an active key at least MaxKeyAge old.
	FindingStaleKey = "stale_key"
	// FindingUnusedKey: an active key not used for UnusedAfter (or never
	// used and created at least UnusedAfter ago).
	FindingUnusedKey = "unused_key"
	// FindingMultipleActiveKeys: one of a user's several active keys.
	FindingMultipleActiveKeys = "multiple_active_keys"
	// FindingStateTampered: the key's keyrotor state tag disagrees with the
	// evidence an insider cannot forge (see vocab.ReasonStateTampered):
	// someone wrote it who should not have, or keyrotor's own trail is
	// broken. Either way a human should look.
	FindingStateTampered = "state_tampered"
)

// findingControls maps each finding to the benchmark controls it evidences.
// The CIS AWS Foundations Benchmark renumbered its IAM section across
// versions, so every version range in use is named.
var findingControls = map[string][]string{
	FindingStaleKey:           {"CIS v1.4-v4.0 1.14", "CIS v5.0 1.13", "CIS v6.0 2.13", "Security Hub IAM.3"},
	FindingUnusedKey:          {"CIS v1.4-v4.0 1.12", "CIS v5.0 1.11", "CIS v6.0 2.11", "Security Hub IAM.22"},
	FindingMultipleActiveKeys: {"CIS v1.4-v4.0 1.13", "CIS v5.0 1.12", "CIS v6.0 2.12"},
	// No benchmark control covers it; it is evidence of an attempt on
	// keyrotor's own state.
	FindingStateTampered: {},
}

// Finding is one compliance finding on a key.
type Finding struct {
	ID       string
	Controls []string
}

// Controls returns the controls a finding ID evidences (nil for an unknown
// ID). The slice is the caller's to keep or modify.
func Controls(findingID string) []string {
	return slices.Clone(findingControls[findingID])
}

// Findings computes the findings on key k of user u at now, in the order
// stale, unused, multiple active keys. Exempt users get findings too: the
// report shows them, marked exempt.
func Findings(u User, k Key, p Policy, now time.Time) []Finding {
	if !k.Active() {
		return nil
	}
	var out []Finding
	add := func(id string) { out = append(out, Finding{ID: id, Controls: Controls(id)}) }
	if isStale(k, p, now) {
		add(FindingStaleKey)
	}
	if isUnused(k, p, now) {
		add(FindingUnusedKey)
	}
	if u.activeKeys() > 1 {
		add(FindingMultipleActiveKeys)
	}
	return out
}

// isStale is the CIS 1.14 test, shared by findings and the planner so that
// every key reported stale gets a rotation and vice versa.
func isStale(k Key, p Policy, now time.Time) bool {
	return k.Active() && now.Sub(k.Created) >= p.MaxKeyAge
}

// isUnused is the CIS 1.12 test ("unused for 45 days or greater").
func isUnused(k Key, p Policy, now time.Time) bool {
	return k.Active() && now.Sub(lastActivity(k)) >= p.UnusedAfter
}

// lastActivity is the last time the key was used, or its creation time if it
// never was: a never-used key counts as unused since it was created.
func lastActivity(k Key) time.Time {
	if k.LastUsed != nil {
		return *k.LastUsed
	}
	return k.Created
}
