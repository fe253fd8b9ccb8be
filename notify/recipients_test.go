package notify_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"keyrotor/notify"
	"keyrotor/rotation"
)

func TestResolveRecipients(t *testing.T) {
	base := notify.Settings{
		RecipientTags: []string{"email", "owner"},
		Address:       tmplAddress("{{.UserName}}@corp.example.com"),
		SecurityTeam:  []string{"sec@corp.example.com", "SEC@corp.example.com", "soc@corp.example.com"},
	}
	notice := func(tags map[string]string) rotation.Notice {
		return rotation.Notice{AccountID: "123456789012", AccountName: "payments-prod", User: "alice", UserTags: tags}
	}
	contacts := []string{"team@corp.example.com", "not-an-address", "team@corp.example.com", "ops@corp.example.com"}

	tests := []struct {
		name     string
		cfg      func(c *notify.Settings)
		tags     map[string]string
		contacts []string
		want     []string
		source   notify.RecipientSource
		describe string
		skipped  []string // substrings, in order
		err      []string // substrings of the ErrNoRecipient error
	}{
		{
			name: "first tag wins", tags: map[string]string{"email": "alice@corp.example.com", "owner": "bob@corp.example.com"},
			contacts: contacts, want: []string{"alice@corp.example.com"}, source: notify.SourceTag, describe: "tag email",
		},
		{
			name: "tags are tried in configured order", tags: map[string]string{"owner": "bob@corp.example.com"},
			want: []string{"bob@corp.example.com"}, source: notify.SourceTag, describe: "tag owner",
		},
		{
			name: "tag keys compared case-insensitively, as IAM does", tags: map[string]string{"EMAIL": "alice@corp.example.com", "owner": "bob@corp.example.com"},
			want: []string{"alice@corp.example.com"}, source: notify.SourceTag, describe: "tag email",
		},
		{
			name: "surrounding space is trimmed", tags: map[string]string{"email": "  alice@corp.example.com "},
			want: []string{"alice@corp.example.com"}, source: notify.SourceTag, describe: "tag email",
		},
		{
			name: "invalid tag skipped with reason", tags: map[string]string{"email": "alice", "owner": "bob@corp.example.com"},
			want: []string{"bob@corp.example.com"}, source: notify.SourceTag, describe: "tag owner",
			skipped: []string{`tag email: invalid address "alice"`},
		},
		{
			name: "display name in tag refused", tags: map[string]string{"email": "Alice Admin <attacker@evil.example.com>"},
			want: []string{"alice@corp.example.com"}, source: notify.SourceAddressTemplate, describe: "address_template",
			skipped: []string{`tag email: invalid address "Alice Admin <attacker@evil.example.com>": want a bare address`},
		},
		{
			name: "two addresses in one tag refused", tags: map[string]string{"email": "a@corp.example.com b@corp.example.com"},
			want: []string{"alice@corp.example.com"}, source: notify.SourceAddressTemplate,
			skipped: []string{"tag email: invalid address"},
		},
		{
			name: "tag domain without dot refused", tags: map[string]string{"email": "alice@localhost"},
			want: []string{"alice@corp.example.com"}, source: notify.SourceAddressTemplate,
			skipped: []string{`tag email: invalid address "alice@localhost": domain "localhost" is not a full domain name`},
		},
		{
			name: "address template when no tag", tags: map[string]string{"team": "payments"},
			contacts: contacts, want: []string{"alice@corp.example.com"}, source: notify.SourceAddressTemplate,
		},
		{
			name:     "invalid address template output falls through to contacts",
			cfg:      func(c *notify.Settings) { c.Address = tmplAddress("{{.UserName}}") },
			contacts: contacts, want: []string{"team@corp.example.com", "ops@corp.example.com"},
			source: notify.SourceContacts, describe: "contacts",
			skipped: []string{`address_template: invalid address "alice"`, `contacts[1]: invalid address "not-an-address"`},
		},
		{
			name:     "contacts when no tag source and no template",
			cfg:      func(c *notify.Settings) { c.RecipientTags, c.Address = nil, nil },
			tags:     map[string]string{"email": "alice@corp.example.com"},
			contacts: []string{"team@corp.example.com"}, want: []string{"team@corp.example.com"}, source: notify.SourceContacts,
		},
		{
			name: "security team last, de-duplicated case-insensitively",
			cfg:  func(c *notify.Settings) { c.Address = nil },
			want: []string{"sec@corp.example.com", "soc@corp.example.com"}, source: notify.SourceSecurityTeam,
			describe: "security_team",
		},
		{
			name:     "invalid contacts only fall through to security team",
			cfg:      func(c *notify.Settings) { c.Address = nil },
			contacts: []string{"nobody"}, want: []string{"sec@corp.example.com", "soc@corp.example.com"},
			source: notify.SourceSecurityTeam, skipped: []string{`contacts[0]: invalid address "nobody"`},
		},
		{
			name: "no recipient at all",
			cfg:  func(c *notify.Settings) { c.Address, c.SecurityTeam = nil, nil },
			tags: map[string]string{"email": "alice"},
			err: []string{"notify: no recipient for alice in 123456789012", "user has no tag owner",
				"no address_template configured", "account 123456789012 has no contacts", "security_team is empty",
				`tag email: invalid address "alice"`},
			skipped: []string{`tag email: invalid address "alice"`},
		},
		{
			name: "no recipient when every candidate is invalid",
			cfg: func(c *notify.Settings) {
				c.RecipientTags, c.Address, c.SecurityTeam = nil, tmplAddress("{{.UserName}}"), []string{"security"}
			},
			contacts: []string{"x@y"},
			err: []string{"no recipient_tags configured", `address_template: invalid address "alice"`,
				`contacts[0]: invalid address "x@y"`, `security_team[0]: invalid address "security"`},
			skipped: []string{`address_template: invalid address "alice"`, `contacts[0]: invalid address "x@y"`,
				`security_team[0]: invalid address "security"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.RecipientTags = slices.Clone(base.RecipientTags)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			r, err := notify.ResolveRecipients(cfg, notice(tt.tags), tt.contacts)
			if tt.err != nil {
				if !errors.Is(err, notify.ErrNoRecipient) {
					t.Fatalf("err = %v, want ErrNoRecipient", err)
				}
				for _, s := range tt.err {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				if len(r.To) != 0 {
					t.Errorf("To = %v with an error", r.To)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.To, tt.want) {
				t.Errorf("To = %v, want %v", r.To, tt.want)
			}
			if r.Source != tt.source {
				t.Errorf("Source = %q, want %q", r.Source, tt.source)
			}
			if tt.describe != "" && r.Describe() != tt.describe {
				t.Errorf("Describe = %q, want %q", r.Describe(), tt.describe)
			}
			if len(r.Skipped) != len(tt.skipped) {
				t.Fatalf("Skipped = %q, want %d entries like %q", r.Skipped, len(tt.skipped), tt.skipped)
			}
			for i, s := range tt.skipped {
				if !strings.Contains(r.Skipped[i], s) {
					t.Errorf("Skipped[%d] = %q, want it to contain %q", i, r.Skipped[i], s)
				}
			}
		})
	}
}

func TestValidAddress(t *testing.T) {
	good := map[string]string{
		"alice@example.com":                     "alice@example.com",
		" alice@example.com\t":                  "alice@example.com",
		"first.last+keys@mail.corp.example.com": "first.last+keys@mail.corp.example.com",
		"o'brien@example.co.uk":                 "o'brien@example.co.uk",
	}
	for in, want := range good {
		got, err := notify.ValidAddress(in)
		if err != nil || got != want {
			t.Errorf("ValidAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", "   ", "alice", "alice@", "@example.com", "alice@localhost", "Alice <alice@example.com>",
		"<alice@example.com>", "alice@example.com (Alice)", "alice@example.com, bob@example.com",
		"alice@example.com\r\nBcc: eve@example.com", "alice@[192.0.2.1]", "alice@.example.com",
		"alice@example.com.", "alice@example..com", "alice@b@example.com", `"alice smith"@example.com`,
	}
	for _, in := range bad {
		if got, err := notify.ValidAddress(in); err == nil {
			t.Errorf("ValidAddress(%q) = %q, want an error", in, got)
		} else if !strings.HasPrefix(err.Error(), "invalid address") {
			t.Errorf("ValidAddress(%q) error %q does not start with \"invalid address\"", in, err)
		}
	}
}
