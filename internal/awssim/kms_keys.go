package awssim

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// KMS keys as state (the service is kms.go): creating customer managed
// keys and changing their policies, and resolving the KmsKeyId a Secrets
// Manager call names. An account without KMS keys keeps the simulator's
// older behaviour: any KmsKeyId names a key of that account whose policy
// is the default one (the account root, i.e. the identity policies,
// decides). Once an account has a key (CreateKMSKey or a scenario's
// kms_keys), a KmsKeyId must name one of its keys, by ID, ARN, alias name
// or alias ARN.

// KMSKeySpec describes a KMS key to create.
type KMSKeySpec struct {
	// Region is the key's region (default us-east-1).
	Region string
	// ID is the key ID (default a generated UUID).
	ID string
	// Aliases name the key, like "alias/keyrotor" (the prefix is added when
	// missing).
	Aliases []string
	// Policy is the key policy; empty means KMS's default, which lets the
	// account's identity policies decide.
	Policy string
	// Description is DescribeKey's description.
	Description string
	// Tags are the key's tags (aws:ResourceTag/KEY).
	Tags map[string]string
}

// defaultKeyPolicy is KMS's default key policy: the account principal may
// do anything, which delegates every decision to identity policies.
func defaultKeyPolicy(account string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",`+
		`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"}]}`, account)
}

var (
	kmsKeyIDRe = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	kmsAliasRe = regexp.MustCompile(`^alias/[A-Za-z0-9/_-]{1,250}$`)
)

// parseKeyPolicy validates a key policy as KMS does (a resource policy).
func parseKeyPolicy(text string) (*policy, error) {
	p, err := parsePolicy(text, resourcePolicyKind)
	if err != nil {
		return nil, fmt.Errorf("MalformedPolicyDocumentException: %w", err)
	}
	return p, nil
}

// CreateKMSKey creates a customer managed KMS key in accountID and returns
// its ARN. From then on the account's KmsKeyIds must name its keys.
func (s *Sim) CreateKMSKey(accountID string, spec KMSKeySpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountID]
	if a == nil {
		return "", fmt.Errorf("awssim: no account %s", accountID)
	}
	if spec.Region == "" {
		spec.Region = DefaultRegion
	}
	if spec.ID == "" {
		spec.ID = s.randUUID()
	}
	if !kmsKeyIDRe.MatchString(spec.ID) {
		return "", fmt.Errorf("awssim: %q is not a KMS key ID", spec.ID)
	}
	if spec.Policy == "" {
		spec.Policy = defaultKeyPolicy(accountID)
	}
	doc, err := parseKeyPolicy(spec.Policy)
	if err != nil {
		return "", fmt.Errorf("awssim: key policy of %s: %w", spec.ID, err)
	}
	x := s.iamExtLocked(a)
	k := &kmsKey{id: spec.ID, region: spec.Region, account: accountID,
		arn:        fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", spec.Region, accountID, spec.ID),
		policyText: spec.Policy, policy: doc, description: spec.Description, created: s.clock.Now()}
	for _, al := range spec.Aliases {
		if !strings.HasPrefix(al, "alias/") {
			al = "alias/" + al
		}
		if !kmsAliasRe.MatchString(al) || strings.HasPrefix(al, "alias/aws/") {
			return "", fmt.Errorf("awssim: %q is not an alias you can create (alias/NAME, not under alias/aws/)", al)
		}
		if other := x.kmsKeyLocked(spec.Region, al); other != nil {
			return "", fmt.Errorf("awssim: AlreadyExistsException: alias %s already names key %s", al, other.id)
		}
		k.aliases = append(k.aliases, al)
	}
	if x.kmsKeyLocked(spec.Region, spec.ID) != nil {
		return "", fmt.Errorf("awssim: AlreadyExistsException: key %s already exists in %s", spec.ID, accountID)
	}
	keys := make([]string, 0, len(spec.Tags))
	for t := range spec.Tags {
		keys = append(keys, t)
	}
	slices.Sort(keys)
	for _, t := range keys {
		k.tags = append(k.tags, Tag{Key: t, Value: spec.Tags[t]})
	}
	x.kms = append(x.kms, k)
	return k.arn, nil
}

// SetKMSKeyPolicy replaces a key's policy (PutKeyPolicy).
func (s *Sim) SetKMSKeyPolicy(keyARN, policyText string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if a.iamx == nil {
			continue
		}
		for _, k := range a.iamx.kms {
			if k.arn == keyARN {
				doc, err := parseKeyPolicy(policyText)
				if err != nil {
					return fmt.Errorf("awssim: key policy of %s: %w", keyARN, err)
				}
				k.policyText, k.policy = policyText, doc
				return nil
			}
		}
	}
	return fmt.Errorf("awssim: NotFoundException: no KMS key %s", keyARN)
}

// kmsKeyLocked finds a key of the account by ID, ARN, alias or alias ARN
// in region.
func (x *accountIAM) kmsKeyLocked(region, id string) *kmsKey {
	if x == nil {
		return nil
	}
	for _, k := range x.kms {
		if k.region != region {
			continue
		}
		if k.id == id || k.arn == id || slices.Contains(k.aliases, id) {
			return k
		}
	}
	return nil
}

// errKMSKeyNotFound is the resolution failure; callers turn it into their
// service's error.
type errKMSKeyNotFound struct{ id string }

func (e errKMSKeyNotFound) Error() string { return "KMS key " + e.id + " does not exist" }

// resolveKMSKeyLocked resolves a KmsKeyId given in region by a caller of
// account: a key ID, key ARN, alias name or alias ARN, possibly of another
// account.
func (s *Sim) resolveKMSKeyLocked(caller *Account, region, keyID string) (*kmsKey, error) {
	acct, id := caller.ID, keyID
	if strings.HasPrefix(keyID, "arn:") {
		f := strings.SplitN(keyID, ":", 6)
		if len(f) != 6 || f[2] != "kms" || !accountIDRe.MatchString(f[4]) {
			return nil, errKMSKeyNotFound{keyID}
		}
		region, acct = f[3], f[4]
		id = f[5]
		if strings.HasPrefix(id, "key/") {
			id = keyID // keys match by ARN
		}
	}
	if id == "" || id == "alias/aws/secretsmanager" {
		return &kmsKey{awsManaged: true, account: acct, region: region, id: "aws/secretsmanager",
			arn: fmt.Sprintf("arn:aws:kms:%s:%s:alias/aws/secretsmanager", region, acct)}, nil
	}
	a := s.accounts[acct]
	var x *accountIAM
	if a != nil {
		x = a.iamx
	}
	if k := x.kmsKeyLocked(region, id); k != nil {
		return k, nil
	}
	if x != nil && len(x.kms) > 0 {
		return nil, errKMSKeyNotFound{keyID}
	}
	// An account without keys: the ID stands for a key of its name, with
	// the default policy.
	name := strings.TrimPrefix(strings.TrimPrefix(id, "alias/"), "arn:aws:kms:"+region+":"+acct+":key/")
	doc, _ := parseKeyPolicy(defaultKeyPolicy(acct))
	return &kmsKey{id: name, account: acct, region: region, implicit: true, policy: doc,
		policyText: defaultKeyPolicy(acct),
		arn:        fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, acct, name)}, nil
}
