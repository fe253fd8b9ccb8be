package config

import (
	"fmt"

	"keyrotor/notify"
	"keyrotor/report"
)

// Override is one setting replaced from the environment.
type Override struct {
	// Variable is the environment variable, Field the accounts.yaml
	// setting it replaced.
	Variable, Field string
}

// envOverrides are the settings a deployment may give as environment
// variables (the central-runner CloudFormation template passes its
// parameters this way) instead of baking them into the image's
// accounts.yaml.
var envOverrides = []struct {
	name, field string
	apply       func(c *Config, v string) error
}{
	{"KEYROTOR_ROLE_NAME", "role.name", func(c *Config, v string) error {
		if !patterns.roleName.MatchString(v) {
			return fmt.Errorf("%q is not a valid IAM role name", v)
		}
		c.Role.Name = v
		return nil
	}},
	{"KEYROTOR_EXTERNAL_ID", "role.external_id", func(c *Config, v string) error {
		if !validExternalID(v) {
			return fmt.Errorf("must be 2 to 1224 letters, digits or +=,.@:/-")
		}
		c.Role.ExternalID = v
		return nil
	}},
	{"KEYROTOR_REPORT_S3", "report.s3", func(c *Config, v string) error {
		if _, _, err := report.ParseS3URL(v); err != nil {
			return err
		}
		c.Report.S3 = v
		return nil
	}},
	{"KEYROTOR_SENDER", "notifications.sender", func(c *Config, v string) error {
		addr, err := notify.ValidAddress(v)
		if err != nil {
			return err
		}
		c.Notifications.Sender = addr
		return nil
	}},
}

// ApplyEnv replaces the settings whose KEYROTOR_* variable getenv returns
// non-empty, validated like the file's, and returns what it replaced so the
// caller can log it: nothing is overridden silently. On an error c is
// unchanged.
func (c *Config) ApplyEnv(getenv func(string) string) ([]Override, error) {
	next := *c
	var done []Override
	for _, o := range envOverrides {
		v := getenv(o.name)
		if v == "" {
			continue
		}
		if err := o.apply(&next, v); err != nil {
			return nil, fmt.Errorf("environment %s (overrides %s): %w", o.name, o.field, err)
		}
		done = append(done, Override{Variable: o.name, Field: o.field})
	}
	*c = next
	return done, nil
}
