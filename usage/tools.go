// Package usage says where an access key is still used: it asks CloudTrail
// (LookupEvents by AccessKeyId) in the regions that matter, within
// CloudTrail's request rate, and summarizes what it finds per key (source
// IPs, user agents and the tools behind them, services and calls), so an
// owner knows which pipelines to update and the security team can tell a
// forgotten cron job from an intruder. It never keeps request parameters:
// they may hold data.
package usage

import (
	"regexp"
	"strings"
)

// toolRule recognises a tool from a user agent. Order matters: Terraform
// and the AWS CLI embed the SDK they are built on.
type toolRule struct {
	re   *regexp.Regexp
	name string // the tool; "%s" takes the version when re captures one
}

var toolRules = []toolRule{
	{regexp.MustCompile(`(?i)\bTerraform/([0-9][\w.-]*)`), "Terraform %s"},
	{regexp.MustCompile(`(?i)\bOpenTofu/([0-9][\w.-]*)`), "OpenTofu %s"},
	{regexp.MustCompile(`(?i)\baws-cli/([0-9][\w.-]*)`), "AWS CLI %s"},
	{regexp.MustCompile(`(?i)\baws-cdk/([0-9][\w.-]*)`), "AWS CDK %s"},
	{regexp.MustCompile(`(?i)\bpulumi`), "Pulumi"},
	{regexp.MustCompile(`(?i)^(console\.amazonaws\.com|signin\.amazonaws\.com|AWS Internal)`), "AWS console"},
	{regexp.MustCompile(`(?i)^cloudformation\.amazonaws\.com`), "CloudFormation"},
	{regexp.MustCompile(`(?i)\bBoto3/([0-9][\w.-]*)`), "Python SDK (boto3) %s"},
	{regexp.MustCompile(`(?i)\bbotocore/([0-9][\w.-]*)`), "Python SDK (botocore) %s"},
	{regexp.MustCompile(`(?i)\baws-sdk-go-v2/([0-9][\w.-]*)`), "Go SDK v2 %s"},
	{regexp.MustCompile(`(?i)\baws-sdk-go/([0-9][\w.-]*)`), "Go SDK %s"},
	{regexp.MustCompile(`(?i)\baws-sdk-java/([0-9][\w.-]*)`), "Java SDK %s"},
	{regexp.MustCompile(`(?i)\baws-sdk-(?:js|nodejs)/([0-9][\w.-]*)`), "JavaScript SDK %s"},
	{regexp.MustCompile(`(?i)\baws-sdk-dotnet[\w-]*/([0-9][\w.-]*)`), ".NET SDK %s"},
	{regexp.MustCompile(`(?i)\baws-sdk-ruby\d?/([0-9][\w.-]*)`), "Ruby SDK %s"},
	{regexp.MustCompile(`(?i)\baws-sdk-php/([0-9][\w.-]*)`), "PHP SDK %s"},
	{regexp.MustCompile(`(?i)\baws-sdk-rust/([0-9][\w.-]*)`), "Rust SDK %s"},
	{regexp.MustCompile(`(?i)\baws-sdk-cpp/([0-9][\w.-]*)`), "C++ SDK %s"},
}

// Tool names the program behind a user agent where it is clear ("Terraform
// 1.9.5", "AWS CLI 2.15.0", "Go SDK v2 1.30.0", "AWS console"), "" where it
// is not.
func Tool(userAgent string) string {
	for _, r := range toolRules {
		m := r.re.FindStringSubmatch(userAgent)
		if m == nil {
			continue
		}
		if len(m) > 1 {
			return strings.TrimSpace(strings.Replace(r.name, "%s", m[1], 1))
		}
		return strings.TrimSpace(strings.Replace(r.name, "%s", "", 1))
	}
	return ""
}

// Service is the short name of a CloudTrail event source:
// "s3.amazonaws.com" is "s3".
func Service(eventSource string) string {
	s, _, _ := strings.Cut(eventSource, ".amazonaws.com")
	return s
}
