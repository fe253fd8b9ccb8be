package rotation

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"keyrotor/vocab"
)

// Key IDs of the planner tests: A is the old key, B the user's other key, K
// a replacement, V a key that no longer exists.
const (
	kA    = "AKIATESTAAAAAAAAAAAA"
	kB    = "AKIATESTBBBBBBBBBBBB"
	kK    = "AKIATESTKKKKKKKKKKKK"
	kV    = "AKIATESTVVVVVVVVVVVV"
	runID = "run-this"
	other = "run-other"
	uname = "alice"
)

type keyOpt func(*Key)

func mk(id string, status vocab.KeyStatus, age time.Duration, opts ...keyOpt) Key {
	k := Key{ID: id, Status: status, Created: ago(age), LastUsedFresh: true}
	for _, o := range opts {
		o(&k)
	}
	return k
}

func active(id string, age time.Duration, opts ...keyOpt) Key {
	return mk(id, vocab.KeyActive, age, opts...)
}

func inactive(id string, age time.Duration, opts ...keyOpt) Key {
	return mk(id, vocab.KeyInactive, age, opts...)
}

// usedAgo sets the key's last use d before now, by s3 in eu-west-1.
func usedAgo(d time.Duration) keyOpt {
	return func(k *Key) { k.LastUsed, k.LastUsedService, k.LastUsedRegion = agoPtr(d), "s3", "eu-west-1" }
}

func notFresh(k *Key) { k.LastUsedFresh = false }

func tags(kv ...any) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case State:
			m[TagKey(kv[i].(string))] = v.String()
		case string:
			m[TagKey(kv[i].(string))] = v
		}
	}
	return m
}

func issued(newID string, at time.Duration) State {
	return State{Phase: PhaseIssued, RunID: other, NewKeyID: newID}.WithIssued(newID, ago(at))
}

func deactivated(newID string, at time.Duration) State {
	return issued(newID, at+7*day24).WithDeactivated(ago(at))
}

func reactivated(newID string, at time.Duration) State {
	return deactivated(newID, at+day24).WithReactivated(ago(at))
}

func intent(run string, at time.Duration) State {
	return State{Phase: PhaseIssuing, RunID: run, At: stamp(ago(at))}
}

// recorded is intent st of an issue whose CreateAccessKey returned key id
// and recorded it on the owner's secret, which withEvidence then shows. The
// planner ignores new= on an intent (anyone may write an IAM tag); it is
// only how these tests say what the secret records.
func recorded(st State, id string) State {
	st.NewKeyID = id
	return st
}

// want is one expected action; reason lists substrings of its Reason.
type want struct {
	key    string
	kind   ActionKind
	reason []string
	newKey string
	due    time.Time
	notify Event
	// next, when set, is the expected Next state.
	next *State
	// code, when set, is the expected reason code; every action must have
	// a known one.
	code vocab.Reason
}

func planUser(u User, pol Policy) []Action {
	if u.Name == "" {
		u.Name = uname
	}
	return Plan(Inventory{AccountID: "111122223333", Users: []User{withEvidence(u)}}, pol, fixedNow, runID)
}

// aligned sets the creation of every replacement u's state tags name to
// when it was issued, as keyrotor's own issue leaves it, and of every old
// key to a day before its state at the latest; tests of other timings do
// not use it.
func aligned(u User) User {
	states, _ := u.States()
	u.Keys = slices.Clone(u.Keys)
	for old, st := range states {
		for i := range u.Keys {
			first := st.At
			if !st.Issued.IsZero() && st.Issued.Before(first) {
				first = st.Issued
			}
			switch {
			case u.Keys[i].ID == old:
				if limit := first.Add(-day24); u.Keys[i].Created.After(limit) {
					u.Keys[i].Created = limit
				}
			case u.Keys[i].ID != st.NewKeyID:
			case st.Phase != PhaseIssuing:
				u.Keys[i].Created = st.Issued
			default:
				u.Keys[i].Created = st.At.Add(time.Minute)
			}
		}
	}
	return u
}

// stored is the metadata of a secret that keyrotor's own issue left: it
// holds newID as the replacement of oldID, written at t.
func stored(newID, oldID string, t time.Time) SecretMeta {
	return SecretMeta{Read: true, Exists: true, ARN: "arn:aws:secretsmanager:us-east-1:111122223333:secret:keyrotor/alice-AbCdEf",
		AccessKeyID: newID, Replaces: oldID, CurrentVersion: ClientRequestToken(newID), Changed: t}
}

// withEvidence completes u, unless its secret is marked Read, with the
// secret metadata an honest account shows: the secret holds the
// replacement its first rotation state names, written when it was issued;
// with an intent, it records the key the intent's new= names (see
// recorded) without holding it, or else holds the key
// u.Secret.AccessKeyID names (none if empty), written when the intent was.
// Tests of forged states set Read.
func withEvidence(u User) User {
	if u.Secret.Read {
		return u
	}
	states, _ := u.States()
	ids := slices.Sorted(maps.Keys(states))
	want := u.Secret.AccessKeyID
	u.Secret = SecretMeta{Read: true}
	for _, old := range ids {
		st := states[old]
		switch {
		case st.Phase == PhaseIssuing && st.NewKeyID != "":
			u.Secret = stored(st.NewKeyID, old, st.At)
			u.Secret.CurrentVersion = "" // the value was never stored
			if want != "" {
				u.Secret.CurrentVersion = ClientRequestToken(want)
			}
			return u
		case st.Phase == PhaseIssuing && want != "":
			replaces := old
			if want == old {
				replaces = ""
			}
			u.Secret = stored(want, replaces, st.At)
			return u
		case st.Phase != PhaseIssuing && want == "":
			u.Secret = stored(st.NewKeyID, old, st.Issued)
			switch {
			case st.Phase == PhaseReactivated:
				u.Secret.Clock = SecretClock{Event: ClockActive, At: st.Reactivated}
			case st.Phase == PhaseDeactivated && !st.SeenActive.IsZero():
				u.Secret.Clock = SecretClock{Event: ClockActive, At: st.SeenActive}
			case st.Phase == PhaseDeactivated:
				u.Secret.Clock = SecretClock{Event: ClockDeactivated, At: st.Deactivated}
			}
			return u
		}
	}
	if want != "" {
		u.Secret = stored(want, "", fixedNow.Add(-400*day24))
	}
	return u
}

func checkActions(t *testing.T, got []Action, wants []want) {
	t.Helper()
	var gs, ws []string
	for _, a := range got {
		gs = append(gs, string(a.Kind)+" "+a.KeyID)
	}
	for _, w := range wants {
		ws = append(ws, string(w.kind)+" "+w.key)
	}
	if !slices.Equal(gs, ws) {
		t.Fatalf("actions = %v, want %v\n%s", gs, ws, dump(got))
	}
	for i, w := range wants {
		a := got[i]
		for _, r := range w.reason {
			if !strings.Contains(a.Reason, r) {
				t.Errorf("%s %s: reason %q does not contain %q", a.Kind, a.KeyID, a.Reason, r)
			}
		}
		if a.NewKeyID != w.newKey {
			t.Errorf("%s %s: NewKeyID = %q, want %q", a.Kind, a.KeyID, a.NewKeyID, w.newKey)
		}
		if !a.Due.Equal(w.due) {
			t.Errorf("%s %s: Due = %v, want %v", a.Kind, a.KeyID, a.Due, w.due)
		}
		if a.Notify != w.notify {
			t.Errorf("%s %s: Notify = %q, want %q", a.Kind, a.KeyID, a.Notify, w.notify)
		}
		if w.next != nil && a.Next.String() != w.next.String() {
			t.Errorf("%s %s: Next = %q, want %q", a.Kind, a.KeyID, a.Next, *w.next)
		}
		if !vocab.KnownReason(a.Code) || (w.code != "" && a.Code != w.code) {
			t.Errorf("%s %s: code %q, want %q (a known code)", a.Kind, a.KeyID, a.Code, w.code)
		}
		if a.AccountID != "111122223333" || a.User != uname || a.Reason == "" {
			t.Errorf("%s %s: account %q user %q reason %q", a.Kind, a.KeyID, a.AccountID, a.User, a.Reason)
		}
	}
}

func dump(acts []Action) string {
	var b strings.Builder
	for _, a := range acts {
		fmt.Fprintf(&b, "  %-10s %s new=%s due=%s notify=%s next=%q\n      %s\n", a.Kind, a.KeyID, a.NewKeyID, a.Due.Format(time.RFC3339), a.Notify, a.Next, a.Reason)
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }

var (
	def        = DefaultPolicy()
	foreignOn  = func() Policy { p := def; p.DeleteForeignInactive = true; return p }()
	hard14     = func() Policy { p := def; p.HardDeadline = 14 * day24; return p }()
	newIntent  = State{Phase: PhaseIssuing, RunID: runID, At: fixedNow}
	deactNow   = func(s State) *State { n := s.WithDeactivated(fixedNow); return &n }
	issueAfter = fixedNow.Add(7 * day24) // Due of every Issue: earliest deactivation
)

func TestPlanFreshAndStale(t *testing.T) {
	tests := []struct {
		name string
		keys []Key
		want []want
	}{
		{"89 days: none", []Key{active(kA, 89*day24)}, []want{
			{key: kA, kind: ActionNone, reason: []string{"89 days old", "rotation due 2027-03-02"}, due: ago(89 * day24).Add(90 * day24)},
		}},
		{"90 days: issue", []Key{active(kA, 90*day24)}, []want{
			{key: kA, kind: ActionIssue, reason: []string{"90 days old", "CIS 1.14", "secret keyrotor/111122223333/alice", "2027-03-08"},
				due: issueAfter, notify: EventIssued, next: &newIntent},
		}},
		{"91 days: issue", []Key{active(kA, 91*day24)}, []want{
			{key: kA, kind: ActionIssue, reason: []string{"91 days old"}, due: issueAfter, notify: EventIssued, next: &newIntent},
		}},
		{"two young active keys", []Key{active(kB, 20*day24), active(kA, 30*day24)}, []want{
			{key: kA, kind: ActionNone, due: ago(30 * day24).Add(90 * day24)},
			{key: kB, kind: ActionNone, due: ago(20 * day24).Add(90 * day24)},
		}},
		{"young inactive foreign key", []Key{inactive(kA, 30*day24)}, []want{
			{key: kA, kind: ActionNone, reason: []string{"not deactivated by keyrotor", "delete_foreign_inactive is off"}},
		}},
		{"unknown status", []Key{mk(kA, "Expired", 200*day24)}, []want{
			{key: kA, kind: ActionHold, reason: []string{`unexpected key status "Expired"`}},
		}},
		{"no keys", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkActions(t, planUser(User{Keys: tt.keys, SecretName: "keyrotor/111122223333/alice"}, def), tt.want)
		})
	}
}

