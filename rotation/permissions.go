package rotation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"keyrotor/accounts"
	"keyrotor/internal/awsclient"
	"keyrotor/vocab"
)

// readActions are what every mode calls in a member account: the
// inventory (users, keys, tags, exempt groups, the credential report, fresh
// last use) and, for users with a rotation in progress, the metadata of
// their secret, which the state tags are checked against. No mode reads a
// secret's value: the secrets' policies deny that to all but the owner.
var readActions = []string{
	"iam:ListUsers",
	"iam:GenerateCredentialReport",
	"iam:GetCredentialReport",
	"iam:ListAccessKeys",
	"iam:ListUserTags",
	"iam:GetAccessKeyLastUsed",
	"iam:GetGroup",
	"secretsmanager:DescribeSecret",
}

// writeActions are what only an applied rotation calls: the key steps, the
// state tags, and the secret that receives the new key and the policy that
// protects it.
var writeActions = []string{
	"iam:CreateAccessKey",
	"iam:UpdateAccessKey",
	"iam:DeleteAccessKey",
	"iam:TagUser",
	"iam:UntagUser",
	"secretsmanager:CreateSecret",
	"secretsmanager:PutSecretValue",
	"secretsmanager:TagResource",
	"secretsmanager:PutResourcePolicy",
}

// RequiredActions returns the member-account actions a run in mode calls
// with the default configuration: the reads for audit and plan, the reads
// and the writes for apply. KMS permissions, needed only with a customer
// managed key (secrets.kms_key_id), are not included; see KMSActions.
// deploy/iam's member policies grant exactly these (tests tie the two).
func RequiredActions(mode vocab.Mode) []string {
	if mode == vocab.ModeApply {
		return slices.Concat(readActions, writeActions)
	}
	return slices.Clone(readActions)
}

// KMSActions returns the KMS actions a run in mode needs on a customer
// managed key that encrypts keyrotor's secrets: DescribeKey and
// GetKeyPolicy to check that an owner may decrypt its secret before the old
// key is deactivated, and GenerateDataKey to write one. None reads a
// secret, so none needs kms:Decrypt.
func KMSActions(mode vocab.Mode) []string {
	if mode == vocab.ModeApply {
		return []string{"kms:GenerateDataKey", "kms:DescribeKey", "kms:GetKeyPolicy"}
	}
	return []string{"kms:DescribeKey", "kms:GetKeyPolicy"}
}

// isWriteAction tells whether action is one only an applied rotation needs.
func isWriteAction(action string) bool {
	return slices.Contains(writeActions, action) || action == "kms:GenerateDataKey"
}

// PermissionScope names the resources a permission check asks about. IAM
// answers for a resource, and the policies narrow most actions to users,
// groups, keyrotor's secrets or a key, so each action is checked on a
// resource of the kind it is really called on.
type PermissionScope struct {
	// SecretARN is a secret keyrotor would write in the account (without
	// the random suffix), e.g. for a user of the name template.
	SecretARN string
	// SecretRegion is the Secrets Manager region, for the kms:ViaService
	// condition.
	SecretRegion string
	// KMSKeyARN is the customer managed key of the secrets; empty when the
	// AWS managed key is used.
	KMSKeyARN string
	// ExemptGroup is a group the inventory reads; empty means any group.
	ExemptGroup string
}

// permissionCheckUser is the made-up user and group name permission checks
// ask about: IAM simulates resources that do not exist.
const permissionCheckUser = "keyrotor-permission-check"

// ScopeFor builds the scope of a permission check in account t with the
// run's secrets settings. A KMS alias cannot be resolved to its key without
// kms:DescribeKey, so with an alias the KMS actions are not checked.
func ScopeFor(t AccountTarget, roleARN string, secrets SecretSettings, exemptGroups []string) (PermissionScope, error) {
	partition := arnPartition(roleARN)
	name, err := secrets.SecretName(t.ID, t.Name, permissionCheckUser)
	if err != nil {
		return PermissionScope{}, fmt.Errorf("secret name for the permission check: %w", err)
	}
	s := PermissionScope{
		SecretARN:    fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s", partition, secrets.Region, t.ID, name),
		SecretRegion: secrets.Region,
	}
	switch k := secrets.KMSKeyID; {
	case k == "" || strings.HasPrefix(k, "alias/") || strings.Contains(k, ":alias/"):
	case strings.HasPrefix(k, "arn:"):
		s.KMSKeyARN = k
	default:
		s.KMSKeyARN = fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", partition, secrets.Region, t.ID, k)
	}
	if len(exemptGroups) > 0 {
		s.ExemptGroup = exemptGroups[0]
	}
	return s, nil
}

