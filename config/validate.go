package config

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"keyrotor/internal/yamlstrict"
	"keyrotor/report"
	"keyrotor/rotation"
)

type validator struct {
	file        string
	idx         *yamlstrict.Index
	errs, warns []*Error
	seen        map[string]bool
}

func (v *validator) add(list *[]*Error, path, format string, args ...any) {
	e := &Error{File: v.file, Line: v.idx.LineOf(path), Field: path, Msg: fmt.Sprintf(format, args...)}
	// Account-level policy checks re-examine inherited values; report a
	// problem once.
	key := e.Error()
	if v.seen[key] {
		return
	}
	v.seen[key] = true
	*list = append(*list, e)
}

func (v *validator) errorf(path, format string, args ...any) {
	v.add(&v.errs, path, format, args...)
}

func (v *validator) warnf(path, format string, args ...any) {
	v.add(&v.warns, path, format, args...)
}

func (v *validator) validate(c *Config) {
	v.region("region", c.Region)
	v.organization(c)
	v.accounts(c)
	v.role(c.Role)
	v.policies(c)
	v.exemptions(c.Exemptions)
	v.secrets(c.Secrets)
	v.notifications(c.Notifications)
	v.dueSoon(c)
	v.concurrency(c.Concurrency)
	v.report(c.Report)
}

// nonEmpty rejects an explicit empty value for a setting whose default is
// not empty: writing "name: ”" is more likely a mistake than a wish for
// the default.
func (v *validator) nonEmpty(path, value string) bool {
	if value == "" {
		v.errorf(path, "must not be empty (leave the key out for the default)")
		return false
	}
	return true
}

func (v *validator) region(path, value string) {
	if v.nonEmpty(path, value) && !patterns.region.MatchString(value) {
		v.errorf(path, "%q is not an AWS region (e.g. us-east-1)", value)
	}
}

func (v *validator) email(path, value string) {
	a, err := mail.ParseAddress(value)
	if err != nil || !strings.Contains(a.Address, "@") {
		v.errorf(path, "bad email %q (want name@example.com)", value)
	}
}

func (v *validator) emails(path string, values []string) {
	for i, e := range values {
		v.email(fmt.Sprintf("%s[%d]", path, i), e)
	}
}

func (v *validator) names(path string, values []string, re *regexp.Regexp, what string) {
	for i, n := range values {
		if !re.MatchString(n) {
			v.errorf(fmt.Sprintf("%s[%d]", path, i), "%q is not a valid %s", n, what)
		}
	}
}

func (v *validator) organization(c *Config) {
	o := c.Organization
	ous := func(path string, ids []string) map[string]int {
		seen := map[string]int{}
		for i, id := range ids {
			p := fmt.Sprintf("%s[%d]", path, i)
			if !patterns.ou.MatchString(id) {
				v.errorf(p, "bad OU id %q (want ou-xxxx-yyyyyyyy, or r-xxxx for a root)", id)
				continue
			}
			if j, dup := seen[id]; dup {
				v.warnf(p, "%s is already listed at line %d", id, v.idx.LineOf(fmt.Sprintf("%s[%d]", path, j)))
				continue
			}
			seen[id] = i
		}
		return seen
	}
	included := ous("organization.include_ous", o.IncludeOUs)
	excluded := ous("organization.exclude_ous", o.ExcludeOUs)
	for i, id := range o.ExcludeOUs {
		j, both := included[id]
		if first, ok := excluded[id]; both && ok && first == i {
			v.errorf(fmt.Sprintf("organization.exclude_ous[%d]", i), "%s is also in include_ous (line %d)",
				id, v.idx.LineOf(fmt.Sprintf("organization.include_ous[%d]", j)))
		}
	}
	if o.Discovery {
		return
	}
	if len(o.IncludeOUs) > 0 {
		v.warnf("organization.include_ous", "has no effect while organization.discovery is false")
	}
	if len(o.ExcludeOUs) > 0 {
		v.warnf("organization.exclude_ous", "has no effect while organization.discovery is false")
	}
	if o.IncludeManagementAccount {
		v.warnf("organization.include_management_account", "has no effect while organization.discovery is false")
	}
	if v.idx.BrokenWithin("accounts") {
		return // the accounts list has problems of its own, reported already
	}
	if len(c.Accounts) == 0 {
		v.errorf("organization.discovery", "nothing to rotate: discovery is off and no accounts are listed")
		return
	}
	if !slices.ContainsFunc(c.Accounts, func(a AccountConfig) bool { return a.ID != "" && !c.Excluded(a.ID) }) {
		v.errorf("organization.discovery", "nothing to rotate: discovery is off and every listed account is excluded")
	}
}

