package rotation

import (
	"fmt"
	"time"
)

// A state tag is a claim: anyone allowed iam:TagUser in the account can
// write one. Before a destructive step the planner (and `keyrotor
// reactivate`) checks the claim against evidence such a principal cannot
// forge:
//
//   - the metadata of the owner's secret, which the secret's resource policy
//     lets only the rotation role change: its keyrotor:access-key-id and
//     keyrotor:replaces tags, the version staged AWSCURRENT (keyrotor stores
//     a key as version ClientRequestToken(key ID)) and when it was last
//     written;
//   - the keys' own creation dates, which IAM sets;
//   - the clock: a recorded time in the future, or before the key it is
//     about existed, was not written by keyrotor.
//
// These functions are pure: they say what disagrees, in words fit for a
// hold, or "" when the evidence agrees.

// Timing bounds of the evidence checks.
const (
	// ClockSkew is how far a recorded time may lie in the future, or before
	// the creation of the key it is about, before it counts as forged.
	ClockSkew = 5 * time.Minute
	// EvidenceWindow bounds how far apart an issue's effects may be: the
	// replacement's creation, the write of its secret and the recorded
	// issue time. An issue runs inside its intent's lease.
	EvidenceWindow = IntentLease + ClockSkew
)

// Holds reports whether the secret's metadata says it holds newKeyID as the
// replacement of oldKeyID: both tags, and the current version the one
// keyrotor stores for newKeyID.
func (m SecretMeta) Holds(newKeyID, oldKeyID string) bool {
	return secretProblem(m, "", newKeyID, oldKeyID) == ""
}

// Unstored returns the key the secret's tags record as created by
// keyrotor to replace oldKeyID whose value was never stored: the tags name
// it, the current version is not its own. Only the rotation role can have
// written the tags (see SecretStore.Prepare).
func (m SecretMeta) Unstored(oldKeyID string) (string, bool) {
	if !m.Read || !m.Exists || m.AccessKeyID == "" || m.Replaces != oldKeyID || m.Holds(m.AccessKeyID, oldKeyID) {
		return "", false
	}
	return m.AccessKeyID, true
}

// secretProblem says how the secret's metadata disagrees with a rotation of
// oldID whose replacement is newID.
func secretProblem(m SecretMeta, name, newID, oldID string) string {
	if name == "" {
		name = "of the user"
	}
	switch {
	case !m.Read:
		return fmt.Sprintf("the metadata of secret %s was not read", name)
	case !m.Exists:
		return fmt.Sprintf("secret %s does not exist, so nothing shows keyrotor issued %s", name, newID)
	case m.AccessKeyID != newID:
		if m.AccessKeyID == "" {
			return fmt.Sprintf("secret %s has no %s tag naming %s", name, SecretTagAccessKeyID, newID)
		}
		return fmt.Sprintf("secret %s holds %s (tag %s), not %s", name, m.AccessKeyID, SecretTagAccessKeyID, newID)
	case m.Replaces != oldID:
		if m.Replaces == "" {
			return fmt.Sprintf("secret %s has no %s tag naming %s", name, SecretTagReplaces, oldID)
		}
		return fmt.Sprintf("secret %s says its key replaces %s (tag %s), not %s", name, m.Replaces, SecretTagReplaces, oldID)
	case m.CurrentVersion != ClientRequestToken(newID):
		return fmt.Sprintf("the current version of secret %s is not the one keyrotor stores for %s", name, newID)
	}
	return ""
}

// datesProblem checks the times recorded in st, the state of old key x,
// against now and x's creation.
func datesProblem(x Key, st State, now time.Time) string {
	for _, f := range []struct {
		name string
		t    time.Time
	}{{fieldAt, st.At}, {fieldIssued, st.Issued}, {fieldDeact, st.Deactivated}, {fieldReact, st.Reactivated},
		{fieldReminded, st.Reminded}, {fieldSeen, st.SeenActive}} {
		switch {
		case f.t.IsZero():
		case f.t.After(now.Add(ClockSkew)):
			return fmt.Sprintf("the tag's %s=%s is in the future", f.name, stamp(f.t).Format(stateTimeFmt))
		case f.t.Before(x.Created.Add(-ClockSkew)):
			return fmt.Sprintf("the tag's %s=%s is before key %s was created (%s)", f.name, stamp(f.t).Format(stateTimeFmt),
				x.ID, stamp(x.Created).Format(stateTimeFmt))
		}
	}
	if !st.Deactivated.IsZero() && st.Deactivated.Before(st.Issued.Add(-ClockSkew)) {
		return fmt.Sprintf("the tag says the key was deactivated (%s) before its replacement was issued (%s)",
			stamp(st.Deactivated).Format(stateTimeFmt), stamp(st.Issued).Format(stateTimeFmt))
	}
	if st.Phase == PhaseReactivated && st.Reactivated.Before(st.Deactivated.Add(-ClockSkew)) {
		return fmt.Sprintf("the tag says the key was reactivated (%s) before it was deactivated (%s)",
			stamp(st.Reactivated).Format(stateTimeFmt), stamp(st.Deactivated).Format(stateTimeFmt))
	}
	return ""
}

