package awssim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Scenario fields for what security tests need: identity policies on users
// and roles, extra roles, customer managed policies, KMS keys and the root
// user's access keys. Build applies them after the accounts' users, so
// policies can name any principal of the scenario.

// PolicyDocument is an IAM policy document in a scenario: either a JSON
// string or the document written as YAML, which is kept as JSON.
type PolicyDocument string

// UnmarshalYAML reads a JSON string or a YAML mapping.
func (p *PolicyDocument) UnmarshalYAML(node ast.Node) error {
	if node.Type() == ast.StringType {
		*p = PolicyDocument(node.GetToken().Value)
		return nil
	}
	var v any
	if err := yaml.NodeToValue(node, &v); err != nil {
		return &yaml.SyntaxError{Message: err.Error(), Token: node.GetToken()}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return &yaml.SyntaxError{Message: "a policy document must be a JSON string or a mapping: " + err.Error(), Token: node.GetToken()}
	}
	*p = PolicyDocument(b)
	return nil
}

// MarshalYAML writes the document as its JSON text.
func (p PolicyDocument) MarshalYAML() (any, error) { return string(p), nil }

// ScenarioExtraRole is a role besides the rotation role, such as a
// break-glass or an attacker's role.
type ScenarioExtraRole struct {
	// Name and Path are the role's (default path "/").
	Name string `yaml:"name"`
	Path string `yaml:"path,omitempty"`
	// Trusted are the principal ARNs or account IDs that may assume it
	// (default: the security account).
	Trusted []string `yaml:"trusted,omitempty"`
	// ExternalID, when set, must be presented by AssumeRole.
	ExternalID string `yaml:"external_id,omitempty"`
	// Policies and ManagedPolicies are its identity policies.
	Policies        []PolicyDocument `yaml:"policies,omitempty"`
	ManagedPolicies []string         `yaml:"managed_policies,omitempty"`
}

// ScenarioManagedPolicy is a customer managed policy of an account.
type ScenarioManagedPolicy struct {
	Name     string         `yaml:"name"`
	Document PolicyDocument `yaml:"document"`
}

// ScenarioKMSKey is a customer managed KMS key.
type ScenarioKMSKey struct {
	// ID is the key ID (default generated from the scenario's seed).
	ID string `yaml:"id,omitempty"`
	// Aliases name the key, like alias/keyrotor.
	Aliases []string `yaml:"aliases,omitempty"`
	// Region is the key's region (default the scenario's SES region).
	Region      string `yaml:"region,omitempty"`
	Description string `yaml:"description,omitempty"`
	// Policy is the key policy (default: the account root, so identity
	// policies decide).
	Policy PolicyDocument `yaml:"policy,omitempty"`
}

var (
	scnPolicyNameRe = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	scnPrincipalRe  = regexp.MustCompile(`^(\d{12}|arn:aws:iam::\d{12}:(root|user/.+|role/.+))$`)
)

// identityPolicies validates policies and managed_policies of a user or
// role; customer are the account's customer managed policy names.
func (v *scnValidator) identityPolicies(path string, docs []PolicyDocument, managed []string, customer map[string]bool) {
	for i, d := range docs {
		if _, err := parsePolicy(string(d), identityPolicyKind); err != nil {
			v.add(fmt.Sprintf("%s.policies[%d]", path, i), "invalid identity policy: %v", err)
		}
	}
	for i, m := range managed {
		if scnManagedARN(m, "", customer) == "" {
			v.add(fmt.Sprintf("%s.managed_policies[%d]", path, i),
				"%q is neither a customer_policies name of this account nor an AWS managed policy awssim knows (AdministratorAccess, PowerUserAccess, IAMUserChangePassword)", m)
		}
	}
}

// scnManagedARN resolves a managed_policies entry: an ARN, a customer
// managed policy's name, or an AWS managed policy's name. "" when unknown.
func scnManagedARN(m, account string, customer map[string]bool) string {
	switch {
	case strings.HasPrefix(m, "arn:"):
		if awsManagedPolicies[m] != nil || strings.HasPrefix(m, "arn:aws:iam::"+account+":policy/") || account == "" {
			return m
		}
		return ""
	case customer[m]:
		return fmt.Sprintf("arn:aws:iam::%s:policy/%s", account, m)
	case awsManagedPolicies[AWSManagedPolicyARN(m)] != nil:
		return AWSManagedPolicyARN(m)
	}
	return ""
}

