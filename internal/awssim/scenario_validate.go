package awssim

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"
)

// What makes a scenario valid: every value and cross-reference is checked,
// and each error carries the YAML path of its field, which ParseScenario
// turns into file:line and Build into the field's name.

// scnFieldError is an invalid value, located by its YAML path ("$.accounts[2].ou").
type scnFieldError struct {
	path, msg string
}

// scnFormatErrors reports every error with its line, found by walking up the
// path until a node exists (a missing field is reported at its parent).
func scnFormatErrors(file string, errs []scnFieldError, lines map[string]int) error {
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		line := 0
		for p := e.path; p != "" && line == 0; p = scnParentPath(p) {
			line = lines[p]
		}
		name := strings.TrimPrefix(strings.TrimPrefix(e.path, "$"), ".")
		switch {
		case file == "" && name == "":
			out = append(out, errors.New(e.msg))
		case file == "":
			out = append(out, fmt.Errorf("%s: %s", name, e.msg))
		case line == 0 && name == "":
			out = append(out, fmt.Errorf("%s: %s", file, e.msg))
		case line == 0:
			out = append(out, fmt.Errorf("%s: %s: %s", file, name, e.msg))
		case name == "":
			out = append(out, fmt.Errorf("%s:%d: %s", file, line, e.msg))
		default:
			out = append(out, fmt.Errorf("%s:%d: %s: %s", file, line, name, e.msg))
		}
	}
	return errors.Join(out...)
}

func scnParentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

var (
	scnAccountIDRe  = regexp.MustCompile(`^\d{12}$`)
	scnIAMNameRe    = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	scnGroupNameRe  = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	scnIAMPathRe    = regexp.MustCompile(`^/([\x21-\x7e]{0,510}/)?$`)
	scnExternalIDRe = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	scnRegionRe     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
)

// scnMaxFillUsers bounds a generate section, so a typo cannot exhaust memory.
const scnMaxFillUsers = 100000

type scnValidator struct {
	errs []scnFieldError
	now  time.Time
}

func (v *scnValidator) add(path, format string, args ...any) {
	v.errs = append(v.errs, scnFieldError{path, fmt.Sprintf(format, args...)})
}

// validate checks every value and cross-reference, returning the errors
// with their YAML paths.
func (sc *Scenario) validate() []scnFieldError {
	v := &scnValidator{now: sc.Now}
	if sc.PageSize < 0 || sc.PageSize > 1000 {
		v.add("$.page_size", "must be between 1 and 1000 (0 for the default 100), got %d", sc.PageSize)
	}
	ous := map[string]bool{"": true}
	v.ous("$.ous", "", sc.OUs, ous)

	r := sc.Role
	if r.Name != "" && !scnIAMNameRe.MatchString(r.Name) {
		v.add("$.role.name", "%q is not a valid IAM role name", r.Name)
	}
	if r.Path != "" && !scnIAMPathRe.MatchString(r.Path) {
		v.add("$.role.path", "%q is not a valid IAM path: it must start and end with /", r.Path)
	}
	if r.ExternalID != "" && (len(r.ExternalID) < 2 || len(r.ExternalID) > 1224 || !scnExternalIDRe.MatchString(r.ExternalID)) {
		v.add("$.role.external_id", "%q is not a valid external ID (2-1224 characters of [\\w+=,.@:/-])", r.ExternalID)
	}
	if sc.SES.Region != "" && !scnRegionRe.MatchString(sc.SES.Region) {
		v.add("$.ses.region", "%q is not a region like us-east-1", sc.SES.Region)
	}
	for i, id := range sc.SES.Verified {
		if strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t\n") {
			v.add(fmt.Sprintf("$.ses.verified[%d]", i), "%q is not an email address or domain", id)
		}
	}

	ids := map[string]string{}
	mgmt, sec := &sc.Organization.ManagementAccount, &sc.Organization.SecurityAccount
	v.account("$.organization.management_account", mgmt, ous, ids)
	if mgmt.OU != "" {
		v.add("$.organization.management_account.ou", "the management account always sits at the root")
	}
	if mgmt.Status != "" && mgmt.Status != StatusActive {
		v.add("$.organization.management_account.status", "the management account must be ACTIVE")
	}
	v.account("$.organization.security_account", sec, ous, ids)
	if sec.Status != "" && sec.Status != StatusActive {
		v.add("$.organization.security_account.status", "the security account must be ACTIVE")
	}
	for i := range sc.Accounts {
		v.account(fmt.Sprintf("$.accounts[%d]", i), &sc.Accounts[i], ous, ids)
	}
	roleName := sc.Role.Name
	if roleName == "" {
		roleName = DefaultRoleName
	}
	v.identityPolicies("$.role", sc.Role.Policies, sc.Role.ManagedPolicies, nil)
	v.accountSecurity("$.organization.management_account", mgmt, roleName)
	v.accountSecurity("$.organization.security_account", sec, roleName)
	for i := range sc.Accounts {
		v.accountSecurity(fmt.Sprintf("$.accounts[%d]", i), &sc.Accounts[i], roleName)
	}
	return v.errs
}