func TestPlanIssued(t *testing.T) {
	repl := active(kK, 7*day24)
	st := func(at time.Duration) State { return issued(kK, at) }
	notified := func(at time.Duration) State { return issued(kK, at).WithNotified(EventIssued, ago(at)) }
	dueAt := func(at time.Duration) time.Time { return stamp(ago(at)).Add(7 * day24) }
	tests := []struct {
		name string
		pol  Policy
		keys []Key
		st   State
		want want
	}{
		{"6d23h: waiting, issued mail retried", def, []Key{active(kA, 100*day24, usedAgo(8*day24)), repl}, st(7*day24 - time.Hour),
			want{key: kA, kind: ActionNone, reason: []string{"deactivation due 2027-03-01"}, newKey: kK, due: dueAt(7*day24 - time.Hour), notify: EventIssued}},
		{"6d23h: waiting, already notified", def, []Key{active(kA, 100*day24, usedAgo(8*day24)), repl}, notified(7*day24 - time.Hour),
			want{key: kA, kind: ActionNone, newKey: kK, due: dueAt(7*day24 - time.Hour)}},
		{"6d23h: waiting, replacement missing is warned", def, []Key{active(kA, 100*day24)}, notified(7*day24 - time.Hour),
			want{key: kA, kind: ActionNone, reason: []string{"warning: replacement key " + kK + " is missing"}, newKey: kK, due: dueAt(7*day24 - time.Hour)}},
		{"7d unused since issue: deactivate", def, []Key{active(kA, 100*day24, usedAgo(7*day24+time.Minute)), repl}, notified(7 * day24),
			want{key: kA, kind: ActionDeactivate, reason: []string{"not been used since", "deletion due 2027-03-08"}, newKey: kK,
				due: fixedNow.Add(7 * day24), notify: EventDeactivated, next: deactNow(notified(7 * day24))}},
		{"7d1h never used: deactivate", def, []Key{active(kA, 100*day24), repl}, notified(7*day24 + time.Hour),
			want{key: kA, kind: ActionDeactivate, reason: []string{"never used"}, newKey: kK,
				due: fixedNow.Add(7 * day24), notify: EventDeactivated, next: deactNow(notified(7*day24 + time.Hour))}},
		{"7d used after issue: hold and remind", def, []Key{active(kA, 100*day24, usedAgo(2*time.Hour)), repl}, notified(7 * day24),
			want{key: kA, kind: ActionHold, reason: []string{"old key still in use (last used 2027-03-01 by s3 in eu-west-1); update the caller to " + kK}, newKey: kK, notify: EventReminder}},
		{"used at issue, quiet since: a full grace period without use deactivates", def, []Key{active(kA, 100*day24, usedAgo(7*day24)), repl}, notified(7 * day24),
			want{key: kA, kind: ActionDeactivate, reason: []string{"has gone 7 days without use"}, newKey: kK,
				due: fixedNow.Add(7 * day24), notify: EventDeactivated, next: deactNow(notified(7 * day24))}},
		{"in use, reminded since the hold began: no mail", def, []Key{active(kA, 100*day24, usedAgo(time.Hour)), repl},
			notified(9*day24).WithNotified(EventReminder, ago(day24)),
			want{key: kA, kind: ActionHold, newKey: kK}},
		{"in use, last reminder a week ago: remind again", def, []Key{active(kA, 100*day24, usedAgo(time.Hour)), repl},
			notified(20*day24).WithNotified(EventReminder, ago(7*day24)),
			want{key: kA, kind: ActionHold, newKey: kK, notify: EventReminder}},
		{"in use, no hard deadline, 85 days on: still hold", def, []Key{active(kA, 200*day24, usedAgo(time.Hour)), repl}, notified(85 * day24),
			want{key: kA, kind: ActionHold, reason: []string{"still in use"}, newKey: kK, notify: EventReminder}},
		{"used after issue, then quiet 6d23h: still hold", def, []Key{active(kA, 200*day24, usedAgo(7*day24-time.Hour)), repl}, notified(30 * day24),
			want{key: kA, kind: ActionHold, reason: []string{"still in use", "once it has gone 7 days without use"}, newKey: kK, notify: EventReminder}},
		{"used after issue, then quiet 7d: deactivate", def, []Key{active(kA, 200*day24, usedAgo(7*day24)), repl}, notified(30 * day24),
			want{key: kA, kind: ActionDeactivate, reason: []string{"has gone 7 days without use"}, newKey: kK,
				due: fixedNow.Add(7 * day24), notify: EventDeactivated, next: deactNow(notified(30 * day24))}},
		{"hard deadline not reached: hold until it", hard14, []Key{active(kA, 200*day24, usedAgo(time.Hour)), repl}, notified(14*day24 - time.Hour),
			want{key: kA, kind: ActionHold, reason: []string{"at the latest on 2027-03-01 (hard deadline)"}, newKey: kK,
				due: stamp(ago(14*day24 - time.Hour)).Add(14 * day24), notify: EventReminder}},
		{"hard deadline reached: deactivate in use", hard14, []Key{active(kA, 200*day24, usedAgo(time.Hour)), repl}, notified(14 * day24),
			want{key: kA, kind: ActionDeactivate, reason: []string{"hard deadline 2027-03-01 passed", "still in use", "switch to " + kK}, newKey: kK,
				due: fixedNow.Add(7 * day24), notify: EventDeactivated, next: deactNow(notified(14 * day24))}},
		{"unused but not fresh: hold", def, []Key{active(kA, 100*day24, usedAgo(30*day24), notFresh), repl}, notified(7 * day24),
			want{key: kA, kind: ActionHold, reason: []string{"GetAccessKeyLastUsed"}, newKey: kK}},
		{"used per stale data: hold as in use", def, []Key{active(kA, 100*day24, usedAgo(time.Hour), notFresh), repl}, notified(7 * day24),
			want{key: kA, kind: ActionHold, reason: []string{"still in use"}, newKey: kK, notify: EventReminder}},
		{"replacement missing: hold", def, []Key{active(kA, 100*day24)}, notified(7 * day24),
			want{key: kA, kind: ActionHold, reason: []string{"replacement key " + kK + " is missing",
				"aws iam update-access-key --user-name alice --access-key-id " + kK + " --status Active",
				"aws iam untag-user --user-name alice --tag-keys keyrotor:" + kA}, newKey: kK}},
		{"replacement inactive: hold", def, []Key{active(kA, 100*day24), inactive(kK, 7*day24)}, notified(7 * day24),
			want{key: kA, kind: ActionHold, reason: []string{"replacement key " + kK + " is inactive"}, newKey: kK}},
		{"old key already inactive: record deactivation", def, []Key{inactive(kA, 100*day24, usedAgo(time.Hour)), repl}, notified(7 * day24),
			want{key: kA, kind: ActionDeactivate, reason: []string{"already inactive"}, newKey: kK,
				due: fixedNow.Add(7 * day24), notify: EventDeactivated, next: deactNow(notified(7 * day24))}},
		{"old key inactive and replacement missing: hold", def, []Key{inactive(kA, 100*day24)}, notified(7 * day24),
			want{key: kA, kind: ActionHold, reason: []string{"is missing"}, newKey: kK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := aligned(User{Keys: tt.keys, Tags: tags(kA, tt.st)})
			got := planUser(u, tt.pol)
			var ws []want
			for _, k := range sortedKeys(u.Keys) {
				if k.ID == kA {
					ws = append(ws, tt.want)
				} else if k.Active() {
					ws = append(ws, want{key: kK, kind: ActionNone, reason: []string{"replacement of " + kA}, due: k.Created.Add(def.MaxKeyAge)})
				} else {
					ws = append(ws, want{key: kK, kind: ActionNone, reason: []string{"inactive replacement of " + kA}})
				}
			}
			slices.SortStableFunc(ws, func(a, b want) int { return step[a.kind] - step[b.kind] })
			checkActions(t, got, ws)
		})
	}
}

func sortedKeys(keys []Key) []Key {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b Key) int { return a.Created.Compare(b.Created) })
	return out
}

