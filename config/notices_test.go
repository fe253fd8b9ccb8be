package config

import (
	"strings"
	"testing"
	"time"

	"keyrotor/accounts"
	"keyrotor/rotation"
)

func TestNoticePolicy(t *testing.T) {
	c, err := Parse("accounts.yaml", lines(minimal, "  due_soon: [3d, 14d, 36h]"))
	if err != nil {
		t.Fatal(err)
	}
	want := rotation.NoticePolicy{Holds: true, DueSoon: [rotation.MaxDueSoon]time.Duration{14 * day, 3 * day, 36 * time.Hour}}
	if got := c.NoticePolicy(); got != want {
		t.Errorf("NoticePolicy = %+v, want %+v", got, want)
	}
	// Targets carry it; PolicyFor stays the rotation policy alone.
	if got := c.Target(accounts.Target{ID: "123456789012"}).Policy; got.Notices != want || got.MaxKeyAge != 90*day {
		t.Errorf("Target policy = %+v", got)
	}
	if got := c.PolicyFor("123456789012"); got != rotation.DefaultPolicy() {
		t.Errorf("PolicyFor = %+v, want DefaultPolicy", got)
	}

	// Off by default; with notifications off, nothing at all.
	c, err = Parse("accounts.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.NoticePolicy(); got != (rotation.NoticePolicy{Holds: true}) {
		t.Errorf("default NoticePolicy = %+v, want hold notices only", got)
	}
	c, err = Parse("accounts.yaml", lines("notifications:", "  enabled: false", "  due_soon: [14d]"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.NoticePolicy(); got != (rotation.NoticePolicy{}) {
		t.Errorf("notifications off: NoticePolicy = %+v, want none", got)
	}
	if len(c.Warnings) != 1 || c.Warnings[0].Field != "notifications.due_soon" || c.Warnings[0].Line != 3 ||
		!strings.Contains(c.Warnings[0].Msg, "no effect") {
		t.Errorf("warnings = %v, want notifications.due_soon at line 3 having no effect", c.Warnings)
	}
}

func TestDueSoonErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   []byte
		line  int
		field string
		msg   string
	}{
		{"zero", lines(minimal, "  due_soon: [14d, 0]"), 3, "notifications.due_soon[1]", "greater than 0"},
		{"not a duration", lines(minimal, "  due_soon:", "    - 14d", "    - soon"), 5, "notifications.due_soon[1]", `bad duration "soon"`},
		{"not a list", lines(minimal, "  due_soon: 14d"), 3, "notifications.due_soon", "list"},
		{"not shorter than max_key_age", lines(minimal, "  due_soon: [90d]"), 3, "notifications.due_soon[0]", "not shorter than policy.max_key_age (90d)"},
		{"not shorter than a shorter max_key_age", lines(minimal, "  due_soon: [30d]", "policy: {max_key_age: 30d}"), 3,
			"notifications.due_soon[0]", "not shorter than policy.max_key_age (30d)"},
		{"too many", lines(minimal, "  due_soon: [30d, 14d, 7d, 3d, 1d]"), 3, "notifications.due_soon", "at most 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("accounts.yaml", tt.src)
			for _, e := range Errors(err) {
				if e.Line == tt.line && e.Field == tt.field && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Fatalf("got %v\nwant an error at accounts.yaml:%d field %q containing %q", err, tt.line, tt.field, tt.msg)
		})
	}

	c, err := Parse("accounts.yaml", lines(minimal, "  security_team: [sec@example.com]", "  due_soon: [14d, 14d]", "accounts:", "  - id: \"123456789012\"",
		"    policy: {max_key_age: 10d}"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, w := range c.Warnings {
		got[w.Field] = w.Line
	}
	if got["notifications.due_soon[1]"] != 4 || got["accounts[0].policy.max_key_age"] != 7 || len(got) != 2 {
		t.Errorf("warnings = %v, want the repeated entry and the account whose max_key_age it reaches", c.Warnings)
	}
}
