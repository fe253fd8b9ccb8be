package main

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"keyrotor/internal/awssim"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// The notice tests follow the notices beyond a rotation's steps end to end
// (issue 13, "nobody left unaware"): a held key's owner is mailed once per
// hold reason with the fix, the digest lists every held key, and owners
// hear before their key is due.

// mailNoticesScenario: grace has two active keys, the older one stale;
// frank has a stale key and an inactive key keyrotor did not retire; heidi
// is held like frank, but an insider wrote a notice record claiming she
// was told; olga's key becomes due in 20 days; tagger is the insider.
const mailNoticesScenario = `
seed: 26
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
role: {name: KeyrotorRotationRole, external_id: keyrotor-mail}
ses: {region: us-east-1, verified: [keyrotor@example.com]}
accounts:
  - id: "333333333333"
    name: prod
    users:
      - name: grace
        tags: {email: grace@example.com}
        keys: [{age: 130d, last_used: 1d, service: sqs}, {age: 10d, last_used: 2d, service: sqs}]
      - name: frank
        tags: {email: frank@example.com}
        keys: [{age: 200d, status: Inactive, last_used: 120d}, {age: 110d, last_used: 1d}]
      - name: heidi
        tags: {email: heidi@example.com}
        keys: [{age: 200d, status: Inactive, last_used: 120d}, {age: 110d, last_used: 1d}]
      - {name: olga, tags: {email: olga@example.com}, keys: [{age: 70d, last_used: 1d, service: s3}]}
      - {name: tagger, policies: [` + atkTagger + `], keys: [{age: 10d, last_used: 1h}]}
`

// noticeKeys returns each user's keys in prod, oldest first.
func noticeKeys(t *testing.T, h *harness) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	keys := h.sim.Keys(mailProd)
	slices.SortFunc(keys, func(a, b awssim.KeyInfo) int { return a.Created.Compare(b.Created) })
	for _, k := range keys {
		out[k.User] = append(out[k.User], k.ID)
	}
	return out
}

// noticeRecord returns the parsed notice record of a user's key, or the
// zero record when there is none.
func noticeRecord(t *testing.T, h *harness, user, keyID string) rotation.NoticeRecord {
	t.Helper()
	v, ok := h.sim.UserTags(mailProd, user)[rotation.NoticeTagKey(keyID)]
	if !ok {
		return rotation.NoticeRecord{}
	}
	n, err := rotation.ParseNoticeRecord(v)
	if err != nil {
		t.Fatalf("notice record of %s: %v", keyID, err)
	}
	return n
}

// noticeTags lists every notice tag in prod, as "user key".
func noticeTags(h *harness) []string {
	var out []string
	for _, k := range h.sim.Keys("") {
		for tag := range h.sim.UserTags(k.AccountID, k.User) {
			if _, ok := rotation.IsNoticeTag(tag); ok && !slices.Contains(out, k.User+" "+tag) {
				out = append(out, k.User+" "+tag)
			}
		}
	}
	return out
}

// checkHeldDigest asserts that the run's digest lists every held key of the
// report, with code and fix, in both bodies.
func checkHeldDigest(t *testing.T, label string, r mailRun, want int) {
	t.Helper()
	checkDigest(t, label, r)
	if len(r.digests) != 1 {
		return
	}
	d := r.digests[0]
	var held int
	for _, k := range r.rep.Keys {
		if k.Result != vocab.ResultHeld {
			continue
		}
		held++
		for _, s := range []string{k.AccessKeyID, string(k.ReasonCode), k.Fix} {
			if !strings.Contains(d.Text, s) || !strings.Contains(d.HTML, s) {
				t.Errorf("%s: the digest does not list held key %s of %s with %q:\n%s", label, k.AccessKeyID, k.User, s, d.Text)
			}
		}
	}
	if held != want || !strings.Contains(d.Text, "Held keys ("+strconv.Itoa(want)) {
		t.Errorf("%s: %d held keys in the report, want %d listed in the digest:\n%s", label, held, want, d.Text)
	}
}

