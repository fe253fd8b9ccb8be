package awssimtest

import (
	"path/filepath"
	"testing"

	"keyrotor/internal/awssim"
)

// SetEnv points the SDK's standard environment at the simulator at
// endpoint, as a user points it at AWS: endpoint, region and c in the
// AWS_* variables, and shared config and credentials files, profile,
// instance metadata and CA bundle turned to nothing, so that no setting of
// the machine running the test takes part. The variables are restored at
// t's cleanup; like t.Setenv, it cannot be used in parallel tests.
func SetEnv(t testing.TB, endpoint, region string, c awssim.Credentials) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":            endpoint,
		"AWS_REGION":                  region,
		"AWS_ACCESS_KEY_ID":           c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       c.SecretAccessKey,
		"AWS_SESSION_TOKEN":           c.SessionToken,
		"AWS_CONFIG_FILE":             filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-aws-credentials"),
		"AWS_PROFILE":                 "",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CA_BUNDLE":               "",
	} {
		t.Setenv(k, v)
	}
}
