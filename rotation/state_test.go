package rotation

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	keyOld = "AKIAOLD0000000000001"
	keyNew = "AKIANEW0000000000002"
)

// iamTagValue is the pattern IAM enforces on tag values (TagUser answers
// ValidationError otherwise).
var iamTagValue = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

func TestParseStateValid(t *testing.T) {
	t0 := mustTime(t, "2026-11-26T06:00:00Z")
	t1 := mustTime(t, "2026-12-03T06:00:00Z")
	t2 := mustTime(t, "2026-12-05T07:08:09Z")
	tests := []struct {
		name  string
		value string
		want  State
		// canon is String()'s output when it differs from value.
		canon string
	}{
		{
			name:  "spec example",
			value: "v1 state=issued new=" + keyNew + " issued=2026-11-26T06:00:00Z notified=issued",
			want:  State{Phase: PhaseIssued, At: t0, NewKeyID: keyNew, Issued: t0, Notified: Events(0).With(EventIssued)},
		},
		{
			name:  "intent",
			value: "v1 state=issuing run=20261126T060000Z-ab12 at=2026-11-26T06:00:00Z",
			want:  State{Phase: PhaseIssuing, RunID: "20261126T060000Z-ab12", At: t0},
		},
		{
			name:  "deactivated with everything",
			value: "v1 state=deactivated run=r1 new=" + keyNew + " issued=2026-11-26T06:00:00Z deactivated=2026-12-03T06:00:00Z notified=issued+reminder+deactivated reminded=2026-12-05T07:08:09Z",
			want: State{Phase: PhaseDeactivated, RunID: "r1", At: t1, NewKeyID: keyNew, Issued: t0, Deactivated: t1,
				Notified: Events(0).With(EventIssued).With(EventReminder).With(EventDeactivated), Reminded: t2},
		},
		{
			name:  "reactivated",
			value: "v1 state=reactivated new=" + keyNew + " issued=2026-11-26T06:00:00Z deactivated=2026-12-03T06:00:00Z reactivated=2026-12-05T07:08:09Z",
			want:  State{Phase: PhaseReactivated, At: t2, NewKeyID: keyNew, Issued: t0, Deactivated: t1, Reactivated: t2},
		},
		{
			name:  "field order and notified order are free, encoding is canonical",
			value: "v1 notified=deactivated+issued deactivated=2026-12-03T06:00:00Z new=" + keyNew + " state=deactivated",
			want:  State{Phase: PhaseDeactivated, At: t1, NewKeyID: keyNew, Deactivated: t1, Notified: Events(0).With(EventIssued).With(EventDeactivated)},
			canon: "v1 state=deactivated new=" + keyNew + " deactivated=2026-12-03T06:00:00Z notified=issued+deactivated",
		},
		{
			name:  "at equal to the phase time is dropped",
			value: "v1 state=issued at=2026-11-26T06:00:00Z new=" + keyNew + " issued=2026-11-26T06:00:00Z",
			want:  State{Phase: PhaseIssued, At: t0, NewKeyID: keyNew, Issued: t0},
			canon: "v1 state=issued new=" + keyNew + " issued=2026-11-26T06:00:00Z",
		},
		{
			name:  "at different from the phase time is kept",
			value: "v1 state=issued at=2026-12-03T06:00:00Z new=" + keyNew + " issued=2026-11-26T06:00:00Z",
			want:  State{Phase: PhaseIssued, At: t1, NewKeyID: keyNew, Issued: t0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseState(tt.value)
			if err != nil {
				t.Fatalf("ParseState: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseState =\n %#v\nwant\n %#v", got, tt.want)
			}
			canon := tt.canon
			if canon == "" {
				canon = tt.value
			}
			if s := got.String(); s != canon {
				t.Fatalf("String = %q, want %q", s, canon)
			}
			enc, err := got.Encode()
			if err != nil || enc != canon {
				t.Fatalf("Encode = %q, %v; want %q", enc, err, canon)
			}
		})
	}
}

