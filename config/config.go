// Package config is accounts.yaml: its schema, strict loading (every
// problem named file:line: field, all at once), validation, the
// environment overrides a deployment may set, and the domain values the
// other packages receive (policies, roles, discovery options, secret names,
// exemptions, the notification setup). No other package reads YAML.
package config

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"keyrotor/internal/yamlstrict"
	"keyrotor/report"
	"keyrotor/rotation"
)

// Defaults applied when accounts.yaml leaves a setting out. They are
// exported so that deploy templates and documentation quote the same values.
const (
	DefaultRegion             = "us-east-1"
	DefaultRoleName           = "KeyrotorRotationRole"
	DefaultSessionName        = "keyrotor"
	DefaultSecretNameTemplate = "keyrotor/{{.AccountID}}/{{.UserName}}"
	DefaultExemptTagKey       = "keyrotor:exempt"
	DefaultExemptTagValue     = "true"
)

// Config is a parsed, defaulted and validated accounts.yaml. Obtain it from
// Load or Parse; a Config built by hand has not been validated.
type Config struct {
	// Region is the home region for the STS, Organizations and Secrets
	// Manager clients.
	Region string `yaml:"region"`
	// Organization controls account discovery through AWS Organizations.
	Organization OrganizationConfig `yaml:"organization"`
	// ExcludeAccounts are never targeted, whether discovered or listed in
	// Accounts: exclusion always wins.
	ExcludeAccounts []string `yaml:"exclude_accounts" strict:"account_id"`
	// Accounts are explicit targets with optional per-account overrides.
	// They are added to the discovered accounts, or are the only targets
	// when discovery is off.
	Accounts []AccountConfig `yaml:"accounts"`
	// Role is the member-account role keyrotor assumes.
	Role RoleConfig `yaml:"role"`
	// Policy is the organisation-wide partial override of rotation.DefaultPolicy.
	// Callers should use PolicyFor, which also applies account overrides.
	Policy PolicyConfig `yaml:"policy"`
	// Exemptions name users that are reported but never touched.
	Exemptions ExemptionsConfig `yaml:"exemptions"`
	// Secrets controls where new secret access keys are stored.
	Secrets SecretsConfig `yaml:"secrets"`
	// Notifications controls the SES mail sent to key owners and the
	// security team.
	Notifications NotificationsConfig `yaml:"notifications"`
	// Concurrency bounds the parallelism of a run.
	Concurrency ConcurrencyConfig `yaml:"concurrency"`
	// Report controls where and in which formats the report is written.
	Report ReportConfig `yaml:"report"`

	// File is the name the configuration was parsed from, for messages.
	File string `yaml:"-"`
	// Warnings are doubtful but legal settings (an account both listed and
	// excluded, a policy looser than CIS, ...). They do not stop a run;
	// callers should log them.
	Warnings []*Error `yaml:"-"`
}

// OrganizationConfig selects the accounts discovered through AWS
// Organizations.
type OrganizationConfig struct {
	// Discovery lists the organisation's accounts. When false, only
	// Config.Accounts are targeted.
	Discovery bool `yaml:"discovery"`
	// IncludeOUs limits discovery to these OUs or roots and everything
	// below them. Empty means the whole organisation.
	IncludeOUs []string `yaml:"include_ous"`
	// ExcludeOUs removes these OUs and everything below them.
	ExcludeOUs []string `yaml:"exclude_ous"`
	// IncludeManagementAccount targets the management account too. It is
	// off by default because the management account should hold no IAM
	// users, and the member role is usually not deployed there.
	IncludeManagementAccount bool `yaml:"include_management_account"`
}

// AccountConfig is one explicitly listed account and its overrides.
type AccountConfig struct {
	// ID is the 12-digit account ID (required).
	ID string `yaml:"id" strict:"account_id"`
	// Name labels the account in reports when discovery does not supply one.
	Name string `yaml:"name"`
	// RoleName, when set, replaces role.name for this account.
	RoleName string `yaml:"role_name"`
	// ExternalID, when set, replaces role.external_id for this account.
	ExternalID string `yaml:"external_id"`
	// Policy overrides individual policy fields for this account.
	Policy PolicyConfig `yaml:"policy"`
	// Contacts receive a user's notices when no address for the user is
	// found.
	Contacts []string `yaml:"contacts"`
	// ExemptUsers are IAM user names exempt in this account only.
	ExemptUsers []string `yaml:"exempt_users"`
}