func (v *scnValidator) ous(path, prefix string, list []ScenarioOU, seen map[string]bool) {
	for i, ou := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		full := ou.Name
		if prefix != "" {
			full = prefix + "/" + ou.Name
		}
		switch {
		case strings.TrimSpace(ou.Name) == "":
			v.add(p+".name", "an OU needs a name")
			continue
		case strings.Contains(ou.Name, "/") || len(ou.Name) > 128:
			v.add(p+".name", "%q is not a valid OU name (at most 128 characters, no /)", ou.Name)
			continue
		case seen[full]:
			v.add(p+".name", "OU %q is defined twice", full)
			continue
		}
		seen[full] = true
		v.ous(p+".children", full, ou.Children, seen)
	}
}

func (v *scnValidator) account(path string, a *ScenarioAccount, ous map[string]bool, ids map[string]string) {
	switch {
	case a.ID == "":
		v.add(path+".id", "an account needs an id")
	case !scnAccountIDRe.MatchString(a.ID):
		v.add(path+".id", "%q is not a 12-digit account ID", a.ID)
	case ids[a.ID] != "":
		v.add(path+".id", "account %s is already defined at %s", a.ID, strings.TrimPrefix(ids[a.ID], "$."))
	default:
		ids[a.ID] = path
	}
	if strings.TrimSpace(a.Name) == "" {
		v.add(path+".name", "an account needs a name")
	}
	if a.Email != "" && !strings.Contains(a.Email, "@") {
		v.add(path+".email", "%q is not an email address", a.Email)
	}
	if !ous[a.OU] {
		v.add(path+".ou", "no OU %q is defined under ous (write the path of names, like Workloads/Prod)", a.OU)
	}
	switch a.Status {
	case "", StatusActive, StatusSuspended:
	default:
		v.add(path+".status", "status must be ACTIVE or SUSPENDED, got %q", a.Status)
	}
	switch a.Role {
	case "", RoleOK, RoleMissing, RoleWrongTrust:
	default:
		v.add(path+".role", "role must be ok, missing or wrong_trust, got %q", a.Role)
	}
	for i, g := range a.Groups {
		if !scnGroupNameRe.MatchString(g) {
			v.add(fmt.Sprintf("%s.groups[%d]", path, i), "%q is not a valid IAM group name", g)
		}
	}
	switch a.SecurityHub {
	case "", SecurityHubEnabled, SecurityHubDisabled:
	default:
		v.add(path+".security_hub", "security_hub must be enabled or disabled, got %q", a.SecurityHub)
	}
	if f := a.Generate; f != nil && (f.Users < 0 || f.Users > scnMaxFillUsers) {
		v.add(path+".generate.users", "must be between 0 and %d, got %d", scnMaxFillUsers, f.Users)
	}
	names := map[string]bool{}
	for i := range a.Users {
		v.user(fmt.Sprintf("%s.users[%d]", path, i), &a.Users[i], names)
	}
}

func (v *scnValidator) user(path string, u *ScenarioUser, names map[string]bool) {
	switch {
	case !scnIAMNameRe.MatchString(u.Name):
		v.add(path+".name", "%q is not a valid IAM user name", u.Name)
	case names[u.Name]:
		v.add(path+".name", "user %q is defined twice in this account", u.Name)
	default:
		names[u.Name] = true
	}
	if u.Path != "" && !scnIAMPathRe.MatchString(u.Path) {
		v.add(path+".path", "%q is not a valid IAM path: it must start and end with /", u.Path)
	}
	if len(u.Tags) > 50 {
		v.add(path+".tags", "IAM allows at most 50 tags, got %d", len(u.Tags))
	}
	for k, val := range u.Tags {
		if k == "" || len(k) > 128 || len(val) > 256 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			v.add(path+".tags", "tag %q is invalid (key 1-128 characters not starting with aws:, value at most 256)", k)
		}
	}
	for i, g := range u.Groups {
		if !scnGroupNameRe.MatchString(g) {
			v.add(fmt.Sprintf("%s.groups[%d]", path, i), "%q is not a valid IAM group name", g)
		}
	}
	if len(u.Keys) > 2 {
		v.add(path+".keys", "IAM allows at most two access keys per user, got %d", len(u.Keys))
	}
	for i := range u.Keys {
		v.key(fmt.Sprintf("%s.keys[%d]", path, i), &u.Keys[i])
	}
}

