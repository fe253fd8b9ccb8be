package notify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"keyrotor/notify"
)

func mailDigest() notify.Digest {
	return notify.Digest{
		RunID: "20261126T060000Z-ab12", Mode: "apply",
		Started: mailNow, Finished: mailNow.Add(90 * time.Second),
		Accounts: 3, AccountsFailed: 1, AccountsSkipped: 2, AccountsTargeted: 4, Keys: 40,
		Compliance: "92.5% of the active, non-exempt keys seen", CompliancePct: 92.5, HasCompliance: true,
		SkippedAccounts: []notify.FailedAccount{{ID: "444444444444", Name: "old", Error: "account is SUSPENDED"}},
		Counts: []notify.DigestCount{
			{Action: "deactivate", Result: "done", Count: 2},
			{Action: "issue", Result: "done", Count: 5},
			{Action: "issue", Result: "failed", Count: 1},
		},
		FailedAccounts: []notify.FailedAccount{{ID: "333333333333", Name: "R&D <lab>", Error: "assume role in 333333333333: AccessDenied"}},
		NotifyFailures: []notify.NotifyFailure{{AccountID: mailAccount, User: "bob", KeyID: mailOldKey, Event: "issued",
			Error: "notify: no recipient for bob in 123456789012"}},
		ReportFiles: []string{"reports/keyrotor-20261126T060000Z.json", "reports/keyrotor-20261126T060000Z.xlsx"},
		ReportS3:    []string{"s3://audit-bucket/keyrotor/keyrotor-20261126T060000Z.xlsx"},
	}
}

// xlsxLike is binary data shaped like a zip file, with every byte value,
// so that a lossy encoding would show.
func xlsxLike(n int) []byte {
	b := make([]byte, n)
	copy(b, "PK\x03\x04")
	for i := 4; i < n; i++ {
		b[i] = byte(i * 7)
	}
	return b
}

func TestSendDigestSimple(t *testing.T) {
	cfg := mailConfig()
	cfg.SecurityTeam = []string{"security@example.com", "bad address", "soc@example.com"}
	e := newMailSimEnv(t, cfg)
	e.sim.VerifyEmailIdentity(mailSecurityAccount, "eu-west-1", "keyrotor@example.com")
	n := newMailNotifier(t, e.ses, cfg, nil)
	d, err := n.SendDigest(context.Background(), mailDigest())
	if err != nil {
		t.Fatal(err)
	}
	box := e.sim.Outbox()
	if len(box) != 1 {
		t.Fatalf("outbox has %d messages", len(box))
	}
	m := box[0]
	want := "[keyrotor] Run 20261126T060000Z-ab12 (apply): 1 account(s) failed"
	if m.Subject != want || d.Subject != want || m.Raw != nil || d.MessageID != m.MessageID || d.Source != "security_team" {
		t.Errorf("message %+v, delivery %+v", m, d)
	}
	if to := []string{"security@example.com", "soc@example.com"}; !slices.Equal(m.To, to) || !slices.Equal(d.To, to) {
		t.Errorf("to = %v, delivery %v", m.To, d.To)
	}
	if len(d.Skipped) != 1 || !strings.HasPrefix(d.Skipped[0], `security_team[1]: invalid address "bad address"`) {
		t.Errorf("skipped = %q", d.Skipped)
	}
	for _, s := range []string{
		"keyrotor run 20261126T060000Z-ab12 (apply)", "2026-11-26 06:00 UTC", "2026-11-26 06:01 UTC",
		"3 processed, 1 failed, 2 skipped (4 targeted)", "40 seen", "Compliance: 92.5% of the active, non-exempt keys seen",
		"444444444444 (old): account is SUSPENDED",
		"issue        failed           1", "deactivate   done             2",
		"333333333333 (R&D <lab>): assume role in 333333333333: AccessDenied",
		"issued for bob in 123456789012 (key " + mailOldKey + "): notify: no recipient",
		"reports/keyrotor-20261126T060000Z.xlsx", "s3://audit-bucket/keyrotor/keyrotor-20261126T060000Z.xlsx",
	} {
		if !strings.Contains(m.Text, s) {
			t.Errorf("text lacks %q:\n%s", s, m.Text)
		}
	}
	if strings.Contains(m.Text, "attached") {
		t.Errorf("text mentions an attachment:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, "R&amp;D &lt;lab&gt;") || strings.Contains(m.HTML, "<lab>") {
		t.Errorf("HTML does not escape the account name:\n%s", m.HTML)
	}

	empty := notify.Digest{RunID: "r2", Mode: "audit"}
	d, err = n.SendDigest(context.Background(), empty)
	if err != nil {
		t.Fatal(err)
	}
	if d.Subject != "[keyrotor] Run r2 (audit): completed" {
		t.Errorf("subject = %q", d.Subject)
	}
}

func TestSendDigestWithAttachment(t *testing.T) {
	cfg := mailConfig()
	e := newMailSimEnv(t, cfg)
	e.sim.VerifyEmailIdentity(mailSecurityAccount, "eu-west-1", "example.com")
	n := newMailNotifier(t, e.ses, cfg, nil)
	data := xlsxLike(200_000)
	dg := mailDigest()
	dg.Attachment = &notify.Attachment{Name: "/var/lib/keyrotor/reports/keyrotor-20261126T060000Z.xlsx", Data: data}
	d, err := n.SendDigest(context.Background(), dg)
	if err != nil {
		t.Fatal(err)
	}
	box := e.sim.Outbox()
	if len(box) != 1 || box[0].Raw == nil {
		t.Fatalf("outbox = %+v, want one raw message", box)
	}
	sm := box[0]
	if sm.MessageID != d.MessageID || sm.Subject != d.Subject || !slices.Equal(sm.To, []string{"security@example.com"}) ||
		sm.ConfigurationSet != "keyrotor" || sm.Region != "eu-west-1" {
		t.Errorf("outbox message %+v, delivery %+v", sm, d)
	}
	// The simulator found the text and HTML bodies in the MIME structure.
	if !strings.Contains(sm.Text, "The report is attached (keyrotor-20261126T060000Z.xlsx).") ||
		!strings.Contains(sm.HTML, "<code>keyrotor-20261126T060000Z.xlsx</code>") {
		t.Errorf("bodies as SES sees them:\n%s\n%s", sm.Text, sm.HTML)
	}

	msg, err := mail.ReadMessage(bytes.NewReader(sm.Raw))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	if h.Get("MIME-Version") != "1.0" || h.Get("From") != `"KeyRotor" <keyrotor@example.com>` ||
		h.Get("To") != "<security@example.com>" || h.Get("Reply-To") != "<help@example.com>" {
		t.Errorf("header = %v", h)
	}
	if date, err := h.Date(); err != nil || !date.Equal(mailNow) {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != d.Subject {
		t.Errorf("Subject %q (%v), want %q", subject, err, d.Subject)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	mixed := multipart.NewReader(msg.Body, params["boundary"])

	alt, err := mixed.NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err = mime.ParseMediaType(alt.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("first part %q: %v", alt.Header.Get("Content-Type"), err)
	}
	ar := multipart.NewReader(alt, params["boundary"])
	var bodies []string
	for {
		p, err := ar.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
			t.Errorf("body part encoding %q", p.Header.Get("Content-Transfer-Encoding"))
		}
		b, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, p.Header.Get("Content-Type")+"\n"+string(b))
	}
	if len(bodies) != 2 || !strings.HasPrefix(bodies[0], "text/plain; charset=utf-8\n") ||
		!strings.HasPrefix(bodies[1], "text/html; charset=utf-8\n") {
		t.Fatalf("alternative parts = %q", bodies)
	}
	if !strings.Contains(bodies[0], "333333333333 (R&D <lab>)") || !strings.Contains(bodies[1], "R&amp;D &lt;lab&gt;") {
		t.Errorf("bodies = %q", bodies)
	}

	att, err := mixed.NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	if ct := att.Header.Get("Content-Type"); ct != `application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name=keyrotor-20261126T060000Z.xlsx` {
		t.Errorf("attachment Content-Type %q", ct)
	}
	disp, dparams, err := mime.ParseMediaType(att.Header.Get("Content-Disposition"))
	if err != nil || disp != "attachment" || dparams["filename"] != "keyrotor-20261126T060000Z.xlsx" {
		t.Errorf("Content-Disposition %q: %v", att.Header.Get("Content-Disposition"), err)
	}
	if att.Header.Get("Content-Transfer-Encoding") != "base64" {
		t.Errorf("attachment encoding %q", att.Header.Get("Content-Transfer-Encoding"))
	}
	encoded, err := io.ReadAll(att)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimRight(string(encoded), "\r\n"), "\r\n") {
		if len(line) > 76 {
			t.Fatalf("base64 line of %d characters", len(line))
		}
	}
	got, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(encoded), "\r\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("attachment round trip: got %d bytes, want %d identical bytes", len(got), len(data))
	}
	if _, err := mixed.NextRawPart(); !errors.Is(err, io.EOF) {
		t.Errorf("extra part after the attachment: %v", err)
	}
}