func TestParseStateRejects(t *testing.T) {
	okTail := " new=" + keyNew + " issued=2026-11-26T06:00:00Z"
	tests := []struct{ name, value, wantErr string }{
		{"empty", "", "unsupported state version"},
		{"v2", "v2 state=issued" + okTail, "unsupported state version"},
		{"no version", "state=issued" + okTail, "unsupported state version"},
		{"unknown field", "v1 state=issued" + okTail + " color=blue", "unknown field"},
		{"unknown state", "v1 state=retired" + okTail, "unknown state"},
		{"missing state", "v1" + okTail, "missing field state"},
		{"issued without new", "v1 state=issued issued=2026-11-26T06:00:00Z", "missing field new"},
		{"issued without issued", "v1 state=issued new=" + keyNew, "missing field issued"},
		{"issuing without run", "v1 state=issuing at=2026-11-26T06:00:00Z", "missing field run"},
		{"issuing without at", "v1 state=issuing run=r1", "missing field at"},
		{"deactivated without time", "v1 state=deactivated new=" + keyNew, "missing field deactivated"},
		{"reactivated without time", "v1 state=reactivated new=" + keyNew, "missing field reactivated"},
		{"bad time", "v1 state=issued new=" + keyNew + " issued=2026-11-26", "bad time"},
		{"fractional seconds", "v1 state=issued new=" + keyNew + " issued=2026-11-26T06:00:00.5Z", "bad time"},
		{"offset instead of Z", "v1 state=issued new=" + keyNew + " issued=2026-11-26T06:00:00+01:00", "bad time"},
		{"zero time", "v1 state=issued new=" + keyNew + " issued=0001-01-01T00:00:00Z", "before 2000"},
		{"repeated field", "v1 state=issued" + okTail + " new=" + keyNew, "repeated"},
		{"empty value", "v1 state=issued new=" + " issued=2026-11-26T06:00:00Z", "malformed field"},
		{"double space", "v1  state=issued" + okTail, "malformed field"},
		{"trailing space", "v1 state=issued" + okTail + " ", "malformed field"},
		{"no equals", "v1 state=issued" + okTail + " junk", "malformed field"},
		{"short key id", "v1 state=issued new=AKIA1 issued=2026-11-26T06:00:00Z", "invalid access key id"},
		{"lower-case key id", "v1 state=issued new=akianew0000000000002 issued=2026-11-26T06:00:00Z", "invalid access key id"},
		{"bad run id", "v1 state=issuing run=a,b at=2026-11-26T06:00:00Z", "invalid run id"},
		{"unknown event", "v1 state=issued" + okTail + " notified=issued+paged", "unknown notified event"},
		{"repeated event", "v1 state=issued" + okTail + " notified=issued+issued", "repeated"},
		{"empty event", "v1 state=issued" + okTail + " notified=issued+", "unknown notified event"},
		{"comma list (IAM rejects commas)", "v1 state=issued" + okTail + " notified=issued,reminder", "unknown notified event"},
		{"too long", "v1 state=issued" + okTail + strings.Repeat(" ", 200), "more than 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ParseState(tt.value)
			if err == nil {
				t.Fatalf("ParseState(%q) = %+v, want error containing %q", tt.value, st, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
			if st != (State{}) {
				t.Fatalf("ParseState returned a partial state %+v with its error", st)
			}
		})
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	t0 := mustTime(t, "2026-11-26T06:00:00Z")
	for name, st := range map[string]State{
		"zero":            {},
		"issued no key":   {Phase: PhaseIssued, Issued: t0},
		"intent no time":  {Phase: PhaseIssuing, RunID: "r"},
		"run with space":  {Phase: PhaseIssuing, RunID: "a b", At: t0},
		"run with equals": {Phase: PhaseIssuing, RunID: "a=b", At: t0},
		"too long":        {Phase: PhaseIssued, NewKeyID: "AKIA" + strings.Repeat("X", 124), Issued: t0, RunID: strings.Repeat("r", 64), Deactivated: t0, Reactivated: t0, Reminded: t0, Notified: 15},
	} {
		if v, err := st.Encode(); err == nil {
			t.Errorf("%s: Encode = %q, want error", name, v)
		}
	}
}

func TestTransitionsEncode(t *testing.T) {
	// The executor builds every state it writes from these helpers; each
	// step must give a value that fits a tag and parses back.
	now := time.Date(2026, 11, 26, 6, 0, 0, 123456789, time.FixedZone("CET", 3600))
	intent := State{Phase: PhaseIssuing, RunID: "01JDXYZABCDEFGHJKMNPQRSTVW", At: stamp(now)}
	steps := []State{intent}
	s := intent.WithIssued("AKIA"+strings.Repeat("Z", 16), now.Add(time.Minute)).WithNotified(EventIssued, now)
	steps = append(steps, s)
	s = s.WithNotified(EventReminder, now.Add(8*24*time.Hour))
	steps = append(steps, s)
	s = s.WithDeactivated(now.Add(30*24*time.Hour)).WithNotified(EventDeactivated, now)
	steps = append(steps, s)
	s = s.WithReactivated(now.Add(31 * 24 * time.Hour))
	steps = append(steps, s)
	s = s.WithDeactivated(now.Add(40*24*time.Hour)).WithNotified(EventDeleted, now)
	steps = append(steps, s)
	for i, st := range steps {
		v, err := st.Encode()
		if err != nil {
			t.Fatalf("step %d: Encode(%+v): %v", i, st, err)
		}
		if !iamTagValue.MatchString(v) || len(v) > 256 {
			t.Fatalf("step %d: %q is not a valid IAM tag value", i, v)
		}
		back, err := ParseState(v)
		if err != nil || !reflect.DeepEqual(back, st) {
			t.Fatalf("step %d: ParseState(%q) = %+v, %v; want %+v", i, v, back, err, st)
		}
	}
	if got := s.Reminded; !got.Equal(stamp(now.Add(8 * 24 * time.Hour))) {
		t.Fatalf("Reminded = %v", got)
	}
	if s.Since() != s.Deactivated || s.Phase != PhaseDeactivated {
		t.Fatalf("final state %+v", s)
	}
}

func TestIsStateTag(t *testing.T) {
	tests := []struct {
		key  string
		id   string
		isOK bool
	}{
		{TagKey(keyOld), keyOld, true},
		{"keyrotor:AKIA" + strings.Repeat("A", 124), "AKIA" + strings.Repeat("A", 124), true},
		{"keyrotor:AKIA" + strings.Repeat("A", 125), "", false},
		{"keyrotor:exempt", "", false},
		{"keyrotor:AKIASHORT", "", false},
		// IAM tag keys are case-insensitive: these are the same tag.
		{"keyrotor:akiaold0000000000001", keyOld, true},
		{"KEYROTOR:" + keyOld, keyOld, true},
		{"Keyrotor:" + keyOld, keyOld, true},
		{"keyrotor:notificationsmutedforever", "", false},
		// Upper-cased, a dotless i reads AKIA, but no EqualFold takes the
		// tag for keyrotor:AKIA...: it is not a state tag.
		{"keyrotor:ak\u0131aold0000000000001", "", false},
		{"keyrotor:", "", false},
		{"owner", "", false},
		{keyOld, "", false},
	}
	for _, tt := range tests {
		id, ok := IsStateTag(tt.key)
		if id != tt.id || ok != tt.isOK {
			t.Errorf("IsStateTag(%q) = %q, %v; want %q, %v", tt.key, id, ok, tt.id, tt.isOK)
		}
	}
}

func TestEvents(t *testing.T) {
	var s Events
	if s.String() != "" || s.Has(EventIssued) {
		t.Fatal("zero set not empty")
	}
	s = s.With(EventDeleted).With(EventIssued).With("bogus")
	if !s.Has(EventIssued) || !s.Has(EventDeleted) || s.Has(EventReminder) || s.Has("bogus") {
		t.Fatalf("set = %v", s.List())
	}
	if s.String() != "issued+deleted" {
		t.Fatalf("String = %q", s.String())
	}
}

// FuzzParseState checks that ParseState never panics and that every value it
// accepts re-encodes to a canonical value that parses to the same state.
// Run with: go test ./rotation/ -run '^$' -fuzz FuzzParseState
func FuzzParseState(f *testing.F) {
	for _, seed := range []string{
		"v1 state=issued new=" + keyNew + " issued=2026-11-26T06:00:00Z notified=issued",
		"v1 state=issuing run=r-1 at=2026-11-26T06:00:00Z",
		"v1 state=deactivated run=r1 new=" + keyNew + " issued=2026-11-26T06:00:00Z deactivated=2026-12-03T06:00:00Z notified=issued+reminder+deactivated reminded=2026-12-05T07:08:09Z",
		"v1 state=reactivated at=2026-12-01T00:00:00Z new=" + keyNew + " reactivated=2026-12-05T07:08:09Z",
		"v1 notified=deleted+issued state=issued issued=2026-11-26T06:00:00Z new=" + keyNew,
		"v1 state=issued new=" + keyNew + " issued=2026-11-26T06:00:00.000Z",
		"v1 state=issued new==x",
		"v2",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		st, err := ParseState(v)
		if err != nil {
			return
		}
		enc := st.String()
		if !iamTagValue.MatchString(enc) {
			t.Fatalf("accepted %q encodes to %q, which IAM would reject", v, enc)
		}
		if len(enc) > len(v) || len(enc) > maxTagValue {
			t.Fatalf("canonical %q longer than accepted input %q", enc, v)
		}
		back, err := ParseState(enc)
		if err != nil {
			t.Fatalf("ParseState(%q) accepted, but its encoding %q fails: %v", v, enc, err)
		}
		if !reflect.DeepEqual(back, st) {
			t.Fatalf("round trip of %q: %+v != %+v", v, back, st)
		}
		if again := back.String(); again != enc {
			t.Fatalf("encoding not canonical: %q then %q", enc, again)
		}
		if e2, err := st.Encode(); err != nil || e2 != enc {
			t.Fatalf("Encode = %q, %v; want %q", e2, err, enc)
		}
	})
}