// RoleConfig describes the rotation role in each member account.
type RoleConfig struct {
	// Name is the role name (default KeyrotorRotationRole).
	Name string `yaml:"name"`
	// Path is the role's IAM path, "/" or "/a/b/".
	Path string `yaml:"path"`
	// ExternalID is sent as sts:ExternalId when set.
	ExternalID string `yaml:"external_id"`
	// SessionName is the RoleSessionName prefix; the caller appends the run
	// ID so that CloudTrail ties every call to one run.
	SessionName string `yaml:"session_name"`
	// Duration is the assumed-role session length, 15m to 12h.
	Duration Duration `yaml:"duration"`
}

// PolicyConfig is a partial Policy: nil fields inherit from the level
// above (account <- top level <- DefaultPolicy).
// Each field overrides the Policy field of the same name; see Policy for
// what they mean.
type PolicyConfig struct {
	MaxKeyAge             *Duration `yaml:"max_key_age,omitempty"`             // Policy.MaxKeyAge
	UnusedAfter           *Duration `yaml:"unused_after,omitempty"`            // Policy.UnusedAfter
	DeactivateAfter       *Duration `yaml:"deactivate_after,omitempty"`        // Policy.DeactivateAfter
	DeleteAfter           *Duration `yaml:"delete_after,omitempty"`            // Policy.DeleteAfter
	HardDeadline          *Duration `yaml:"hard_deadline,omitempty"`           // Policy.HardDeadline
	DeleteForeignInactive *bool     `yaml:"delete_foreign_inactive,omitempty"` // Policy.DeleteForeignInactive
	ForeignMinAge         *Duration `yaml:"foreign_min_age,omitempty"`         // Policy.ForeignMinAge
	ForeignUnusedFor      *Duration `yaml:"foreign_unused_for,omitempty"`      // Policy.ForeignUnusedFor
}

// Apply returns base with the fields set in o replaced.
func (o PolicyConfig) Apply(base rotation.Policy) rotation.Policy {
	set := func(dst *time.Duration, v *Duration) {
		if v != nil {
			*dst = time.Duration(*v)
		}
	}
	set(&base.MaxKeyAge, o.MaxKeyAge)
	set(&base.UnusedAfter, o.UnusedAfter)
	set(&base.DeactivateAfter, o.DeactivateAfter)
	set(&base.DeleteAfter, o.DeleteAfter)
	set(&base.HardDeadline, o.HardDeadline)
	if o.DeleteForeignInactive != nil {
		base.DeleteForeignInactive = *o.DeleteForeignInactive
	}
	set(&base.ForeignMinAge, o.ForeignMinAge)
	set(&base.ForeignUnusedFor, o.ForeignUnusedFor)
	return base
}

// isSet reports whether the field with the given YAML key is set in o.
func (o PolicyConfig) isSet(key string) bool {
	switch key {
	case "max_key_age":
		return o.MaxKeyAge != nil
	case "unused_after":
		return o.UnusedAfter != nil
	case "deactivate_after":
		return o.DeactivateAfter != nil
	case "delete_after":
		return o.DeleteAfter != nil
	case "hard_deadline":
		return o.HardDeadline != nil
	case "delete_foreign_inactive":
		return o.DeleteForeignInactive != nil
	case "foreign_min_age":
		return o.ForeignMinAge != nil
	case "foreign_unused_for":
		return o.ForeignUnusedFor != nil
	}
	return false
}

// ExemptionsConfig names users that keyrotor reports but never changes.
type ExemptionsConfig struct {
	// Tag exempts users carrying this IAM tag.
	Tag TagConfig `yaml:"tag"`
	// Groups exempts members of these IAM groups, in every account.
	Groups []string `yaml:"groups"`
	// Users exempts these IAM user names in every account.
	Users []string `yaml:"users"`
}

// TagConfig names an IAM tag by key and, unless Value is empty, value.
type TagConfig struct {
	Key   string `yaml:"key"`   // tag key
	Value string `yaml:"value"` // tag value; empty matches any value
}

// SecretsConfig controls where new secret access keys are stored.
type SecretsConfig struct {
	// Region is the Secrets Manager region; Parse fills in Config.Region
	// when it is left out.
	Region string `yaml:"region"`
	// NameTemplate is a text/template over TemplateData giving the secret
	// name. It starts with a fixed prefix so that IAM policies can be scoped
	// to it, and includes {{.UserName}}.
	NameTemplate string `yaml:"name_template"`
	// KMSKeyID encrypts the secret; empty means the AWS managed key.
	KMSKeyID string `yaml:"kms_key_id"`
	// UserReadPolicy adds to every secret's resource policy a statement
	// letting the IAM user read its own secret, so that the owner can fetch
	// the new key. The policy denies reading to everyone else either way.
	UserReadPolicy bool `yaml:"user_read_policy"`
	// BreakGlassPrincipals are IAM role or user ARNs (the account may be
	// "*") excepted from the denials of every secret's resource policy:
	// they may read any user's secret and change or delete it. Empty: only
	// the owner reads and only the rotation role writes.
	BreakGlassPrincipals []string `yaml:"break_glass_principals"`
}

