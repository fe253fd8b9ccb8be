package rotation

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"keyrotor/vocab"
)

// Policies of the notice tests: hold notices on, and due-soon notices 14
// and 3 days before max_key_age on top.
var (
	holdsOn = func() Policy { p := def; p.Notices.Holds = true; return p }()
	soonOn  = func() Policy {
		p := holdsOn
		p.Notices.DueSoon = [MaxDueSoon]time.Duration{14 * day24, 3 * day24}
		return p
	}()
)

// withNotices adds to tags a notice record for each key: a NoticeRecord or
// a raw value.
func withNotices(m map[string]string, kv ...any) map[string]string {
	m = maps.Clone(m)
	if m == nil {
		m = map[string]string{}
	}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case NoticeRecord:
			m[NoticeTagKey(kv[i].(string))] = v.String()
		case string:
			m[NoticeTagKey(kv[i].(string))] = v
		}
	}
	return m
}

func heldRec(at time.Duration, codes ...vocab.Reason) NoticeRecord {
	var n NoticeRecord
	for _, c := range codes {
		n = n.WithHeld(c, ago(at))
	}
	return n
}

// twoKeys is a user whose stale key kA is held at the two-key limit by an
// inactive key kB keyrotor did not retire.
func twoKeys(t map[string]string) User {
	return User{Keys: []Key{active(kA, 100*day24, usedAgo(time.Hour)), inactive(kB, 200*day24)}, Tags: t}
}

// manyTags returns n unrelated tags.
func manyTags(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m["team"+strings.Repeat("x", i+1)] = "payments"
	}
	return m
}

func TestPlanHoldNotices(t *testing.T) {
	stateTampered := User{Keys: []Key{active(kA, 100*day24, usedAgo(time.Hour)), active(kK, 2*day24)},
		Tags: tags(kA, issued(kK, 2*day24)), Secret: SecretMeta{Read: true}}
	tests := []struct {
		name   string
		u      User
		pol    Policy
		key    string
		code   vocab.Reason
		notify Event
		// mailed is the record the action must carry to the executor.
		mailed NoticeRecord
	}{
		{name: "notices off: the hold is only reported", u: twoKeys(nil), pol: def, key: kA, code: vocab.ReasonTwoKeys},
		{name: "two keys, owner never told", u: twoKeys(nil), pol: holdsOn, key: kA, code: vocab.ReasonTwoKeys, notify: EventHeld},
		{name: "two keys, told before", u: twoKeys(withNotices(nil, kA, heldRec(30*day24, vocab.ReasonTwoKeys))),
			pol: holdsOn, key: kA, code: vocab.ReasonTwoKeys},
		{name: "a new reason is told", u: twoKeys(withNotices(nil, kA, heldRec(day24, vocab.ReasonLastUseUnconfirmed))),
			pol: holdsOn, key: kA, code: vocab.ReasonTwoKeys, notify: EventHeld, mailed: heldRec(day24, vocab.ReasonLastUseUnconfirmed)},
		{name: "a record dated in the future counts as none",
			u:   twoKeys(withNotices(nil, kA, heldRec(-time.Hour, vocab.ReasonTwoKeys))),
			pol: holdsOn, key: kA, code: vocab.ReasonTwoKeys, notify: EventHeld},
		{name: "a record that does not parse counts as none", u: twoKeys(withNotices(nil, kA, "v1 held=TWO,KEYS")),
			pol: holdsOn, key: kA, code: vocab.ReasonTwoKeys, notify: EventHeld},
		{name: "a record of another key does not count",
			u:   twoKeys(withNotices(nil, kB, heldRec(day24, vocab.ReasonTwoKeys))),
			pol: holdsOn, key: kA, code: vocab.ReasonTwoKeys, notify: EventHeld},
		{name: "corrupt state tag", u: User{Keys: []Key{active(kA, 100*day24)}, Tags: tags(kA, "junk")},
			pol: holdsOn, key: kA, code: vocab.ReasonStateCorrupt, notify: EventHeld},
		{name: "tampered state, never told", u: stateTampered, pol: holdsOn, key: kA, code: vocab.ReasonStateTampered, notify: EventHeld},
		{name: "tampered state, told 3 days ago",
			u: func() User {
				u := stateTampered
				u.Tags = withNotices(u.Tags, kA, heldRec(3*day24, vocab.ReasonStateTampered))
				return u
			}(),
			pol: holdsOn, key: kA, code: vocab.ReasonStateTampered},
		{name: "tampered state, told a week ago: told again, whatever a record says",
			u: func() User {
				u := stateTampered
				u.Tags = withNotices(u.Tags, kA, heldRec(7*day24, vocab.ReasonStateTampered))
				return u
			}(),
			pol: holdsOn, key: kA, code: vocab.ReasonStateTampered, notify: EventHeld, mailed: heldRec(7*day24, vocab.ReasonStateTampered)},
		{name: "old key in use: its reminder is the hold's notice",
			u: User{Keys: []Key{active(kA, 100*day24, usedAgo(time.Hour)), active(kK, 8*day24)},
				Tags: tags(kA, issued(kK, 8*day24))},
			pol: holdsOn, key: kA, code: vocab.ReasonOldKeyInUse, notify: EventReminder},
		{name: "old key in use, reminded: no held notice either",
			u: User{Keys: []Key{active(kA, 100*day24, usedAgo(time.Hour)), active(kK, 8*day24)},
				Tags: tags(kA, issued(kK, 8*day24).WithNotified(EventReminder, ago(day24)))},
			pol: holdsOn, key: kA, code: vocab.ReasonOldKeyInUse},
		{name: "a user held as a whole: every key is told",
			u: User{Keys: []Key{active(kA, 100*day24)}, Tags: tags(kA, issued(kK, day24)),
				Problem: &UserProblem{Code: vocab.ReasonSecretUnreadable, Reason: "DescribeSecret: AccessDenied"}},
			pol: holdsOn, key: kA, code: vocab.ReasonSecretUnreadable, notify: EventHeld},
		{name: "exempt users hear nothing", u: func() User { u := twoKeys(nil); u.Exempt = "tag keyrotor:exempt"; return u }(),
			pol: holdsOn, key: kA, code: vocab.ReasonExempt},
		{name: "no free tag for a record: no notice", u: twoKeys(manyTags(maxUserTags - reservedStateTags)),
			pol: holdsOn, key: kA, code: vocab.ReasonTwoKeys},
		{name: "the last free tag", u: twoKeys(manyTags(maxUserTags - reservedStateTags - 1)),
			pol: holdsOn, key: kA, code: vocab.ReasonTwoKeys, notify: EventHeld},
		{name: "a record tag to overwrite needs no free tag",
			u:   twoKeys(withNotices(manyTags(maxUserTags-1), kA, heldRec(day24, vocab.ReasonLastUseUnconfirmed))),
			pol: holdsOn, key: kA, code: vocab.ReasonTwoKeys, notify: EventHeld, mailed: heldRec(day24, vocab.ReasonLastUseUnconfirmed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.u.SecretName = "keyrotor/111122223333/alice"
			u := tt.u
			if !u.Secret.Read {
				u = aligned(u)
			}
			a, ok := PrimaryByKey(planUser(u, tt.pol))[tt.key]
			if !ok || a.Code != tt.code || a.Notify != tt.notify {
				t.Fatalf("%s: %s %q notify %q, want %q notify %q (%s)", tt.key, a.Kind, a.Code, a.Notify, tt.code, tt.notify, a.Reason)
			}
			if a.Mailed.String() != tt.mailed.String() {
				t.Errorf("Mailed = %q, want %q", a.Mailed, tt.mailed)
			}
		})
	}
}