// arnPartition returns the partition of an ARN ("aws" when it has none).
func arnPartition(arn string) string {
	f := strings.SplitN(arn, ":", 3)
	if len(f) == 3 && f[0] == "arn" && f[1] != "" {
		return f[1]
	}
	return "aws"
}

// arnAccount returns the account ID of an ARN.
func arnAccount(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) == 6 {
		return f[4]
	}
	return ""
}

// ErrSimulateDenied is wrapped by CheckPermissions' error when the caller
// may not call iam:SimulatePrincipalPolicy on the role, so the permissions
// cannot be known beforehand.
var ErrSimulateDenied = errors.New("not allowed to call iam:SimulatePrincipalPolicy")

// ErrSimulateUnavailable is wrapped by CheckPermissions' error when the
// endpoint does not answer iam:SimulatePrincipalPolicy: it does not
// implement it (LocalStack's 501, moto's 500 and the like) or failed on
// the one attempt the check makes. The permissions cannot be known
// beforehand; the calls themselves are then the check.
var ErrSimulateUnavailable = errors.New("iam:SimulatePrincipalPolicy is unavailable here")

// simulateOnce makes a permission check one attempt (retried only when
// throttled): an endpoint without the simulator answers every retry the
// same, and a standard retryer's ten attempts per account cost a run
// seconds per account for nothing.
func simulateOnce(o *iam.Options) { o.Retryer = awsclient.ThrottleOnlyRetryer() }

// simGroup is one SimulatePrincipalPolicy call: actions checked on one
// resource with the condition context their policy statements test.
type simGroup struct {
	resource string
	context  []iamtypes.ContextEntry
	actions  []string
}

// CheckPermissions asks IAM (iam:SimulatePrincipalPolicy on roleARN)
// whether the role may perform each action, each on a resource of scope of
// the kind the action is called on, and returns the actions it may not, in
// the order given. The condition context that keyrotor's calls carry (tag
// keys under keyrotor:, BlockPublicPolicy, use of KMS through Secrets
// Manager) is passed along, so conditions in the policies evaluate as they
// do for the real calls. Nothing is called but the simulation.
func CheckPermissions(ctx context.Context, api SimulateAPI, roleARN string, actions []string, scope PermissionScope) (missing []string, err error) {
	decided := map[string]bool{}
	for _, g := range simGroups(roleARN, actions, scope) {
		in := &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String(roleARN),
			ActionNames:     g.actions,
			ContextEntries:  g.context,
		}
		if g.resource != "*" {
			in.ResourceArns = []string{g.resource}
		}
		p := iam.NewSimulatePrincipalPolicyPaginator(api, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx, simulateOnce)
			if err != nil {
				var ae smithy.APIError
				switch {
				case errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied":
					return nil, fmt.Errorf("check permissions of %s: %w: %w", roleARN, ErrSimulateDenied, err)
				case awsclient.IsUnsupported(err) || awsclient.IsServerError(err):
					return nil, fmt.Errorf("check permissions of %s: %w: %w", roleARN, ErrSimulateUnavailable, accounts.Concise(err))
				}
				return nil, fmt.Errorf("check permissions of %s: %w", roleARN, err)
			}
			for _, r := range out.EvaluationResults {
				a := aws.ToString(r.EvalActionName)
				ok := r.EvalDecision == iamtypes.PolicyEvaluationDecisionTypeAllowed
				if prev, seen := decided[a]; seen {
					ok = ok && prev
				}
				decided[a] = ok
			}
		}
	}
	for _, a := range actions {
		// An action IAM did not answer for is not known to be allowed.
		if !decided[a] && !slices.Contains(missing, a) {
			missing = append(missing, a)
		}
	}
	return missing, nil
}