func (v *validator) accounts(c *Config) {
	excluded := map[string]int{}
	for i, id := range c.ExcludeAccounts {
		p := fmt.Sprintf("exclude_accounts[%d]", i)
		if !patterns.accountID.MatchString(id) {
			v.errorf(p, "bad account ID %q (want exactly 12 digits)", id)
			continue
		}
		if j, dup := excluded[id]; dup {
			v.warnf(p, "%s is already listed at line %d", id, v.idx.LineOf(fmt.Sprintf("exclude_accounts[%d]", j)))
			continue
		}
		excluded[id] = i
	}
	listed := map[string]int{}
	for i, a := range c.Accounts {
		p := fmt.Sprintf("accounts[%d]", i)
		switch {
		case a.ID == "":
			v.errorf(p+".id", "required: the 12-digit account ID")
		case !patterns.accountID.MatchString(a.ID):
			v.errorf(p+".id", "bad account ID %q (want exactly 12 digits)", a.ID)
		default:
			if j, dup := listed[a.ID]; dup {
				v.errorf(p+".id", "duplicate account ID %s (first listed at line %d)", a.ID, v.idx.LineOf(fmt.Sprintf("accounts[%d].id", j)))
				break
			}
			listed[a.ID] = i
			if j, ok := excluded[a.ID]; ok {
				v.warnf(p+".id", "%s is also in exclude_accounts (line %d); exclusion wins and it will not be targeted",
					a.ID, v.idx.LineOf(fmt.Sprintf("exclude_accounts[%d]", j)))
			}
		}
		if a.RoleName != "" && !patterns.roleName.MatchString(a.RoleName) {
			v.errorf(p+".role_name", "%q is not a valid IAM role name", a.RoleName)
		}
		if a.ExternalID != "" && !validExternalID(a.ExternalID) {
			// The value is not echoed: an external ID is a shared secret
			// with the member account's trust policy.
			v.errorf(p+".external_id", "must be 2 to 1224 letters, digits or +=,.@:/-")
		}
		v.emails(p+".contacts", a.Contacts)
		v.names(p+".exempt_users", a.ExemptUsers, patterns.userName, "IAM user name")
	}
}

// validExternalID applies STS's ExternalId rules; the length is checked
// apart because Go's regexp caps repeat counts at 1000.
func validExternalID(s string) bool {
	return len(s) >= 2 && len(s) <= 1224 && patterns.externalID.MatchString(s)
}

func (v *validator) role(r RoleConfig) {
	if v.nonEmpty("role.name", r.Name) && !patterns.roleName.MatchString(r.Name) {
		v.errorf("role.name", "%q is not a valid IAM role name", r.Name)
	}
	if v.nonEmpty("role.path", r.Path) && !patterns.rolePath.MatchString(r.Path) {
		v.errorf("role.path", "%q is not an IAM path (want / or /like/this/)", r.Path)
	}
	if r.ExternalID != "" && !validExternalID(r.ExternalID) {
		v.errorf("role.external_id", "must be 2 to 1224 letters, digits or +=,.@:/-")
	}
	if v.nonEmpty("role.session_name", r.SessionName) && !patterns.sessionName.MatchString(r.SessionName) {
		v.errorf("role.session_name", "%q is not a valid session name prefix (up to 32 letters, digits or +=,.@-; the run ID is appended)", r.SessionName)
	}
	if d := time.Duration(r.Duration); d < 15*time.Minute || d > 12*time.Hour {
		v.errorf("role.duration", "%s is outside the 15m to 12h that AssumeRole allows", r.Duration)
	}
}

// policyRule is one check on an effective policy. fields are the YAML keys
// it depends on, the one to blame first.
type policyRule struct {
	fields []string
	warn   bool
	bad    func(rotation.Policy) bool
	msg    func(rotation.Policy) string
}

