package rotation

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"keyrotor/vocab"
)

// The notices beyond a rotation's own steps are decided after the steps,
// from each key's primary action, its notice record and the policy; they
// never change a step. A notice decided here goes out once: the executor
// records it in the key's notice tag (see NoticeRecord) once it is sent.

// IAM allows 50 tags per user. A notice tag must never take the place a
// rotation's state tag needs (one per key, two keys at most): a user with
// fewer free slots gets no new notice tag, and so no notice that would
// need one (the digest still lists the key's hold).
const (
	maxUserTags       = 50
	reservedStateTags = 2
)

// RepeatsHold reports whether the owner's notice of a hold with this code
// is repeated every ReminderInterval while the hold lasts, whatever the
// notice record says: the codes that point at someone else's doing (a
// forged or damaged state tag, a key keyrotor cannot account for, a key
// turned back on outside keyrotor). A forged record could otherwise keep
// such a notice back for good; this way it buys a week at most.
func RepeatsHold(code vocab.Reason) bool {
	switch code {
	case vocab.ReasonStateTampered, vocab.ReasonStateCorrupt, vocab.ReasonOrphanUnproven,
		vocab.ReasonOrphanInUse, vocab.ReasonReactivatedOutside:
		return true
	}
	return false
}

// planNotices adds to a user's plan (acts, in execution order) the notices
// beyond its steps: a hold notice on a held key whose owner was not told of
// this hold reason, a due-soon notice on a key that crossed one of
// pol.Notices.DueSoon since the last one, and the removal of notice tags of
// keys that no longer exist. An action that already mails keeps its mail.
func planNotices(account string, u User, pol Policy, now time.Time, acts []Action) []Action {
	if u.Exempt != "" {
		return acts
	}
	records, tagged := u.NoticeRecords()
	last := map[string]int{}
	for i, a := range acts {
		last[a.KeyID] = i
	}
	free := maxUserTags - reservedStateTags - len(u.Tags)
	for _, k := range u.Keys {
		i, ok := last[k.ID]
		if !ok || acts[i].Notify != "" {
			continue
		}
		if !tagged[k.ID] && free <= 0 {
			continue
		}
		a := &acts[i]
		rec := records[k.ID]
		if recordedLater(rec, now) {
			// Written by no run of keyrotor: count it as no record.
			rec = NoticeRecord{}
		}
		switch {
		case a.Kind == ActionHold && holdNoticeDue(pol, rec, a.Code, now):
			a.Notify = EventHeld
		case a.Kind == ActionNone && dueSoonNoticeDue(k, a.Code, pol, rec, now):
			a.Notify = EventDueSoon
		default:
			continue
		}
		a.Mailed = rec
		if !tagged[k.ID] {
			free--
		}
	}
	if u.Problem != nil {
		// The user's keys were not read fully: leave its tags alone.
		return acts
	}
	for _, id := range slices.Sorted(maps.Keys(tagged)) {
		if _, exists := u.Key(id); exists {
			continue
		}
		if _, decided := last[id]; decided {
			continue // the Forget of its state tag removes it too
		}
		// Last, after every step: removing a leftover notice tag must not
		// hold back a step if it fails.
		acts = append(acts, Action{
			AccountID: account, User: u.Name, KeyID: id, Kind: ActionForget, Code: vocab.ReasonStateStale,
			Reason: fmt.Sprintf("key %s no longer exists; removing its notice tag %s", id, NoticeTagKey(id)),
		})
	}
	return acts
}

// recordedLater reports whether a record claims a mail later than now
// (beyond ClockSkew), which no run of keyrotor can have sent.
func recordedLater(rec NoticeRecord, now time.Time) bool {
	limit := now.Add(ClockSkew)
	return rec.HeldAt.After(limit) || rec.DueSoon.After(limit)
}

// holdNoticeDue reports whether the owner of a key held with code is to be
// told. old_key_in_use has a notice of its own, the reminder.
func holdNoticeDue(pol Policy, rec NoticeRecord, code vocab.Reason, now time.Time) bool {
	if !pol.Notices.Holds || code == vocab.ReasonOldKeyInUse {
		return false
	}
	if !rec.HasHeld(code) {
		return true
	}
	return RepeatsHold(code) && now.Sub(rec.HeldAt) >= ReminderInterval
}

// dueSoonNoticeDue reports whether k, an active key no rotation has
// started on, crossed a due-soon mark (due minus an offset) since its last
// due-soon notice: one notice per mark, and a single one for the latest
// mark when a run comes after several.
func dueSoonNoticeDue(k Key, code vocab.Reason, pol Policy, rec NoticeRecord, now time.Time) bool {
	if code != vocab.ReasonNotDue && code != vocab.ReasonReplacementKey || !k.Active() {
		return false
	}
	mark, ok := dueSoonMark(k.Created, pol, now)
	return ok && rec.DueSoon.Before(mark)
}

// dueSoonMark returns the latest due-soon mark of a key created at created
// that now has reached: the time it becomes due (created + MaxKeyAge) less
// one of pol.Notices.DueSoon. ok is false before the first mark and once
// the key is due.
func dueSoonMark(created time.Time, pol Policy, now time.Time) (mark time.Time, ok bool) {
	due := created.Add(pol.MaxKeyAge)
	if !now.Before(due) {
		return time.Time{}, false
	}
	for _, off := range pol.Notices.DueSoon {
		if t := due.Add(-off); off > 0 && !t.After(now) && t.After(mark) {
			mark, ok = t, true
		}
	}
	return mark, ok
}
