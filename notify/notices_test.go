package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"keyrotor/notify"
	"keyrotor/report"
	"keyrotor/rotation"
	"keyrotor/vocab"
)

// heldNotice is a held notice on mailOldKey for code, with the fix
// commands the planner quotes.
func heldNotice(code vocab.Reason, fix ...string) rotation.Notice {
	n := mailNotice(rotation.EventHeld)
	n.NewKeyID = ""
	n.Code, n.Fix = code, strings.Join(fix, "; ")
	n.Reason = "key is 130 days old (rotation was due 2026-10-20) but the user already has two keys: " + strings.Join(fix, ", ")
	return n
}

func TestHeldAndDueSoonMessages(t *testing.T) {
	del := "aws iam delete-access-key --user-name alice --access-key-id AKIAOTHERKEY00000003"
	untag := "aws iam untag-user --user-name alice --tag-keys keyrotor:" + mailOldKey
	soon := mailNotice(rotation.EventDueSoon)
	soon.NewKeyID, soon.RotateOn = "", mailNow.Add(13*24*time.Hour+time.Hour)
	used := mailNow.Add(-5 * time.Hour)
	soon.LastUsed, soon.LastUsedService = &used, "sqs"
	until := heldNotice(vocab.ReasonTwoKeys)
	until.HoldUntil = mailNow.Add(3 * 24 * time.Hour)
	tests := []struct {
		name    string
		n       rotation.Notice
		subject string
		both    []string
		text    []string
		not     []string
	}{
		{
			name:    "two keys",
			n:       heldNotice(vocab.ReasonTwoKeys, del),
			subject: "[keyrotor] Access key " + mailOldKey + " of alice in payments-prod (123456789012) is held: two keys already",
			both:    []string{mailOldKey, "two_keys", del, "already has two keys", "once per reason", "security@example.com"},
			text:    []string{"Reason:  two keys already (two_keys)", "To resolve it, run", "\n  " + del + "\n"},
			not:     []string{"weekly", "goes on by itself", "get-secret-value"},
		},
		{
			name:    "two commands, one a line",
			n:       heldNotice(vocab.ReasonOrphanUnproven, del, untag),
			subject: "[keyrotor] Access key " + mailOldKey + " of alice in payments-prod (123456789012) is held: possible orphan, not provably keyrotor's",
			both:    []string{del, untag, "repeats this notice weekly"},
			text:    []string{"\n  " + del + "\n  " + untag + "\n"},
			not:     []string{"once per reason"},
		},
		{
			name: "clears by itself, nothing to run",
			n:    until,
			both: []string{"goes on by itself on or after", "2026-11-29"},
			not:  []string{"To resolve it"},
		},
		{
			name:    "due soon",
			n:       soon,
			subject: "[keyrotor] Access key " + mailOldKey + " of alice in payments-prod (123456789012) is due for rotation on 2026-12-09",
			both:    []string{mailOldKey, "2026-12-09", "in 14 day(s)", mailSecret, "2026-11-26 01:00 UTC", "sqs", "two access keys"},
			not:     []string{"held", "get-secret-value"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ses := &mailFakeSES{}
			n := newMailNotifier(t, ses, mailConfig(), nil)
			d, err := n.Notify(context.Background(), tt.n)
			if err != nil {
				t.Fatal(err)
			}
			in := ses.sent()[0]
			subject, text, html := mailBodies(t, in)
			if tt.subject != "" && (subject != tt.subject || d.Subject != tt.subject) {
				t.Errorf("subject = %q, want %q", subject, tt.subject)
			}
			for _, s := range tt.both {
				if !strings.Contains(text, s) || !strings.Contains(html, s) {
					t.Errorf("text or HTML lacks %q:\n%s\n%s", s, text, html)
				}
			}
			for _, s := range tt.text {
				if !strings.Contains(text, s) {
					t.Errorf("text lacks %q:\n%s", s, text)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(text, s) || strings.Contains(html, s) {
					t.Errorf("message mentions %q:\n%s", s, text)
				}
			}
			tags := map[string]string{}
			for _, tg := range in.EmailTags {
				tags[aws.ToString(tg.Name)] = aws.ToString(tg.Value)
			}
			reason := ""
			if tt.n.Kind == rotation.EventHeld {
				reason = string(tt.n.Code)
			}
			if tags["keyrotor_event"] != string(tt.n.Kind) || tags["keyrotor_reason"] != reason {
				t.Errorf("email tags = %v", tags)
			}
		})
	}
}

func TestHeldAndDueSoonRefusedIncomplete(t *testing.T) {
	unknown := heldNotice("no_such_code", "x")
	noReason := heldNotice(vocab.ReasonTwoKeys)
	noReason.Reason = ""
	noDate := mailNotice(rotation.EventDueSoon)
	for _, n := range []rotation.Notice{unknown, noReason, noDate} {
		ses := &mailFakeSES{}
		if _, err := newMailNotifier(t, ses, mailConfig(), nil).Notify(context.Background(), n); err == nil || len(ses.sent()) != 0 {
			t.Errorf("%s notice %+v: err %v, %d sent", n.Kind, n, err, len(ses.sent()))
		}
	}
}

// TestHeldTemplateOverride: held and due_soon templates are overridden
// like the others, and checked against every hold code at start-up, so a
// branch for one code that names a missing field is found then.
func TestHeldTemplateOverride(t *testing.T) {
	cfg := mailConfig()
	cfg.TemplatesDir = writeTemplates(t, map[string]string{
		"held.subject": "{{if eq .Code \"two_keys\"}}Free a key slot{{else}}Held: {{.CodeTitle}}{{end}}\n",
	})
	ses := &mailFakeSES{}
	d, err := newMailNotifier(t, ses, cfg, nil).Notify(context.Background(), heldNotice(vocab.ReasonTwoKeys, "x"))
	if err != nil || d.Subject != "Free a key slot" {
		t.Fatalf("subject %q, %v", d.Subject, err)
	}
	cfg.TemplatesDir = writeTemplates(t, map[string]string{
		"held.txt": "{{if eq .Code \"state_tampered\"}}{{.Nope}}{{end}}{{.Reason}}\n",
	})
	if _, err := notify.NewSESNotifier(&mailFakeSES{}, cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("a held.txt broken for state_tampered only: err = %v", err)
	}
	cfg.TemplatesDir = writeTemplates(t, map[string]string{"due_soon.html": "<p>{{.DaysLeft}} {{.Missing}}</p>"})
	if err := notify.CheckTemplates(cfg); err == nil || !strings.Contains(err.Error(), "due_soon.html") {
		t.Errorf("a broken due_soon.html: err = %v", err)
	}
}

func TestBuildDigestListsHeldKeys(t *testing.T) {
	key := func(i int, user string, result vocab.Result, code vocab.Reason) report.Key {
		return report.Key{AccountID: mailAccount, AccountName: "payments-prod", User: user,
			AccessKeyID: fmt.Sprintf("AKIAHELD%012d", i), Action: "hold", Result: result, ReasonCode: code,
			Reason: "held for " + string(code), Fix: "aws iam fix " + user}
	}
	rep := &report.Report{Run: report.Run{ID: "r1", Mode: vocab.ModeApply}, Keys: []report.Key{
		key(2, "zed", vocab.ResultHeld, vocab.ReasonStateTampered),
		key(1, "amy", vocab.ResultHeld, vocab.ReasonTwoKeys),
		key(3, "bob", vocab.ResultFailed, vocab.ReasonStepFailed),
		{AccountID: mailAccount, User: "cat", AccessKeyID: "AKIANOTHELD000000001"},
	}}
	d, err := notify.BuildDigest(rep, notify.DigestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.HeldTotal != 2 || d.HeldMore != 0 || len(d.Held) != 2 || d.Held[0].User != "amy" || d.Held[1].User != "zed" {
		t.Fatalf("held = %d %+v (more %d)", d.HeldTotal, d.Held, d.HeldMore)
	}
	if h := d.Held[0]; h.Code != "two_keys" || h.Title != "two keys already" || h.Fix != "aws iam fix amy" ||
		h.KeyID != "AKIAHELD000000000001" || h.AccountName != "payments-prod" || h.Reason != "held for two_keys" {
		t.Errorf("held[0] = %+v", h)
	}

	// A large estate: the digest lists MaxDigestHeld and counts the rest.
	rep.Keys = nil
	for i := range notify.MaxDigestHeld + 5 {
		rep.Keys = append(rep.Keys, key(i, fmt.Sprintf("u%04d", i), vocab.ResultHeld, vocab.ReasonTwoKeys))
	}
	d, _ = notify.BuildDigest(rep, notify.DigestOptions{})
	if d.HeldTotal != notify.MaxDigestHeld+5 || d.HeldMore != 5 || len(d.Held) != notify.MaxDigestHeld {
		t.Fatalf("large: total %d more %d listed %d", d.HeldTotal, d.HeldMore, len(d.Held))
	}

	cfg := mailConfig()
	e := newMailSimEnv(t, cfg)
	e.sim.VerifyEmailIdentity(mailSecurityAccount, "eu-west-1", "example.com")
	if _, err := newMailNotifier(t, e.ses, cfg, nil).SendDigest(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	m := e.sim.Outbox()[0]
	for _, s := range []string{"Held keys (205", "u0000 key AKIAHELD000000000000: two_keys (two keys already)",
		"fix: aws iam fix u0000", "and 5 more held keys"} {
		if !strings.Contains(m.Text, s) {
			t.Errorf("digest text lacks %q", s)
		}
	}
	if !strings.Contains(m.HTML, "aws iam fix u0199") || strings.Contains(m.HTML, "u0200") {
		t.Errorf("digest HTML does not list exactly the first %d held keys", notify.MaxDigestHeld)
	}
}