func TestPlanDueSoonNotices(t *testing.T) {
	due := func(age time.Duration) time.Time { return ago(age).Add(def.MaxKeyAge) }
	soonRec := func(at time.Duration) NoticeRecord { return NoticeRecord{}.WithDueSoon(ago(at)) }
	tests := []struct {
		name   string
		pol    Policy
		k      Key
		rec    any
		code   vocab.Reason
		notify Event
	}{
		{name: "off by default", pol: holdsOn, k: active(kA, 80*day24), code: vocab.ReasonNotDue},
		{name: "before the first mark", pol: soonOn, k: active(kA, 75*day24), code: vocab.ReasonNotDue},
		{name: "14 days before", pol: soonOn, k: active(kA, 76*day24), code: vocab.ReasonNotDue, notify: EventDueSoon},
		{name: "14 days before, told", pol: soonOn, k: active(kA, 76*day24), rec: soonRec(0), code: vocab.ReasonNotDue},
		{name: "between the marks, told at the first", pol: soonOn, k: active(kA, 85*day24), rec: soonRec(9 * day24), code: vocab.ReasonNotDue},
		{name: "3 days before, told at 14", pol: soonOn, k: active(kA, 87*day24), rec: soonRec(11 * day24), code: vocab.ReasonNotDue, notify: EventDueSoon},
		{name: "3 days before, never told: one notice, not two", pol: soonOn, k: active(kA, 87*day24), code: vocab.ReasonNotDue, notify: EventDueSoon},
		{name: "3 days before, told", pol: soonOn, k: active(kA, 89*day24), rec: soonRec(2 * day24), code: vocab.ReasonNotDue},
		{name: "a record of a hold does not count", pol: soonOn, k: active(kA, 80*day24), rec: heldRec(day24, vocab.ReasonTwoKeys),
			code: vocab.ReasonNotDue, notify: EventDueSoon},
		{name: "a record dated in the future counts as none", pol: soonOn, k: active(kA, 80*day24), rec: soonRec(-day24),
			code: vocab.ReasonNotDue, notify: EventDueSoon},
		{name: "due: the issue mails", pol: soonOn, k: active(kA, 90*day24), code: vocab.ReasonStale, notify: EventIssued},
		{name: "inactive keys are not rotated", pol: soonOn, k: inactive(kA, 80*day24), code: vocab.ReasonForeignInactive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := User{Keys: []Key{tt.k}, SecretName: "keyrotor/111122223333/alice"}
			if tt.rec != nil {
				u.Tags = withNotices(nil, kA, tt.rec)
			}
			a := PrimaryByKey(planUser(u, tt.pol))[kA]
			if a.Code != tt.code || a.Notify != tt.notify {
				t.Fatalf("%s %q notify %q, want %q notify %q (%s)", a.Kind, a.Code, a.Notify, tt.code, tt.notify, a.Reason)
			}
			if a.Notify == EventDueSoon && !a.Due.Equal(due(time.Duration(fixedNow.Sub(tt.k.Created)))) {
				t.Errorf("Due = %v, want when the key becomes due", a.Due)
			}
		})
	}

	// A replacement nearing its own max_key_age is told too.
	u := aligned(User{Keys: []Key{inactive(kA, 200*day24), active(kK, 80*day24)}, Tags: tags(kA, deactivated(kK, 70*day24))})
	a := PrimaryByKey(planUser(u, soonOn))[kK]
	if a.Code != vocab.ReasonReplacementKey || a.Notify != EventDueSoon {
		t.Errorf("replacement: %s %q notify %q, want replacement_key with a due-soon notice", a.Kind, a.Code, a.Notify)
	}
}

