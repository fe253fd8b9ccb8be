package rotation

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"keyrotor/vocab"
)

// The notices a key's owner gets beyond the steps of a rotation (a hold,
// a key about to become due) are recorded in a tag of their own,
// keyrotor:notices:<KEY ID>, not in the key's state tag:
//
//   - the key often has no state tag (a stale key held at the two-key
//     limit, a key not due yet), and a state tag without a phase would have
//     to mean "no rotation" to every reader of the state;
//   - older keyrotor versions read a state tag strictly, and would hold a
//     key whose tag has a field they do not know as corrupt; they ignore
//     keyrotor:notices:*, which is not shaped like a state tag, entirely;
//   - nothing but the choice to mail reads it. Anyone with iam:TagUser can
//     write it, so it is a claim like the state tag: a forged or garbled
//     record can keep an owner's mail back (never a step, never the
//     digest, which lists every held key in every run), a record that does
//     not parse or is dated in the future counts as none (the owner is
//     mailed), and the owner's mail of a hold that points at someone else's
//     doing is repeated weekly whatever the record says (see RepeatsHold).

// Notices recorded in the notice record rather than in the state tag's
// notified field (see Action.Mailed).
const (
	// EventHeld tells the owner of a held key why it is held and the fix,
	// once per hold reason code.
	EventHeld Event = "held"
	// EventDueSoon tells the owner of a key that it becomes due for
	// rotation soon (notifications.due_soon).
	EventDueSoon Event = "due_soon"
)

const (
	noticeTagPrefix = "keyrotor:notices:"
	noticeVersion   = "v1"
	fieldHeld       = "held"
	fieldHeldAt     = "held_at"
	fieldDueSoon    = "due_soon"
	// codeSep joins the hold codes of the held field ("," is not allowed in
	// an IAM tag value).
	codeSep = "+"
)

// NoticeTagKey is the IAM user tag key recording the hold and due-soon
// notices mailed about keyID.
func NoticeTagKey(keyID string) string { return noticeTagPrefix + keyID }

// IsNoticeTag reports whether an IAM user tag key is a notice record tag
// and returns its key's ID, upper-cased as IAM spells key IDs. As with
// IsStateTag, the prefix is compared ignoring case, as IAM does, and an ID
// spelt other than upper case must start with AKIA: keyrotor removes the
// notice tags of keys that are gone, and must not take a tag of someone
// else's for one.
func IsNoticeTag(key string) (keyID string, ok bool) {
	if len(key) < len(noticeTagPrefix) || !strings.EqualFold(key[:len(noticeTagPrefix)], noticeTagPrefix) {
		return "", false
	}
	raw := key[len(noticeTagPrefix):]
	id := strings.ToUpper(raw)
	if !validKeyID(id) || (id != raw && !strings.HasPrefix(id, "AKIA")) {
		return "", false
	}
	return id, true
}

// NoticeRecord is what keyrotor mailed about one key beyond its
// rotation's steps. The zero record says nothing was.
type NoticeRecord struct {
	// Held are the hold reason codes the owner was told about, oldest
	// first.
	Held []vocab.Reason
	// HeldAt is when the last hold notice was mailed.
	HeldAt time.Time
	// DueSoon is when the last "due soon" notice was mailed.
	DueSoon time.Time
}

// HasHeld reports whether a hold notice for code was mailed.
func (n NoticeRecord) HasHeld(code vocab.Reason) bool { return slices.Contains(n.Held, code) }

// WithHeld returns the record of a hold notice for code mailed at t.
func (n NoticeRecord) WithHeld(code vocab.Reason, t time.Time) NoticeRecord {
	n.Held = slices.Clone(n.Held)
	if !n.HasHeld(code) {
		n.Held = append(n.Held, code)
	}
	n.HeldAt = stamp(t)
	return n
}

// WithDueSoon returns the record of a due-soon notice mailed at t.
func (n NoticeRecord) WithDueSoon(t time.Time) NoticeRecord {
	n.DueSoon = stamp(t)
	return n
}

