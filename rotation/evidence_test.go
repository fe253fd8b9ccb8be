package rotation

import (
	"strings"
	"testing"
	"time"
)

// TestEvidence pins what the pure evidence checks accept and what they say
// disagrees, on a fixed clock.
func TestEvidence(t *testing.T) {
	old := active(kA, 100*day24)
	issuedAt := stamp(ago(8 * day24))
	repl := Key{ID: kK, Status: "Active", Created: issuedAt.Add(-time.Minute)}
	st := State{Phase: PhaseIssued, NewKeyID: kK}.WithIssued(kK, issuedAt)
	good := stored(kK, kA, issuedAt.Add(-30*time.Second))
	const name = "keyrotor/111122223333/alice"
	tests := []struct {
		name  string
		st    State
		keys  []Key
		meta  SecretMeta
		wants string // substring of the problem; "" for none
	}{
		{name: "agrees", st: st, keys: []Key{old, repl}, meta: good},
		{name: "replacement gone, secret agrees", st: st, keys: []Key{old}, meta: good},
		{name: "secret not read", st: st, keys: []Key{old, repl}, meta: SecretMeta{}, wants: "was not read"},
		{name: "no secret", st: st, keys: []Key{old, repl}, meta: SecretMeta{Read: true}, wants: "does not exist"},
		{name: "secret holds another key", st: st, keys: []Key{old, repl}, meta: stored(kB, kA, good.Changed), wants: "holds " + kB},
		{name: "secret replaces another key", st: st, keys: []Key{old, repl}, meta: stored(kK, kB, good.Changed), wants: "replaces " + kB},
		{name: "untagged secret", st: st, keys: []Key{old, repl}, meta: SecretMeta{Read: true, Exists: true, Changed: good.Changed}, wants: "no keyrotor:access-key-id tag"},
		{name: "value never stored", st: st, keys: []Key{old, repl},
			meta: func() SecretMeta { m := good; m.CurrentVersion = ClientRequestToken(kA); return m }(), wants: "current version"},
		{name: "issued in the future", st: State{Phase: PhaseIssued, NewKeyID: kK}.WithIssued(kK, fixedNow.Add(time.Hour)),
			keys: []Key{old, repl}, meta: good, wants: "=" + fixedNow.Add(time.Hour).Format(stateTimeFmt) + " is in the future"},
		{name: "within the clock skew", st: State{Phase: PhaseIssued, NewKeyID: kK}.WithIssued(kK, fixedNow.Add(4*time.Minute)),
			keys: []Key{old, {ID: kK, Status: "Active", Created: fixedNow}}, meta: stored(kK, kA, fixedNow)},
		{name: "issued before the old key existed", st: State{Phase: PhaseIssued, NewKeyID: kK}.WithIssued(kK, old.Created.Add(-time.Hour)),
			keys: []Key{old, {ID: kK, Status: "Active", Created: old.Created.Add(-time.Hour)}}, meta: stored(kK, kA, old.Created.Add(-time.Hour)),
			wants: "before key " + kA + " was created"},
		{name: "replacement created long before the issue", st: st, keys: []Key{old, {ID: kK, Status: "Active", Created: issuedAt.Add(-3 * day24)}},
			meta: good, wants: "replacement " + kK + " was created"},
		{name: "secret written long after the issue", st: st, keys: []Key{old, repl}, meta: stored(kK, kA, fixedNow), wants: "was last written"},
		{name: "secret last changed by the clock keyrotor wrote", st: st.WithDeactivated(ago(day24)), keys: []Key{old, repl},
			meta: func() SecretMeta {
				m := stored(kK, kA, ago(day24))
				m.Clock = SecretClock{Event: ClockDeactivated, At: ago(day24)}
				return m
			}()},
		{name: "issued, but the secret says found on again", st: st, keys: []Key{old, repl},
			meta: func() SecretMeta { m := good; m.Clock = SecretClock{Event: ClockActive, At: issuedAt}; return m }(), wants: "never deactivated"},
		{name: "own replacement", st: State{Phase: PhaseIssued, NewKeyID: kA}.WithIssued(kA, issuedAt), keys: []Key{old}, meta: good,
			wants: "its own replacement"},
		{name: "deactivated before issued", st: func() State { s := st.WithDeactivated(issuedAt.Add(-day24)); return s }(),
			keys: []Key{old, repl}, meta: good, wants: "deactivated"},
		{name: "reactivated then deactivated again", st: st.WithDeactivated(ago(7 * day24)).WithReactivated(ago(6 * day24)).WithDeactivated(ago(day24)),
			keys: []Key{old, repl}, meta: good},
		{name: "reactivated before deactivated", st: func() State {
			s := st.WithDeactivated(ago(5 * day24)).WithReactivated(ago(6 * day24))
			return s
		}(), keys: []Key{old, repl}, meta: good, wants: "reactivated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rotationProblem(old, tt.st, tt.keys, tt.meta, name, fixedNow)
			if (tt.wants == "") != (got == "") || !strings.Contains(got, tt.wants) {
				t.Errorf("problem = %q, want one containing %q", got, tt.wants)
			}
		})
	}
}