func (v *scnValidator) key(path string, k *ScenarioKey) {
	switch {
	case k.Age == scnNeverUsed:
		v.add(path+".age", `"never" is only for last_used; give the key's age, like 120d`)
	case k.Age < 0:
		v.add(path+".age", "age must not be negative")
	}
	age := k.Age
	if !k.Created.IsZero() {
		if k.Age != 0 {
			v.add(path+".created", "give either age or created, not both")
		}
		if !v.now.IsZero() {
			if k.Created.After(v.now) {
				v.add(path+".created", "%s is after the scenario's now (%s)", ISO(k.Created), ISO(v.now))
			}
			age = Duration(v.now.Sub(k.Created))
		}
	}
	switch k.Status {
	case "", "Active", "Inactive":
	default:
		v.add(path+".status", "status must be Active or Inactive, got %q", k.Status)
	}
	if k.LastUsed != nil {
		switch {
		case *k.LastUsed < 0:
			v.add(path+".last_used", "last_used must not be negative")
		case *k.LastUsed > age && (k.Created.IsZero() || !v.now.IsZero()):
			v.add(path+".last_used", "the key was last used %s ago but created only %s ago", *k.LastUsed, age)
		}
	}
	if k.Region != "" && !scnRegionRe.MatchString(k.Region) {
		v.add(path+".region", "%q is not a region like eu-west-1", k.Region)
	}
	for i := range k.Usage {
		v.usage(fmt.Sprintf("%s.usage[%d]", path, i), &k.Usage[i], k, age)
	}
}

var (
	scnServiceRe   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	scnEventNameRe = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,127}$`)
)

// usage checks one usage entry of key k, whose age is age.
func (v *scnValidator) usage(path string, u *ScenarioUsage, k *ScenarioKey, age Duration) {
	if net.ParseIP(u.SourceIP) == nil {
		v.add(path+".source_ip", "%q is not an IP address", u.SourceIP)
	}
	if strings.TrimSpace(u.UserAgent) == "" || len(u.UserAgent) > 1024 {
		v.add(path+".user_agent", "a user agent of 1 to 1024 characters is needed")
	}
	if !scnServiceRe.MatchString(u.Service) {
		v.add(path+".service", "%q is not a service name like s3 or sts", u.Service)
	}
	if !scnEventNameRe.MatchString(u.Event) {
		v.add(path+".event", "%q is not an operation name like ListBuckets", u.Event)
	}
	if u.Region != "" && !scnRegionRe.MatchString(u.Region) {
		v.add(path+".region", "%q is not a region like eu-west-1", u.Region)
	}
	if u.Events < 1 || u.Events > scnMaxUsageEvents {
		v.add(path+".events", "must be between 1 and %d, got %d", scnMaxUsageEvents, u.Events)
	}
	if u.Over < 0 || u.Over == scnNeverUsed {
		v.add(path+".over", "over must be a span like 30d")
	}
	last := k.LastUsed
	if u.Last != nil {
		last = u.Last
		if *u.Last < 0 || *u.Last == scnNeverUsed {
			v.add(path+".last", "last must be a span like 2h")
			return
		}
	}
	switch {
	case last == nil:
		v.add(path, "the key was never used (no last_used), so it cannot have usage")
	case k.LastUsed != nil && *last < *k.LastUsed:
		v.add(path+".last", "the newest call (%s ago) would be after the key's last_used (%s ago)", *last, *k.LastUsed)
	case (k.Created.IsZero() || !v.now.IsZero()) && *last+u.Over > age:
		v.add(path+".over", "the oldest call (%s ago) would be before the key was created (%s ago)", *last+u.Over, age)
	}
}

// ---- security fields ----

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
