package rotation

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Phase is where an old key stands in its rotation, as recorded in its
// state tag. A key without a state tag has no phase.
type Phase string

// Rotation phases recorded in a state tag.
const (
	// PhaseIssuing is the intent written before CreateAccessKey; a run that
	// finds it recovers (adopt, clean up, redo) or waits for its lease.
	PhaseIssuing Phase = "issuing"
	// PhaseIssued means the replacement exists and its secret is stored.
	PhaseIssued Phase = "issued"
	// PhaseDeactivated means keyrotor deactivated the old key.
	PhaseDeactivated Phase = "deactivated"
	// PhaseReactivated means `keyrotor reactivate` restored the old key; it
	// is treated as PhaseIssued with the grace period measured from then.
	PhaseReactivated Phase = "reactivated"
)

// Event is a notification keyrotor mails at most once per rotation (the
// reminder excepted, see State.Reminded).
type Event string

// Notification events.
const (
	EventIssued      Event = "issued"
	EventReminder    Event = "reminder"
	EventDeactivated Event = "deactivated"
	EventDeleted     Event = "deleted"
)

// allEvents fixes both the bit of each event in Events and the order of the
// encoded list, so that encoding is canonical.
var allEvents = [...]Event{EventIssued, EventReminder, EventDeactivated, EventDeleted}

// eventSep joins the events of the notified field. It is "+" rather than
// the comma LIFECYCLE.md first proposed because IAM tag values may hold only
// letters, digits, white space and _ . : / = + - @ (a comma is a
// ValidationError on TagUser).
const eventSep = '+'

// Events is a set of events already mailed. It is a bit set so that State
// stays comparable with ==.
type Events uint8

func eventBit(e Event) Events {
	for i, x := range allEvents {
		if x == e {
			return 1 << i
		}
	}
	return 0
}

// Has reports whether e is in the set.
func (s Events) Has(e Event) bool { b := eventBit(e); return b != 0 && s&b != 0 }

// With returns the set with e added; unknown events are ignored.
func (s Events) With(e Event) Events { return s | eventBit(e) }

// List returns the events in the set in canonical order.
func (s Events) List() []Event {
	var out []Event
	for i, e := range allEvents {
		if s&(1<<i) != 0 {
			out = append(out, e)
		}
	}
	return out
}

// String encodes the set as the list used in the state tag, joined by
// eventSep.
func (s Events) String() string {
	var b strings.Builder
	for i, e := range s.List() {
		if i > 0 {
			b.WriteByte(eventSep)
		}
		b.WriteString(string(e))
	}
	return b.String()
}

// State is the rotation state of one old key, stored on its user as the tag
// TagKey(oldKeyID). Times have second precision in UTC; String truncates.
type State struct {
	Phase Phase
	// RunID is the run that wrote the issuing intent; it is kept afterwards
	// for the audit trail.
	RunID string
	// At is when the current phase was entered. For every phase but
	// PhaseIssuing it equals the phase's own timestamp (Issued, Deactivated,
	// Reactivated) and is omitted from the encoding in that case; ParseState
	// fills it back in.
	At time.Time
	// NewKeyID is the replacement key's ID.
	NewKeyID    string
	Issued      time.Time
	Deactivated time.Time
	Reactivated time.Time
	// Notified lists the events already mailed for this rotation.
	Notified Events
	// Reminded is when the last "old key still in use" reminder was mailed.
	Reminded time.Time
	// SeenActive is when a run found a key keyrotor had deactivated Active
	// again. Once the key is off again its deletion grace restarts from
	// when a run sees that, so a manual reactivation always buys a full
	// delete_after.
	SeenActive time.Time
}

// Since is the start of the current phase's clock: the intent time for
// issuing, the issue time for issued, and so on. Deactivation and deletion
// are due a policy duration after it.
func (s State) Since() time.Time {
	switch s.Phase {
	case PhaseIssued:
		return s.Issued
	case PhaseDeactivated:
		return s.Deactivated
	case PhaseReactivated:
		return s.Reactivated
	}
	return s.At
}

// WithIssued returns the state to record once the replacement newKeyID has
// been created and its secret stored at t.
func (s State) WithIssued(newKeyID string, t time.Time) State {
	s.Phase, s.NewKeyID = PhaseIssued, newKeyID
	s.Issued, s.At = stamp(t), stamp(t)
	return s
}

// WithDeactivated returns the state to record once the old key was
// deactivated at t (or found deactivated again at t after it had been
// seen active).
func (s State) WithDeactivated(t time.Time) State {
	s.Phase = PhaseDeactivated
	s.Deactivated, s.At = stamp(t), stamp(t)
	s.SeenActive = time.Time{}
	return s
}

