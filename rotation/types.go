// Package rotation moves every stale IAM access key one safe step through
// its rotation (issue a replacement, deactivate the old key, delete it). This
// file and state.go, findings.go and plan.go are its pure core: the
// inventory model, the state tag codec, compliance findings and the planner.
// None of them talks to AWS or reads the clock; "now" is always a parameter.
package rotation

import (
	"slices"
	"time"

	"keyrotor/vocab"
)

// Inventory is everything the planner needs to know about one account: its
// IAM users and their access keys, as read at the start of a run.
type Inventory struct {
	AccountID   string
	AccountName string
	Users       []User
}

// User is one IAM user with its tags (which carry keyrotor's state) and keys.
type User struct {
	Name   string
	ARN    string
	UserID string
	// Tags are the user's IAM tags; keyrotor:<KEY_ID> tags hold rotation
	// state (see State).
	Tags   map[string]string
	Groups []string
	// Exempt is the reason the user is exempt from rotation (tag, group or
	// accounts.yaml), or "" when the user is not exempt. Exempt users are
	// reported but never touched.
	Exempt string
	Keys   []Key
	// StoredSecretKeyID is the access key ID found in the user's secret. The
	// inventory fetches it only for users with an issuing intent (see
	// HasIntent). It must be accurate for those users: if the secret cannot
	// be read, the inventory must fail the user instead of leaving this
	// empty, or the planner would take the replacement key for an orphan and
	// delete it.
	StoredSecretKeyID string
	// SecretName names the user's Secrets Manager secret (from the
	// configured template), used in reasons and by the executor.
	SecretName string
}

// Key is one access key of a user.
type Key struct {
	ID string
	// Status is vocab.KeyActive or vocab.KeyInactive (or anything IAM
	// answers, which the planner holds).
	Status  vocab.KeyStatus
	Created time.Time
	// LastUsed is nil when the key was never used.
	LastUsed        *time.Time
	LastUsedService string
	LastUsedRegion  string
	// LastUsedFresh is true when LastUsed came from GetAccessKeyLastUsed in
	// this run rather than from the (up to 4 hours old) credential report.
	// The planner deactivates a key for being unused only on fresh data; see
	// NeedsFreshLastUsed for which keys need it.
	LastUsedFresh bool
}

// Active reports whether the key can currently authenticate.
func (k Key) Active() bool { return k.Status == vocab.KeyActive }

// States parses the user's keyrotor:<KEY_ID> tags. It returns the valid
// states and, separately, the parse error of every corrupt tag, both keyed by
// the old key's ID. Tags of keys that no longer exist are included: the
// planner forgets them.
func (u User) States() (map[string]State, map[string]error) {
	states := map[string]State{}
	errs := map[string]error{}
	for k, v := range u.Tags {
		id, ok := IsStateTag(k)
		if !ok {
			continue
		}
		st, err := ParseState(v)
		if err != nil {
			errs[id] = err
			continue
		}
		states[id] = st
	}
	return states, errs
}

// HasIntent reports whether one of the user's keys has an issuing intent
// recorded, i.e. whether the inventory must read the user's secret to fill
// StoredSecretKeyID.
func (u User) HasIntent() bool {
	states, _ := u.States()
	for _, st := range states {
		if st.Phase == PhaseIssuing {
			return true
		}
	}
	return false
}

// Key returns the user's key with the given ID.
func (u User) Key(id string) (Key, bool) {
	i := slices.IndexFunc(u.Keys, func(k Key) bool { return k.ID == id })
	if i < 0 {
		return Key{}, false
	}
	return u.Keys[i], true
}

// activeKeys counts the user's active keys.
func (u User) activeKeys() int {
	n := 0
	for _, k := range u.Keys {
		if k.Active() {
			n++
		}
	}
	return n
}
