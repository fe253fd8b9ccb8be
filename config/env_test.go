package config

import (
	"strings"
	"testing"
)

func TestApplyEnv(t *testing.T) {
	conf := &Config{}
	env := map[string]string{
		"KEYROTOR_ROLE_NAME": "OtherRole", "KEYROTOR_EXTERNAL_ID": "ext-9",
		"KEYROTOR_REPORT_S3": "s3://bucket/reports", "KEYROTOR_SENDER": "keyrotor@example.com",
	}
	done, err := conf.ApplyEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if conf.Role.Name != "OtherRole" || conf.Role.ExternalID != "ext-9" || conf.Report.S3 != "s3://bucket/reports" ||
		conf.Notifications.Sender != "keyrotor@example.com" {
		t.Errorf("overrides not applied: %+v %+v %+v", conf.Role, conf.Report, conf.Notifications.Sender)
	}
	if len(done) != 4 || done[0] != (Override{Variable: "KEYROTOR_ROLE_NAME", Field: "role.name"}) {
		t.Errorf("overrides reported = %+v", done)
	}
	for k, bad := range map[string]string{
		"KEYROTOR_REPORT_S3": "bucket/reports", "KEYROTOR_SENDER": "not-an-address",
		"KEYROTOR_ROLE_NAME": "no spaces allowed", "KEYROTOR_EXTERNAL_ID": "x",
	} {
		c := &Config{}
		c.Role.Name = "Kept"
		_, err := c.ApplyEnv(func(n string) string {
			if n == k {
				return bad
			}
			if n == "KEYROTOR_ROLE_NAME" {
				return "Changed"
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: err = %v, want an error naming the variable", k, bad, err)
		}
		if c.Role.Name != "Kept" {
			t.Errorf("%s=%q: the config was half changed (role.name %q)", k, bad, c.Role.Name)
		}
	}
	if done, err := (&Config{}).ApplyEnv(func(string) string { return "" }); err != nil || done != nil {
		t.Errorf("empty environment: %v, %v", done, err)
	}
}
