package main

import (
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"keyrotor/internal/awssim"
	"keyrotor/report"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// The mail tests follow owner notifications end to end: the CLI rotates
// keys in a simulated organization and mails through the simulator's SES
// v2, whose outbox the tests read back.

const (
	mailSender   = "keyrotor@example.com"
	mailSecurity = "security@example.com"
	mailProd     = "333333333333"
	mailDev      = "444444444444"
	mailDay      = 24 * time.Hour
	// mailDigestPrefix starts the subject of every run digest.
	mailDigestPrefix = "[keyrotor] Run "
)

// mailConfig is the notifications block of a mail test's accounts.yaml.
type mailConfig struct {
	sender string
	// securityTeam nil means [security@example.com]; an empty, non-nil
	// slice means nobody.
	securityTeam    []string
	addressTemplate string
	digest          bool
	// dueSoon, if set, is notifications.due_soon's YAML value.
	dueSoon string
}

// defaultMailConfig is mail on, from keyrotor@example.com, the owner's
// address read from the `email` tag, the security team as last resort and
// a digest per run.
func defaultMailConfig() mailConfig {
	return mailConfig{sender: mailSender, digest: true}
}

func (c mailConfig) yaml() string {
	team := c.securityTeam
	if team == nil {
		team = []string{mailSecurity}
	}
	quoted := make([]string, len(team))
	for i, a := range team {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	var b strings.Builder
	b.WriteString("notifications:\n  enabled: true\n")
	fmt.Fprintf(&b, "  sender: %q\n", c.sender)
	b.WriteString("  recipient_tags: [email]\n")
	if c.addressTemplate != "" {
		fmt.Fprintf(&b, "  address_template: %q\n", c.addressTemplate)
	}
	fmt.Fprintf(&b, "  security_team: [%s]\n", strings.Join(quoted, ", "))
	fmt.Fprintf(&b, "  digest: %t\n", c.digest)
	if c.dueSoon != "" {
		fmt.Fprintf(&b, "  due_soon: %s\n", c.dueSoon)
	}
	return b.String()
}

// harnessMailOff is the notifications block of harnessConfig, which the
// mail harness replaces.
const harnessMailOff = "notifications:\n  enabled: false\n"

// newMailHarness is newHarness with mail on: it rewrites the harness's
// accounts.yaml with mc's notifications block in place of the harness's
// `enabled: false` one.
func newMailHarness(t *testing.T, sc *awssim.Scenario, mc mailConfig, extraYAML string) *harness {
	t.Helper()
	h := newHarness(t, sc, extraYAML)
	base := fmt.Sprintf(harnessConfig, h.seeded.RoleName, h.seeded.ExternalID, filepath.Join(h.dir, "reports"), extraYAML)
	if n := strings.Count(base, harnessMailOff); n != 1 {
		t.Fatalf("harnessConfig holds %d notifications blocks like %q; the mail harness replaces exactly one", n, harnessMailOff)
	}
	conf := strings.Replace(base, harnessMailOff, mc.yaml(), 1)
	if err := os.WriteFile(h.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

func mailScenario(t *testing.T, text string) *awssim.Scenario {
	t.Helper()
	sc, err := awssim.ParseScenario("mail scenario", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// mailRun is one CLI run and the mail SES accepted during it.
type mailRun struct {
	res     result
	rep     *report.Report
	dir     string
	notices []awssim.Email
	digests []awssim.Email
}

// rotateMail runs `keyrotor rotate ARGS` at the simulator's time, with a
// report directory of its own, and returns what it mailed. Every message
// is checked for what any message must satisfy: sent from the configured
// sender, with text and HTML bodies, and without any secret the simulator
// ever issued.
func rotateMail(h *harness, sender string, args ...string) mailRun {
	h.t.Helper()
	return rotateMailExit(h, sender, ExitOK, args...)
}

// rotateMailExit is rotateMail for a run that must exit with code.
func rotateMailExit(h *harness, sender string, code int, args ...string) mailRun {
	h.t.Helper()
	dir, err := os.MkdirTemp(h.dir, "run-")
	if err != nil {
		h.t.Fatal(err)
	}
	before := len(h.sim.Outbox())
	res := h.runAt(append([]string{"rotate", "--out", dir, "--format", "json"}, args...)...)
	if res.code != code {
		h.t.Fatalf("rotate %v at %s: exit %d, want %d\n%s", args, h.sim.Now().Format(time.RFC3339), res.code, code, res.stderr)
	}
	r := mailRun{res: res, rep: h.latestReport(dir), dir: dir}
	secrets := h.sim.IssuedSecrets()
	for _, m := range h.sim.Outbox()[before:] {
		from, err := mail.ParseAddress(m.From)
		if err != nil || from.Address != sender {
			h.t.Errorf("message %q is from %q; want %s", m.Subject, m.From, sender)
		}
		if strings.TrimSpace(m.Text) == "" || strings.TrimSpace(m.HTML) == "" {
			h.t.Errorf("message %q lacks a text or HTML body", m.Subject)
		}
		for _, s := range secrets {
			if strings.Contains(m.Subject+m.Text+m.HTML+string(m.Raw), s) {
				h.t.Fatalf("message %q to %v holds a secret access key the simulator issued", m.Subject, m.To)
			}
		}
		if strings.HasPrefix(m.Subject, mailDigestPrefix) {
			r.digests = append(r.digests, m)
		} else {
			r.notices = append(r.notices, m)
		}
	}
	h.assertNoSecrets(res.stdout, res.stderr)
	return r
}

// wantMail is a notice a run must send: to whom, with which subject, and
// strings its text body (text) and both bodies (both) must contain.
type wantMail struct {
	to      string
	subject string
	text    []string
	both    []string
}

// checkNotices asserts that got is exactly want: every wanted message sent
// once, to its one recipient, and nothing else.
func checkNotices(t *testing.T, label string, got []awssim.Email, want []wantMail) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, m := range got {
			if used[i] || m.Subject != w.subject || !slices.Equal(m.To, []string{w.to}) {
				continue
			}
			used[i], found = true, true
			for _, s := range w.text {
				if !strings.Contains(m.Text, s) {
					t.Errorf("%s: %q: text body lacks %q:\n%s", label, w.subject, s, m.Text)
				}
			}
			for _, s := range w.both {
				if !strings.Contains(m.Text, s) || !strings.Contains(m.HTML, s) {
					t.Errorf("%s: %q: the text or HTML body lacks %q", label, w.subject, s)
				}
			}
			break
		}
		if !found {
			t.Errorf("%s: no message %q to %s", label, w.subject, w.to)
		}
	}
	for i, m := range got {
		if !used[i] {
			t.Errorf("%s: unexpected message %q to %v", label, m.Subject, m.To)
		}
	}
}

// checkDigest asserts that the run mailed one digest, to the security
// team, naming the run and its report.
func checkDigest(t *testing.T, label string, r mailRun) {
	t.Helper()
	if len(r.digests) != 1 {
		t.Errorf("%s: %d digests, want 1", label, len(r.digests))
		return
	}
	d := r.digests[0]
	if !slices.Equal(d.To, []string{mailSecurity}) {
		t.Errorf("%s: digest to %v, want %s", label, d.To, mailSecurity)
	}
	if want := mailDigestPrefix + r.rep.Run.ID + " (apply)"; !strings.HasPrefix(d.Subject, want) {
		t.Errorf("%s: digest subject %q, want it to start with %q", label, d.Subject, want)
	}
	if !strings.Contains(d.Text, r.dir) || !strings.Contains(d.HTML, r.dir) {
		t.Errorf("%s: digest does not say where the report is (%s):\n%s", label, r.dir, d.Text)
	}
	// Issue 11: processed, failed and skipped accounts apart (skipped ones
	// were counted as processed), the run's times, and one log record.
	sum := r.rep.Summary
	for _, want := range []string{
		fmt.Sprintf("%d processed, %d failed, %d skipped", sum.AccountsOK, sum.AccountsFailed, sum.AccountsSkipped),
		"Started:   " + r.rep.Run.Started.UTC().Format("2006-01-02 15:04 UTC"),
		"Finished:  " + r.rep.Run.Ended.UTC().Format("2006-01-02 15:04 UTC"),
	} {
		if !strings.Contains(d.Text, want) {
			t.Errorf("%s: digest text lacks %q:\n%s", label, want, d.Text)
		}
	}
	if n := strings.Count(r.res.stderr, `msg="digest sent"`); n != 1 {
		t.Errorf("%s: %d \"digest sent\" log records, want 1:\n%s", label, n, r.res.stderr)
	}
}

// mailSent is a message as the report should list it.
type mailSent struct {
	subject string
	to      []string
}

func (r mailRun) sent() []mailSent {
	out := make([]mailSent, len(r.notices))
	for i, m := range r.notices {
		out[i] = mailSent{m.Subject, m.To}
	}
	return out
}

// checkReported asserts that the report lists exactly the notices sent
// (subject, recipients) with their events (by user), all with result sent.
func checkReported(t *testing.T, label string, rep *report.Report, sent []mailSent, events map[string]rotation.Event) {
	t.Helper()
	if !rep.Run.Notify {
		t.Errorf("%s: report says notifications were off", label)
	}
	if len(rep.Notifications) != len(sent) {
		t.Errorf("%s: report lists %d notifications, %d notices were sent", label, len(rep.Notifications), len(sent))
	}
	for _, n := range rep.Notifications {
		if n.Result != vocab.NotifySent || n.Error != "" {
			t.Errorf("%s: notification %s for %s: result %q error %q", label, n.Event, n.User, n.Result, n.Error)
		}
		if want, ok := events[n.User]; !ok || n.Event != string(want) {
			t.Errorf("%s: notification %s for %s; want %q", label, n.Event, n.User, want)
		}
		if !slices.ContainsFunc(sent, func(m mailSent) bool {
			return m.subject == n.Subject && slices.Equal(m.to, n.To)
		}) {
			t.Errorf("%s: reported notification %q to %v was not sent", label, n.Subject, n.To)
		}
	}
}

// mailState returns the parsed state tag of a user's key.
func mailState(t *testing.T, sim *awssim.Sim, account, user, keyID string) rotation.State {
	t.Helper()
	v, ok := sim.UserTags(account, user)[rotation.TagKey(keyID)]
	if !ok {
		t.Fatalf("%s/%s has no state tag for %s", account, user, keyID)
	}
	st, err := rotation.ParseState(v)
	if err != nil {
		t.Fatalf("state tag of %s: %v", keyID, err)
	}
	return st
}

// mailOldKeys returns each user's only access key, by user name.
func mailOldKeys(t *testing.T, sim *awssim.Sim) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range sim.Keys("") {
		if _, dup := out[k.User]; dup {
			t.Fatalf("user %s has several keys; the mail scenarios give each user one", k.User)
		}
		out[k.User] = k.ID
	}
	return out
}

// mailSignWith makes one signed call with an access key, so that the
// simulator records its use.
func mailSignWith(t *testing.T, h *harness, keyID string) {
	t.Helper()
	if _, code := h.callerIdentity(keyID); code != "" {
		t.Fatalf("sign with %s: %s", keyID, code)
	}
}

// mailLifecycleScenario has one user per way of finding an owner: the
// email tag (alice, bob), the account's contacts (dan, in prod, whose
// contacts mailLifecycleAccounts sets), and the security team (erin, with
// no address anywhere, and henry, whose tag is not an address). carol's key
// is fresh: she hears nothing.
const mailLifecycleScenario = `
seed: 21
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
role: {name: KeyrotorRotationRole, external_id: keyrotor-mail}
ses: {region: us-east-1, verified: [keyrotor@example.com]}
accounts:
  - id: "333333333333"
    name: prod
    users:
      - {name: alice, tags: {email: alice@example.com}, keys: [{age: 100d, last_used: 1d, service: s3}]}
      - {name: bob, tags: {email: bob@example.com}, keys: [{age: 200d, last_used: 3d}]}
      - {name: carol, tags: {email: carol@example.com}, keys: [{age: 30d, last_used: 2h}]}
      - {name: dan, keys: [{age: 120d, last_used: 5d}]}
  - id: "444444444444"
    name: dev
    users:
      - {name: erin, keys: [{age: 95d, last_used: never}]}
      - {name: henry, tags: {email: henry}, keys: [{age: 150d, last_used: 4d}]}
`

const mailLifecycleAccounts = `accounts:
  - id: "333333333333"
    contacts: [prod-team@example.com]
`

// TestMailLifecycle follows one rotation through all four notices: each
// reaches the right address with the right subject and says what the owner
// needs (new key, secret, fetch command, dates, how to reactivate); a
// rerun sends nothing twice because the state tag records what was mailed;
// every run's digest reaches the security team.
func TestMailLifecycle(t *testing.T) {
	t.Parallel()
	h := newMailHarness(t, mailScenario(t, mailLifecycleScenario), defaultMailConfig(), mailLifecycleAccounts)
	t0 := h.sim.Now()
	old := mailOldKeys(t, h.sim)
	type owner struct {
		account, accountName, to string
	}
	owners := map[string]owner{
		"alice": {mailProd, "prod", "alice@example.com"},
		"bob":   {mailProd, "prod", "bob@example.com"},
		"dan":   {mailProd, "prod", "prod-team@example.com"},
		"erin":  {mailDev, "dev", mailSecurity},
		"henry": {mailDev, "dev", mailSecurity},
	}
	users := []string{"alice", "bob", "dan", "erin", "henry"}
	where := func(u string) string {
		o := owners[u]
		return o.accountName + " (" + o.account + ")"
	}
	secret := func(u string) string { return "keyrotor/" + owners[u].account + "/" + u }
	fetch := func(u string) string {
		return "aws secretsmanager get-secret-value --secret-id " + secret(u) + " --region us-east-1 --query SecretString --output text"
	}
	// Notices to the security team say why it got them.
	fallback := map[string][]string{
		"erin":  {"no address was found for erin"},
		"henry": {"no address was found for henry", `tag email: invalid address "henry"`},
	}
	each := func(event rotation.Event, who ...string) map[string]rotation.Event {
		m := map[string]rotation.Event{}
		for _, u := range who {
			m[u] = event
		}
		return m
	}

	// Day 0: a new key for every stale key, and an "issued" notice each.
	r := rotateMail(h, mailSender, "--apply")
	newKey := map[string]string{}
	var want []wantMail
	for _, u := range users {
		row := row(t, r.rep, old[u])
		if row.Action != "issue" || row.Result != "done" || row.NewAccessKeyID == "" {
			t.Fatalf("day 0 %s: action %q result %q new %q", u, row.Action, row.Result, row.NewAccessKeyID)
		}
		newKey[u] = row.NewAccessKeyID
		w := wantMail{
			to:      owners[u].to,
			subject: "[keyrotor] New access key issued for " + u + " in " + where(u),
			text: append([]string{fetch(u), "deactivated on or after " + t0.Add(7*mailDay).Format("2006-01-02 15:04 UTC")},
				fallback[u]...),
			both: []string{newKey[u], old[u], secret(u)},
		}
		want = append(want, w)
	}
	checkNotices(t, "day 0", r.notices, want)
	checkReported(t, "day 0", r.rep, r.sent(), each(rotation.EventIssued, users...))
	checkDigest(t, "day 0", r)
	if !strings.Contains(r.digests[0].Text, "issue") {
		t.Errorf("day 0 digest does not count the issued keys:\n%s", r.digests[0].Text)
	}
	for _, u := range users {
		if st := mailState(t, h.sim, owners[u].account, u, old[u]); !st.Notified.Has(rotation.EventIssued) {
			t.Errorf("day 0 %s: state %s does not record the issued notice", u, st)
		}
	}

	// A rerun the same day mails no notice again, only its own digest.
	r = rotateMail(h, mailSender, "--apply")
	checkNotices(t, "day 0 rerun", r.notices, nil)
	checkReported(t, "day 0 rerun", r.rep, r.sent(), nil)
	checkDigest(t, "day 0 rerun", r)

	// Day 2: alice's workload goes on signing with the old key.
	h.sim.Clock().Set(t0.Add(2 * mailDay))
	mailSignWith(t, h, old["alice"])
	usedAt := h.sim.Now()

	deactivatedMail := func(u string, at time.Time) wantMail {
		return wantMail{
			to:      owners[u].to,
			subject: "[keyrotor] Old access key " + old[u] + " of " + u + " in " + where(u) + " was deactivated",
			text: append([]string{
				"keyrotor reactivate --account " + owners[u].account + " --user " + u + " --key " + old[u],
				"deleted on or after " + at.Add(7*mailDay).Format("2006-01-02 15:04 UTC"),
			}, fallback[u]...),
			both: []string{old[u], newKey[u], secret(u)},
		}
	}
	deletedMail := func(u string) wantMail {
		return wantMail{
			to:      owners[u].to,
			subject: "[keyrotor] Access key " + old[u] + " of " + u + " in " + where(u) + " was deleted",
			text:    append([]string{"cannot be restored", fetch(u)}, fallback[u]...),
			both:    []string{old[u], newKey[u]},
		}
	}

	// 7d1h: every old key but alice's is deactivated; alice, who used hers
	// after the new one was issued, is reminded instead.
	deactivatedAt := t0.Add(7*mailDay + time.Hour)
	h.sim.Clock().Set(deactivatedAt)
	r = rotateMail(h, mailSender, "--apply")
	want = []wantMail{{
		to:      owners["alice"].to,
		subject: "[keyrotor] Old access key " + old["alice"] + " of alice in " + where("alice") + " is still in use",
		text:    []string{fetch("alice"), usedAt.Format("2006-01-02")},
		both:    []string{old["alice"], newKey["alice"], secret("alice")},
	}}
	for _, u := range users[1:] {
		want = append(want, deactivatedMail(u, deactivatedAt))
	}
	checkNotices(t, "7d1h", r.notices, want)
	events := each(rotation.EventDeactivated, users[1:]...)
	events["alice"] = rotation.EventReminder
	checkReported(t, "7d1h", r.rep, r.sent(), events)
	checkDigest(t, "7d1h", r)
	if st := mailState(t, h.sim, mailProd, "alice", old["alice"]); !st.Notified.Has(rotation.EventReminder) || !st.Reminded.Equal(deactivatedAt) {
		t.Errorf("7d1h alice: state %s does not record the reminder", st)
	}

	// An hour later: nothing is mailed again, the reminder included.
	h.sim.Clock().Set(deactivatedAt.Add(time.Hour))
	r = rotateMail(h, mailSender, "--apply")
	checkNotices(t, "7d2h", r.notices, nil)
	checkDigest(t, "7d2h", r)

	// Deletion day: a "deleted" notice for every deactivated key. alice's
	// old key, unused for longer than deactivate_after now, is deactivated.
	deletedAt := deactivatedAt.Add(7*mailDay + time.Hour)
	h.sim.Clock().Set(deletedAt)
	r = rotateMail(h, mailSender, "--apply")
	want = []wantMail{deactivatedMail("alice", deletedAt)}
	events = each(rotation.EventDeleted, users[1:]...)
	events["alice"] = rotation.EventDeactivated
	for _, u := range users[1:] {
		want = append(want, deletedMail(u))
	}
	checkNotices(t, "deletion day", r.notices, want)
	checkReported(t, "deletion day", r.rep, r.sent(), events)
	checkDigest(t, "deletion day", r)
	for _, u := range users[1:] {
		if row := row(t, r.rep, old[u]); row.Action != "delete" || row.Result != "done" {
			t.Errorf("deletion day %s: action %q result %q", u, row.Action, row.Result)
		}
	}

	// An hour later: the deleted keys are gone, alice's deactivation was
	// told: nothing is mailed twice.
	h.sim.Clock().Set(deletedAt.Add(time.Hour))
	r = rotateMail(h, mailSender, "--apply")
	checkNotices(t, "after deletion", r.notices, nil)
	checkDigest(t, "after deletion", r)

	// alice's turn, delete_after after her deactivation.
	h.sim.Clock().Set(deletedAt.Add(7*mailDay + time.Hour))
	r = rotateMail(h, mailSender, "--apply")
	checkNotices(t, "alice's deletion", r.notices, []wantMail{deletedMail("alice")})
	checkReported(t, "alice's deletion", r.rep, r.sent(), each(rotation.EventDeleted, "alice"))
	checkDigest(t, "alice's deletion", r)

	// carol's key is fresh: no message ever went to her.
	for _, m := range h.sim.Outbox() {
		if slices.Contains(m.To, "carol@example.com") {
			t.Errorf("carol, whose key is fresh, got %q", m.Subject)
		}
	}
}

// mailTemplateScenario: alice has an email tag, bob has none; prod lists
// contacts, which the address template comes before.
const mailTemplateScenario = `
seed: 22
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
role: {name: KeyrotorRotationRole, external_id: keyrotor-mail}
ses: {region: us-east-1, verified: [example.com]}
accounts:
  - id: "333333333333"
    name: prod
    users:
      - {name: alice, tags: {email: alice@example.com}, keys: [{age: 100d, last_used: 1d}]}
      - {name: bob, keys: [{age: 100d, last_used: 1d}]}
`

// TestMailAddressTemplate: a user without an address tag is mailed at the
// address template's address, ahead of the account's contacts; a user
// with the tag is mailed at the tag's address.
func TestMailAddressTemplate(t *testing.T) {
	t.Parallel()
	mc := defaultMailConfig()
	mc.addressTemplate = "{{.UserName}}@users.example.com"
	h := newMailHarness(t, mailScenario(t, mailTemplateScenario), mc, mailLifecycleAccounts)
	old := mailOldKeys(t, h.sim)
	r := rotateMail(h, mailSender, "--apply")
	var want []wantMail
	for u, to := range map[string]string{"alice": "alice@example.com", "bob": "bob@users.example.com"} {
		want = append(want, wantMail{
			to:      to,
			subject: "[keyrotor] New access key issued for " + u + " in prod (" + mailProd + ")",
			both:    []string{old[u], row(t, r.rep, old[u]).NewAccessKeyID},
		})
	}
	checkNotices(t, "address template", r.notices, want)
	checkDigest(t, "address template", r)
}

// mailNoRecipientScenario: ken has no address and his account no
// contacts; with no security team, nobody can be told about his key.
const mailNoRecipientScenario = `
seed: 23
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
role: {name: KeyrotorRotationRole, external_id: keyrotor-mail}
ses: {region: us-east-1, verified: [keyrotor@example.com]}
accounts:
  - id: "444444444444"
    name: dev
    users:
      - {name: alice, tags: {email: alice@example.com}, keys: [{age: 100d, last_used: 1d}]}
      - {name: ken, keys: [{age: 100d, last_used: 1d}]}
`

// TestMailNoRecipient: a user nobody can be mailed about is reported as a
// failed notification saying so, on every run until fixed; his rotation
// completes all the same, and the other owners are mailed.
func TestMailNoRecipient(t *testing.T) {
	t.Parallel()
	mc := defaultMailConfig()
	mc.securityTeam = []string{}
	mc.digest = false
	h := newMailHarness(t, mailScenario(t, mailNoRecipientScenario), mc, "")
	old := mailOldKeys(t, h.sim)

	for run := 1; run <= 2; run++ {
		label := fmt.Sprintf("run %d", run)
		// Issue 11: a notice that could not be sent is exit 5 (was 0), so
		// that a scheduler sees it.
		r := rotateMailExit(h, mailSender, ExitMail, "--apply")
		if !strings.Contains(r.res.stderr, "notices to key owners could not be sent") {
			t.Errorf("%s: the exit does not say which mail failed:\n%s", label, r.res.stderr)
		}
		var want []wantMail
		if run == 1 {
			want = []wantMail{{to: "alice@example.com", subject: "[keyrotor] New access key issued for alice in dev (" + mailDev + ")"}}
		}
		checkNotices(t, label, r.notices, want)
		if len(r.digests) != 0 {
			t.Errorf("%s: %d digests with the digest off", label, len(r.digests))
		}
		var kenNote *report.Notification
		for i, n := range r.rep.Notifications {
			if n.User == "ken" {
				kenNote = &r.rep.Notifications[i]
			}
		}
		if kenNote == nil {
			t.Fatalf("%s: the report does not mention ken's undeliverable notice: %+v", label, r.rep.Notifications)
		}
		if kenNote.Result != vocab.NotifyFailed || !strings.Contains(kenNote.Error, "no recipient") ||
			kenNote.Event != string(rotation.EventIssued) || kenNote.AccessKeyID != old["ken"] {
			t.Errorf("%s: ken's notification %+v; want a failed issued notice for %s saying no recipient", label, *kenNote, old["ken"])
		}
		if !strings.Contains(r.res.stderr, "no recipient") {
			t.Errorf("%s: the log does not say ken's notice had no recipient:\n%s", label, r.res.stderr)
		}
		// The rotation itself went through.
		row := row(t, r.rep, old["ken"])
		if row.NewAccessKeyID == "" || (run == 1 && (row.Action != "issue" || row.Result != "done")) {
			t.Errorf("%s: ken's key: action %q result %q new %q", label, row.Action, row.Result, row.NewAccessKeyID)
		}
		if v, ok := h.sim.SecretValue(mailDev, h.seeded.Region, "keyrotor/"+mailDev+"/ken"); !ok || !strings.Contains(v, row.NewAccessKeyID) {
			t.Errorf("%s: ken's secret does not hold his new key %s", label, row.NewAccessKeyID)
		}
		if st := mailState(t, h.sim, mailDev, "ken", old["ken"]); st.Phase != rotation.PhaseIssued || st.Notified.Has(rotation.EventIssued) {
			t.Errorf("%s: ken's state %s; want issued, with no notice recorded", label, st)
		}
	}
}

// mailNotifyOffScenario is two stale keys with owners.
const mailNotifyOffScenario = `
seed: 24
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
role: {name: KeyrotorRotationRole, external_id: keyrotor-mail}
ses: {region: us-east-1, verified: [keyrotor@example.com]}
accounts:
  - id: "333333333333"
    name: prod
    users:
      - {name: alice, tags: {email: alice@example.com}, keys: [{age: 100d, last_used: 1d}]}
      - {name: bob, tags: {email: bob@example.com}, keys: [{age: 150d, last_used: 1d}]}
`

// TestMailNotifyOff: --notify=false (and a dry run) mail nothing and
// record nothing as mailed, and the report says notifications were off;
// the next run with mail on tells the owners about the keys issued.
func TestMailNotifyOff(t *testing.T) {
	t.Parallel()
	h := newMailHarness(t, mailScenario(t, mailNotifyOffScenario), defaultMailConfig(), "")
	old := mailOldKeys(t, h.sim)

	r := rotateMail(h, mailSender)
	if len(h.sim.Outbox()) != 0 || r.rep.Run.Notify {
		t.Errorf("dry run: %d messages sent, notifications_enabled %v", len(h.sim.Outbox()), r.rep.Run.Notify)
	}

	r = rotateMail(h, mailSender, "--apply", "--notify=false")
	if n := len(h.sim.Outbox()); n != 0 {
		t.Errorf("--notify=false: %d messages sent", n)
	}
	if r.rep.Run.Notify || len(r.rep.Notifications) != 0 {
		t.Errorf("--notify=false: report notifications_enabled %v, notifications %+v", r.rep.Run.Notify, r.rep.Notifications)
	}
	for _, u := range []string{"alice", "bob"} {
		if row := row(t, r.rep, old[u]); row.Action != "issue" || row.Result != "done" {
			t.Errorf("--notify=false %s: action %q result %q", u, row.Action, row.Result)
		}
		if st := mailState(t, h.sim, mailProd, u, old[u]); st.Notified.Has(rotation.EventIssued) {
			t.Errorf("--notify=false %s: state %s records a notice that was not sent", u, st)
		}
	}

	r = rotateMail(h, mailSender, "--apply")
	var want []wantMail
	for _, u := range []string{"alice", "bob"} {
		want = append(want, wantMail{
			to:      u + "@example.com",
			subject: "[keyrotor] New access key issued for " + u + " in prod (" + mailProd + ")",
			both:    []string{old[u], row(t, r.rep, old[u]).NewAccessKeyID},
		})
	}
	checkNotices(t, "mail on", r.notices, want)
	checkReported(t, "mail on", r.rep, r.sent(), map[string]rotation.Event{"alice": rotation.EventIssued, "bob": rotation.EventIssued})
	checkDigest(t, "mail on", r)
}

// mailUnverifiedScenario verifies no identity the sender belongs to.
const mailUnverifiedScenario = `
seed: 25
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
role: {name: KeyrotorRotationRole, external_id: keyrotor-mail}
ses: {region: us-east-1, verified: [mail.example.org]}
accounts:
  - id: "333333333333"
    name: prod
    users:
      - {name: alice, tags: {email: alice@example.com}, keys: [{age: 100d, last_used: 1d}]}
      - {name: bob, tags: {email: bob@example.com}, keys: [{age: 150d, last_used: 1d}]}
`

// TestMailUnverifiedSender: SES refuses mail from an unverified sender.
// The report and the log say so and what to do, the rotation completes
// (keys issued, secrets stored), and once the sender is verified the next
// run sends each notice, once.
func TestMailUnverifiedSender(t *testing.T) {
	t.Parallel()
	h := newMailHarness(t, mailScenario(t, mailUnverifiedScenario), defaultMailConfig(), "")
	old := mailOldKeys(t, h.sim)
	users := []string{"alice", "bob"}

	// Issue 11: an applied run checks the sender before any change, and
	// stops (exit 1) when SES may not send from it; before, it rotated
	// every key and mailed nobody.
	dir := filepath.Join(h.dir, "unverified")
	res := h.runAt("rotate", "--apply", "--out", dir)
	if res.code != ExitFailed || !strings.Contains(res.stderr, "no SES identity for "+mailSender) || !strings.Contains(res.stderr, "nothing was changed") {
		t.Fatalf("unverified sender: exit %d, want %d saying so\n%s", res.code, ExitFailed, res.stderr)
	}
	if w := h.sim.WriteCalls(); len(w) != 0 || len(h.sim.Outbox()) != 0 {
		t.Fatalf("a run stopped by its sender check changed %d things and mailed %d", len(w), len(h.sim.Outbox()))
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(m) != 0 {
		t.Errorf("a run that did nothing wrote a report: %v", m)
	}

	// Where the sender cannot be checked (an endpoint without
	// GetEmailIdentity, as aws-ses-v2-local), the run goes on and every
	// send fails: the rotation completes without mail, and the run exits
	// 5 (was 0) so that the scheduler sees it.
	h.sim.InjectFault(awssim.Fault{Service: "ses", Op: "GetEmailIdentity", Kind: awssim.FaultUnsupported})
	r := rotateMailExit(h, mailSender, ExitMail, "--apply")
	h.sim.ClearFaults()
	if !strings.Contains(r.res.stderr, "cannot check the SES sender here") {
		t.Errorf("the log does not say the sender could not be checked:\n%s", r.res.stderr)
	}
	if n := len(h.sim.Outbox()); n != 0 {
		t.Fatalf("SES accepted %d messages from an unverified sender", n)
	}
	const why = "sender " + mailSender + " is not a verified identity"
	if len(r.rep.Notifications) != len(users) {
		t.Errorf("report lists %d notifications, want %d: %+v", len(r.rep.Notifications), len(users), r.rep.Notifications)
	}
	for _, n := range r.rep.Notifications {
		if n.Result != vocab.NotifyFailed || !strings.Contains(n.Error, why) || !strings.Contains(n.Error, "MessageRejected") {
			t.Errorf("notification for %s: result %q error %q; want failed, saying %q", n.User, n.Result, n.Error, why)
		}
	}
	if !strings.Contains(r.res.stderr, why) || !strings.Contains(r.res.stderr, "digest to the security team failed") {
		t.Errorf("the log does not say the sender is unverified and the digest failed:\n%s", r.res.stderr)
	}
	for _, u := range users {
		row := row(t, r.rep, old[u])
		if row.Action != "issue" || row.Result != "done" || row.NewAccessKeyID == "" {
			t.Errorf("%s: action %q result %q new %q; the rotation must complete without mail", u, row.Action, row.Result, row.NewAccessKeyID)
		}
		if v, ok := h.sim.SecretValue(mailProd, h.seeded.Region, "keyrotor/"+mailProd+"/"+u); !ok || row.NewAccessKeyID == "" || !strings.Contains(v, row.NewAccessKeyID) {
			t.Errorf("%s: the secret does not hold the new key %s", u, row.NewAccessKeyID)
		}
		if st := mailState(t, h.sim, mailProd, u, old[u]); st.Phase != rotation.PhaseIssued || st.Notified.Has(rotation.EventIssued) {
			t.Errorf("%s: state %s; want issued with no notice recorded", u, st)
		}
	}

	h.sim.VerifyEmailIdentity(h.seeded.SecurityAccountID, h.seeded.Region, mailSender)
	r = rotateMail(h, mailSender, "--apply")
	var want []wantMail
	for _, u := range users {
		want = append(want, wantMail{
			to:      u + "@example.com",
			subject: "[keyrotor] New access key issued for " + u + " in prod (" + mailProd + ")",
			both:    []string{old[u], row(t, r.rep, old[u]).NewAccessKeyID},
		})
	}
	checkNotices(t, "after verification", r.notices, want)
	checkReported(t, "after verification", r.rep, r.sent(), map[string]rotation.Event{"alice": rotation.EventIssued, "bob": rotation.EventIssued})
	checkDigest(t, "after verification", r)

	r = rotateMail(h, mailSender, "--apply")
	checkNotices(t, "rerun", r.notices, nil)
	checkDigest(t, "rerun", r)
}
