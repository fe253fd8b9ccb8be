package accounts

import (
	"errors"
	"fmt"
	"net/mail"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
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

// ReportFormats lists the report formats report.formats may name, in the
// order they are written.
var ReportFormats = []string{"json", "xlsx", "csv"}

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
	ExcludeAccounts []string `yaml:"exclude_accounts" keyrotor:"account_id"`
	// Accounts are explicit targets with optional per-account overrides.
	// They are added to the discovered accounts, or are the only targets
	// when discovery is off.
	Accounts []AccountConfig `yaml:"accounts"`
	// Role is the member-account role keyrotor assumes.
	Role RoleConfig `yaml:"role"`
	// Policy is the organisation-wide partial override of DefaultPolicy.
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
	Warnings []*ConfigError `yaml:"-"`
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
	ID string `yaml:"id" keyrotor:"account_id"`
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

// accountIDFromYAML reads a 12-digit account ID from a quoted or unquoted
// scalar. It uses the literal text: YAML reads an unquoted 000000000001 as
// the number 1, and the decoder would hand us "1".
func accountIDFromYAML(node ast.Node) (string, error) {
	var text string
	switch n := unwrapYAMLNode(node).(type) {
	case *ast.StringNode:
		text = n.Value
	case *ast.IntegerNode, *ast.FloatNode:
		text = n.GetToken().Value
	default:
		return "", fmt.Errorf("want a 12-digit account ID, got %s", describeYAMLNode(node))
	}
	if !configPatterns.accountID.MatchString(text) {
		return "", fmt.Errorf("bad account ID %q (want exactly 12 digits)", text)
	}
	return text, nil
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

// RoleSpec is the role to assume in one account, with account overrides
// applied.
type RoleSpec struct {
	Name        string        // role name
	Path        string        // IAM path, "/" or "/a/b/"
	ExternalID  string        // sts ExternalId; empty means none
	SessionName string        // RoleSessionName prefix; the caller appends the run ID
	Duration    time.Duration // session length
	// Partition is the ARN partition of the home region ("aws", "aws-cn",
	// "aws-us-gov"); empty means "aws".
	Partition string
}

// ARN returns the role's ARN in accountID.
func (r RoleSpec) ARN(accountID string) string {
	partition := r.Partition
	if partition == "" {
		partition = "aws"
	}
	path := r.Path
	if path == "" {
		path = "/"
	}
	return "arn:" + partition + ":iam::" + accountID + ":role" + path + r.Name
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
func (o PolicyConfig) Apply(base Policy) Policy {
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
	Tag TagMatch `yaml:"tag"`
	// Groups exempts members of these IAM groups, in every account.
	Groups []string `yaml:"groups"`
	// Users exempts these IAM user names in every account.
	Users []string `yaml:"users"`
}

// TagMatch matches an IAM tag by key and, unless Value is empty, value.
type TagMatch struct {
	Key   string `yaml:"key"`   // tag key, matched exactly
	Value string `yaml:"value"` // tag value; empty matches any value
}

// Matches reports whether a tag with this key and value satisfies t. IAM
// tag keys are case-sensitive, so the key is compared exactly.
func (t TagMatch) Matches(key, value string) bool {
	return t.Key != "" && key == t.Key && (t.Value == "" || value == t.Value)
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
	// UserReadPolicy attaches a resource policy letting the IAM user read
	// its own secret, so that the owner can fetch the new key.
	UserReadPolicy bool `yaml:"user_read_policy"`
}

// SecretName renders NameTemplate for one user.
func (s SecretsConfig) SecretName(d TemplateData) (string, error) {
	return renderConfigTemplate("secrets.name_template", s.NameTemplate, d)
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
}

// Address renders AddressTemplate for one user. It returns "" and no error
// when no template is configured.
func (n NotificationsConfig) Address(d TemplateData) (string, error) {
	if n.AddressTemplate == "" {
		return "", nil
	}
	return renderConfigTemplate("notifications.address_template", n.AddressTemplate, d)
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
	// Formats is a subset of ReportFormats.
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
	rest, found := strings.CutPrefix(r.S3, "s3://")
	if !found || rest == "" {
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, prefix, true
}

// ConfigError is one problem in accounts.yaml, located by file, line and the
// dotted field path (e.g. "accounts[0].policy.max_key_age").
type ConfigError struct {
	File  string // file name as given to Load or Parse
	Line  int    // 1-based line; 0 only when the YAML library gave no position
	Field string // dotted path such as "accounts[0].id"; empty for syntax errors
	Msg   string // what is wrong and, where possible, what would be right
}

// Error formats the problem as FILE:LINE: FIELD: MSG.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ConfigErrors returns every *ConfigError in err, which may be a single
// *ConfigError or several joined with errors.Join.
func ConfigErrors(err error) []*ConfigError {
	var out []*ConfigError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if ce, ok := err.(*ConfigError); ok {
			out = append(out, ce)
			return
		}
		if multi, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range multi.Unwrap() {
				walk(e)
			}
			return
		}
		walk(errors.Unwrap(err))
	}
	walk(err)
	return out
}

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse parses, defaults and validates a configuration. file names the
// source in errors. Every error is a *ConfigError, or several joined with
// errors.Join (see ConfigErrors). Structural problems (syntax, unknown keys,
// wrong types, bad scalars) are reported together first; rule violations are
// reported together once the structure is sound.
func Parse(file string, data []byte) (*Config, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlErrorToConfigError(file, nil, err)
	}
	idx := &configIndex{
		lines:      map[string]int{},
		tokens:     map[*token.Token]string{},
		positions:  map[[2]int]string{},
		accountIDs: map[string]string{},
		rootLine:   1,
	}
	var body ast.Node
	for i, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, &ConfigError{File: file, Line: yamlNodeLine(doc.Body, i+1), Msg: "only one YAML document is allowed"}
		}
		body = doc.Body
	}

	cfg := defaultConfig()
	if body != nil {
		idx.rootLine = yamlNodeLine(body, 1)
		sc := schemaCheck{file: file, idx: idx}
		sc.walk(body, reflect.TypeFor[Config](), "", "")
		if len(sc.errs) > 0 {
			return nil, joinConfigErrors(sc.errs)
		}
		// The schema walk has already rejected unknown keys and wrong
		// types; strict decoding stays on so that anything it misses is
		// still an error rather than a silently ignored setting.
		if err := yaml.NodeToValue(body, cfg, yaml.Strict()); err != nil {
			return nil, yamlErrorToConfigError(file, idx, err)
		}
		idx.restoreAccountIDs(cfg)
	}
	cfg.File = file

	v := configValidator{file: file, idx: idx, seen: map[string]bool{}}
	v.validate(cfg)
	if len(v.errs) > 0 {
		return nil, joinConfigErrors(v.errs)
	}
	cfg.applyDerivedDefaults()
	sortConfigErrors(v.warns)
	cfg.Warnings = v.warns
	return cfg, nil
}