// String encodes the record as a tag value, e.g.
// "v1 held=two_keys+state_tampered held_at=2026-11-26T06:00:00Z".
func (n NoticeRecord) String() string {
	var b strings.Builder
	b.WriteString(noticeVersion)
	if len(n.Held) > 0 {
		codes := make([]string, len(n.Held))
		for i, c := range n.Held {
			codes[i] = string(c)
		}
		b.WriteString(" " + fieldHeld + "=" + strings.Join(codes, codeSep))
	}
	for _, f := range []struct {
		k string
		t time.Time
	}{{fieldHeldAt, n.HeldAt}, {fieldDueSoon, n.DueSoon}} {
		if !f.t.IsZero() {
			b.WriteString(" " + f.k + "=" + f.t.UTC().Format(stateTimeFmt))
		}
	}
	return b.String()
}

// Encode returns the tag value of n. A record too long for IAM's 256
// characters forgets its oldest hold codes until it fits: one of them may
// then be mailed again, which errs towards telling the owner.
func (n NoticeRecord) Encode() (string, error) {
	n.Held = slices.Clone(n.Held)
	for {
		v := n.String()
		if len(v) <= maxTagValue {
			if _, err := ParseNoticeRecord(v); err != nil {
				return "", fmt.Errorf("encode keyrotor notice record: %w", err)
			}
			return v, nil
		}
		if len(n.Held) == 0 {
			return "", errors.New("encode keyrotor notice record: value too long")
		}
		n.Held = n.Held[1:]
	}
}

// ParseNoticeRecord decodes a notice record tag value. Hold codes this
// version does not know are kept (a newer keyrotor wrote them; a code keeps
// its meaning once shipped); anything else out of shape is an error.
func ParseNoticeRecord(value string) (NoticeRecord, error) {
	var n NoticeRecord
	if len(value) > maxTagValue {
		return n, fmt.Errorf("notice record is %d characters, more than %d", len(value), maxTagValue)
	}
	toks := strings.Split(value, " ")
	if toks[0] != noticeVersion {
		return n, fmt.Errorf("unsupported notice record version %q (want %s)", clip(toks[0]), noticeVersion)
	}
	seen := map[string]bool{}
	for _, tok := range toks[1:] {
		k, v, ok := strings.Cut(tok, "=")
		if !ok || k == "" || v == "" {
			return NoticeRecord{}, fmt.Errorf("malformed field %q (want key=value separated by single spaces)", clip(tok))
		}
		if seen[k] {
			return NoticeRecord{}, fmt.Errorf("field %q repeated", clip(k))
		}
		seen[k] = true
		var err error
		switch k {
		case fieldHeld:
			for c := range strings.SplitSeq(v, codeSep) {
				if !validCode(c) || n.HasHeld(vocab.Reason(c)) {
					return NoticeRecord{}, fmt.Errorf("bad or repeated hold code %q", clip(c))
				}
				n.Held = append(n.Held, vocab.Reason(c))
			}
		case fieldHeldAt:
			n.HeldAt, err = parseStateTime(k, v)
		case fieldDueSoon:
			n.DueSoon, err = parseStateTime(k, v)
		default:
			return NoticeRecord{}, fmt.Errorf("unknown field %q", clip(k))
		}
		if err != nil {
			return NoticeRecord{}, err
		}
	}
	return n, nil
}

// validCode accepts what a reason code is made of: lower-case letters,
// digits and underscores, starting with a letter.
func validCode(c string) bool {
	if c == "" || len(c) > 64 || c[0] < 'a' || c[0] > 'z' {
		return false
	}
	for i := 0; i < len(c); i++ {
		if x := c[i]; (x < 'a' || x > 'z') && (x < '0' || x > '9') && x != '_' {
			return false
		}
	}
	return true
}

// NoticeRecords returns the user's notice records by key ID, and the IDs
// of every key that has a notice tag at all (a record that does not parse
// included: it counts as no record, and is overwritten by the next notice).
func (u User) NoticeRecords() (records map[string]NoticeRecord, tagged map[string]bool) {
	records, tagged = map[string]NoticeRecord{}, map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(u.Tags)) {
		id, ok := IsNoticeTag(k)
		if !ok {
			continue
		}
		tagged[id] = true
		if n, err := ParseNoticeRecord(u.Tags[k]); err == nil {
			records[id] = n
		}
	}
	return records, tagged
}

// hasNoticeTag reports whether the user carries a notice tag for keyID.
func (u User) hasNoticeTag(keyID string) bool {
	for k := range u.Tags {
		if id, ok := IsNoticeTag(k); ok && id == keyID {
			return true
		}
	}
	return false
}