// simGroups groups actions by the resource they are checked on, in the
// order of first appearance.
func simGroups(roleARN string, actions []string, scope PermissionScope) []simGroup {
	partition, account := arnPartition(roleARN), arnAccount(roleARN)
	group := scope.ExemptGroup
	if group == "" {
		group = permissionCheckUser
	}
	userARN := fmt.Sprintf("arn:%s:iam::%s:user/%s", partition, account, permissionCheckUser)
	groupARN := fmt.Sprintf("arn:%s:iam::%s:group/%s", partition, account, group)
	tagKeys := iamtypes.ContextEntry{ContextKeyName: aws.String("aws:TagKeys"),
		ContextKeyType: iamtypes.ContextKeyTypeEnumStringList, ContextKeyValues: []string{"keyrotor:AKIAPERMISSIONCHECK"}}
	blockPublic := iamtypes.ContextEntry{ContextKeyName: aws.String("secretsmanager:BlockPublicPolicy"),
		ContextKeyType: iamtypes.ContextKeyTypeEnumBoolean, ContextKeyValues: []string{"true"}}
	viaSM := iamtypes.ContextEntry{ContextKeyName: aws.String("kms:ViaService"),
		ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{"secretsmanager." + scope.SecretRegion + ".amazonaws.com"}}

	var groups []simGroup
	add := func(resource string, ctxEntry *iamtypes.ContextEntry, a string) {
		for i := range groups {
			if groups[i].resource == resource {
				groups[i].actions = append(groups[i].actions, a)
				return
			}
		}
		g := simGroup{resource: resource, actions: []string{a}}
		if ctxEntry != nil {
			g.context = []iamtypes.ContextEntry{*ctxEntry}
		}
		groups = append(groups, g)
	}
	for _, a := range actions {
		switch {
		case a == "iam:GetGroup":
			add(groupARN, nil, a)
		case strings.HasPrefix(a, "iam:") && a != "iam:ListUsers" && a != "iam:GenerateCredentialReport" && a != "iam:GetCredentialReport":
			add(userARN, &tagKeys, a)
		case strings.HasPrefix(a, "secretsmanager:") && scope.SecretARN != "":
			add(scope.SecretARN, &blockPublic, a)
		case strings.HasPrefix(a, "kms:") && scope.KMSKeyARN != "":
			add(scope.KMSKeyARN, &viaSM, a)
		default:
			add("*", nil, a)
		}
	}
	return groups
}

// PermissionError says that a role lacks permissions a run needs.
type PermissionError struct {
	RoleARN string
	Mode    vocab.Mode
	Missing []string
}

// Error implements error.
func (e *PermissionError) Error() string {
	verb := "rotate"
	if e.Mode != vocab.ModeApply {
		verb = "audit"
	}
	hint := ""
	if slices.ContainsFunc(e.Missing, isWriteAction) {
		hint = " (read-only deployment?)"
	}
	return fmt.Sprintf("role %s cannot %s: missing %s%s; nothing was changed", e.RoleARN, verb, strings.Join(e.Missing, ", "), hint)
}

// NeededActions is RequiredActions(mode) for one configuration: without
// iam:GetGroup when no exempt group is configured, and with KMSActions and
// iam:SimulatePrincipalPolicy on users (the owner decrypt check) when scope
// names a customer managed key. secretsmanager:PutResourcePolicy is needed
// whatever secrets.user_read_policy says: every secret gets the policy
// that keeps it its owner's.
func NeededActions(mode vocab.Mode, secrets SecretSettings, exemptions Exemptions, scope PermissionScope) []string {
	actions := RequiredActions(mode)
	if len(exemptions.Groups) == 0 {
		actions = slices.DeleteFunc(actions, func(a string) bool { return a == "iam:GetGroup" })
	}
	if scope.KMSKeyARN != "" {
		actions = append(actions, KMSActions(mode)...)
		actions = append(actions, "iam:SimulatePrincipalPolicy")
	}
	return actions
}
