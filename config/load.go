package config

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/goccy/go-yaml/ast"

	"keyrotor/internal/yamlstrict"
	"keyrotor/report"
)

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse parses, defaults and validates a configuration. file names the
// source in errors. Every error is an *Error, or several joined with
// errors.Join (see Errors), sorted by line. Structural problems (unknown
// keys, wrong types, bad scalars) and rule violations are reported
// together: the rules are checked on everything that decoded, each field
// with a structural problem standing at its default. Only a document that
// cannot be read at all (a syntax error, misused aliases) stops at its
// structural problems.
func Parse(file string, data []byte) (*Config, error) {
	cfg := defaultConfig()
	idx, err := yamlstrict.Decode(file, data, cfg, yamlstrict.Options{
		Literals: map[string]func(ast.Node) (string, error){"account_id": accountIDFromYAML},
	})
	structural := yamlstrict.Errors(err)
	if err != nil && (!idx.Partial() || len(structural) == 0) {
		return nil, err
	}
	restoreAccountIDs(idx, cfg)
	cfg.File = file

	v := validator{file: file, idx: idx, seen: map[string]bool{}}
	v.validate(cfg)
	// A rule checked on a field's default would only repeat its
	// structural problem.
	rules := slices.DeleteFunc(v.errs, func(e *Error) bool { return idx.Broken(e.Field) })
	if all := slices.Concat(structural, rules); len(all) > 0 {
		return nil, yamlstrict.Join(all)
	}
	cfg.applyDerivedDefaults()
	yamlstrict.Sort(v.warns)
	cfg.Warnings = v.warns
	return cfg, nil
}

// accountIDFromYAML reads a 12-digit account ID from a quoted or unquoted
// scalar. It uses the literal text: YAML reads an unquoted 000000000001 as
// the number 1, and the decoder would hand us "1".
func accountIDFromYAML(node ast.Node) (string, error) {
	text, ok := yamlstrict.ScalarText(node)
	if !ok {
		return "", fmt.Errorf("want a 12-digit account ID, got %s", yamlstrict.Describe(node))
	}
	if !patterns.accountID.MatchString(text) {
		return "", fmt.Errorf("bad account ID %q (want exactly 12 digits)", text)
	}
	return text, nil
}

// restoreAccountIDs puts back the literal account IDs that the decoder may
// have read as numbers.
func restoreAccountIDs(idx *yamlstrict.Index, c *Config) {
	for i := range c.ExcludeAccounts {
		if id, ok := idx.Literal(fmt.Sprintf("exclude_accounts[%d]", i)); ok {
			c.ExcludeAccounts[i] = id
		}
	}
	for i := range c.Accounts {
		if id, ok := idx.Literal(fmt.Sprintf("accounts[%d].id", i)); ok {
			c.Accounts[i].ID = id
		}
	}
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
		Exemptions: ExemptionsConfig{Tag: TagConfig{Key: DefaultExemptTagKey, Value: DefaultExemptTagValue}},
		Secrets:    SecretsConfig{NameTemplate: DefaultSecretNameTemplate, UserReadPolicy: true},
		Notifications: NotificationsConfig{
			Enabled:       true,
			RecipientTags: []string{"email", "Email", "owner"},
			Digest:        true,
		},
		Concurrency: ConcurrencyConfig{Accounts: 16, PerAccount: 4},
		Report:      ReportConfig{Out: "reports", Formats: slices.Clone(report.Formats)},
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