// TestPlanNoticesChangeNoStep: the notices and their records never change
// what happens to a key: planning with notices on, with any record, gives
// the steps of planning with notices off.
func TestPlanNoticesChangeNoStep(t *testing.T) {
	records := []any{nil, "junk", heldRec(day24, vocab.Reasons()...), heldRec(-day24, vocab.ReasonTwoKeys),
		NoticeRecord{}.WithDueSoon(ago(day24))}
	users := []User{
		twoKeys(nil),
		{Keys: []Key{active(kA, 100*day24)}},
		{Keys: []Key{active(kA, 80*day24)}},
		{Keys: []Key{active(kA, 100*day24, usedAgo(time.Hour)), active(kK, 8*day24)}, Tags: tags(kA, issued(kK, 8*day24))},
		{Keys: []Key{active(kA, 100*day24), active(kK, 8*day24)}, Tags: tags(kA, issued(kK, 8*day24))},
		{Keys: []Key{inactive(kA, 100*day24), active(kK, 20*day24)}, Tags: tags(kA, deactivated(kK, 10*day24))},
		{Keys: []Key{active(kA, 100*day24)}, Tags: tags(kA, "junk")},
	}
	steps := func(acts []Action) []string {
		var out []string
		for _, a := range acts {
			if a.Kind == ActionForget && strings.Contains(a.Reason, "notice tag") {
				continue
			}
			out = append(out, strings.Join([]string{string(a.Kind), a.KeyID, string(a.Code), a.NewKeyID,
				a.Due.String(), a.Next.String(), a.Fix, a.Reason}, " | "))
		}
		return out
	}
	for i, base := range users {
		base = aligned(base)
		for _, rec := range records {
			u := base
			if rec != nil {
				u.Tags = withNotices(base.Tags, kA, rec, kK, rec)
			}
			off, on := planUser(u, def), planUser(u, soonOn)
			if !slices.Equal(steps(off), steps(on)) {
				t.Errorf("user %d with record %v: steps differ\noff:\n%s\non:\n%s", i, rec, dump(off), dump(on))
			}
			for _, a := range on {
				if a.Notify == "" {
					continue
				}
				if b := PrimaryByKey(off)[a.KeyID]; b.Notify != "" && b.Notify != a.Notify {
					t.Errorf("user %d: the %s notice of %s gave way to %s", i, b.Notify, a.KeyID, a.Notify)
				}
			}
		}
	}
}