// defaultConfig is the configuration an empty file would give, before
// derived defaults. Decoding overlays the file onto it, so a key that is
// absent or null keeps its default.
func defaultConfig() *Config {
	return &Config{
		Region:       DefaultRegion,
		Organization: OrganizationConfig{Discovery: true},
		Role: RoleConfig{
			Name:        DefaultRoleName,
			Path:        "/",
			SessionName: DefaultSessionName,
			Duration:    Duration(time.Hour),
		},
		Exemptions: ExemptionsConfig{Tag: TagMatch{Key: DefaultExemptTagKey, Value: DefaultExemptTagValue}},
		Secrets:    SecretsConfig{NameTemplate: DefaultSecretNameTemplate, UserReadPolicy: true},
		Notifications: NotificationsConfig{
			Enabled:       true,
			RecipientTags: []string{"email", "Email", "owner"},
			Digest:        true,
		},
		Concurrency: ConcurrencyConfig{Accounts: 16, PerAccount: 4},
		Report:      ReportConfig{Out: "reports", Formats: slices.Clone(ReportFormats)},
	}
}

// applyDerivedDefaults fills settings whose default is another setting.
// It runs after validation so that an error names the setting the user
// actually wrote.
func (c *Config) applyDerivedDefaults() {
	if c.Secrets.Region == "" {
		c.Secrets.Region = c.Region
	}
	if c.Notifications.Region == "" {
		c.Notifications.Region = c.Region
	}
}

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
func (c *Config) PolicyFor(accountID string) Policy {
	p := c.Policy.Apply(DefaultPolicy())
	if a, ok := c.Account(accountID); ok {
		p = a.Policy.Apply(p)
	}
	return p
}