func TestPlanReactivated(t *testing.T) {
	repl := active(kK, 40*day24)
	tests := []struct {
		name string
		pol  Policy
		a    Key
		st   State
		want want
	}{
		{"6d23h after reactivation: waiting, deletion clock stopped", def, active(kA, 200*day24, usedAgo(time.Hour)), reactivated(kK, 7*day24-time.Hour),
			want{key: kA, kind: ActionNone, reason: []string{"reactivated"}, newKey: kK, due: stamp(ago(7*day24 - time.Hour)).Add(7 * day24)}},
		{"7d, used before reactivation only: deactivate", def, active(kA, 200*day24, usedAgo(7*day24+time.Hour)), reactivated(kK, 7*day24),
			want{key: kA, kind: ActionDeactivate, newKey: kK, due: fixedNow.Add(7 * day24), notify: EventDeactivated, next: deactNow(reactivated(kK, 7*day24))}},
		{"7d1h, used since reactivation: hold", def, active(kA, 200*day24, usedAgo(time.Hour)), reactivated(kK, 7*day24+time.Hour),
			want{key: kA, kind: ActionHold, reason: []string{"still in use"}, newKey: kK, notify: EventReminder}},
		{"hard deadline counts from reactivation", hard14, active(kA, 200*day24, usedAgo(time.Hour)), reactivated(kK, 10*day24),
			want{key: kA, kind: ActionHold, newKey: kK, due: stamp(ago(10 * day24)).Add(14 * day24), notify: EventReminder}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := aligned(User{Keys: []Key{tt.a, repl}, Tags: tags(kA, tt.st)})
			got := planUser(u, tt.pol)
			ws := []want{tt.want, {key: kK, kind: ActionNone, reason: []string{"replacement of " + kA}, due: u.Keys[1].Created.Add(def.MaxKeyAge)}}
			slices.SortStableFunc(ws, func(a, b want) int { return step[a.kind] - step[b.kind] })
			checkActions(t, got, ws)
		})
	}
}

func TestPlanDeactivated(t *testing.T) {
	repl := active(kK, 10*day24)
	replWant := want{key: kK, kind: ActionNone, reason: []string{"replacement of " + kA}, due: repl.Created.Add(def.MaxKeyAge)}
	withMail := func(s State) State {
		return s.WithNotified(EventIssued, fixedNow).WithNotified(EventDeactivated, fixedNow)
	}
	tests := []struct {
		name string
		a    Key
		st   State
		want []want
	}{
		{"6d23h: waiting, mail retried", inactive(kA, 400*day24), deactivated(kK, 7*day24-time.Hour), []want{
			{key: kA, kind: ActionNone, reason: []string{"deletion due 2027-03-01"}, newKey: kK, due: stamp(ago(7*day24 - time.Hour)).Add(7 * day24), notify: EventDeactivated},
			replWant,
		}},
		{"7d: delete", inactive(kA, 400*day24), withMail(deactivated(kK, 7*day24)), []want{
			{key: kA, kind: ActionDelete, reason: []string{"deactivated by keyrotor 2027-02-22", "ended 2027-03-01"}, newKey: kK, notify: EventDeleted, next: &State{}},
			replWant,
		}},
		{"7d1h: delete", inactive(kA, 400*day24), withMail(deactivated(kK, 7*day24+time.Hour)), []want{
			{key: kA, kind: ActionDelete, newKey: kK, notify: EventDeleted, next: &State{}},
			replWant,
		}},
		{"old CreateDate does not shorten the wait", inactive(kA, 4000*day24), withMail(deactivated(kK, day24)), []want{
			{key: kA, kind: ActionNone, newKey: kK, due: stamp(ago(day24)).Add(7 * day24)},
			replWant,
		}},
		{"reactivated outside keyrotor: hold", active(kA, 400*day24), withMail(deactivated(kK, 30*day24)), []want{
			{key: kA, kind: ActionHold, reason: []string{"reactivated outside keyrotor", "keyrotor reactivate",
				"aws iam update-access-key --user-name alice --access-key-id " + kA + " --status Inactive"}, newKey: kK},
			replWant,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := aligned(User{Keys: []Key{tt.a, repl}, Tags: tags(kA, tt.st)})
			for i := range tt.want {
				if tt.want[i].key == kK {
					tt.want[i].due = u.Keys[1].Created.Add(def.MaxKeyAge)
				}
			}
			checkActions(t, planUser(u, def), tt.want)
		})
	}
}

func TestPlanTwoKeyLimit(t *testing.T) {
	stale := active(kA, 100*day24, usedAgo(time.Hour))
	staleDue := ago(100 * day24).Add(90 * day24)
	issueA := want{key: kA, kind: ActionIssue, reason: []string{"after deleting " + kB}, due: issueAfter, notify: EventIssued, next: &newIntent}
	tests := []struct {
		name string
		pol  Policy
		b    Key
		tags map[string]string
		want []want
	}{
		{"B keyrotor-deactivated, delete due: delete B then issue A", def,
			inactive(kB, 300*day24), tags(kB, deactivated(kA+"X", 7*day24)), []want{
				{key: kB, kind: ActionDelete, newKey: kA + "X", notify: EventDeleted, next: &State{}},
				issueA,
			}},
		{"B keyrotor-deactivated, not due: hold A", def,
			inactive(kB, 300*day24), tags(kB, deactivated(kA+"X", 7*day24-time.Hour)), []want{
				{key: kA, kind: ActionHold, reason: []string{"already has two keys", kB + " is scheduled for deletion on 2027-03-01"},
					due: stamp(ago(7*day24 - time.Hour)).Add(7 * day24)},
				{key: kB, kind: ActionNone, newKey: kA + "X", due: stamp(ago(7*day24 - time.Hour)).Add(7 * day24), notify: EventDeactivated},
			}},
		{"B foreign inactive, policy off: hold A with the fix", def,
			inactive(kB, 300*day24), nil, []want{
				{key: kA, kind: ActionHold, reason: []string{"not deactivated by keyrotor",
					"aws iam delete-access-key --user-name alice --access-key-id " + kB, "policy.delete_foreign_inactive"}},
				{key: kB, kind: ActionNone, reason: []string{"delete_foreign_inactive is off"}},
			}},
		{"B foreign inactive, allowed, old and unused: delete B then issue A", foreignOn,
			inactive(kB, 90*day24, usedAgo(90*day24)), nil, []want{
				{key: kB, kind: ActionDelete, reason: []string{"90 days old", "unused since 2026-12-01", "policy.delete_foreign_inactive"}, notify: EventDeleted},
				issueA,
			}},
		{"B foreign inactive, allowed, never used: delete B then issue A", foreignOn,
			inactive(kB, 90*day24), nil, []want{
				{key: kB, kind: ActionDelete, reason: []string{"never used"}, notify: EventDeleted},
				issueA,
			}},
		{"B foreign inactive, allowed but too young: hold A", foreignOn,
			inactive(kB, 89*day24), nil, []want{
				{key: kA, kind: ActionHold, reason: []string{"aws iam delete-access-key", "deletes it itself on 2027-03-02"}, due: ago(89 * day24).Add(90 * day24)},
				{key: kB, kind: ActionNone, reason: []string{"eligible for deletion on 2027-03-02"}, due: ago(89 * day24).Add(90 * day24)},
			}},
		{"B foreign inactive, allowed but used recently: hold A", foreignOn,
			inactive(kB, 200*day24, usedAgo(89*day24)), nil, []want{
				{key: kA, kind: ActionHold, reason: []string{"deletes it itself on 2027-03-02"}, due: ago(89 * day24).Add(90 * day24)},
				{key: kB, kind: ActionNone, reason: []string{"eligible for deletion on 2027-03-02"}, due: ago(89 * day24).Add(90 * day24)},
			}},
		{"B active: hold A, suggest the unused one", def,
			active(kB, 30*day24, usedAgo(20*day24)), nil, []want{
				{key: kA, kind: ActionHold, reason: []string{"two active keys (CIS 1.13): deactivate the one not in use: aws iam update-access-key --user-name alice --access-key-id " + kB + " --status Inactive"}},
				{key: kB, kind: ActionNone, due: ago(30 * day24).Add(90 * day24)},
			}},
		{"B active and stale too: both held", def,
			active(kB, 95*day24), nil, []want{
				{key: kA, kind: ActionHold, reason: []string{"two active keys", "--access-key-id " + kB}},
				{key: kB, kind: ActionHold, reason: []string{"two active keys", "--access-key-id " + kB}},
			}},
		{"A is the replacement of B: hold until B's rotation ends", def,
			active(kB, 300*day24, usedAgo(time.Hour)), tags(kB, issued(kA, 100*day24).WithNotified(EventReminder, ago(time.Hour))), []want{
				{key: kB, kind: ActionHold, reason: []string{"still in use"}, newKey: kA},
				{key: kA, kind: ActionHold, reason: []string{"replacement issued for " + kB, "still in use"}},
			}},
		{"B inactive with corrupt state: hold both", def,
			inactive(kB, 300*day24), tags(kB, "v1 state=deactivated"), []want{
				{key: kB, kind: ActionHold, reason: []string{"corrupt keyrotor state tag keyrotor:" + kB, "missing field new", "aws iam untag-user --user-name alice --tag-keys keyrotor:" + kB}},
				{key: kA, kind: ActionHold, reason: []string{"corrupt state tag"}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planUser(User{Keys: []Key{tt.b, stale}, Tags: tt.tags}, tt.pol)
			for i := range tt.want {
				if tt.want[i].kind == ActionHold && tt.want[i].key == kA {
					tt.want[i].reason = append(tt.want[i].reason, "100 days old (rotation was due "+day(staleDue)+")")
				}
			}
			checkActions(t, got, tt.want)
		})
	}
}

func TestPlanForeignInactiveAlone(t *testing.T) {
	elig := ago(80 * day24).Add(90 * day24)
	tests := []struct {
		name string
		pol  Policy
		b    Key
		want want
	}{
		{"allowed and eligible: delete", foreignOn, inactive(kB, 90*day24), want{key: kB, kind: ActionDelete, notify: EventDeleted}},
		{"not allowed: none", def, inactive(kB, 900*day24), want{key: kB, kind: ActionNone, reason: []string{"delete_foreign_inactive is off"}}},
		{"allowed, too young: none until eligible", foreignOn, inactive(kB, 80*day24), want{key: kB, kind: ActionNone, reason: []string{"eligible for deletion on " + day(elig)}, due: elig}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkActions(t, planUser(User{Keys: []Key{tt.b}}, tt.pol), []want{tt.want})
		})
	}
	t.Run("a key keyrotor retired, its state tag removed: deleted delete_after after the secret's clock", func(t *testing.T) {
		sec := stored(kK, kB, ago(8*day24))
		sec.Clock = SecretClock{Event: ClockDeactivated, At: stamp(ago(time.Hour))}
		u := User{Keys: []Key{inactive(kB, 200*day24, usedAgo(100*day24)), active(kK, 8*day24)}, Secret: sec}
		if !NeedsForeignEvidence(u, foreignOn) || NeedsForeignEvidence(u, def) {
			t.Error("NeedsForeignEvidence: want the secret read under delete_foreign_inactive only")
		}
		due := sec.Clock.At.Add(foreignOn.DeleteAfter)
		a := PrimaryByKey(planUser(u, foreignOn))[kB]
		if a.Kind != ActionNone || a.Code != vocab.ReasonForeignInactive || !a.Due.Equal(due) {
			t.Errorf("%s %s due %s (%s), want none until %s", a.Kind, a.Code, a.Due, a.Reason, due)
		}
	})
	t.Run("inactive replacement of a rotation is never deleted", func(t *testing.T) {
		got := planUser(User{
			Keys: []Key{active(kA, 400*day24), inactive(kK, 100*day24)},
			Tags: tags(kA, issued(kK, 100*day24)),
		}, foreignOn)
		checkActions(t, got, []want{
			{key: kA, kind: ActionHold, reason: []string{"replacement key " + kK + " is inactive"}, newKey: kK},
			{key: kK, kind: ActionNone, reason: []string{"inactive replacement of " + kA}},
		})
	})
}