var policyRules = []policyRule{
	{fields: []string{"max_key_age"}, bad: func(p rotation.Policy) bool { return p.MaxKeyAge == 0 },
		msg: func(rotation.Policy) string { return "must be greater than 0" }},
	{fields: []string{"unused_after"}, bad: func(p rotation.Policy) bool { return p.UnusedAfter == 0 },
		msg: func(rotation.Policy) string { return "must be greater than 0" }},
	{fields: []string{"hard_deadline", "deactivate_after"},
		bad: func(p rotation.Policy) bool { return p.HardDeadline != 0 && p.HardDeadline <= p.DeactivateAfter },
		msg: func(p rotation.Policy) string {
			return fmt.Sprintf("hard_deadline (%s) must be 0 or longer than deactivate_after (%s)", Duration(p.HardDeadline), Duration(p.DeactivateAfter))
		}},
	{fields: []string{"max_key_age"}, warn: true, bad: func(p rotation.Policy) bool { return p.MaxKeyAge > 90*day },
		msg: func(p rotation.Policy) string {
			return fmt.Sprintf("%s is longer than the 90 days of CIS 1.14", Duration(p.MaxKeyAge))
		}},
	{fields: []string{"unused_after"}, warn: true, bad: func(p rotation.Policy) bool { return p.UnusedAfter > 45*day },
		msg: func(p rotation.Policy) string {
			return fmt.Sprintf("%s is longer than the 45 days of CIS 1.12", Duration(p.UnusedAfter))
		}},
	{fields: []string{"deactivate_after"}, warn: true, bad: func(p rotation.Policy) bool { return p.DeactivateAfter == 0 },
		msg: func(rotation.Policy) string {
			return "0 deactivates an old key on the first run after its replacement is issued: its owner gets no time to move to the new key"
		}},
	{fields: []string{"delete_after"}, warn: true, bad: func(p rotation.Policy) bool { return p.DeleteAfter == 0 },
		msg: func(rotation.Policy) string {
			return "0 deletes a deactivated key on the next run: there is no time to find a forgotten caller and reactivate it"
		}},
	{fields: []string{"delete_foreign_inactive", "foreign_min_age", "foreign_unused_for"}, warn: true,
		bad: func(p rotation.Policy) bool {
			return p.DeleteForeignInactive && p.ForeignMinAge == 0 && p.ForeignUnusedFor == 0
		},
		msg: func(rotation.Policy) string {
			return "with foreign_min_age and foreign_unused_for both 0, every inactive key keyrotor did not retire is deleted"
		}},
}

// policies checks the top-level policy and each account's effective
// policy. A rule broken at account level is blamed on the account only when
// the account overrides one of the fields involved; otherwise it is the top
// level's problem and reported there.
func (v *validator) policies(c *Config) {
	top := c.Policy.Apply(rotation.DefaultPolicy())
	v.policy("policy", c.Policy, top)
	for i, a := range c.Accounts {
		v.policy(fmt.Sprintf("accounts[%d].policy", i), a.Policy, a.Policy.Apply(top))
	}
}

func (v *validator) policy(prefix string, set PolicyConfig, p rotation.Policy) {
	for _, r := range policyRules {
		if !r.bad(p) {
			continue
		}
		i := slices.IndexFunc(r.fields, set.isSet)
		if i < 0 {
			continue
		}
		path := prefix + "." + r.fields[i]
		if r.warn {
			v.warnf(path, "%s", r.msg(p))
		} else {
			v.errorf(path, "%s", r.msg(p))
		}
	}
}

func (v *validator) exemptions(e ExemptionsConfig) {
	if v.nonEmpty("exemptions.tag.key", e.Tag.Key) && !patterns.tagKey.MatchString(e.Tag.Key) {
		v.errorf("exemptions.tag.key", "%q is not a valid IAM tag key", e.Tag.Key)
	}
	if !patterns.tagValue.MatchString(e.Tag.Value) {
		v.errorf("exemptions.tag.value", "%q is not a valid IAM tag value", e.Tag.Value)
	}
	v.names("exemptions.groups", e.Groups, patterns.groupName, "IAM group name")
	v.names("exemptions.users", e.Users, patterns.userName, "IAM user name")
}

// templateSamples are two users that a name or address template must tell
// apart.
var templateSamples = [2]TemplateData{
	{AccountID: "111122223333", AccountName: "sample-account", UserName: "alice"},
	{AccountID: "111122223333", AccountName: "sample-account", UserName: "bob"},
}