// RoleFor returns the role to assume in accountID, with the account's
// role_name and external_id overrides applied.
func (c *Config) RoleFor(accountID string) RoleSpec {
	r := RoleSpec{
		Name:        c.Role.Name,
		Path:        c.Role.Path,
		ExternalID:  c.Role.ExternalID,
		SessionName: c.Role.SessionName,
		Duration:    time.Duration(c.Role.Duration),
		Partition:   configPartition(c.Region),
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

// configPartition maps a region to its ARN partition.
func configPartition(region string) string {
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

// renderConfigTemplate executes a configuration template. Templates are
// parsed on each call: they are tiny, and this keeps the config types plain
// comparable data.
func renderConfigTemplate(name, text string, d TemplateData) (string, error) {
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

// configPatterns are the formats AWS accepts for the identifiers in the
// file, so that a typo fails at load time rather than in member account 412.
var configPatterns = struct {
	accountID, ou, region, roleName, userName, groupName, rolePath,
	externalID, sessionName, tagKey, tagValue, sesConfigSet, secretName,
	kmsKey, s3Bucket *regexp.Regexp
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
	s3Bucket: regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`),
}

// configIndex maps field paths to source lines, and decoder tokens back to
// field paths, so that every error can name both.
type configIndex struct {
	lines     map[string]int
	tokens    map[*token.Token]string
	positions map[[2]int]string
	rootLine  int
	// accountIDs holds the literal text of every account ID by path.
	accountIDs map[string]string
}

// restoreAccountIDs puts back the literal account IDs that the decoder may
// have read as numbers.
func (x *configIndex) restoreAccountIDs(c *Config) {
	for i := range c.ExcludeAccounts {
		if id, ok := x.accountIDs[fmt.Sprintf("exclude_accounts[%d]", i)]; ok {
			c.ExcludeAccounts[i] = id
		}
	}
	for i := range c.Accounts {
		if id, ok := x.accountIDs[fmt.Sprintf("accounts[%d].id", i)]; ok {
			c.Accounts[i].ID = id
		}
	}
}

// add records path. A scalar is located by its value (which may sit on a
// later line than its key in a block scalar); a mapping or list by its key.
func (x *configIndex) add(path string, key *token.Token, value ast.Node) {
	line := 0
	if key != nil {
		line = key.Position.Line
	}
	value = unwrapYAMLNode(value)
	switch value.(type) {
	case nil, *ast.NullNode, *ast.MappingNode, *ast.SequenceNode:
	default:
		if tok := value.GetToken(); tok != nil && tok.Position != nil {
			line = tok.Position.Line
		}
	}
	if line == 0 {
		line = yamlNodeLine(value, 0)
	}
	if line > 0 {
		x.lines[path] = line
	}
	for _, tok := range []*token.Token{key, yamlNodeToken(value)} {
		if tok == nil {
			continue
		}
		if _, ok := x.tokens[tok]; !ok {
			x.tokens[tok] = path
		}
		if tok.Position != nil {
			pos := [2]int{tok.Position.Line, tok.Position.Column}
			if _, ok := x.positions[pos]; !ok {
				x.positions[pos] = path
			}
		}
	}
}

// has reports whether path was written in the file.
func (x *configIndex) has(path string) bool {
	_, ok := x.lines[path]
	return ok
}

// lineOf returns the line of path, or of its nearest written ancestor when
// path itself was left out (a missing field is reported where its parent
// is).
func (x *configIndex) lineOf(path string) int {
	for path != "" {
		if l, ok := x.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return x.rootLine
}

// pathOf returns the field path of a token the decoder complained about.
func (x *configIndex) pathOf(tok *token.Token) string {
	if p, ok := x.tokens[tok]; ok {
		return p
	}
	if tok != nil && tok.Position != nil {
		return x.positions[[2]int{tok.Position.Line, tok.Position.Column}]
	}
	return ""
}

func yamlNodeToken(n ast.Node) *token.Token {
	if n == nil {
		return nil
	}
	return n.GetToken()
}

// yamlNodeLine returns n's line, or def when n has no position.
func yamlNodeLine(n ast.Node, def int) int {
	if tok := yamlNodeToken(unwrapYAMLNode(n)); tok != nil && tok.Position != nil && tok.Position.Line > 0 {
		return tok.Position.Line
	}
	return def
}

func yamlChildPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// yamlErrorToConfigError locates an error from goccy/go-yaml.
func yamlErrorToConfigError(file string, idx *configIndex, err error) error {
	var ye interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if !errors.As(err, &ye) || ye.GetToken() == nil || ye.GetToken().Position == nil {
		return &ConfigError{File: file, Msg: err.Error()}
	}
	tok := ye.GetToken()
	ce := &ConfigError{File: file, Line: tok.Position.Line, Msg: ye.GetMessage()}
	if idx != nil {
		ce.Field = idx.pathOf(tok)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && te.DstType != nil {
		ce.Msg = fmt.Sprintf("want %s, got %s", describeGoKind(te.DstType), describeYAMLToken(tok))
	}
	return ce
}

// describeYAMLToken names the value starting at tok, for decoder errors that
// carry only a token.
func describeYAMLToken(tok *token.Token) string {
	switch tok.Type {
	case token.MappingValueType, token.MappingStartType, token.MappingKeyType:
		return "a mapping"
	case token.SequenceEntryType, token.SequenceStartType:
		return "a list"
	}
	return fmt.Sprintf("%q", tok.Value)
}

// describeGoKind names the YAML shape that a Go type is decoded from.
func describeGoKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[Duration]():
		return "a duration such as 90d or 36h"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.String()
}

func sortConfigErrors(errs []*ConfigError) {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Field < errs[j].Field
	})
}

// joinConfigErrors returns one error for errs, sorted by line: the
// *ConfigError itself when there is one, errors.Join otherwise.
func joinConfigErrors(errs []*ConfigError) error {
	sortConfigErrors(errs)
	if len(errs) == 1 {
		return errs[0]
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// yamlNodeUnmarshaler is goccy/go-yaml's NodeUnmarshaler. The schema walk
// calls it itself so that every bad scalar is reported, not just the first
// one the decoder meets.
type yamlNodeUnmarshaler interface {
	UnmarshalYAML(ast.Node) error
}

// schemaCheck walks the YAML tree against the Go types, reporting every
// unknown key, wrong type and bad scalar with its path and line, and filling
// the index used by later validation.
type schemaCheck struct {
	file    string
	idx     *configIndex
	errs    []*ConfigError
	anchors map[string]ast.Node
	// viaAlias is the line of the alias or merge key being expanded: a
	// problem inside is reported where the value is used, since that is
	// the path it is wrong for.
	viaAlias int
	// aliasBudget bounds alias expansion, so that a document of nested
	// aliases ("billion laughs") fails fast instead of exploding.
	aliasBudget int
}

// maxAliasExpansions is far more aliases than any real configuration uses.
const maxAliasExpansions = 1000

func (s *schemaCheck) fail(n ast.Node, path, format string, args ...any) {
	line := s.viaAlias
	if line == 0 {
		line = yamlNodeLine(n, s.idx.lineOf(path))
	}
	s.errs = append(s.errs, &ConfigError{File: s.file, Line: line, Field: path, Msg: fmt.Sprintf(format, args...)})
}

// index records path for later validation. Inside an expanded alias the
// tokens belong to the anchor's own path, so only the line of use is kept,
// and a key written explicitly next to a merge key wins.
func (s *schemaCheck) index(path string, key *token.Token, value ast.Node) {
	if s.viaAlias == 0 {
		s.idx.add(path, key, value)
		return
	}
	if !s.idx.has(path) {
		s.idx.lines[path] = s.viaAlias
	}
}

// expanding runs f with problems located at line, unless an outer alias
// already set the location.
func (s *schemaCheck) expanding(line int, f func()) {
	if s.aliasBudget++; s.aliasBudget > maxAliasExpansions {
		if s.aliasBudget == maxAliasExpansions+1 {
			s.errs = append(s.errs, &ConfigError{File: s.file, Line: line, Msg: fmt.Sprintf("more than %d alias expansions", maxAliasExpansions)})
		}
		return
	}
	if s.viaAlias != 0 {
		f()
		return
	}
	s.viaAlias = line
	f()
	s.viaAlias = 0
}

// resolve looks through anchors (recording them) and tags. An alias is
// returned as is, for the caller to expand.
func (s *schemaCheck) resolve(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			if s.anchors == nil {
				s.anchors = map[string]ast.Node{}
			}
			s.anchors[yamlNodeToken(v.Name).Value] = v.Value
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

// anchored returns the node an alias refers to, or nil when the alias is
// undefined (the decoder then reports it).
func (s *schemaCheck) anchored(a *ast.AliasNode) ast.Node {
	if tok := yamlNodeToken(a.Value); tok != nil {
		return s.anchors[tok.Value]
	}
	return nil
}

// walk checks n against t. kind is the field's `keyrotor` tag, which marks
// strings with a stricter syntax than YAML's.
func (s *schemaCheck) walk(n ast.Node, t reflect.Type, path, kind string) {
	n = s.resolve(n)
	switch v := n.(type) {
	case nil, *ast.NullNode:
		// Null keeps the default, as the decoder does.
		return
	case *ast.AliasNode:
		if target := s.anchored(v); target != nil {
			s.expanding(yamlNodeLine(v, s.idx.lineOf(path)), func() { s.walk(target, t, path, kind) })
		}
		return
	}
	if kind == "account_id" && t.Kind() == reflect.String {
		id, err := accountIDFromYAML(n)
		if err != nil {
			s.fail(n, path, "%s", err)
			return
		}
		s.idx.accountIDs[path] = id
		return
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yamlNodeUnmarshaler]()) {
		u := reflect.New(t).Interface().(yamlNodeUnmarshaler)
		if err := u.UnmarshalYAML(n); err != nil {
			msg := err.Error()
			var ve *yamlValueError
			if errors.As(err, &ve) {
				msg = ve.msg
			}
			s.fail(n, path, "%s", msg)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		s.walk(n, t.Elem(), path, kind)
	case reflect.Struct:
		entries, ok := yamlMappingEntries(n)
		if !ok {
			s.fail(n, path, "want a mapping, got %s", describeYAMLNode(n))
			return
		}
		s.mapping(entries, t, path, map[string]bool{})
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			s.fail(n, path, "want a list, got %s", describeYAMLNode(n))
			return
		}
		for i, item := range seq.Values {
			ip := path + "[" + strconv.Itoa(i) + "]"
			s.index(ip, nil, item)
			s.walk(item, t.Elem(), ip, kind)
		}
	case reflect.String:
		switch n.(type) {
		case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
			s.fail(n, path, "want a string, got %s", describeYAMLNode(n))
		}
	case reflect.Bool:
		if _, ok := n.(*ast.BoolNode); !ok {
			s.fail(n, path, "want true or false, got %s", describeYAMLNode(n))
		}
	case reflect.Int, reflect.Int64:
		if _, ok := n.(*ast.IntegerNode); !ok {
			if sn, isStr := n.(*ast.StringNode); isStr && sn.Token.Type != token.DoubleQuoteType &&
				sn.Token.Type != token.SingleQuoteType && strings.Trim(sn.Value, "0123456789-") == "" {
				// goccy/go-yaml reads an integer it cannot hold as a string.
				s.fail(n, path, "%s is too large", sn.Value)
				return
			}
			s.fail(n, path, "want a whole number, got %s", describeYAMLNode(n))
		}
	}
}

// mapping checks the entries of a mapping decoded into struct type t.
// Merge keys ("<<: *defaults") are expanded after the explicit keys, which
// override them; written records the keys already seen.
func (s *schemaCheck) mapping(entries []*ast.MappingValueNode, t reflect.Type, path string, written map[string]bool) {
	fields := yamlStructFields(t)
	var merges []*ast.MappingValueNode
	for _, mv := range entries {
		if _, merge := mv.Key.(*ast.MergeKeyNode); merge {
			merges = append(merges, mv)
			continue
		}
		name := yamlKeyText(mv.Key)
		if written[name] {
			continue
		}
		written[name] = true
		kp := yamlChildPath(path, name)
		s.index(kp, mv.Key.GetToken(), mv.Value)
		f, ok := fields.byName[name]
		if !ok {
			s.fail(mv.Key, kp, "%s", unknownFieldMessage(name, fields.names))
			continue
		}
		s.walk(mv.Value, f.Type, kp, f.Tag.Get("keyrotor"))
	}
	for _, mv := range merges {
		line := yamlNodeLine(mv.Key, s.idx.lineOf(path))
		// The value of a merge key is a mapping, an alias of one, or a
		// list of those; earlier ones win.
		sources := []ast.Node{s.resolve(mv.Value)}
		if seq, ok := sources[0].(*ast.SequenceNode); ok {
			sources = seq.Values
		}
		for _, src := range sources {
			src = s.resolve(src)
			if a, ok := src.(*ast.AliasNode); ok {
				src = s.anchored(a)
			}
			entries, ok := yamlMappingEntries(s.resolve(src))
			if !ok {
				if src != nil {
					s.errs = append(s.errs, &ConfigError{File: s.file, Line: line, Field: path, Msg: "merge key (<<) needs a mapping, got " + describeYAMLNode(src)})
				}
				continue
			}
			s.expanding(line, func() { s.mapping(entries, t, path, written) })
		}
	}
}

// yamlMappingEntries returns the entries of a mapping node.
func yamlMappingEntries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

func yamlKeyText(k ast.MapKeyNode) string {
	if s, ok := unwrapYAMLNode(k).(*ast.StringNode); ok {
		return s.Value
	}
	if tok := k.GetToken(); tok != nil {
		return tok.Value
	}
	return k.String()
}

type yamlFieldSet struct {
	byName map[string]reflect.StructField
	names  []string
}

// yamlStructFields lists the YAML keys of t's fields, in declaration order.
func yamlStructFields(t reflect.Type) yamlFieldSet {
	fs := yamlFieldSet{byName: map[string]reflect.StructField{}}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fs.byName[name] = f
		fs.names = append(fs.names, name)
	}
	return fs
}

// unknownFieldMessage suggests the closest valid key for a likely typo, and
// lists the valid keys otherwise.
func unknownFieldMessage(name string, valid []string) string {
	best, bestDist := "", 1<<30
	for _, v := range valid {
		d := editDistance(strings.ToLower(name), v)
		if d < bestDist {
			best, bestDist = v, d
		}
	}
	if best != "" && (bestDist <= 2 || bestDist*3 <= len(best)) {
		return fmt.Sprintf("unknown field (did you mean %q?)", best)
	}
	// "max_age" for "max_key_age": every word of the typo is in one key.
	if words := strings.Split(strings.ToLower(name), "_"); len(words) > 1 {
		for _, v := range valid {
			keyWords := strings.Split(v, "_")
			if !slices.ContainsFunc(words, func(w string) bool { return !slices.Contains(keyWords, w) }) {
				return fmt.Sprintf("unknown field (did you mean %q?)", v)
			}
		}
	}
	return "unknown field (valid: " + strings.Join(valid, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// configValidator checks the rules that span values or need more than the
// type: formats of AWS identifiers, ranges, and cross-field consistency.
type configValidator struct {
	file        string
	idx         *configIndex
	errs, warns []*ConfigError
	seen        map[string]bool
}

func (v *configValidator) add(list *[]*ConfigError, path, format string, args ...any) {
	e := &ConfigError{File: v.file, Line: v.idx.lineOf(path), Field: path, Msg: fmt.Sprintf(format, args...)}
	// Account-level policy checks re-examine inherited values; report a
	// problem once.
	key := e.Error()
	if v.seen[key] {
		return
	}
	v.seen[key] = true
	*list = append(*list, e)
}

func (v *configValidator) errorf(path, format string, args ...any) {
	v.add(&v.errs, path, format, args...)
}

func (v *configValidator) warnf(path, format string, args ...any) {
	v.add(&v.warns, path, format, args...)
}

func (v *configValidator) validate(c *Config) {
	v.region("region", c.Region)
	v.organization(c)
	v.accounts(c)
	v.role(c.Role)
	v.policies(c)
	v.exemptions(c.Exemptions)
	v.secrets(c.Secrets)
	v.notifications(c.Notifications)
	v.concurrency(c.Concurrency)
	v.report(c.Report)
}

// nonEmpty rejects an explicit empty value for a setting whose default is
// not empty: writing "name: ”" is more likely a mistake than a wish for
// the default.
func (v *configValidator) nonEmpty(path, value string) bool {
	if value == "" {
		v.errorf(path, "must not be empty (leave the key out for the default)")
		return false
	}
	return true
}

func (v *configValidator) region(path, value string) {
	if v.nonEmpty(path, value) && !configPatterns.region.MatchString(value) {
		v.errorf(path, "%q is not an AWS region (e.g. us-east-1)", value)
	}
}

func (v *configValidator) email(path, value string) {
	a, err := mail.ParseAddress(value)
	if err != nil || !strings.Contains(a.Address, "@") {
		v.errorf(path, "bad email %q (want name@example.com)", value)
	}
}

func (v *configValidator) emails(path string, values []string) {
	for i, e := range values {
		v.email(fmt.Sprintf("%s[%d]", path, i), e)
	}
}

func (v *configValidator) names(path string, values []string, re *regexp.Regexp, what string) {
	for i, n := range values {
		if !re.MatchString(n) {
			v.errorf(fmt.Sprintf("%s[%d]", path, i), "%q is not a valid %s", n, what)
		}
	}
}

func (v *configValidator) organization(c *Config) {
	o := c.Organization
	ous := func(path string, ids []string) map[string]int {
		seen := map[string]int{}
		for i, id := range ids {
			p := fmt.Sprintf("%s[%d]", path, i)
			if !configPatterns.ou.MatchString(id) {
				v.errorf(p, "bad OU id %q (want ou-xxxx-yyyyyyyy, or r-xxxx for a root)", id)
				continue
			}
			if j, dup := seen[id]; dup {
				v.warnf(p, "%s is already listed at line %d", id, v.idx.lineOf(fmt.Sprintf("%s[%d]", path, j)))
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
				id, v.idx.lineOf(fmt.Sprintf("organization.include_ous[%d]", j)))
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
	if len(c.Accounts) == 0 {
		v.errorf("organization.discovery", "nothing to rotate: discovery is off and no accounts are listed")
		return
	}
	if !slices.ContainsFunc(c.Accounts, func(a AccountConfig) bool { return a.ID != "" && !c.Excluded(a.ID) }) {
		v.errorf("organization.discovery", "nothing to rotate: discovery is off and every listed account is excluded")
	}
}

func (v *configValidator) accounts(c *Config) {
	excluded := map[string]int{}
	for i, id := range c.ExcludeAccounts {
		p := fmt.Sprintf("exclude_accounts[%d]", i)
		if !configPatterns.accountID.MatchString(id) {
			v.errorf(p, "bad account ID %q (want exactly 12 digits)", id)
			continue
		}
		if j, dup := excluded[id]; dup {
			v.warnf(p, "%s is already listed at line %d", id, v.idx.lineOf(fmt.Sprintf("exclude_accounts[%d]", j)))
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
		case !configPatterns.accountID.MatchString(a.ID):
			v.errorf(p+".id", "bad account ID %q (want exactly 12 digits)", a.ID)
		default:
			if j, dup := listed[a.ID]; dup {
				v.errorf(p+".id", "duplicate account ID %s (first listed at line %d)", a.ID, v.idx.lineOf(fmt.Sprintf("accounts[%d].id", j)))
				break
			}
			listed[a.ID] = i
			if j, ok := excluded[a.ID]; ok {
				v.warnf(p+".id", "%s is also in exclude_accounts (line %d); exclusion wins and it will not be targeted",
					a.ID, v.idx.lineOf(fmt.Sprintf("exclude_accounts[%d]", j)))
			}
		}
		if a.RoleName != "" && !configPatterns.roleName.MatchString(a.RoleName) {
			v.errorf(p+".role_name", "%q is not a valid IAM role name", a.RoleName)
		}
		if a.ExternalID != "" && !validExternalID(a.ExternalID) {
			// The value is not echoed: an external ID is a shared secret
			// with the member account's trust policy.
			v.errorf(p+".external_id", "must be 2 to 1224 letters, digits or +=,.@:/-")
		}
		v.emails(p+".contacts", a.Contacts)
		v.names(p+".exempt_users", a.ExemptUsers, configPatterns.userName, "IAM user name")
	}
}

// validExternalID applies STS's ExternalId rules; the length is checked
// apart because Go's regexp caps repeat counts at 1000.
func validExternalID(s string) bool {
	return len(s) >= 2 && len(s) <= 1224 && configPatterns.externalID.MatchString(s)
}

func (v *configValidator) role(r RoleConfig) {
	if v.nonEmpty("role.name", r.Name) && !configPatterns.roleName.MatchString(r.Name) {
		v.errorf("role.name", "%q is not a valid IAM role name", r.Name)
	}
	if v.nonEmpty("role.path", r.Path) && !configPatterns.rolePath.MatchString(r.Path) {
		v.errorf("role.path", "%q is not an IAM path (want / or /like/this/)", r.Path)
	}
	if r.ExternalID != "" && !validExternalID(r.ExternalID) {
		v.errorf("role.external_id", "must be 2 to 1224 letters, digits or +=,.@:/-")
	}
	if v.nonEmpty("role.session_name", r.SessionName) && !configPatterns.sessionName.MatchString(r.SessionName) {
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
	bad    func(Policy) bool
	msg    func(Policy) string
}

var policyRules = []policyRule{
	{fields: []string{"max_key_age"}, bad: func(p Policy) bool { return p.MaxKeyAge == 0 },
		msg: func(Policy) string { return "must be greater than 0" }},
	{fields: []string{"unused_after"}, bad: func(p Policy) bool { return p.UnusedAfter == 0 },
		msg: func(Policy) string { return "must be greater than 0" }},
	{fields: []string{"hard_deadline", "deactivate_after"},
		bad: func(p Policy) bool { return p.HardDeadline != 0 && p.HardDeadline <= p.DeactivateAfter },
		msg: func(p Policy) string {
			return fmt.Sprintf("hard_deadline (%s) must be 0 or longer than deactivate_after (%s)", Duration(p.HardDeadline), Duration(p.DeactivateAfter))
		}},
	{fields: []string{"max_key_age"}, warn: true, bad: func(p Policy) bool { return p.MaxKeyAge > 90*day },
		msg: func(p Policy) string {
			return fmt.Sprintf("%s is longer than the 90 days of CIS 1.14", Duration(p.MaxKeyAge))
		}},
	{fields: []string{"unused_after"}, warn: true, bad: func(p Policy) bool { return p.UnusedAfter > 45*day },
		msg: func(p Policy) string {
			return fmt.Sprintf("%s is longer than the 45 days of CIS 1.12", Duration(p.UnusedAfter))
		}},
	{fields: []string{"delete_foreign_inactive", "foreign_min_age", "foreign_unused_for"}, warn: true,
		bad: func(p Policy) bool { return p.DeleteForeignInactive && p.ForeignMinAge == 0 && p.ForeignUnusedFor == 0 },
		msg: func(Policy) string {
			return "with foreign_min_age and foreign_unused_for both 0, every inactive key keyrotor did not retire is deleted"
		}},
}

// policies checks the top-level policy and each account's effective
// policy. A rule broken at account level is blamed on the account only when
// the account overrides one of the fields involved; otherwise it is the top
// level's problem and reported there.
func (v *configValidator) policies(c *Config) {
	top := c.Policy.Apply(DefaultPolicy())
	v.policy("policy", c.Policy, top)
	for i, a := range c.Accounts {
		v.policy(fmt.Sprintf("accounts[%d].policy", i), a.Policy, a.Policy.Apply(top))
	}
}

func (v *configValidator) policy(prefix string, set PolicyConfig, p Policy) {
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

func (v *configValidator) exemptions(e ExemptionsConfig) {
	if v.nonEmpty("exemptions.tag.key", e.Tag.Key) && !configPatterns.tagKey.MatchString(e.Tag.Key) {
		v.errorf("exemptions.tag.key", "%q is not a valid IAM tag key", e.Tag.Key)
	}
	if !configPatterns.tagValue.MatchString(e.Tag.Value) {
		v.errorf("exemptions.tag.value", "%q is not a valid IAM tag value", e.Tag.Value)
	}
	v.names("exemptions.groups", e.Groups, configPatterns.groupName, "IAM group name")
	v.names("exemptions.users", e.Users, configPatterns.userName, "IAM user name")
}

// templateSamples are two users that a name or address template must tell
// apart.
var templateSamples = [2]TemplateData{
	{AccountID: "111122223333", AccountName: "sample-account", UserName: "alice"},
	{AccountID: "111122223333", AccountName: "sample-account", UserName: "bob"},
}

// template checks that a template parses and renders for sample users, and
// returns the two renderings.
func (v *configValidator) template(path, text string) ([2]string, bool) {
	var out [2]string
	if _, err := template.New(path).Option("missingkey=error").Parse(text); err != nil {
		v.errorf(path, "bad template: %v", err)
		return out, false
	}
	for i, d := range templateSamples {
		s, err := renderConfigTemplate(path, text, d)
		if err != nil {
			v.errorf(path, "template cannot be rendered (fields are .AccountID, .AccountName, .UserName): %v", err)
			return out, false
		}
		out[i] = s
	}
	return out, true
}

func (v *configValidator) secrets(s SecretsConfig) {
	if v.idx.has("secrets.region") && s.Region != "" {
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
			case !configPatterns.secretName.MatchString(out[0]):
				v.errorf(p, "renders %q, which is not a valid secret name (letters, digits and /_+=.@-)", out[0])
			}
		}
	}
	if s.KMSKeyID != "" && !configPatterns.kmsKey.MatchString(s.KMSKeyID) {
		v.errorf("secrets.kms_key_id", "%q is not a KMS key ID, key ARN, alias name or alias ARN", s.KMSKeyID)
	}
}

func (v *configValidator) notifications(n NotificationsConfig) {
	switch {
	case n.Sender != "":
		v.email("notifications.sender", n.Sender)
	case n.Enabled:
		v.errorf("notifications.sender", "required while notifications are enabled (or set notifications.enabled: false)")
	}
	if v.idx.has("notifications.region") && n.Region != "" {
		v.region("notifications.region", n.Region)
	}
	if n.ConfigurationSet != "" && !configPatterns.sesConfigSet.MatchString(n.ConfigurationSet) {
		v.errorf("notifications.configuration_set", "%q is not a valid SES configuration set name", n.ConfigurationSet)
	}
	v.emails("notifications.reply_to", n.ReplyTo)
	v.emails("notifications.security_team", n.SecurityTeam)
	v.names("notifications.recipient_tags", n.RecipientTags, configPatterns.tagKey, "IAM tag key")
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

func (v *configValidator) concurrency(c ConcurrencyConfig) {
	if c.Accounts < 1 {
		v.errorf("concurrency.accounts", "must be at least 1, got %d", c.Accounts)
	}
	if c.PerAccount < 1 {
		v.errorf("concurrency.per_account", "must be at least 1, got %d", c.PerAccount)
	}
}

func (v *configValidator) report(r ReportConfig) {
	v.nonEmpty("report.out", r.Out)
	if len(r.Formats) == 0 {
		v.errorf("report.formats", "must name at least one of %s", strings.Join(ReportFormats, ", "))
	}
	seen := map[string]int{}
	for i, f := range r.Formats {
		p := fmt.Sprintf("report.formats[%d]", i)
		if !slices.Contains(ReportFormats, f) {
			v.errorf(p, "unknown format %q (want %s)", f, strings.Join(ReportFormats, ", "))
			continue
		}
		if j, dup := seen[f]; dup {
			v.warnf(p, "%s is already listed at line %d", f, v.idx.lineOf(fmt.Sprintf("report.formats[%d]", j)))
			continue
		}
		seen[f] = i
	}
	if r.S3 != "" {
		bucket, _, ok := r.S3Location()
		if !ok || !configPatterns.s3Bucket.MatchString(bucket) {
			v.errorf("report.s3", "%q is not an S3 location (want s3://bucket or s3://bucket/prefix)", r.S3)
		}
	}
}