// windowProblem checks that the replacement (nil when it is gone) was
// created, and the secret last written, around the recorded issue time.
// Since Secrets Manager may count the clock tag keyrotor writes later as a
// change, a last write near the secret's clock is as good; only the
// rotation role can have written either.
func windowProblem(repl *Key, m SecretMeta, name string, issued time.Time) string {
	near := func(t, to time.Time) bool { return t.Sub(to).Abs() <= EvidenceWindow }
	if repl != nil && !near(repl.Created, issued) {
		return fmt.Sprintf("replacement %s was created %s, not within %s of the recorded issue (%s)",
			repl.ID, stamp(repl.Created).Format(stateTimeFmt), EvidenceWindow, stamp(issued).Format(stateTimeFmt))
	}
	switch {
	case m.Changed.IsZero():
		return fmt.Sprintf("secret %s shows no time it was written", name)
	case !near(m.Changed, issued) && (m.Clock.Event == "" || !near(m.Changed, m.Clock.At)):
		return fmt.Sprintf("secret %s was last written %s, not when the replacement was issued (%s)",
			name, stamp(m.Changed).Format(stateTimeFmt), stamp(issued).Format(stateTimeFmt))
	}
	return ""
}

// rotationProblem checks a state of phase issued, reactivated or
// deactivated of old key x: its dates, the owner's secret and the timing of
// the issue. keys are the user's keys, to find the replacement.
func rotationProblem(x Key, st State, keys []Key, m SecretMeta, secretName string, now time.Time) string {
	if p := datesProblem(x, st, now); p != "" {
		return p
	}
	if st.NewKeyID == x.ID {
		return "the state tag names the key as its own replacement"
	}
	if p := secretProblem(m, secretName, st.NewKeyID, x.ID); p != "" {
		return p
	}
	if st.Phase == PhaseIssued && m.Clock.Event == ClockActive {
		// keyrotor marks a key found on only after it deactivated it.
		return fmt.Sprintf("secret %s says the old key was found on again (%s), but the tag says it was never deactivated",
			secretName, m.Clock)
	}
	var repl *Key
	for i := range keys {
		if keys[i].ID == st.NewKeyID {
			repl = &keys[i]
		}
	}
	return windowProblem(repl, m, secretName, st.Issued)
}

// intentProblem checks an issuing intent of old key x: when it says it was
// written, and that the key the secret records as created for it was
// created inside its window.
func intentProblem(x Key, st State, recorded *Key, now time.Time) string {
	if st.At.After(now.Add(ClockSkew)) {
		return fmt.Sprintf("the intent's at=%s is in the future", stamp(st.At).Format(stateTimeFmt))
	}
	if x.ID != "" && st.At.Before(x.Created.Add(-ClockSkew)) {
		return fmt.Sprintf("the intent's at=%s is before key %s was created", stamp(st.At).Format(stateTimeFmt), x.ID)
	}
	if recorded != nil && !inIntentWindow(*recorded, st) {
		return fmt.Sprintf("key %s, which the secret records as created by keyrotor, was created %s, outside the intent's window (%s + %s)",
			recorded.ID, stamp(recorded.Created).Format(stateTimeFmt), stamp(st.At).Format(stateTimeFmt), IntentLease)
	}
	return ""
}

// inIntentWindow tells whether k was created while intent's issue could
// have been running: no earlier than the intent (less skew) and no later
// than its lease (plus skew). The issue creates its key right after writing
// the intent and gives up when its lease ends.
func inIntentWindow(k Key, intent State) bool {
	return !k.Created.Before(intent.At.Add(-ClockSkew)) && !k.Created.After(intent.At.Add(IntentLease+ClockSkew))
}