// WithSeenActive returns the state to record when a key keyrotor
// deactivated is found Active again at t.
func (s State) WithSeenActive(t time.Time) State {
	s.SeenActive = stamp(t)
	return s
}

// WithReactivated returns the state to record when `keyrotor reactivate`
// restores the old key at t: the deletion clock stops and deactivation is
// re-evaluated DeactivateAfter later.
func (s State) WithReactivated(t time.Time) State {
	s.Phase = PhaseReactivated
	s.Reactivated, s.At = stamp(t), stamp(t)
	return s
}

// WithNotified returns the state with e recorded as mailed; for
// EventReminder it also sets Reminded to t.
func (s State) WithNotified(e Event, t time.Time) State {
	s.Notified = s.Notified.With(e)
	if e == EventReminder {
		s.Reminded = stamp(t)
	}
	return s
}

// stamp normalizes a time to what a state tag can hold.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

const (
	stateVersion  = "v1"
	stateTimeFmt  = "2006-01-02T15:04:05Z"
	tagPrefix     = "keyrotor:"
	maxTagValue   = 256
	maxRunIDLen   = 64
	minStateYear  = 2000
	minKeyIDLen   = 16
	maxKeyIDLen   = 128
	fieldState    = "state"
	fieldRun      = "run"
	fieldAt       = "at"
	fieldNew      = "new"
	fieldIssued   = "issued"
	fieldDeact    = "deactivated"
	fieldReact    = "reactivated"
	fieldNotified = "notified"
	fieldReminded = "reminded"
	fieldSeen     = "seen_active"
)

// TagKey is the IAM user tag key holding the state of the old key oldKeyID.
func TagKey(oldKeyID string) string { return tagPrefix + oldKeyID }

// IsStateTag reports whether an IAM user tag key is a keyrotor state tag and
// returns the old key's ID. Only "keyrotor:" followed by something shaped
// like an access key ID (16-128 upper-case letters and digits) counts, so
// that other keyrotor:* tags (an exemption tag, say) are never mistaken for
// the state of a vanished key and removed. IAM compares tag keys
// case-insensitively, so "Keyrotor:akia..." is the same tag as
// "keyrotor:AKIA..." and counts too, the ID returned upper-cased as IAM
// spells key IDs; a spelling other than upper case must start with AKIA,
// the prefix of every IAM user's access key, so that a tag such as
// keyrotor:notificationsmuted is not taken for one.
func IsStateTag(key string) (oldKeyID string, ok bool) {
	if len(key) < len(tagPrefix) || !strings.EqualFold(key[:len(tagPrefix)], tagPrefix) {
		return "", false
	}
	raw := key[len(tagPrefix):]
	// Only ASCII is upper-cased: strings.ToUpper makes "AKIA" of "akıa"
	// (dotless i), which TagValue and the executor's re-read, comparing
	// with strings.EqualFold, would not take for the same tag.
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, raw)
	if !validKeyID(id) || (id != raw && !strings.HasPrefix(id, "AKIA")) {
		return "", false
	}
	return id, true
}