// accountSecurity validates an account's policy-related fields.
func (v *scnValidator) accountSecurity(path string, a *ScenarioAccount, rotationRole string) {
	customer := map[string]bool{}
	for i, p := range a.CustomerPolicies {
		pp := fmt.Sprintf("%s.customer_policies[%d]", path, i)
		switch {
		case !scnPolicyNameRe.MatchString(p.Name):
			v.add(pp+".name", "%q is not a valid policy name", p.Name)
		case customer[p.Name]:
			v.add(pp+".name", "policy %q is defined twice in this account", p.Name)
		}
		customer[p.Name] = true
		if _, err := parsePolicy(string(p.Document), identityPolicyKind); err != nil {
			v.add(pp+".document", "invalid policy: %v", err)
		}
	}
	for i := range a.Users {
		u := &a.Users[i]
		up := fmt.Sprintf("%s.users[%d]", path, i)
		v.identityPolicies(up, u.Policies, u.ManagedPolicies, customer)
		seen := map[string]string{}
		for k := range u.Tags {
			if other, dup := seen[strings.ToLower(k)]; dup {
				v.add(up+".tags", "tags %q and %q differ only in case, and IAM tag keys are case-insensitive", other, k)
			}
			seen[strings.ToLower(k)] = k
		}
	}
	names := map[string]bool{rotationRole: true}
	for i := range a.Roles {
		r := &a.Roles[i]
		rp := fmt.Sprintf("%s.roles[%d]", path, i)
		switch {
		case !scnIAMNameRe.MatchString(r.Name):
			v.add(rp+".name", "%q is not a valid IAM role name", r.Name)
		case names[r.Name]:
			v.add(rp+".name", "role %q is defined twice in this account (or is the rotation role)", r.Name)
		}
		names[r.Name] = true
		if r.Path != "" && !scnIAMPathRe.MatchString(r.Path) {
			v.add(rp+".path", "%q is not a valid IAM path: it must start and end with /", r.Path)
		}
		for j, p := range r.Trusted {
			if !scnPrincipalRe.MatchString(p) {
				v.add(fmt.Sprintf("%s.trusted[%d]", rp, j), "%q is not an account ID or an IAM principal ARN", p)
			}
		}
		v.identityPolicies(rp, r.Policies, r.ManagedPolicies, customer)
	}
	ids, aliases := map[string]bool{}, map[string]bool{}
	for i, k := range a.KMSKeys {
		kp := fmt.Sprintf("%s.kms_keys[%d]", path, i)
		if k.ID != "" && (!kmsKeyIDRe.MatchString(k.ID) || ids[k.ID]) {
			v.add(kp+".id", "%q is not a key ID, or is used twice", k.ID)
		}
		ids[k.ID] = true
		for j, al := range k.Aliases {
			full := al
			if !strings.HasPrefix(full, "alias/") {
				full = "alias/" + full
			}
			if !kmsAliasRe.MatchString(full) || strings.HasPrefix(full, "alias/aws/") || aliases[full] {
				v.add(fmt.Sprintf("%s.aliases[%d]", kp, j), "%q is not an alias you can create, or is used twice (alias/NAME, not under alias/aws/)", al)
			}
			aliases[full] = true
		}
		if k.Region != "" && !scnRegionRe.MatchString(k.Region) {
			v.add(kp+".region", "%q is not a region like us-east-1", k.Region)
		}
		if k.Policy != "" {
			if _, err := parsePolicy(string(k.Policy), resourcePolicyKind); err != nil {
				v.add(kp+".policy", "invalid key policy: %v", err)
			}
		}
	}
	if len(a.RootKeys) > 2 {
		v.add(path+".root_keys", "the root user may have at most two access keys, got %d", len(a.RootKeys))
	}
	for i := range a.RootKeys {
		v.key(fmt.Sprintf("%s.root_keys[%d]", path, i), &a.RootKeys[i])
	}
}

// scnSeedSecurity applies an account's policies, extra roles, KMS keys and
// root keys. The scenario was validated, so errors here are defects.
func scnSeedSecurity(sim *Sim, sc *Scenario, sd Seeded, a ScenarioAccount, users []ScenarioUser) error {
	customer := map[string]bool{}
	for _, p := range a.CustomerPolicies {
		if _, err := sim.CreateManagedPolicy(a.ID, p.Name, string(p.Document)); err != nil {
			return err
		}
		customer[p.Name] = true
	}
	apply := func(arn string, docs []PolicyDocument, managed []string) error {
		if len(docs) == 0 && len(managed) == 0 {
			return nil
		}
		texts := make([]string, len(docs))
		for i, d := range docs {
			texts[i] = string(d)
		}
		if err := sim.SetPrincipalPolicy(arn, texts...); err != nil {
			return err
		}
		for _, m := range managed {
			if err := sim.AttachPrincipalPolicy(arn, scnManagedARN(m, a.ID, customer)); err != nil {
				return err
			}
		}
		return nil
	}
	if a.Role == "" || a.Role == RoleOK || a.Role == RoleWrongTrust {
		if err := apply(sd.RoleARN(a.ID), sc.Role.Policies, sc.Role.ManagedPolicies); err != nil {
			return err
		}
	}
	for _, r := range a.Roles {
		trusted := r.Trusted
		if len(trusted) == 0 {
			trusted = []string{fmt.Sprintf("arn:aws:iam::%s:root", sd.SecurityAccountID)}
		}
		path := r.Path
		if path == "" {
			path = "/"
		}
		sim.AddRole(a.ID, RoleSpec{Name: r.Name, Path: path, TrustedPrincipals: trusted, ExternalID: r.ExternalID})
		if err := apply(fmt.Sprintf("arn:aws:iam::%s:role%s%s", a.ID, path, r.Name), r.Policies, r.ManagedPolicies); err != nil {
			return err
		}
	}
	for _, u := range users {
		path := u.Path
		if path == "" {
			path = "/"
		}
		if err := apply(fmt.Sprintf("arn:aws:iam::%s:user%s%s", a.ID, path, u.Name), u.Policies, u.ManagedPolicies); err != nil {
			return err
		}
	}
	for _, k := range a.KMSKeys {
		region := k.Region
		if region == "" {
			region = sd.Region
		}
		if _, err := sim.CreateKMSKey(a.ID, KMSKeySpec{ID: k.ID, Region: region, Aliases: k.Aliases,
			Policy: string(k.Policy), Description: k.Description}); err != nil {
			return err
		}
	}
	return nil
}

// scnKeySpec turns a scenario key into a KeySpec, measuring ages from now.
func scnKeySpec(k ScenarioKey, now time.Time) KeySpec {
	ks := KeySpec{Created: k.Created, Inactive: k.Status == "Inactive", Service: k.Service, Region: k.Region}
	if ks.Created.IsZero() {
		ks.Created = now.Add(-time.Duration(k.Age))
	}
	if k.LastUsed != nil {
		t := now.Add(-time.Duration(*k.LastUsed))
		ks.LastUsed = &t
	}
	return ks
}