func TestIntentEvidence(t *testing.T) {
	old := active(kA, 100*day24)
	in := intent(other, time.Hour)
	for _, tt := range []struct {
		name     string
		st       State
		recorded *Key
		wants    string
	}{
		{name: "plain intent", st: in},
		{name: "recorded key inside the window", st: in, recorded: &Key{ID: kK, Created: in.At.Add(time.Minute)}},
		{name: "recorded key at the window's far end", st: in, recorded: &Key{ID: kK, Created: in.At.Add(IntentLease + ClockSkew)}},
		{name: "recorded key after the window", st: in, recorded: &Key{ID: kK, Created: in.At.Add(IntentLease + ClockSkew + time.Second)}, wants: "outside the intent's window"},
		{name: "recorded key before the intent", st: in, recorded: &Key{ID: kK, Created: in.At.Add(-ClockSkew - time.Second)}, wants: "outside"},
		{name: "intent in the future", st: intent(other, -time.Hour), wants: "in the future"},
		{name: "intent before the key", st: intent(other, 101*day24), wants: "before key " + kA},
	} {
		if got := intentProblem(old, tt.st, tt.recorded, fixedNow); (tt.wants == "") != (got == "") || !strings.Contains(got, tt.wants) {
			t.Errorf("%s: problem = %q, want %q", tt.name, got, tt.wants)
		}
	}
}

func TestSecretMetaHoldsAndUnstored(t *testing.T) {
	held := stored(kK, kA, fixedNow)
	unstored := held
	unstored.CurrentVersion = ClientRequestToken(kA) // the previous rotation's value
	for _, tt := range []struct {
		name         string
		m            SecretMeta
		holds        bool
		unstoredID   string
		unstoredOK   bool
		replacesFrom string
	}{
		{name: "stored", m: held, holds: true, replacesFrom: kA},
		{name: "recorded, never stored", m: unstored, unstoredID: kK, unstoredOK: true, replacesFrom: kA},
		{name: "recorded for another old key", m: unstored, replacesFrom: kB},
		{name: "no secret", m: SecretMeta{Read: true}, replacesFrom: kA},
		{name: "not read", m: SecretMeta{AccessKeyID: kK, Replaces: kA}, replacesFrom: kA},
	} {
		if got := tt.m.Holds(kK, tt.replacesFrom); got != tt.holds {
			t.Errorf("%s: Holds = %v", tt.name, got)
		}
		if id, ok := tt.m.Unstored(tt.replacesFrom); id != tt.unstoredID || ok != tt.unstoredOK {
			t.Errorf("%s: Unstored = %q, %v", tt.name, id, ok)
		}
	}
}

func TestSecretClockRoundTrip(t *testing.T) {
	at := mustTime(t, "2026-12-03T07:00:00Z")
	for _, c := range []SecretClock{{Event: ClockDeactivated, At: at}, {Event: ClockActive, At: at}, {}} {
		if back := parseSecretClock(c.String()); back != c {
			t.Errorf("%q parses as %+v", c, back)
		}
	}
	for _, junk := range []string{"", "deactivated", "deactivated soon", "removed 2026-12-03T07:00:00Z", "active 2026-12-03T07:00:00.5Z"} {
		if c := parseSecretClock(junk); c != (SecretClock{}) {
			t.Errorf("%q parses as %+v", junk, c)
		}
	}
}

func TestValidSecretName(t *testing.T) {
	for name, ok := range map[string]bool{
		"keyrotor/111122223333/alice":          true,
		"keyrotor/111122223333/a+b=c.d@e_f-g":  true,
		"keyrotor/111122223333/ops,team":       false,
		"keyrotor/111122223333/a b":            false,
		"":                                     false,
		"keyrotor/" + strings.Repeat("a", 504): false,
	} {
		if err := ValidSecretName(name); (err == nil) != ok {
			t.Errorf("ValidSecretName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestTagValueIgnoresCase(t *testing.T) {
	tags := map[string]string{"Keyrotor:Exempt": "true", "email": "a@example.com"}
	if v, ok := TagValue(tags, "keyrotor:exempt"); !ok || v != "true" {
		t.Errorf("TagValue = %q, %v", v, ok)
	}
	if v, ok := TagValue(tags, "EMAIL"); !ok || v != "a@example.com" {
		t.Errorf("TagValue = %q, %v", v, ok)
	}
	if _, ok := TagValue(tags, "owner"); ok {
		t.Error("found a missing tag")
	}
	u := User{Tags: map[string]string{"KEYROTOR:" + kA: intent(other, time.Hour).String()}}
	if !u.HasIntent() || !u.HasState() {
		t.Error("a state tag spelled in capitals was not seen")
	}
}
