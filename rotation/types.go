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
	// Secret is what the metadata of the user's secret says (DescribeSecret;
	// its value is never read). The inventory reads it for every user with
	// a state tag (see HasState): the tags on the secret, which only the
	// rotation role may write, are the evidence a state tag is checked
	// against. If it cannot be read the inventory sets Problem instead.
	Secret SecretMeta
	// SecretName names the user's Secrets Manager secret (from the
	// configured template), used in reasons and by the executor.
	SecretName string
	// Problem, when set, holds every key of the user: the inventory could
	// not learn what the planner needs to decide safely (the secret's
	// metadata, a secret name). The account's other users go on.
	Problem *UserProblem
	// OwnerDecrypt is whether the user may decrypt its secret's customer
	// managed KMS key, checked for users whose deactivation is due.
	OwnerDecrypt DecryptCheck
}

// SecretMeta is the metadata of a user's secret, as DescribeSecret shows
// it. It holds no part of the secret's value.
type SecretMeta struct {
	// Read is true once the inventory looked (and Exists says whether the
	// secret is there).
	Read   bool
	Exists bool
	// ARN is the secret's ARN.
	ARN string
	// AccessKeyID and Replaces are the secret's keyrotor:access-key-id and
	// keyrotor:replaces tags: the key it holds and the key that one
	// replaces.
	AccessKeyID, Replaces string
	// CurrentVersion is the ID of the version staged AWSCURRENT; keyrotor
	// stores a key's value as version ClientRequestToken(key ID).
	CurrentVersion string
	// Changed is the secret's LastChangedDate: when its value was last
	// written.
	Changed time.Time
	// Deleted is when the secret is scheduled to be deleted (zero if not).
	Deleted time.Time
	// KMSKeyID is the key encrypting the secret as Secrets Manager names it
	// ("" for the AWS managed key).
	KMSKeyID string
	// Clock is the secret's keyrotor:clock tag.
	Clock SecretClock
}

// SecretClock is when the old key of a rotation was last turned off
// (Event "deactivated") or found on (Event "active"), as the executor
// mirrors it on the owner's secret; zero before the old key is first
// deactivated. Only the rotation role can write it, so it bounds the
// deletion clock an IAM tag says.
type SecretClock struct {
	Event string
	At    time.Time
}

// Secret clock events.
const (
	ClockDeactivated = "deactivated"
	ClockActive      = "active"
)

// String encodes the clock as its tag value ("" for the zero clock).
func (c SecretClock) String() string {
	if c.Event == "" {
		return ""
	}
	return c.Event + " " + stamp(c.At).Format(stateTimeFmt)
}

// UserProblem is why a user is held as a whole.
type UserProblem struct {
	Code vocab.Reason
	// Reason says what could not be read or used; Fix is a command that
	// helps, if there is one.
	Reason, Fix string
}

// DecryptCheck is the outcome of asking IAM whether a user may decrypt its
// secret: kms:Decrypt on the secret's KMS key, through Secrets Manager,
// with the key policy taken into account.
type DecryptCheck struct {
	// Checked is true when the check was made in this run.
	Checked bool
	// Allowed is IAM's answer.
	Allowed bool
	// KeyARN is the key checked.
	KeyARN string
	// Problem says why the check could not be made, or IAM's decision.
	Problem string
	// KeyDisabled is set when the key is not enabled: no policy helps then.
	KeyDisabled bool
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

// States parses the user's keyrotor:<KEY_ID> tags (keys compared
// case-insensitively, as IAM does). It returns the valid
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

// HasState reports whether the user carries a keyrotor state tag, valid or
// not, i.e. whether the inventory must read the metadata of the user's
// secret.
func (u User) HasState() bool {
	for k := range u.Tags {
		if _, ok := IsStateTag(k); ok {
			return true
		}
	}
	return false
}

// HasIntent reports whether one of the user's keys has an issuing intent
// recorded.
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