// TestMailHoldAndDueSoonNotices follows three held users and one key
// nearing its due date through three weeks of runs.
func TestMailHoldAndDueSoonNotices(t *testing.T) {
	t.Parallel()
	mc := defaultMailConfig()
	mc.dueSoon = "[14d, 3d]"
	h := newMailHarness(t, mailScenario(t, mailNoticesScenario), mc, "")
	t0 := h.sim.Now()
	keys := noticeKeys(t, h)
	grace, frank, heidi, olga := keys["grace"][0], keys["frank"][1], keys["heidi"][1], keys["olga"][0]
	where := "prod (" + mailProd + ")"
	held := func(user, key, title string, r mailRun) wantMail {
		row := row(t, r.rep, key)
		return wantMail{
			to:      user + "@example.com",
			subject: "[keyrotor] Access key " + key + " of " + user + " in " + where + " is held: " + title,
			both:    []string{key, string(row.ReasonCode), row.Fix, "security@example.com"},
		}
	}
	at := func(d time.Duration) { h.t.Helper(); h.sim.Clock().Set(t0.Add(d)) }

	// The insider claims heidi was told: her owner's mail is kept back,
	// her line in the digest is not.
	tagger, _ := atkAs(t, h, "tagger")
	atkTag(t, tagger, "heidi", rotation.NoticeTagKey(heidi), "v1 held=two_keys held_at="+t0.Add(-mailDay).Format(time.RFC3339))

	// Three runs: grace and frank are told once, heidi not at all.
	r := rotateMail(h, mailSender, "--apply")
	checkNotices(t, "run 1", r.notices, []wantMail{held("grace", grace, "two keys already", r), held("frank", frank, "two keys already", r)})
	checkReported(t, "run 1", r.rep, r.sent(), map[string]rotation.Event{"grace": rotation.EventHeld, "frank": rotation.EventHeld})
	checkHeldDigest(t, "run 1", r, 3)
	for _, k := range []struct{ user, key string }{{"grace", grace}, {"frank", frank}} {
		if rec := noticeRecord(t, h, k.user, k.key); !rec.HasHeld(vocab.ReasonTwoKeys) || !rec.HeldAt.Equal(t0) {
			t.Errorf("run 1 %s: notice record %q; want two_keys mailed at %s", k.user, rec, t0)
		}
	}
	for _, d := range []time.Duration{time.Hour, mailDay} {
		at(d)
		r = rotateMail(h, mailSender, "--apply")
		checkNotices(t, "rerun at "+d.String(), r.notices, nil)
		checkHeldDigest(t, "rerun at "+d.String(), r, 3)
	}

	// A new reason is told: the insider damages frank's state tag.
	atkTag(t, tagger, "frank", rotation.TagKey(frank), "v1 state=bogus")
	at(mailDay + time.Hour)
	r = rotateMail(h, mailSender, "--apply")
	checkNotices(t, "corrupt state", r.notices, []wantMail{held("frank", frank, "corrupt state tag", r)})
	checkHeldDigest(t, "corrupt state", r, 3)
	if rec := noticeRecord(t, h, "frank", frank); !slices.Equal(rec.Held, []vocab.Reason{vocab.ReasonTwoKeys, vocab.ReasonStateCorrupt}) {
		t.Errorf("frank's notice record %q; want both reasons", rec)
	}
	at(2 * mailDay)
	r = rotateMail(h, mailSender, "--apply")
	checkNotices(t, "corrupt state, rerun", r.notices, nil)

	// frank's admin runs the fix; he was told of two_keys already.
	root := iam.NewFromConfig(atkConfig(h, h.sim.RootCredentials(mailProd)))
	if _, err := root.UntagUser(context.Background(), &iam.UntagUserInput{UserName: aws.String("frank"),
		TagKeys: []string{rotation.TagKey(frank)}}); err != nil {
		t.Fatal(err)
	}

	// olga is told 14 and 3 days before her key is due, once each.
	var due time.Time
	for _, k := range h.sim.Keys(mailProd) {
		if k.ID == olga {
			due = k.Created.Add(90 * mailDay)
		}
	}
	soon := func(r mailRun) wantMail {
		return wantMail{
			to:      "olga@example.com",
			subject: "[keyrotor] Access key " + olga + " of olga in " + where + " is due for rotation on " + due.Format("2006-01-02"),
			both:    []string{olga, "keyrotor/" + mailProd + "/olga"},
		}
	}
	for _, step := range []struct {
		d    time.Duration
		want bool
	}{{6 * mailDay, true}, {6*mailDay + time.Hour, false}, {10 * mailDay, false}, {17 * mailDay, true}, {18 * mailDay, false}} {
		at(step.d)
		r = rotateMail(h, mailSender, "--apply")
		var want []wantMail
		if step.want {
			want = []wantMail{soon(r)}
			checkReported(t, "due soon", r.rep, r.sent(), map[string]rotation.Event{"olga": rotation.EventDueSoon})
		}
		checkNotices(t, "due soon at "+step.d.String(), r.notices, want)
		checkHeldDigest(t, "due soon at "+step.d.String(), r, 3)
	}
	if rec := noticeRecord(t, h, "olga", olga); !rec.DueSoon.Equal(t0.Add(17 * mailDay)) {
		t.Errorf("olga's notice record %q; want the 3-day notice recorded", rec)
	}

	// Due: the issue's own notice, and nothing more.
	at(20*mailDay + time.Hour)
	r = rotateMail(h, mailSender, "--apply")
	checkNotices(t, "olga due", r.notices, []wantMail{{
		to: "olga@example.com", subject: "[keyrotor] New access key issued for olga in " + where,
		both: []string{olga, row(t, r.rep, olga).NewAccessKeyID},
	}})
	if row := row(t, r.rep, olga); row.Action != vocab.ActionIssue || row.Result != vocab.ResultDone {
		t.Errorf("olga due: action %q result %q", row.Action, row.Result)
	}
	for _, m := range h.sim.Outbox() {
		if slices.Contains(m.To, "heidi@example.com") || slices.Contains(m.To, "tagger@example.com") {
			t.Errorf("%v got %q", m.To, m.Subject)
		}
	}
}