func TestSendDigestTooLargeToAttach(t *testing.T) {
	ses := &mailFakeSES{}
	n := newMailNotifier(t, ses, mailConfig(), nil)
	dg := mailDigest()
	dg.Attachment = &notify.Attachment{Name: "big.xlsx", Data: xlsxLike(9 << 20)}
	if _, err := n.SendDigest(context.Background(), dg); err != nil {
		t.Fatal(err)
	}
	in := ses.sent()[0]
	if in.Content.Raw != nil {
		t.Fatal("an oversized report was attached")
	}
	_, text, html := mailBodies(t, in)
	for _, body := range []string{text, html} {
		if !strings.Contains(body, "The report big.xlsx (9.0 MB) is too large to attach") || strings.Contains(body, "is attached") {
			t.Errorf("body does not explain the missing attachment:\n%s", body)
		}
	}
}

func TestSendDigestErrors(t *testing.T) {
	cfg := mailConfig()
	cfg.SecurityTeam = nil
	ses := &mailFakeSES{}
	n := newMailNotifier(t, ses, cfg, nil)
	_, err := n.SendDigest(context.Background(), mailDigest())
	if !errors.Is(err, notify.ErrNoRecipient) || !strings.Contains(err.Error(), "digest of run 20261126T060000Z-ab12") {
		t.Errorf("err = %v, want ErrNoRecipient for the digest", err)
	}
	dg := mailDigest()
	dg.Attachment = &notify.Attachment{Name: "empty.xlsx"}
	n = newMailNotifier(t, ses, mailConfig(), nil)
	if _, err := n.SendDigest(context.Background(), dg); err == nil || !strings.Contains(err.Error(), "empty.xlsx is empty") {
		t.Errorf("empty attachment: err = %v", err)
	}
	if len(ses.sent()) != 0 {
		t.Error("a message was sent")
	}

	ses.err = errors.New("connection reset")
	if _, err := n.SendDigest(context.Background(), mailDigest()); err == nil ||
		err.Error() != "send digest of run 20261126T060000Z-ab12: connection reset" {
		t.Errorf("err = %v", err)
	}
}