func TestPlanForgetsNoticeTagsOfVanishedKeys(t *testing.T) {
	rec := heldRec(day24, vocab.ReasonTwoKeys)
	u := User{Keys: []Key{active(kA, 10*day24)}, Tags: withNotices(nil, kA, rec, kV, rec, kB, rec)}
	maps.Copy(u.Tags, tags(kB, issued(kA, 10*day24)))
	acts := planUser(aligned(u), def)
	var got []string
	for _, a := range acts {
		got = append(got, string(a.Kind)+" "+a.KeyID+" "+string(a.Code))
	}
	// kB's state tag is forgotten (that removes its notice tag too), kV's
	// notice tag on its own, after every step.
	want := []string{"forget " + kB + " state_stale", "none " + kA + " not_due", "forget " + kV + " state_stale"}
	if !slices.Equal(got, want) {
		t.Fatalf("actions = %v, want %v\n%s", got, want, dump(acts))
	}
	// An exempt user's tags are never touched.
	u.Exempt = "group BreakGlass"
	for _, a := range planUser(u, def) {
		if a.Kind != ActionExempt {
			t.Errorf("exempt user: %s %s", a.Kind, a.KeyID)
		}
	}
}

func TestNoticeRecordCodec(t *testing.T) {
	at := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	n := NoticeRecord{}.WithHeld(vocab.ReasonTwoKeys, at).WithHeld(vocab.ReasonStateTampered, at.Add(time.Hour)).
		WithHeld(vocab.ReasonTwoKeys, at.Add(2*time.Hour)).WithDueSoon(at.Add(-day24 + 500*time.Millisecond))
	const want = "v1 held=two_keys+state_tampered held_at=2026-11-26T08:00:00Z due_soon=2026-11-25T06:00:00Z"
	v, err := n.Encode()
	if err != nil || v != want {
		t.Fatalf("Encode = %q, %v; want %q", v, err, want)
	}
	back, err := ParseNoticeRecord(v)
	if err != nil || back.String() != want || !back.HasHeld(vocab.ReasonStateTampered) || back.HasHeld(vocab.ReasonStale) {
		t.Fatalf("ParseNoticeRecord(%q) = %q, %v", v, back, err)
	}
	// A code of a newer keyrotor is kept.
	if r, err := ParseNoticeRecord("v1 held=some_future_code"); err != nil || !r.HasHeld("some_future_code") {
		t.Errorf("future code: %q, %v", r, err)
	}
	for _, bad := range []string{"", "v2 held=two_keys", "v1 held=two_keys+two_keys", "v1 held=Two", "v1 held=", "v1 x=1",
		"v1 held_at=2026-11-26", "v1 due_soon=2026-11-26T06:00:00.5Z", "v1  held=two_keys", "v1 held=two_keys held=stale",
		"v1 held=a,b", "v1 " + strings.Repeat("x", 300)} {
		if r, err := ParseNoticeRecord(bad); err == nil {
			t.Errorf("ParseNoticeRecord(%q) = %q, want an error", bad, r)
		}
	}
	// Too many codes for IAM's 256 characters: the oldest go.
	var big NoticeRecord
	codes := vocab.Reasons()
	slices.Sort(codes)
	for _, c := range codes {
		big = big.WithHeld(c, at)
	}
	v, err = big.Encode()
	if err != nil || len(v) > maxTagValue {
		t.Fatalf("Encode of %d codes = %d characters, %v", len(codes), len(v), err)
	}
	kept, _ := ParseNoticeRecord(v)
	if last := codes[len(codes)-1]; !kept.HasHeld(last) || kept.HasHeld(codes[0]) {
		t.Errorf("kept %v: want the newest codes", kept.Held)
	}
	// Every value is one IAM accepts.
	for _, r := range []string{want, v} {
		for _, c := range r {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyz0123456789_.:/=+-@ TZ", c) {
				t.Errorf("%q holds %q, which an IAM tag value may not", r, c)
			}
		}
	}
}

func TestNoticeTagIsNoStateTag(t *testing.T) {
	for _, key := range []string{NoticeTagKey(kA), strings.ToUpper(NoticeTagKey(kA)), "Keyrotor:Notices:" + strings.ToLower(kA)} {
		id, ok := IsNoticeTag(key)
		if !ok || id != kA {
			t.Errorf("IsNoticeTag(%q) = %q, %v", key, id, ok)
		}
		// This is the check every keyrotor version since state tags
		// exist makes: none of them takes a notice tag for a state tag.
		if _, ok := IsStateTag(key); ok {
			t.Errorf("IsStateTag(%q) is true: older readers would take it for a corrupt state", key)
		}
	}
	for _, key := range []string{TagKey(kA), "keyrotor:notices:", "keyrotor:notices:short", "keyrotor:exempt",
		"keyrotor:notices:mutedforthisteam"} {
		if _, ok := IsNoticeTag(key); ok {
			t.Errorf("IsNoticeTag(%q) is true", key)
		}
	}
	u := User{Keys: []Key{active(kA, day24)}, Tags: withNotices(nil, kA, "v1 held=two_keys")}
	if u.HasState() || u.HasIntent() {
		t.Error("a notice tag counts as rotation state")
	}
	if states, errs := u.States(); len(states)+len(errs) != 0 {
		t.Errorf("States() = %v, %v", states, errs)
	}
}