func TestPlanExempt(t *testing.T) {
	u := User{
		Exempt: "group break-glass",
		Keys:   []Key{active(kA, 400*day24), inactive(kB, 400*day24)},
		Tags:   tags(kA, issued(kK, 30*day24), kV, deactivated(kK, 30*day24)),
	}
	checkActions(t, planUser(u, foreignOn), []want{
		{key: kA, kind: ActionExempt, reason: []string{"exempt (group break-glass)", "never changes it"}, next: ptr(issued(kK, 30*day24))},
		{key: kB, kind: ActionExempt},
	})
}

func TestPlanCorruptAndVanished(t *testing.T) {
	t.Run("corrupt tag on a stale key: hold", func(t *testing.T) {
		got := planUser(User{Keys: []Key{active(kA, 200*day24)}, Tags: tags(kA, "v1 state=issued new=AKIA1 issued=2026-11-26T06:00:00Z")}, def)
		checkActions(t, got, []want{{key: kA, kind: ActionHold, reason: []string{
			"corrupt keyrotor state tag keyrotor:" + kA, "invalid access key id",
			"aws iam untag-user --user-name alice --tag-keys keyrotor:" + kA}}})
	})
	t.Run("vanished keys: forget, valid or corrupt, before the issue", func(t *testing.T) {
		got := planUser(User{
			Keys: []Key{active(kA, 200*day24)},
			Tags: tags(kV, deactivated(kK, 3*day24), kK, "garbage", "AKIA", "not a state tag"),
		}, def)
		checkActions(t, got, []want{
			{key: kK, kind: ActionForget, reason: []string{"key " + kK + " no longer exists", "keyrotor:" + kK}, next: &State{}},
			{key: kV, kind: ActionForget, next: &State{}},
			{key: kA, kind: ActionIssue, due: issueAfter, notify: EventIssued, next: &newIntent},
		})
	})
	t.Run("other keyrotor tags are left alone", func(t *testing.T) {
		got := planUser(User{Keys: []Key{active(kA, 10*day24)}, Tags: map[string]string{"keyrotor:exempt": "false", "keyrotor:owner": "x@example.com"}}, def)
		checkActions(t, got, []want{{key: kA, kind: ActionNone, due: ago(10 * day24).Add(90 * day24)}})
	})
}

func TestPlanIntentRecovery(t *testing.T) {
	old := active(kA, 120*day24, usedAgo(9*day24))
	adopted := func(at time.Duration) State {
		return State{Phase: PhaseIssued, RunID: other, NewKeyID: kK}.WithIssued(kK, ago(at))
	}
	redo := []string{"redoing the rotation interrupted 2027-03-01 (run " + other + ")"}
	tests := []struct {
		name   string
		keys   []Key
		st     State
		secret string
		want   []want
	}{
		{"secret holds the new key: adopt, deactivation later", []Key{old, active(kK, time.Hour-time.Minute)}, intent(other, time.Hour), kK, []want{
			{key: kA, kind: ActionAdopt, reason: []string{"is the one stored in secret", "deactivation due 2027-03-08"}, newKey: kK,
				due: stamp(ago(time.Hour)).Add(7 * day24), notify: EventIssued, next: ptr(adopted(time.Hour))},
			{key: kK, kind: ActionNone, reason: []string{"replacement of " + kA}, due: ago(time.Hour - time.Minute).Add(90 * day24)},
		}},
		{"adopt then deactivate in the same run", []Key{old, active(kK, 8*day24)}, intent(other, 8*day24), kK, []want{
			{key: kA, kind: ActionAdopt, newKey: kK, notify: EventIssued, next: ptr(adopted(8 * day24))},
			{key: kA, kind: ActionDeactivate, newKey: kK, due: fixedNow.Add(7 * day24), notify: EventDeactivated, next: deactNow(adopted(8 * day24))},
			{key: kK, kind: ActionNone, due: ago(8 * day24).Add(90 * day24)},
		}},
		{"adopt then hold when the old key is still used", []Key{active(kA, 120*day24, usedAgo(time.Hour)), active(kK, 8*day24)}, intent(other, 8*day24), kK, []want{
			{key: kA, kind: ActionAdopt, newKey: kK, notify: EventIssued, next: ptr(adopted(8 * day24))},
			{key: kA, kind: ActionHold, reason: []string{"still in use"}, newKey: kK, notify: EventReminder, next: ptr(adopted(8 * day24))},
			{key: kK, kind: ActionNone, due: ago(8 * day24).Add(90 * day24)},
		}},
		{"orphan (secret holds the old key): cleanup then issue again", []Key{old, active(kK, time.Hour-time.Minute)}, recorded(intent(other, time.Hour), kK), kA, []want{
			{key: kK, kind: ActionCleanup, reason: []string{"orphan key", "interrupted rotation of " + kA, "secret was never stored"}},
			{key: kA, kind: ActionIssue, reason: redo, due: issueAfter, notify: EventIssued, next: &newIntent},
		}},
		{"orphan within the clock skew: cleanup", []Key{old, active(kK, time.Hour+4*time.Minute)}, recorded(intent(other, time.Hour), kK), "", []want{
			{key: kK, kind: ActionCleanup},
			{key: kA, kind: ActionIssue, reason: redo, due: issueAfter, notify: EventIssued, next: &newIntent},
		}},
		{"key older than intent plus skew is not an orphan: two-key rule", []Key{old, active(kK, time.Hour+6*time.Minute)}, intent(other, time.Hour), "", []want{
			{key: kA, kind: ActionHold, reason: []string{"two active keys"}},
			{key: kK, kind: ActionNone, due: ago(time.Hour + 6*time.Minute).Add(90 * day24)},
		}},
		{"key created after the lease: someone else's, two-key rule", []Key{old, active(kK, 39*time.Minute)}, intent(other, time.Hour), "", []want{
			{key: kA, kind: ActionHold, reason: []string{"two active keys"}},
			{key: kK, kind: ActionNone, due: ago(39 * time.Minute).Add(90 * day24)},
		}},
		{"key created just within lease plus skew: cleanup", []Key{old, active(kK, 40*time.Minute)}, recorded(intent(other, time.Hour), kK), "", []want{
			{key: kK, kind: ActionCleanup},
			{key: kA, kind: ActionIssue, reason: redo, due: issueAfter, notify: EventIssued, next: &newIntent},
		}},
		{"orphan that has been used: hold, never delete it", []Key{old, active(kK, 55*time.Minute, usedAgo(time.Minute))}, recorded(intent(other, time.Hour), kK), "", []want{
			{key: kA, kind: ActionHold, reason: []string{"has been used", "aws iam delete-access-key --user-name alice --access-key-id " + kK}},
			{key: kK, kind: ActionNone, due: ago(55 * time.Minute).Add(90 * day24)},
		}},
		{"fresh intent of another run: skip", []Key{old, active(kK, time.Minute)}, intent(other, 14*time.Minute), "", []want{
			{key: kA, kind: ActionSkip, reason: []string{"another run (" + other + ")"}, due: stamp(ago(14 * time.Minute)).Add(15 * time.Minute)},
			{key: kK, kind: ActionNone, due: ago(time.Minute).Add(90 * day24)},
		}},
		{"intent of another run at the lease end: recover", []Key{old}, intent(other, 15*time.Minute), "", []want{
			{key: kA, kind: ActionIssue, due: issueAfter, notify: EventIssued, next: &newIntent},
		}},
		{"fresh intent of this run: not skipped", []Key{old}, intent(runID, time.Minute), "", []want{
			{key: kA, kind: ActionIssue, due: issueAfter, notify: EventIssued, next: &newIntent},
		}},
		{"no other key: issue again", []Key{old}, intent(other, time.Hour), "", []want{
			{key: kA, kind: ActionIssue, reason: redo, due: issueAfter, notify: EventIssued, next: &newIntent},
		}},
		{"no other key, old key inactive: forget", []Key{inactive(kA, 120*day24)}, intent(other, time.Hour), "", []want{
			{key: kA, kind: ActionForget, reason: []string{"cannot complete", "inactive"}, next: &State{}},
		}},
		{"orphan but old key inactive: the orphan is the only active key, kept", []Key{inactive(kA, 120*day24), active(kK, 59*time.Minute)},
			recorded(intent(other, time.Hour), kK), "", []want{
				{key: kA, kind: ActionHold, reason: []string{"only active key", "aws iam delete-access-key --user-name alice --access-key-id " + kK},
					code: vocab.ReasonNoActiveKey},
				{key: kK, kind: ActionNone, due: ago(59 * time.Minute).Add(90 * day24)},
			}},
		{"unrecorded key created during the intent: never deleted, intent kept", []Key{old, active(kK, 59*time.Minute)}, intent(other, time.Hour), "", []want{
			{key: kA, kind: ActionHold, reason: []string{"neither holds it nor records it", "aws iam delete-access-key --user-name alice --access-key-id " + kK,
				"aws iam untag-user --user-name alice --tag-keys keyrotor:" + kA}, code: vocab.ReasonOrphanUnproven},
			{key: kK, kind: ActionNone, due: ago(59 * time.Minute).Add(90 * day24)},
		}},
		{"intent recording a key created outside its window: tampered", []Key{old, active(kK, 30*day24)}, recorded(intent(other, 30*day24+time.Hour), kK), "", []want{
			{key: kA, kind: ActionHold, reason: []string{"outside the intent's window"}, code: vocab.ReasonStateTampered},
			{key: kK, kind: ActionNone, due: ago(30 * day24).Add(90 * day24)},
		}},
		{"intent dated in the future: tampered, not a lease forever", []Key{old}, intent(other, -365*day24), "", []want{
			{key: kA, kind: ActionHold, reason: []string{"is in the future"}, code: vocab.ReasonStateTampered},
		}},
		{"intent on a key not due for rotation: tampered, no early rotation", []Key{active(kA, 30*day24, usedAgo(20*day24))}, intent(other, time.Hour), "", []want{
			{key: kA, kind: ActionHold, reason: []string{"not due for rotation"}, code: vocab.ReasonStateTampered},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := User{Keys: tt.keys, Tags: tags(kA, tt.st), Secret: SecretMeta{AccessKeyID: tt.secret}}
			checkActions(t, planUser(u, def), tt.want)
		})
	}
	t.Run("vanished old key with an orphan and another key: cleanup then forget", func(t *testing.T) {
		u := User{Keys: []Key{active(kB, 20*day24), active(kK, 59*time.Minute)}, Tags: tags(kV, recorded(intent(other, time.Hour), kK))}
		checkActions(t, planUser(u, def), []want{
			{key: kK, kind: ActionCleanup, reason: []string{"interrupted rotation of " + kV}, code: vocab.ReasonOrphan},
			{key: kV, kind: ActionForget, next: &State{}},
			{key: kB, kind: ActionNone, due: ago(20 * day24).Add(90 * day24)},
		})
	})
	t.Run("vanished old key, the orphan is the only key: kept, intent kept", func(t *testing.T) {
		u := User{Keys: []Key{active(kK, 59*time.Minute)}, Tags: tags(kV, recorded(intent(other, time.Hour), kK))}
		checkActions(t, planUser(u, def), []want{
			{key: kK, kind: ActionHold, reason: []string{"only active key"}, code: vocab.ReasonNoActiveKey},
		})
	})
	t.Run("vanished old key, owner's key made by hand during the intent: kept, intent kept", func(t *testing.T) {
		u := User{Keys: []Key{active(kK, 59*time.Minute)}, Tags: tags(kV, intent(other, time.Hour))}
		checkActions(t, planUser(u, def), []want{
			{key: kK, kind: ActionHold, reason: []string{"never deletes a key it cannot show it created"}, code: vocab.ReasonOrphanUnproven},
		})
	})
	t.Run("vanished old key, two candidates: both held and reported, intent kept", func(t *testing.T) {
		u := User{Keys: []Key{active(kB, 58*time.Minute), active(kK, 59*time.Minute)}, Tags: tags(kV, intent(other, time.Hour))}
		checkActions(t, planUser(u, def), []want{
			{key: kK, kind: ActionHold, code: vocab.ReasonOrphanUnproven},
			{key: kB, kind: ActionHold, code: vocab.ReasonOrphanUnproven},
		})
	})
	t.Run("vanished old key, other key created long after the intent: forget only", func(t *testing.T) {
		u := User{Keys: []Key{active(kK, time.Minute)}, Tags: tags(kV, intent(other, 2*day24))}
		checkActions(t, planUser(u, def), []want{
			{key: kV, kind: ActionForget, next: &State{}},
			{key: kK, kind: ActionNone, due: ago(time.Minute).Add(90 * day24)},
		})
	})
	t.Run("an intent's own new= records nothing: a forged one deletes no key", func(t *testing.T) {
		// A TagUser-only insider names the owner's unused key in an
		// intent dated at its creation; the secret records no such key.
		u := User{Keys: []Key{old, active(kK, 59*time.Minute)}, Tags: tags(kA, recorded(intent(other, time.Hour), kK)),
			Secret: SecretMeta{Read: true}}
		for _, a := range planUser(u, def) {
			if a.Kind == ActionCleanup || a.Kind == ActionDelete {
				t.Fatalf("planned %s of %s on a forged intent: %s", a.Kind, a.KeyID, a.Reason)
			}
			if a.KeyID == kA && a.Code != vocab.ReasonOrphanUnproven {
				t.Errorf("the old key's hold: %s %s (%s)", a.Kind, a.Code, a.Reason)
			}
		}
	})
	t.Run("vanished old key with a fresh intent of another run: skip", func(t *testing.T) {
		u := User{Keys: []Key{active(kK, time.Minute)}, Tags: tags(kV, intent(other, time.Minute))}
		checkActions(t, planUser(u, def), []want{
			{key: kV, kind: ActionSkip, due: stamp(ago(time.Minute)).Add(15 * time.Minute)},
			{key: kK, kind: ActionNone, due: ago(time.Minute).Add(90 * day24)},
		})
	})
	t.Run("vanished old key, secret holds the other key: forget only", func(t *testing.T) {
		u := User{Keys: []Key{active(kK, 59*time.Minute)}, Tags: tags(kV, intent(other, time.Hour)), Secret: SecretMeta{AccessKeyID: kK}}
		checkActions(t, planUser(u, def), []want{
			{key: kV, kind: ActionForget, next: &State{}},
			{key: kK, kind: ActionNone, due: ago(59 * time.Minute).Add(90 * day24)},
		})
	})
}