// template checks that a template parses and renders for sample users, and
// returns the two renderings.
func (v *validator) template(path, text string) ([2]string, bool) {
	var out [2]string
	if _, err := template.New(path).Option("missingkey=error").Parse(text); err != nil {
		v.errorf(path, "bad template: %v", err)
		return out, false
	}
	for i, d := range templateSamples {
		s, err := renderTemplate(path, text, d)
		if err != nil {
			v.errorf(path, "template cannot be rendered (fields are .AccountID, .AccountName, .UserName): %v", err)
			return out, false
		}
		out[i] = s
	}
	return out, true
}

func (v *validator) secrets(s SecretsConfig) {
	if v.idx.Has("secrets.region") && s.Region != "" {
		v.region("secrets.region", s.Region)
	}
	const p = "secrets.name_template"
	if v.nonEmpty(p, s.NameTemplate) {
		if out, ok := v.template(p, s.NameTemplate); ok {
			switch {
			case strings.Index(s.NameTemplate, "{{") <= 0:
				v.errorf(p, "must start with a fixed prefix such as \"keyrotor/\", so that IAM policies can be scoped to it")
			case out[0] == out[1]:
				v.errorf(p, "must include {{.UserName}}, so that every user gets their own secret")
			case !patterns.secretName.MatchString(out[0]):
				v.errorf(p, "renders %q, which is not a valid secret name (letters, digits and /_+=.@-)", out[0])
			}
		}
	}
	if s.KMSKeyID != "" && !patterns.kmsKey.MatchString(s.KMSKeyID) {
		v.errorf("secrets.kms_key_id", "%q is not a KMS key ID, key ARN, alias name or alias ARN", s.KMSKeyID)
	}
	v.names("secrets.break_glass_principals", s.BreakGlassPrincipals, patterns.principalARN,
		"IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME, the account may be *)")
}

func (v *validator) notifications(n NotificationsConfig) {
	switch {
	case n.Sender != "":
		v.email("notifications.sender", n.Sender)
	case n.Enabled:
		v.errorf("notifications.sender", "required while notifications are enabled (or set notifications.enabled: false)")
	}
	if v.idx.Has("notifications.region") && n.Region != "" {
		v.region("notifications.region", n.Region)
	}
	if n.ConfigurationSet != "" && !patterns.sesConfigSet.MatchString(n.ConfigurationSet) {
		v.errorf("notifications.configuration_set", "%q is not a valid SES configuration set name", n.ConfigurationSet)
	}
	v.emails("notifications.reply_to", n.ReplyTo)
	v.emails("notifications.security_team", n.SecurityTeam)
	v.names("notifications.recipient_tags", n.RecipientTags, patterns.tagKey, "IAM tag key")
	if n.AddressTemplate != "" {
		const p = "notifications.address_template"
		if out, ok := v.template(p, n.AddressTemplate); ok {
			if a, err := mail.ParseAddress(out[0]); err != nil || a.Address != out[0] {
				v.errorf(p, "renders %q for user alice, which is not an email address", out[0])
			}
		}
	}
	if !n.Enabled {
		return
	}
	if n.Digest && len(n.SecurityTeam) == 0 {
		v.warnf("notifications.digest", "digest is on but notifications.security_team is empty, so no one receives it")
	}
	if len(n.RecipientTags) == 0 && n.AddressTemplate == "" {
		v.warnf("notifications.recipient_tags", "with no recipient_tags and no address_template, users are reached only through account contacts and security_team")
	}
}

// dueSoon checks notifications.due_soon: a few distinct offsets, each
// shorter than the max_key_age of every account (a longer one would mail
// the day a key is created).
func (v *validator) dueSoon(c *Config) {
	const p = "notifications.due_soon"
	offsets := c.Notifications.DueSoon
	if len(offsets) == 0 {
		return
	}
	if !c.Notifications.Enabled {
		v.warnf(p, "has no effect while notifications.enabled is false")
	}
	if len(offsets) > rotation.MaxDueSoon {
		v.errorf(p, "lists %d notices; at most %d are sent before a key is due", len(offsets), rotation.MaxDueSoon)
	}
	top := c.Policy.Apply(rotation.DefaultPolicy()).MaxKeyAge
	seen := map[Duration]int{}
	for i, d := range offsets {
		pi := fmt.Sprintf("%s[%d]", p, i)
		if j, dup := seen[d]; dup {
			v.warnf(pi, "%s is already listed at line %d", d, v.idx.LineOf(fmt.Sprintf("%s[%d]", p, j)))
			continue
		}
		seen[d] = i
		switch {
		case d <= 0:
			v.errorf(pi, "must be greater than 0 (how long before a key is due its owner is told)")
		case time.Duration(d) >= top:
			v.errorf(pi, "%s is not shorter than policy.max_key_age (%s): the notice would go out the day a key is created", d, Duration(top))
		}
		for a, acc := range c.Accounts {
			if acc.Policy.MaxKeyAge != nil && time.Duration(d) < top && time.Duration(d) >= time.Duration(*acc.Policy.MaxKeyAge) {
				v.warnf(fmt.Sprintf("accounts[%d].policy.max_key_age", a),
					"%s is not longer than notifications.due_soon's %s (line %d): in this account that notice goes out the day a key is created",
					*acc.Policy.MaxKeyAge, d, v.idx.LineOf(pi))
			}
		}
	}
}