// TestMailNoticesOff: with notifications off, under --notify=false and in
// a dry run, no hold or due-soon notice is mailed nor recorded; the first
// run with mail on tells the held keys' owners.
func TestMailNoticesOff(t *testing.T) {
	t.Parallel()
	off := newHarness(t, mailScenario(t, mailNoticesScenario), "")
	for _, d := range []time.Duration{0, 17 * mailDay} {
		off.sim.Clock().Set(off.sim.Now().Add(d))
		if res := off.runAt("rotate", "--apply", "--out", filepath.Join(off.dir, "off")); res.code != ExitOK {
			t.Fatalf("notifications off: exit %d\n%s", res.code, res.stderr)
		}
	}
	if n, tags := len(off.sim.Outbox()), noticeTags(off); n != 0 || len(tags) != 0 {
		t.Errorf("notifications off: %d messages, notice tags %v", n, tags)
	}

	mc := defaultMailConfig()
	mc.dueSoon = "[14d, 3d]"
	h := newMailHarness(t, mailScenario(t, mailNoticesScenario), mc, "")
	h.sim.Clock().Set(h.sim.Now().Add(17 * mailDay))
	keys := noticeKeys(t, h)
	rotateMail(h, mailSender)
	rotateMail(h, mailSender, "--apply", "--notify=false")
	if n, tags := len(h.sim.Outbox()), noticeTags(h); n != 0 || len(tags) != 0 {
		t.Errorf("dry run and --notify=false: %d messages, notice tags %v", n, tags)
	}
	r := rotateMail(h, mailSender, "--apply")
	var got []string
	for _, m := range r.notices {
		got = append(got, strings.Join(m.To, ",")+": "+m.Subject)
	}
	slices.Sort(got)
	prefix := "[keyrotor] Access key "
	want := []string{
		"frank@example.com: " + prefix + keys["frank"][1] + " of frank in prod (" + mailProd + ") is held: two keys already",
		"grace@example.com: " + prefix + keys["grace"][0] + " of grace in prod (" + mailProd + ") is held: two keys already",
		"heidi@example.com: " + prefix + keys["heidi"][1] + " of heidi in prod (" + mailProd + ") is held: two keys already",
		"olga@example.com: " + prefix + keys["olga"][0] + " of olga in prod (" + mailProd + ") is due for rotation on " +
			h.sim.Now().Add(3*mailDay).Format("2006-01-02"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("first run with mail on sent\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