// TagValue looks up an IAM tag by key the way IAM does, ignoring case: a
// user cannot carry two tags whose keys differ only in case, and whoever
// can tag a user chooses the spelling.
func TagValue(tags map[string]string, key string) (string, bool) {
	if v, ok := tags[key]; ok {
		return v, true
	}
	for k, v := range tags {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func validKeyID(id string) bool {
	if len(id) < minKeyIDLen || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// validRunID accepts what an IAM tag value may hold, minus the space and "="
// that delimit fields.
func validRunID(id string) bool {
	if id == "" || len(id) > maxRunIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_.:/+-@", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// String encodes the state as a tag value, fields in a fixed order and zero
// fields omitted, e.g.
// "v1 state=issued run=R new=AKIA... issued=2026-11-26T06:00:00Z notified=issued".
// For a state ParseState accepted, ParseState(s.String()) returns s again;
// use Encode to also check the result is a valid tag value.
func (s State) String() string {
	var b strings.Builder
	b.WriteString(stateVersion)
	field := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + "=" + v)
		}
	}
	tm := func(k string, t time.Time) {
		if !t.IsZero() {
			field(k, t.UTC().Format(stateTimeFmt))
		}
	}
	field(fieldState, string(s.Phase))
	field(fieldRun, s.RunID)
	if s.Phase == PhaseIssuing || !s.At.Equal(s.Since()) {
		tm(fieldAt, s.At)
	}
	field(fieldNew, s.NewKeyID)
	tm(fieldIssued, s.Issued)
	tm(fieldDeact, s.Deactivated)
	tm(fieldReact, s.Reactivated)
	field(fieldNotified, s.Notified.String())
	tm(fieldReminded, s.Reminded)
	tm(fieldSeen, s.SeenActive)
	return b.String()
}

// Encode returns the tag value for s after checking that it is one ParseState
// accepts (required fields present, valid IDs, at most 256 characters) and
// that it decodes to the same state.
func (s State) Encode() (string, error) {
	v := s.String()
	back, err := ParseState(v)
	if err != nil {
		return "", fmt.Errorf("encode keyrotor state: %w", err)
	}
	if back.String() != v {
		return "", errors.New("encode keyrotor state: value does not round-trip")
	}
	return v, nil
}

// ParseState decodes a state tag value. It is strict: an unknown version or
// field, a repeated or empty field, a malformed key or run ID, a time that is
// not RFC3339 UTC with second precision, or a field missing for the phase is
// an error (the planner holds the key rather than guess).
func ParseState(value string) (State, error) {
	var s State
	if len(value) > maxTagValue {
		return s, fmt.Errorf("state tag value is %d characters, more than %d", len(value), maxTagValue)
	}
	toks := strings.Split(value, " ")
	if toks[0] != stateVersion {
		return s, fmt.Errorf("unsupported state version %q (want %s)", clip(toks[0]), stateVersion)
	}
	seen := map[string]bool{}
	for _, tok := range toks[1:] {
		k, v, ok := strings.Cut(tok, "=")
		if !ok || k == "" || v == "" {
			return State{}, fmt.Errorf("malformed field %q (want key=value separated by single spaces)", clip(tok))
		}
		if seen[k] {
			return State{}, fmt.Errorf("field %q repeated", clip(k))
		}
		seen[k] = true
		if err := s.set(k, v); err != nil {
			return State{}, err
		}
	}
	if err := s.checkRequired(seen); err != nil {
		return State{}, err
	}
	if !seen[fieldAt] {
		s.At = s.Since()
	}
	return s, nil
}

func (s *State) set(k, v string) error {
	var err error
	switch k {
	case fieldState:
		switch p := Phase(v); p {
		case PhaseIssuing, PhaseIssued, PhaseDeactivated, PhaseReactivated:
			s.Phase = p
		default:
			return fmt.Errorf("unknown state %q", clip(v))
		}
	case fieldRun:
		if !validRunID(v) {
			return fmt.Errorf("invalid run id %q", clip(v))
		}
		s.RunID = v
	case fieldNew:
		if !validKeyID(v) {
			return fmt.Errorf("invalid access key id %q in field new", clip(v))
		}
		s.NewKeyID = v
	case fieldAt:
		s.At, err = parseStateTime(k, v)
	case fieldIssued:
		s.Issued, err = parseStateTime(k, v)
	case fieldDeact:
		s.Deactivated, err = parseStateTime(k, v)
	case fieldReact:
		s.Reactivated, err = parseStateTime(k, v)
	case fieldReminded:
		s.Reminded, err = parseStateTime(k, v)
	case fieldSeen:
		s.SeenActive, err = parseStateTime(k, v)
	case fieldNotified:
		for e := range strings.SplitSeq(v, string(eventSep)) {
			b := eventBit(Event(e))
			if b == 0 {
				return fmt.Errorf("unknown notified event %q", clip(e))
			}
			if s.Notified&b != 0 {
				return fmt.Errorf("notified event %q repeated", e)
			}
			s.Notified |= b
		}
	default:
		return fmt.Errorf("unknown field %q", clip(k))
	}
	return err
}

func (s *State) checkRequired(seen map[string]bool) error {
	var need []string
	switch s.Phase {
	case "":
		return errors.New("missing field state")
	case PhaseIssuing:
		need = []string{fieldRun, fieldAt}
	case PhaseIssued:
		need = []string{fieldNew, fieldIssued}
	case PhaseDeactivated:
		need = []string{fieldNew, fieldDeact}
	case PhaseReactivated:
		need = []string{fieldNew, fieldReact}
	}
	for _, f := range need {
		if !seen[f] {
			return fmt.Errorf("state %s is missing field %s", s.Phase, f)
		}
	}
	return nil
}

func parseStateTime(field, v string) (time.Time, error) {
	t, err := time.Parse(stateTimeFmt, v)
	// time.Parse accepts fractional seconds the layout does not mention;
	// re-formatting rejects them and any other non-canonical spelling.
	if err != nil || t.Format(stateTimeFmt) != v {
		return time.Time{}, fmt.Errorf("field %s: bad time %q (want RFC3339 UTC like 2006-01-02T15:04:05Z)", field, clip(v))
	}
	// A zero time would be dropped by String and break the round trip.
	if t.Year() < minStateYear {
		return time.Time{}, fmt.Errorf("field %s: time %s is before %d", field, v, minStateYear)
	}
	return t, nil
}

// clip keeps error messages readable when a tag holds garbage.
func clip(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
