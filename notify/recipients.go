package notify

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"keyrotor/rotation"
)

// ErrNoRecipient is returned when nobody can receive a notice: no user tag,
// address template, account contact or security team address yields a
// valid address. The executor reports it; a notice is never dropped
// silently.
var ErrNoRecipient = errors.New("notify: no recipient")

// RecipientSource names where a notice's recipients came from, in the order
// they are tried.
type RecipientSource string

// Recipient sources, in order of precedence.
const (
	// SourceTag is an IAM user tag listed in notifications.recipient_tags.
	SourceTag RecipientSource = "tag"
	// SourceAddressTemplate is notifications.address_template.
	SourceAddressTemplate RecipientSource = "address_template"
	// SourceContacts is the account's contacts in accounts.yaml.
	SourceContacts RecipientSource = "contacts"
	// SourceSecurityTeam is notifications.security_team, the last resort.
	SourceSecurityTeam RecipientSource = "security_team"
)

// Recipients is the outcome of recipient resolution for one notice.
type Recipients struct {
	// To are the validated, de-duplicated addresses.
	To []string
	// Source is where To came from.
	Source RecipientSource
	// Tag is the tag key that gave the address when Source is SourceTag.
	Tag string
	// Skipped lists candidates passed over because they were not valid
	// addresses, each with the reason (`tag email: invalid address "bob":
	// no domain`), so that the report can say why a user was not reached.
	Skipped []string
}

// Describe names the source in words fit for a report: "tag email",
// "address_template", "contacts", "security_team".
func (r Recipients) Describe() string {
	if r.Source == SourceTag {
		return "tag " + r.Tag
	}
	return string(r.Source)
}

// ResolveRecipients decides who receives notice n. It tries, in order: the
// user's tags named in cfg.RecipientTags, keys compared case-insensitively
// as IAM does (the first valid address wins),
// cfg.AddressTemplate, the account's contacts, and cfg.SecurityTeam. An
// invalid candidate is skipped and its reason kept in Skipped. When no
// source yields an address the error wraps ErrNoRecipient and says what was
// tried. It is a pure function: it makes no call and reads no clock.
func ResolveRecipients(cfg Settings, n rotation.Notice, contacts []string) (Recipients, error) {
	var r Recipients
	var tried []string

	var missingTags []string
	for _, key := range cfg.RecipientTags {
		// IAM tag keys are case-insensitive: a user tagged Email carries
		// the tag email.
		v, ok := rotation.TagValue(n.UserTags, key)
		if !ok {
			missingTags = append(missingTags, key)
			continue
		}
		addr, err := ValidAddress(v)
		if err != nil {
			r.Skipped = append(r.Skipped, fmt.Sprintf("tag %s: %v", key, err))
			continue
		}
		r.To, r.Source, r.Tag = []string{addr}, SourceTag, key
		return r, nil
	}
	switch {
	case len(cfg.RecipientTags) == 0:
		tried = append(tried, "no recipient_tags configured")
	case len(missingTags) > 0:
		tried = append(tried, "user has no tag "+strings.Join(missingTags, ", "))
	}

	if cfg.Address == nil {
		tried = append(tried, "no address_template configured")
	} else {
		out, err := cfg.Address(n.AccountID, n.AccountName, n.User)
		if err != nil {
			r.Skipped = append(r.Skipped, fmt.Sprintf("address_template: %v", err))
		} else if addr, err := ValidAddress(out); err != nil {
			r.Skipped = append(r.Skipped, fmt.Sprintf("address_template: %v", err))
		} else {
			r.To, r.Source = []string{addr}, SourceAddressTemplate
			return r, nil
		}
	}

	if to := r.validList("contacts", contacts); len(to) > 0 {
		r.To, r.Source = to, SourceContacts
		return r, nil
	}
	if len(contacts) == 0 {
		tried = append(tried, "account "+n.AccountID+" has no contacts")
	}

	if to := r.validList("security_team", cfg.SecurityTeam); len(to) > 0 {
		r.To, r.Source = to, SourceSecurityTeam
		return r, nil
	}
	if len(cfg.SecurityTeam) == 0 {
		tried = append(tried, "security_team is empty")
	}

	return r, fmt.Errorf("%w for %s in %s: %s", ErrNoRecipient, n.User, n.AccountID,
		strings.Join(append(tried, r.Skipped...), "; "))
}

// validList returns the valid, de-duplicated addresses of list and records
// the invalid ones in r.Skipped under label.
func (r *Recipients) validList(label string, list []string) []string {
	var out []string
	seen := map[string]bool{}
	for i, v := range list {
		addr, err := ValidAddress(v)
		if err != nil {
			r.Skipped = append(r.Skipped, fmt.Sprintf("%s[%d]: %v", label, i, err))
			continue
		}
		if k := strings.ToLower(addr); !seen[k] {
			seen[k] = true
			out = append(out, addr)
		}
	}
	return out
}

// ValidAddress checks that s (surrounding white space aside) is one bare
// email address, "name@example.com", and returns it. A display name,
// comment, angle brackets, a list or a domain without a dot is refused:
// a tag value is set by whoever can tag the user, and it must not smuggle
// in extra recipients or a look-alike display name.
func ValidAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("invalid address: empty")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("invalid address %q: not an email address", s)
	}
	if a.Name != "" || a.Address != s {
		return "", fmt.Errorf("invalid address %q: want a bare address like name@example.com", s)
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if strings.HasPrefix(domain, "[") || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", fmt.Errorf("invalid address %q: domain %q is not a full domain name", s, domain)
	}
	return s, nil
}