func TestPlanOrdersUsers(t *testing.T) {
	inv := Inventory{AccountID: "111122223333", Users: []User{
		{Name: "zed", Keys: []Key{active("AKIAZZZZZZZZZZZZZZZZ", 100*day24)}},
		{Name: "amy", Keys: []Key{active(kB, 10*day24)}},
		{Name: "bob", Keys: []Key{active(kA, 100*day24)}},
	}}
	var got []string
	for _, a := range Plan(inv, def, fixedNow, runID) {
		got = append(got, a.User+"/"+string(a.Kind))
	}
	if want := []string{"amy/none", "bob/issue", "zed/issue"}; !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
}

func TestPrimaryByKey(t *testing.T) {
	u := User{
		Name:   uname,
		Keys:   []Key{active(kA, 120*day24), active(kK, 8*day24)},
		Tags:   tags(kA, intent(other, 8*day24)),
		Secret: SecretMeta{AccessKeyID: kK},
	}
	p := PrimaryByKey(Plan(Inventory{Users: []User{withEvidence(u)}}, def, fixedNow, runID))
	if len(p) != 2 || p[kA].Kind != ActionDeactivate || p[kK].Kind != ActionNone {
		t.Fatalf("primary = %v", p)
	}
}

func TestNeedsFreshLastUsed(t *testing.T) {
	a := active(kA, 200*day24)
	tests := []struct {
		name string
		u    User
		k    Key
		want bool
	}{
		{"no state", User{Keys: []Key{a}}, a, false},
		{"issued, not due", User{Tags: tags(kA, issued(kK, 6*day24))}, a, false},
		{"issued, due", User{Tags: tags(kA, issued(kK, 7*day24))}, a, true},
		{"reactivated, due", User{Tags: tags(kA, reactivated(kK, 8*day24))}, a, true},
		{"intent a week old (adopt may deactivate)", User{Tags: tags(kA, intent(other, 7*day24))}, a, true},
		{"deactivated", User{Tags: tags(kA, deactivated(kK, 8*day24))}, a, false},
		{"inactive key", User{Tags: tags(kA, issued(kK, 8*day24))}, inactive(kA, 200*day24), false},
		{"exempt", User{Exempt: "tag", Tags: tags(kA, issued(kK, 8*day24))}, a, false},
		{"corrupt", User{Tags: tags(kA, "v1 state=issued")}, a, false},
	}
	for _, tt := range tests {
		if got := NeedsFreshLastUsed(tt.u, tt.k, def, fixedNow); got != tt.want {
			t.Errorf("%s: NeedsFreshLastUsed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestUserHelpers(t *testing.T) {
	u := User{
		Keys: []Key{active(kA, day24)},
		Tags: tags(kA, issued(kK, day24), kV, "bad"),
	}
	u.Tags["keyrotor:exempt"] = "true"
	u.Tags["AKIATESTXXXXXXXXXXXX"] = "not ours"
	states, errs := u.States()
	if len(states) != 1 || states[kA].NewKeyID != kK || len(errs) != 1 || errs[kV] == nil {
		t.Fatalf("States = %v, %v", states, errs)
	}
	if u.HasIntent() {
		t.Fatal("HasIntent without an issuing state")
	}
	u.Tags[TagKey(kB)] = intent(other, time.Hour).String()
	if !u.HasIntent() {
		t.Fatal("HasIntent missed an intent")
	}
	if k, ok := u.Key(kA); !ok || k.ID != kA {
		t.Fatal("Key(kA) not found")
	}
	if _, ok := u.Key(kB); ok {
		t.Fatal("Key(kB) found")
	}
}

func TestCheckUserPlanRejectsUnsafePlans(t *testing.T) {
	a, b := active(kA, 100*day24), inactive(kB, 100*day24)
	act := func(kind ActionKind, key, newKey string) Action {
		return Action{Kind: kind, KeyID: key, NewKeyID: newKey}
	}
	tests := []struct {
		name string
		u    User
		acts []Action
		ok   bool
	}{
		{"delete inactive then issue", User{Keys: []Key{a, b}}, []Action{act(ActionDelete, kB, ""), act(ActionIssue, kA, "")}, true},
		{"issue at two keys", User{Keys: []Key{a, b}}, []Action{act(ActionIssue, kA, ""), act(ActionNone, kB, "")}, false},
		{"issue before the delete", User{Keys: []Key{a, b}}, []Action{act(ActionIssue, kA, ""), act(ActionDelete, kB, "")}, false},
		{"delete active", User{Keys: []Key{a}}, []Action{act(ActionDelete, kA, "")}, false},
		{"deactivate the only active key", User{Keys: []Key{a, b}}, []Action{act(ActionDeactivate, kA, kB), act(ActionNone, kB, "")}, false},
		{"deactivate onto itself", User{Keys: []Key{a}}, []Action{act(ActionDeactivate, kA, kA)}, false},
		{"cleanup the key in the secret", User{Keys: []Key{a, b}, Secret: SecretMeta{AccessKeyID: kB, CurrentVersion: ClientRequestToken(kB)}}, []Action{act(ActionCleanup, kB, ""), act(ActionIssue, kA, "")}, false},
		{"key without action", User{Keys: []Key{a, b}}, []Action{act(ActionNone, kA, "")}, false},
		{"mutation on exempt user", User{Exempt: "x", Keys: []Key{b}}, []Action{act(ActionDelete, kB, "")}, false},
	}
	for _, tt := range tests {
		err := checkUserPlan(tt.u, tt.acts)
		if (err == nil) != tt.ok {
			t.Errorf("%s: checkUserPlan = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	p := newUserPlanner("1", User{Name: uname, Keys: []Key{a, b}}, def, fixedNow, runID)
	for _, h := range p.refuse(fmt.Errorf("test")) {
		if h.Kind != ActionHold || !strings.Contains(h.Reason, "refused its own unsafe plan") {
			t.Fatalf("refuse gave %+v", h)
		}
	}
}

// TestPlanProperties plans random inventories and replays every plan
// against the safety rules with a checker written independently of the
// planner's own guard, which must never have had to step in.
func TestPlanProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := []string{kA, kB, kK, kV, "AKIATESTWWWWWWWWWWWW"}
	durations := []time.Duration{0, time.Minute, 14 * time.Minute, 15 * time.Minute, time.Hour, 6*day24 + 23*time.Hour, 7 * day24,
		7*day24 + time.Hour, 13 * day24, 14 * day24, 44 * day24, 45 * day24, 89 * day24, 90 * day24, 91 * day24, 200 * day24}
	dur := func() time.Duration {
		return durations[rng.IntN(len(durations))] + time.Duration(rng.IntN(3)-1)*time.Second
	}
	pick := func() string { return ids[rng.IntN(len(ids))] }
	// pickOf picks an ID, mostly one of keys.
	pickOf := func(keys []Key) string {
		if len(keys) > 0 && rng.IntN(3) > 0 {
			return keys[rng.IntN(len(keys))].ID
		}
		return pick()
	}
	randState := func(keys []Key) string {
		switch rng.IntN(7) {
		case 0:
			st := intent([]string{runID, other}[rng.IntN(2)], dur())
			if rng.IntN(2) == 0 {
				st = recorded(st, pickOf(keys))
			}
			return st.String()
		case 1:
			return issued(pickOf(keys), dur()).String()
		case 2:
			return deactivated(pickOf(keys), dur()).String()
		case 3:
			return reactivated(pickOf(keys), dur()).String()
		case 4:
			s := issued(pickOf(keys), dur()).WithNotified(EventReminder, ago(dur()))
			return s.String()
		case 5:
			return "v1 state=deactivated"
		default:
			return "junk"
		}
	}
	const users = 1500
	var inv Inventory
	inv.AccountID = "111122223333"
	for i := range users {
		u := User{Name: fmt.Sprintf("u%04d", i), Tags: map[string]string{}, SecretName: "s"}
		n := []int{0, 1, 1, 2, 2, 2, 3}[rng.IntN(7)]
		perm := rng.Perm(len(ids))
		for j := 0; j < n; j++ {
			k := Key{ID: ids[perm[j]], Status: []vocab.KeyStatus{vocab.KeyActive, vocab.KeyActive, vocab.KeyInactive}[rng.IntN(3)], Created: ago(dur()), LastUsedFresh: rng.IntN(4) > 0}
			if rng.IntN(3) > 0 {
				k.LastUsed = agoPtr(dur())
			}
			u.Keys = append(u.Keys, k)
		}
		for range rng.IntN(3) {
			u.Tags[TagKey(pickOf(u.Keys))] = randState(u.Keys)
		}
		if n == 2 && rng.IntN(2) == 0 {
			// A rotation of the first key, stale, into the second, in any
			// phase.
			old, repl := u.Keys[0].ID, u.Keys[1].ID
			u.Keys[0].Created = ago(100*day24 + dur())
			u.Tags = map[string]string{}
			switch rng.IntN(4) {
			case 0:
				u.Tags[TagKey(old)] = recorded(intent(other, dur()), repl).String()
			case 1:
				u.Tags[TagKey(old)] = issued(repl, dur()).String()
			case 2:
				u.Tags[TagKey(old)] = deactivated(repl, dur()).String()
			default:
				u.Tags[TagKey(old)] = reactivated(repl, dur()).String()
			}
			if rng.IntN(2) == 0 {
				u = withEvidence(aligned(u))
			}
		}
		// The keys and the secret: as keyrotor's own steps leave them for
		// the tags (so that the plans reach every step), or anything.
		if rng.IntN(2) == 0 {
			u = aligned(u)
		}
		switch rng.IntN(4) {
		case 0:
			u.Secret = SecretMeta{Read: true}
		case 1:
			u = withEvidence(u)
		case 2:
			// What an intent recorded, stored before the issued tag was
			// written: an adoption.
			u.Secret.AccessKeyID = pickOf(u.Keys)
			states, _ := u.States()
			for _, st := range states {
				if st.Phase == PhaseIssuing && st.NewKeyID != "" {
					u.Secret.AccessKeyID = st.NewKeyID
				}
			}
			u = withEvidence(u)
		default:
			u.Secret = stored(pick(), pick(), ago(dur()))
		}
		if rng.IntN(15) == 0 {
			u.Exempt = "random"
		}
		inv.Users = append(inv.Users, u)
	}
	pols := []Policy{def, foreignOn, hard14}
	kinds := map[ActionKind]int{}
	for pi, pol := range pols {
		plan := Plan(inv, pol, fixedNow, runID)
		if again := Plan(inv, pol, fixedNow, runID); !reflect.DeepEqual(plan, again) {
			t.Fatal("Plan is not deterministic")
		}
		shuffled := inv
		shuffled.Users = slices.Clone(inv.Users)
		rng.Shuffle(len(shuffled.Users), func(i, j int) { shuffled.Users[i], shuffled.Users[j] = shuffled.Users[j], shuffled.Users[i] })
		for i := range shuffled.Users {
			ks := slices.Clone(shuffled.Users[i].Keys)
			slices.Reverse(ks)
			shuffled.Users[i].Keys = ks
		}
		if other := Plan(shuffled, pol, fixedNow, runID); !reflect.DeepEqual(plan, other) {
			t.Fatal("Plan depends on input order")
		}
		byUser := map[string][]Action{}
		for _, a := range plan {
			byUser[a.User] = append(byUser[a.User], a)
			kinds[a.Kind]++
			if !vocab.KnownReason(a.Code) {
				t.Fatalf("policy %d: %s %s of %s has no known reason code (%q): %s", pi, a.Kind, a.KeyID, a.User, a.Code, a.Reason)
			}
		}
		for _, u := range inv.Users {
			if err := replay(u, byUser[u.Name], pol); err != nil {
				t.Fatalf("policy %d, user %s: %v\nkeys %+v\ntags %v\nsecret %+v\n%s", pi, u.Name, err, u.Keys, u.Tags, u.Secret, dump(byUser[u.Name]))
			}
		}
	}
	// The generator must reach every kind, or the properties prove little.
	for _, k := range []ActionKind{ActionNone, ActionIssue, ActionAdopt, ActionCleanup, ActionDeactivate, ActionDelete, ActionHold, ActionSkip, ActionExempt, ActionForget} {
		if kinds[k] == 0 {
			t.Errorf("random inventories never produced %s", k)
		}
	}
}

// replay checks one user's plan: never an Issue beyond two keys, never a
// Deactivate of the only active key or without an active replacement, never
// a Delete of an active key or of a foreign key the policy does not allow,
// exactly one primary action per key, nothing but Exempt for exempt users,
// valid states to write, and no plan the planner's guard had to refuse.
func replay(u User, acts []Action, pol Policy) error {
	keys := map[string]Key{}
	for _, k := range u.Keys {
		keys[k.ID] = k
	}
	status := map[string]vocab.KeyStatus{}
	for id, k := range keys {
		status[id] = k.Status
	}
	states, errs := u.States()
	primaries := map[string]int{}
	for i, a := range acts {
		if strings.Contains(a.Reason, "refused its own unsafe plan") {
			return fmt.Errorf("guard refused a plan: %s", a.Reason)
		}
		if a.Reason == "" {
			return fmt.Errorf("%s %s without reason", a.Kind, a.KeyID)
		}
		if u.Exempt != "" && a.Kind != ActionExempt {
			return fmt.Errorf("%s on an exempt user", a.Kind)
		}
		if a.Kind.Mutates() && a.Next.Phase != "" {
			v, err := a.Next.Encode()
			if err != nil {
				return fmt.Errorf("%s %s: Next does not encode: %v", a.Kind, a.KeyID, err)
			}
			if !iamTagValue.MatchString(v) {
				return fmt.Errorf("%s %s: Next %q is not a valid IAM tag value", a.Kind, a.KeyID, v)
			}
		}
		if slices.IndexFunc(acts[i+1:], func(b Action) bool { return b.KeyID == a.KeyID }) < 0 {
			primaries[a.KeyID]++
		}
		switch a.Kind {
		case ActionIssue:
			if status[a.KeyID] != vocab.KeyActive {
				return fmt.Errorf("issue for %s, status %q", a.KeyID, status[a.KeyID])
			}
			if len(status) >= 2 {
				return fmt.Errorf("issue for %s while the user has %d keys", a.KeyID, len(status))
			}
			status["issued-for-"+a.KeyID] = vocab.KeyActive
		case ActionDeactivate:
			others := 0
			for id, s := range status {
				if id != a.KeyID && s == vocab.KeyActive {
					others++
				}
			}
			if others == 0 {
				return fmt.Errorf("deactivate of %s, the only active key", a.KeyID)
			}
			if status[a.NewKeyID] != vocab.KeyActive || a.NewKeyID == a.KeyID {
				return fmt.Errorf("deactivate of %s with replacement %s %q", a.KeyID, a.NewKeyID, status[a.NewKeyID])
			}
			if !u.Secret.Holds(a.NewKeyID, a.KeyID) {
				return fmt.Errorf("deactivate of %s, but the secret does not hold %s as its replacement", a.KeyID, a.NewKeyID)
			}
			status[a.KeyID] = vocab.KeyInactive
		case ActionDelete:
			if status[a.KeyID] != vocab.KeyInactive {
				return fmt.Errorf("delete of %s with status %q", a.KeyID, status[a.KeyID])
			}
			if st, ok := states[a.KeyID]; !ok || st.Phase != PhaseDeactivated {
				k := keys[a.KeyID]
				ok := pol.DeleteForeignInactive && fixedNow.Sub(k.Created) >= pol.ForeignMinAge &&
					fixedNow.Sub(lastActivity(k)) >= pol.ForeignUnusedFor
				if !ok {
					return fmt.Errorf("delete of foreign key %s not allowed by policy", a.KeyID)
				}
			} else if fixedNow.Sub(st.Deactivated) < pol.DeleteAfter {
				return fmt.Errorf("delete of %s before delete_after", a.KeyID)
			} else if !u.Secret.Holds(st.NewKeyID, a.KeyID) {
				return fmt.Errorf("delete of %s, but the secret does not hold %s as its replacement", a.KeyID, st.NewKeyID)
			} else if c := u.Secret.Clock; c.Event != ClockDeactivated || fixedNow.Sub(c.At) < pol.DeleteAfter {
				return fmt.Errorf("delete of %s, but the secret's clock says %q", a.KeyID, c)
			} else if k := keys[a.KeyID]; k.LastUsed != nil && k.LastUsed.After(st.Deactivated) {
				return fmt.Errorf("delete of %s, used after its recorded deactivation", a.KeyID)
			}
			delete(status, a.KeyID)
		case ActionCleanup:
			k, ok := keys[a.KeyID]
			if !ok || u.Secret.CurrentVersion == ClientRequestToken(a.KeyID) || k.LastUsed != nil {
				return fmt.Errorf("cleanup of %s (exists %v, secret %+v, used %v)", a.KeyID, ok, u.Secret, k.LastUsed)
			}
			if id, rec := u.Secret.Unstored(u.Secret.Replaces); !rec || id != a.KeyID {
				return fmt.Errorf("cleanup of %s, which the secret does not record as keyrotor's", a.KeyID)
			}
			if st, ok := states[u.Secret.Replaces]; ok && st.Phase != PhaseIssuing {
				return fmt.Errorf("cleanup of %s, recorded for %s, which has no intent", a.KeyID, u.Secret.Replaces)
			}
			delete(status, a.KeyID)
			if !slices.Contains(slices.Collect(maps.Values(status)), vocab.KeyActive) {
				return fmt.Errorf("cleanup of %s, the user's last active key", a.KeyID)
			}
		case ActionForget:
			_, st := states[a.KeyID]
			_, bad := errs[a.KeyID]
			if !st && !bad {
				return fmt.Errorf("forget of %s without a tag", a.KeyID)
			}
		}
	}
	for id := range keys {
		if primaries[id] != 1 {
			return fmt.Errorf("key %s has %d primary actions", id, primaries[id])
		}
	}
	for id, n := range primaries {
		if _, ok := keys[id]; !ok && n != 1 {
			return fmt.Errorf("vanished key %s has %d actions", id, n)
		}
	}
	return nil
}

// TestPlanSecretClock: the deletion clock an IAM tag says is bounded by the
// one mirrored on the owner's secret, which only the rotation role writes.
func TestPlanSecretClock(t *testing.T) {
	repl := active(kK, 30*day24)
	real := deactivated(kK, 2*day24)
	u := aligned(User{Keys: []Key{inactive(kA, 400*day24), repl}, Tags: tags(kA, real)})
	u = withEvidence(u)
	// A tagger moves the IAM tag's deactivation back by six days, still
	// after the issue: by the tag alone, deletion would be due.
	back := real
	back.Deactivated, back.At = real.Deactivated.Add(-6*day24), real.Deactivated.Add(-6*day24)
	forgedBack := u
	forgedBack.Tags = tags(kA, back)
	if a := PrimaryByKey(planUser(forgedBack, def))[kA]; a.Kind != ActionNone || a.Code != vocab.ReasonDeletionWaiting ||
		!a.Due.Equal(real.Deactivated.Add(def.DeleteAfter)) {
		t.Errorf("deactivation date moved back: %s %s due %s (%s)", a.Kind, a.Code, a.Due, a.Reason)
	}
	// A deactivated tag with no deactivation on the secret deletes nothing.
	noClock := u
	noClock.Secret.Clock = SecretClock{}
	if a := PrimaryByKey(planUser(noClock, def))[kA]; a.Kind != ActionHold || a.Code != vocab.ReasonStateTampered {
		t.Errorf("no clock on the secret: %s %s (%s)", a.Kind, a.Code, a.Reason)
	}
	// The secret saw the key on after the tag's deactivation (the tag's
	// seen_active was removed): the grace starts over.
	seen := u
	seen.Secret.Clock = SecretClock{Event: ClockActive, At: real.Deactivated.Add(day24)}
	if a := PrimaryByKey(planUser(seen, def))[kA]; a.Kind != ActionNone || a.Next.Deactivated.IsZero() || !a.Next.Deactivated.Equal(fixedNow) {
		t.Errorf("seen active on the secret: %s next %s (%s)", a.Kind, a.Next, a.Reason)
	}
	// Honest: deleted 7 days after.
	honest := u
	honest.Tags = tags(kA, deactivated(kK, 8*day24))
	honest = withEvidence(aligned(User{Keys: honest.Keys, Tags: honest.Tags}))
	if a := PrimaryByKey(planUser(honest, def))[kA]; a.Kind != ActionDelete {
		t.Errorf("honest deletion: %s %s (%s)", a.Kind, a.Code, a.Reason)
	}
}

// TestPlanOwnerDecrypt: with a customer managed KMS key on the owner's
// secret, neither the deactivation nor the deletion of the old key goes
// ahead unless this run saw the owner allowed to decrypt with the key,
// and a key that is not enabled is held with the command that turns it on.
func TestPlanOwnerDecrypt(t *testing.T) {
	const keyARN = "arn:aws:kms:us-east-1:111122223333:key/k1"
	repl := active(kK, 30*day24)
	cases := []struct {
		name string
		a    Key
		st   State
		kind ActionKind
	}{
		{"deactivation", active(kA, 400*day24, usedAgo(20*day24)), issued(kK, 8*day24), ActionDeactivate},
		{"deletion", inactive(kA, 400*day24), deactivated(kK, 8*day24).WithNotified(EventDeactivated, ago(8*day24)), ActionDelete},
	}
	for _, c := range cases {
		u := withEvidence(aligned(User{Keys: []Key{c.a, repl}, Tags: tags(kA, c.st), ARN: "arn:aws:iam::111122223333:user/alice"}))
		u.Secret.KMSKeyID = "alias/keyrotor"
		if !NeedsDecryptCheck(u, def, fixedNow) {
			t.Errorf("%s: NeedsDecryptCheck is false", c.name)
		}
		for _, d := range []struct {
			check DecryptCheck
			fix   string
		}{
			{DecryptCheck{}, "aws kms create-grant --key-id alias/keyrotor"},
			{DecryptCheck{Checked: true, KeyARN: keyARN, Problem: "IAM's policy simulation answers implicitDeny"}, "aws kms create-grant --key-id " + keyARN},
			{DecryptCheck{Checked: true, KeyARN: keyARN, Problem: "KMS key is not enabled", KeyDisabled: true}, "aws kms enable-key --key-id " + keyARN},
		} {
			u.OwnerDecrypt = d.check
			a := PrimaryByKey(planUser(u, def))[kA]
			if a.Kind != ActionHold || a.Code != vocab.ReasonOwnerCannotDecrypt || !strings.Contains(a.Fix, d.fix) ||
				!strings.HasPrefix(a.Reason, c.name+" is due") {
				t.Errorf("%s with %+v: %s %s fix %q (%s)", c.name, d.check, a.Kind, a.Code, a.Fix, a.Reason)
			}
		}
		u.OwnerDecrypt = DecryptCheck{Checked: true, Allowed: true, KeyARN: keyARN}
		if a := PrimaryByKey(planUser(u, def))[kA]; a.Kind != c.kind {
			t.Errorf("%s, owner may decrypt: %s %s (%s)", c.name, a.Kind, a.Code, a.Reason)
		}
	}
}

// TestPlanReviewFindings pins decisions a safety review asked for.
func TestPlanReviewFindings(t *testing.T) {
	t.Run("orphan candidate without fresh last use: hold, never delete", func(t *testing.T) {
		orphan := active(kK, time.Hour-time.Minute)
		orphan.LastUsedFresh = false
		u := User{Keys: []Key{active(kA, 120*day24), orphan}, Tags: tags(kA, intent(other, time.Hour))}
		for _, a := range planUser(u, def) {
			if a.Kind == ActionCleanup || a.Kind == ActionDelete {
				t.Fatalf("planned %s of %s on credential-report data: %s", a.Kind, a.KeyID, a.Reason)
			}
		}
	})
	t.Run("deletion due but the user has no other active key: hold", func(t *testing.T) {
		u := User{Keys: []Key{inactive(kA, 120*day24)}, Tags: tags(kA, deactivated(kK, 8*day24))}
		got := planUser(u, def)
		if len(got) != 1 || got[0].Kind != ActionHold || !strings.Contains(got[0].Reason, "no active key") {
			t.Fatalf("actions = %+v, want one hold", got)
		}
	})
	t.Run("intent user: stateless keys need fresh last use", func(t *testing.T) {
		u := User{Keys: []Key{active(kA, 120*day24), active(kK, time.Hour)}, Tags: tags(kA, intent(other, time.Hour))}
		if !NeedsFreshLastUsed(u, u.Keys[1], def, fixedNow) {
			t.Error("a possible orphan's last use must be asked fresh")
		}
	})
}

// TestPlanReasonCodes pins the reason code of each decision, and the fix
// command of each hold a human resolves: reports and alerting key on them.
func TestPlanReasonCodes(t *testing.T) {
	repl := active(kK, 7*day24)
	notifiedAt := func(at time.Duration) State { return issued(kK, at).WithNotified(EventIssued, ago(at)) }
	tests := []struct {
		name string
		pol  Policy
		u    User
		key  string
		kind ActionKind
		code vocab.Reason
		fix  []string
	}{
		{name: "young key", u: User{Keys: []Key{active(kA, 10*day24)}}, key: kA, kind: ActionNone, code: vocab.ReasonNotDue},
		{name: "stale key", u: User{Keys: []Key{active(kA, 100*day24)}}, key: kA, kind: ActionIssue, code: vocab.ReasonStale},
		{name: "exempt", u: User{Exempt: "tag", Keys: []Key{active(kA, 100*day24)}}, key: kA, kind: ActionExempt, code: vocab.ReasonExempt},
		{name: "issued, waiting", u: User{Keys: []Key{active(kA, 100*day24), repl}, Tags: tags(kA, notifiedAt(day24))},
			key: kA, kind: ActionNone, code: vocab.ReasonIssuedWaiting},
		{name: "replacement itself", u: User{Keys: []Key{active(kA, 100*day24), repl}, Tags: tags(kA, notifiedAt(day24))},
			key: kK, kind: ActionNone, code: vocab.ReasonReplacementKey},
		{name: "unused since issue", u: User{Keys: []Key{active(kA, 100*day24), repl}, Tags: tags(kA, notifiedAt(8*day24))},
			key: kA, kind: ActionDeactivate, code: vocab.ReasonUnusedSinceIssue},
		{name: "hard deadline", pol: hard14, u: User{Keys: []Key{active(kA, 100*day24, usedAgo(time.Hour)), repl}, Tags: tags(kA, notifiedAt(15*day24))},
			key: kA, kind: ActionDeactivate, code: vocab.ReasonHardDeadline},
		{name: "already inactive", u: User{Keys: []Key{inactive(kA, 100*day24), repl}, Tags: tags(kA, notifiedAt(8*day24))},
			key: kA, kind: ActionDeactivate, code: vocab.ReasonAlreadyInactive},
		{name: "still in use", u: User{Keys: []Key{active(kA, 100*day24, usedAgo(time.Hour)), repl}, Tags: tags(kA, notifiedAt(8*day24))},
			key: kA, kind: ActionHold, code: vocab.ReasonOldKeyInUse},
		{name: "last use unconfirmed", u: User{Keys: []Key{active(kA, 100*day24, notFresh), repl}, Tags: tags(kA, notifiedAt(8*day24))},
			key: kA, kind: ActionHold, code: vocab.ReasonLastUseUnconfirmed},
		{name: "replacement gone", u: User{Keys: []Key{active(kA, 100*day24)}, Tags: tags(kA, notifiedAt(8*day24))},
			key: kA, kind: ActionHold, code: vocab.ReasonReplacementUnusable,
			fix: []string{"aws iam update-access-key --user-name alice --access-key-id " + kK + " --status Active",
				"aws iam untag-user --user-name alice --tag-keys keyrotor:" + kA}},
		{name: "deletion waiting", u: User{Keys: []Key{inactive(kA, 100*day24), repl}, Tags: tags(kA, deactivated(kK, day24))},
			key: kA, kind: ActionNone, code: vocab.ReasonDeletionWaiting},
		{name: "retired", u: User{Keys: []Key{inactive(kA, 100*day24), repl}, Tags: tags(kA, deactivated(kK, 8*day24))},
			key: kA, kind: ActionDelete, code: vocab.ReasonRetired},
		{name: "reactivated outside", u: User{Keys: []Key{active(kA, 100*day24), repl}, Tags: tags(kA, deactivated(kK, 8*day24))},
			key: kA, kind: ActionHold, code: vocab.ReasonReactivatedOutside,
			fix: []string{"aws iam update-access-key --user-name alice --access-key-id " + kA + " --status Inactive"}},
		{name: "no active key left", u: User{Keys: []Key{inactive(kA, 100*day24)}, Tags: tags(kA, deactivated(kK, 8*day24))},
			key: kA, kind: ActionHold, code: vocab.ReasonNoActiveKey,
			fix: []string{"aws iam untag-user --user-name alice --tag-keys keyrotor:" + kA}},
		{name: "foreign inactive", u: User{Keys: []Key{inactive(kA, 10*day24)}}, key: kA, kind: ActionNone, code: vocab.ReasonForeignInactive},
		{name: "foreign inactive deleted", pol: foreignOn, u: User{Keys: []Key{inactive(kA, 100*day24)}},
			key: kA, kind: ActionDelete, code: vocab.ReasonForeignDeleted},
		{name: "two active keys", u: User{Keys: []Key{active(kA, 100*day24, usedAgo(time.Hour)), active(kB, 10*day24)}},
			key: kA, kind: ActionHold, code: vocab.ReasonTwoKeys,
			fix: []string{"aws iam update-access-key --user-name alice --access-key-id " + kB + " --status Inactive"}},
		{name: "inactive foreign key in the way", u: User{Keys: []Key{active(kA, 100*day24), inactive(kB, 10*day24)}},
			key: kA, kind: ActionHold, code: vocab.ReasonTwoKeys,
			fix: []string{"aws iam delete-access-key --user-name alice --access-key-id " + kB}},
		{name: "three keys", u: User{Keys: []Key{active(kA, 100*day24), inactive(kB, 10*day24), inactive(kK, 10*day24)}},
			key: kA, kind: ActionHold, code: vocab.ReasonTooManyKeys},
		{name: "corrupt state", u: User{Keys: []Key{active(kA, 100*day24)}, Tags: tags(kA, "junk")},
			key: kA, kind: ActionHold, code: vocab.ReasonStateCorrupt,
			fix: []string{"aws iam untag-user --user-name alice --tag-keys keyrotor:" + kA}},
		{name: "unexpected status", u: User{Keys: []Key{mk(kA, vocab.KeyExpired, 100*day24)}}, key: kA, kind: ActionHold, code: vocab.ReasonUnexpectedState},
		{name: "vanished key's state", u: User{Keys: []Key{active(kA, 10*day24)}, Tags: tags(kV, issued(kA, day24))},
			key: kV, kind: ActionForget, code: vocab.ReasonStateStale},
		{name: "leased by another run", u: User{Keys: []Key{active(kA, 100*day24)}, Tags: tags(kA, intent(other, time.Minute))},
			key: kA, kind: ActionSkip, code: vocab.ReasonLeaseHeld},
		{name: "interrupted issue recovered", u: User{Keys: []Key{active(kA, 100*day24), active(kK, 50*time.Minute)},
			Tags: tags(kA, intent(other, time.Hour)), Secret: SecretMeta{AccessKeyID: kK}}, key: kK, kind: ActionNone, code: vocab.ReasonReplacementKey},
		{name: "orphan", u: User{Keys: []Key{active(kA, 100*day24), active(kK, 50*time.Minute)}, Tags: tags(kA, recorded(intent(other, time.Hour), kK)), Secret: SecretMeta{AccessKeyID: kA}},
			key: kK, kind: ActionCleanup, code: vocab.ReasonOrphan},
		{name: "orphan in use", u: User{Keys: []Key{active(kA, 100*day24), active(kK, 50*time.Minute, usedAgo(time.Minute))}, Tags: tags(kA, recorded(intent(other, time.Hour), kK)), Secret: SecretMeta{AccessKeyID: kA}},
			key: kA, kind: ActionHold, code: vocab.ReasonOrphanInUse,
			fix: []string{"aws iam delete-access-key --user-name alice --access-key-id " + kK, "aws iam untag-user --user-name alice --tag-keys keyrotor:" + kA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := tt.pol
			if pol == (Policy{}) {
				pol = def
			}
			tt.u.SecretName = "keyrotor/111122223333/alice"
			a, ok := PrimaryByKey(planUser(aligned(tt.u), pol))[tt.key]
			if !ok || a.Kind != tt.kind || a.Code != tt.code {
				t.Fatalf("%s: %s %q, want %s %q (%s)", tt.key, a.Kind, a.Code, tt.kind, tt.code, a.Reason)
			}
			if got := strings.Join(tt.fix, "; "); a.Fix != got {
				t.Errorf("fix = %q, want %q", a.Fix, got)
			}
			for _, f := range tt.fix {
				if !strings.Contains(a.Reason, f) {
					t.Errorf("reason %q does not quote the fix %q", a.Reason, f)
				}
			}
		})
	}
}
