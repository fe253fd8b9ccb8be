package awssim

import (
	"net/http"
	"sort"
	"strings"
)

// services maps a SigV4 signing name to the service emulation: its wire
// protocol, its own error codes and HTTP statuses, its operations and the
// per-operation rate limits AWS documents for it. This table is the one
// place that knows every service the simulator serves; each service's
// files hold its handlers. Only the entry point (server.go) looks services
// up here: a request carries its own.
var services = map[string]*service{
	"iam": {
		name: "iam", proto: protoQuery, xmlns: "https://iam.amazonaws.com/doc/2010-05-08/",
		throttleCode: "Throttling", throttleHTTP: 400,
		deniedCode: "AccessDenied", deniedHTTP: 403,
		authCode: "InvalidClientTokenId", authHTTP: 403,
		ops: map[string]opHandler{
			"ListUsers":                      iamListUsers,
			"GetUser":                        iamGetUser,
			"ListAccessKeys":                 iamListAccessKeys,
			"CreateAccessKey":                iamCreateAccessKey,
			"UpdateAccessKey":                iamUpdateAccessKey,
			"DeleteAccessKey":                iamDeleteAccessKey,
			"GetAccessKeyLastUsed":           iamGetAccessKeyLastUsed,
			"ListUserTags":                   iamListUserTags,
			"TagUser":                        iamTagUser,
			"UntagUser":                      iamUntagUser,
			"ListGroupsForUser":              iamListGroupsForUser,
			"GetGroup":                       iamGetGroup,
			"GenerateCredentialReport":       iamGenerateCredentialReport,
			"GetCredentialReport":            iamGetCredentialReport,
			"ListAccountAliases":             iamListAccountAliases,
			"GetAccountAuthorizationDetails": iamGetAccountAuthorizationDetails,
			"SimulatePrincipalPolicy":        iamSimulatePrincipalPolicy,
		},
	},
	"sts": {
		name: "sts", proto: protoQuery, xmlns: "https://sts.amazonaws.com/doc/2011-06-15/",
		throttleCode: "Throttling", throttleHTTP: 400,
		deniedCode: "AccessDenied", deniedHTTP: 403,
		authCode: "InvalidClientTokenId", authHTTP: 403,
		ops: map[string]opHandler{
			"AssumeRole":        stsAssumeRole,
			"GetCallerIdentity": stsGetCallerIdentity,
		},
	},
	"organizations": {
		name: "organizations", proto: protoJSON, targetPfx: "AWSOrganizationsV20161128",
		throttleCode: "TooManyRequestsException", throttleHTTP: 400,
		deniedCode: "AccessDeniedException", deniedHTTP: 403,
		authCode: "UnrecognizedClientException", authHTTP: 400,
		ops: map[string]opHandler{
			"DescribeOrganization":             orgDescribeOrganization,
			"DescribeAccount":                  orgDescribeAccount,
			"ListAccounts":                     orgListAccounts,
			"ListAccountsForParent":            orgListAccountsForParent,
			"ListRoots":                        orgListRoots,
			"ListOrganizationalUnitsForParent": orgListOUsForParent,
			"ListChildren":                     orgListChildren,
		},
	},
	"secretsmanager": {
		name: "secretsmanager", proto: protoJSON, targetPfx: "secretsmanager",
		throttleCode: "ThrottlingException", throttleHTTP: 400,
		deniedCode: "AccessDeniedException", deniedHTTP: 400,
		authCode: "UnrecognizedClientException", authHTTP: 400,
		ops: map[string]opHandler{
			// Creating, writing and reading a value need more than the
			// call's own permission (secrets_implied.go).
			"CreateSecret":         withCreateSecretPermissions(smCreateSecret),
			"PutSecretValue":       withSecretKMS(smPutSecretValue, "kms:GenerateDataKey"),
			"GetSecretValue":       withSecretKMS(smGetSecretValue, "kms:Decrypt"),
			"DescribeSecret":       smDescribeSecret,
			"ListSecrets":          smListSecrets,
			"UpdateSecret":         smUpdateSecret,
			"PutResourcePolicy":    smPutResourcePolicy,
			"GetResourcePolicy":    smGetResourcePolicy,
			"DeleteResourcePolicy": smDeleteResourcePolicy,
			"TagResource":          smTagResource,
			"UntagResource":        smUntagResource,
			"DeleteSecret":         smDeleteSecret,
		},
	},
	"kms": {
		name: "kms", proto: protoJSON, targetPfx: "TrentService",
		throttleCode: "ThrottlingException", throttleHTTP: 400,
		deniedCode: "AccessDeniedException", deniedHTTP: 400,
		authCode: "UnrecognizedClientException", authHTTP: 400,
		ops: map[string]opHandler{
			"DescribeKey":  kmsDescribeKey,
			"GetKeyPolicy": kmsGetKeyPolicy,
			"DisableKey":   kmsSetEnabled(false),
			"EnableKey":    kmsSetEnabled(true),
		},
	},
	"ses": {
		name: "ses", proto: protoRESTJSON,
		throttleCode: "TooManyRequestsException", throttleHTTP: 429,
		deniedCode: "AccessDeniedException", deniedHTTP: 403,
		authCode: "UnrecognizedClientException", authHTTP: 403,
		route: sesRoute,
		ops: map[string]opHandler{
			"SendEmail":           sesSendEmail,
			"CreateEmailIdentity": sesCreateEmailIdentity,
			"GetEmailIdentity":    sesGetEmailIdentity,
		},
	},
	"s3": {
		name: "s3", proto: protoRESTXML,
		throttleCode: "SlowDown", throttleHTTP: 503,
		deniedCode: "AccessDenied", deniedHTTP: 403,
		authCode: "InvalidAccessKeyId", authHTTP: 403,
		route: s3Route,
		ops: map[string]opHandler{
			"PutObject":  s3PutObject,
			"GetObject":  s3GetObject,
			"HeadObject": s3HeadObject,
		},
	},
	"cloudtrail": {
		name: "cloudtrail", proto: protoJSON,
		targetPfx: "CloudTrail_20131101",
		// botocore (the AWS CLI) sends the model's full target prefix; the
		// Go SDK sends the short one.
		targetAlias:  "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
		throttleCode: "ThrottlingException", throttleHTTP: 400,
		deniedCode: "AccessDeniedException", deniedHTTP: 400,
		authCode: "UnrecognizedClientException", authHTTP: 400,
		ops: map[string]opHandler{
			"LookupEvents": ctLookupEvents,
		},
		// AWS documents LookupEvents at two requests per second per
		// account and region.
		opLimits: map[string]rateLimit{
			"LookupEvents": {perSecond: 2, burst: 2},
		},
	},
	"securityhub": {
		name: "securityhub", proto: protoRESTJSON,
		throttleCode: "TooManyRequestsException", throttleHTTP: 429,
		deniedCode: "AccessDeniedException", deniedHTTP: 403,
		authCode: "UnrecognizedClientException", authHTTP: 403,
		route: hubRoute,
		ops: map[string]opHandler{
			"BatchImportFindings": hubBatchImportFindings,
			"GetFindings":         hubGetFindings,
			"BatchUpdateFindings": hubBatchUpdateFindings,
		},
		// The limits the Security Hub API reference documents per account
		// and region.
		opLimits: map[string]rateLimit{
			"BatchImportFindings": {perSecond: 10, burst: 30},
			"BatchUpdateFindings": {perSecond: 10, burst: 30},
			"GetFindings":         {perSecond: 3, burst: 6},
		},
	},
}

// guessService picks a service for requests without a usable signature, so
// that the error can be written in the right format.
func guessService(hr *http.Request) *service {
	t := hr.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(t, "AWSOrganizations"):
		return services["organizations"]
	case strings.HasPrefix(t, "secretsmanager"):
		return services["secretsmanager"]
	case strings.HasPrefix(hr.URL.Path, "/v2/email"):
		return services["ses"]
	}
	return nil
}

// SupportsOperation tells whether the simulator serves service (a SigV4
// signing name such as "iam") and, unless op is "*", its operation op. It
// lets a command line check a fault or latency pattern before serving.
func SupportsOperation(service, op string) bool {
	svc := services[service]
	if svc == nil {
		return false
	}
	if op == "*" {
		return true
	}
	_, ok := svc.ops[op]
	return ok
}

// ServiceNames lists the services the simulator serves, sorted.
func ServiceNames() []string {
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
