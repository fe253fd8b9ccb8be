package config

import (
	"slices"
	"strings"
	"time"

	"keyrotor/accounts"
	"keyrotor/notify"
	"keyrotor/rotation"
)

// This file turns the YAML structs into the plain domain values the other
// packages take, so that none of them sees accounts.yaml's shape.

// Account returns the explicit entry for accountID, if there is one.
func (c *Config) Account(accountID string) (AccountConfig, bool) {
	for _, a := range c.Accounts {
		if a.ID == accountID {
			return a, true
		}
	}
	return AccountConfig{}, false
}

// PolicyFor returns the policy in force for accountID: DefaultPolicy, then
// the top-level policy, then the account's own override.
func (c *Config) PolicyFor(accountID string) rotation.Policy {
	p := c.Policy.Apply(rotation.DefaultPolicy())
	if a, ok := c.Account(accountID); ok {
		p = a.Policy.Apply(p)
	}
	return p
}

// RoleFor returns the role to assume in accountID, with the account's
// role_name and external_id overrides applied.
func (c *Config) RoleFor(accountID string) accounts.Role {
	r := accounts.Role{
		Name:        c.Role.Name,
		Path:        c.Role.Path,
		ExternalID:  c.Role.ExternalID,
		SessionName: c.Role.SessionName,
		Duration:    time.Duration(c.Role.Duration),
		Partition:   partition(c.Region),
	}
	if a, ok := c.Account(accountID); ok {
		if a.RoleName != "" {
			r.Name = a.RoleName
		}
		if a.ExternalID != "" {
			r.ExternalID = a.ExternalID
		}
	}
	return r
}

// Excluded reports whether accountID is listed in exclude_accounts.
func (c *Config) Excluded(accountID string) bool {
	return slices.Contains(c.ExcludeAccounts, accountID)
}

// UserExempt reports whether userName is exempt by name in accountID, via
// exemptions.users or the account's exempt_users. IAM user names are unique
// regardless of case, so they are compared case-insensitively. Tag and group
// exemptions need the user's IAM data and are checked by the inventory.
func (c *Config) UserExempt(accountID, userName string) bool {
	match := func(names []string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, userName) })
	}
	if match(c.Exemptions.Users) {
		return true
	}
	a, ok := c.Account(accountID)
	return ok && match(a.ExemptUsers)
}

// DiscoverOptions derives the discovery options from the configuration.
func (c *Config) DiscoverOptions() accounts.DiscoverOptions {
	o := accounts.DiscoverOptions{
		UseOrganizations:  c.Organization.Discovery,
		IncludeOUs:        c.Organization.IncludeOUs,
		ExcludeOUs:        c.Organization.ExcludeOUs,
		IncludeManagement: c.Organization.IncludeManagementAccount,
		ExcludeAccounts:   c.ExcludeAccounts,
	}
	for _, a := range c.Accounts {
		o.Explicit = append(o.Explicit, accounts.Target{ID: a.ID, Name: a.Name, Source: "config"})
	}
	return o
}

// RotationExemptions returns the organization-wide exemptions; each
// account's own list comes with its target (see Target).
func (c *Config) RotationExemptions() rotation.Exemptions {
	return rotation.Exemptions{
		Tag:    rotation.TagMatch{Key: c.Exemptions.Tag.Key, Value: c.Exemptions.Tag.Value},
		Groups: slices.Clone(c.Exemptions.Groups),
		Users:  slices.Clone(c.Exemptions.Users),
	}
}

// RotationSecrets returns where and how new keys' secrets are stored.
func (c *Config) RotationSecrets() rotation.SecretSettings {
	s := c.Secrets
	return rotation.SecretSettings{
		Region: s.Region, KMSKeyID: s.KMSKeyID, UserReadPolicy: s.UserReadPolicy,
		BreakGlass: slices.Clone(s.BreakGlassPrincipals),
		Name: func(accountID, accountName, userName string) (string, error) {
			return s.SecretName(TemplateData{AccountID: accountID, AccountName: accountName, UserName: userName})
		},
	}
}

// Target returns a discovered account with the settings in force there:
// its policy, with the notices beyond a rotation's steps, and its own
// exempt users.
func (c *Config) Target(t accounts.Target) rotation.AccountTarget {
	ac, _ := c.Account(t.ID)
	p := c.PolicyFor(t.ID)
	p.Notices = c.NoticePolicy()
	return rotation.AccountTarget{Target: t, Policy: p, ExemptUsers: slices.Clone(ac.ExemptUsers)}
}

// NoticePolicy returns the notices the planner plans beyond a rotation's
// steps: with notifications on, a held key's owner is told once per hold
// reason, and notifications.due_soon, longest first.
func (c *Config) NoticePolicy() rotation.NoticePolicy {
	n := c.Notifications
	if !n.Enabled {
		return rotation.NoticePolicy{}
	}
	p := rotation.NoticePolicy{Holds: true}
	offsets := make([]time.Duration, 0, len(n.DueSoon))
	for _, d := range n.DueSoon {
		if d > 0 && !slices.Contains(offsets, time.Duration(d)) {
			offsets = append(offsets, time.Duration(d))
		}
	}
	slices.Sort(offsets)
	slices.Reverse(offsets)
	copy(p.DueSoon[:], offsets)
	return p
}

// NotifySettings returns the notification setup: sender, recipients and
// templates, with the address template and the accounts' contacts as
// functions.
func (c *Config) NotifySettings() notify.Settings {
	n := c.Notifications
	s := notify.Settings{
		Sender: n.Sender, Region: n.Region, ConfigurationSet: n.ConfigurationSet,
		ReplyTo: slices.Clone(n.ReplyTo), RecipientTags: slices.Clone(n.RecipientTags),
		SecurityTeam: slices.Clone(n.SecurityTeam), TemplatesDir: n.TemplatesDir,
		Contacts: func(accountID string) []string {
			a, _ := c.Account(accountID)
			return a.Contacts
		},
	}
	if n.AddressTemplate != "" {
		s.Address = func(accountID, accountName, userName string) (string, error) {
			return n.Address(TemplateData{AccountID: accountID, AccountName: accountName, UserName: userName})
		}
	}
	return s
}