// SecretName renders NameTemplate for one user.
func (s SecretsConfig) SecretName(d TemplateData) (string, error) {
	return renderTemplate("secrets.name_template", s.NameTemplate, d)
}

// TemplateData is what secrets.name_template and
// notifications.address_template are executed with.
type TemplateData struct {
	AccountID   string // 12-digit account ID
	AccountName string // account name from Organizations or accounts[].name
	UserName    string // IAM user name
}

// NotificationsConfig controls the mail sent through SES v2.
type NotificationsConfig struct {
	// Enabled turns all mail on or off.
	Enabled bool `yaml:"enabled"`
	// Sender is the verified SES identity mail is sent from.
	Sender string `yaml:"sender"`
	// Region is the SES region; Parse fills in Config.Region when it is
	// left out.
	Region string `yaml:"region"`
	// ConfigurationSet is the SES configuration set, if any.
	ConfigurationSet string `yaml:"configuration_set"`
	// ReplyTo addresses are set on every message.
	ReplyTo []string `yaml:"reply_to"`
	// RecipientTags are IAM user tag keys, tried in order, whose value is
	// the user's address.
	RecipientTags []string `yaml:"recipient_tags"`
	// AddressTemplate derives an address from TemplateData when no tag
	// gives one; empty disables it.
	AddressTemplate string `yaml:"address_template"`
	// SecurityTeam receives the run digest and every notice no one else can
	// receive.
	SecurityTeam []string `yaml:"security_team"`
	// TemplatesDir overrides the built-in mail templates; empty means the
	// built-in ones.
	TemplatesDir string `yaml:"templates_dir"`
	// Digest sends the security team one summary per run.
	Digest bool `yaml:"digest"`
	// AttachXLSX attaches the XLSX report to the digest.
	AttachXLSX bool `yaml:"attach_xlsx"`
	// DueSoon are how long before a key reaches max_key_age its owner is
	// told that it is about to be rotated, each once (e.g. [14d, 3d]);
	// empty, the default, sends none.
	DueSoon []Duration `yaml:"due_soon"`
}

// Address renders AddressTemplate for one user. It returns "" and no error
// when no template is configured.
func (n NotificationsConfig) Address(d TemplateData) (string, error) {
	if n.AddressTemplate == "" {
		return "", nil
	}
	return renderTemplate("notifications.address_template", n.AddressTemplate, d)
}

// ConcurrencyConfig bounds a run's parallelism. IAM throttles per account,
// so per-account parallelism stays small while accounts run side by side.
type ConcurrencyConfig struct {
	// Accounts is how many accounts are processed at once.
	Accounts int `yaml:"accounts"`
	// PerAccount is how many IAM calls run at once within one account.
	PerAccount int `yaml:"per_account"`
}

// ReportConfig controls where the report goes.
type ReportConfig struct {
	// Out is the local output directory.
	Out string `yaml:"out"`
	// Formats is a subset of report.Formats.
	Formats []string `yaml:"formats"`
	// S3 is an optional s3://bucket/prefix the report files are copied to.
	S3 string `yaml:"s3"`
	// KMSKeyID encrypts the uploaded report objects with this KMS key
	// (SSE-KMS); empty means S3-managed keys (SSE-S3, AES256).
	KMSKeyID string `yaml:"kms_key_id"`
}

// S3Location splits S3 into bucket and key prefix. ok is false when no S3
// destination is configured.
func (r ReportConfig) S3Location() (bucket, prefix string, ok bool) {
	if r.S3 == "" {
		return "", "", false
	}
	bucket, prefix, err := report.ParseS3URL(r.S3)
	return bucket, prefix, err == nil
}

// Error is one problem in accounts.yaml, located by file, line and the
// dotted field path (e.g. "accounts[0].policy.max_key_age").
type Error = yamlstrict.Error

// Errors returns every *Error in err, which may be a single *Error or
// several joined with errors.Join.
func Errors(err error) []*Error { return yamlstrict.Errors(err) }

// partition maps a region to its ARN partition.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	}
	return "aws"
}

// renderTemplate executes a configuration template. Templates are parsed
// on each call: they are tiny, and this keeps the config types plain
// comparable data.
func renderTemplate(name, text string, d TemplateData) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return b.String(), nil
}