// Concurrency beyond these gains nothing and costs: every account in
// flight holds HTTP connections and memory, and IAM throttles each account
// at a few calls per second, so more calls in flight there only draw
// Throttling errors and backoff.
const (
	maxUsefulAccounts   = 512
	maxUsefulPerAccount = 16
)

func (v *validator) concurrency(c ConcurrencyConfig) {
	if c.Accounts < 1 {
		v.errorf("concurrency.accounts", "must be at least 1, got %d", c.Accounts)
	} else if c.Accounts > maxUsefulAccounts {
		v.warnf("concurrency.accounts", "%d accounts at once is more than the %d that any run gains from; each holds connections and memory", c.Accounts, maxUsefulAccounts)
	}
	if c.PerAccount < 1 {
		v.errorf("concurrency.per_account", "must be at least 1, got %d", c.PerAccount)
	} else if c.PerAccount > maxUsefulPerAccount {
		v.warnf("concurrency.per_account", "%d calls at once in one account is more than IAM's per-account rate allows (more than %d only draws throttling)", c.PerAccount, maxUsefulPerAccount)
	}
}

func (v *validator) report(r ReportConfig) {
	v.nonEmpty("report.out", r.Out)
	if len(r.Formats) == 0 {
		v.errorf("report.formats", "must name at least one of %s", strings.Join(report.Formats, ", "))
	}
	seen := map[string]int{}
	for i, f := range r.Formats {
		p := fmt.Sprintf("report.formats[%d]", i)
		if !slices.Contains(report.Formats, f) {
			v.errorf(p, "unknown format %q (want %s)", f, strings.Join(report.Formats, ", "))
			continue
		}
		if j, dup := seen[f]; dup {
			v.warnf(p, "%s is already listed at line %d", f, v.idx.LineOf(fmt.Sprintf("report.formats[%d]", j)))
			continue
		}
		seen[f] = i
	}
	if r.S3 != "" {
		if _, _, err := report.ParseS3URL(r.S3); err != nil {
			v.errorf("report.s3", "%s", err)
		}
	}
}

// patterns are the formats AWS accepts for the identifiers in the file, so
// that a typo fails at load time rather than in member account 412.
var patterns = struct {
	accountID, ou, region, roleName, userName, groupName, rolePath,
	externalID, sessionName, tagKey, tagValue, sesConfigSet, secretName,
	kmsKey, principalARN *regexp.Regexp
}{
	accountID:    regexp.MustCompile(`^\d{12}$`),
	ou:           regexp.MustCompile(`^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$`),
	region:       regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`),
	roleName:     regexp.MustCompile(`^[\w+=,.@-]{1,64}$`),
	userName:     regexp.MustCompile(`^[\w+=,.@-]{1,64}$`),
	groupName:    regexp.MustCompile(`^[\w+=,.@-]{1,128}$`),
	rolePath:     regexp.MustCompile(`^/([\x21-\x7E]{0,510}/)?$`),
	externalID:   regexp.MustCompile(`^[\w+=,.@:/-]+$`),
	sessionName:  regexp.MustCompile(`^[\w+=,.@-]{1,32}$`),
	tagKey:       regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`),
	tagValue:     regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$`),
	sesConfigSet: regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`),
	secretName:   regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`),
	kmsKey: regexp.MustCompile(`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+|` +
		`alias/[A-Za-z0-9/_-]+|mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`),
	principalARN: regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}|\*):(role|user)/[\w+=,.@/*-]{1,512}$`),
}
