package awssim

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// KMS, as far as Secrets Manager needs it: customer managed keys with key
// policies, which decide who may decrypt (read) a secret encrypted with
// them. The service answers DescribeKey and GetKeyPolicy (JSON 1.1,
// TrentService), so a tool can check a key before using it.
//
// An account without KMS keys keeps the simulator's older behaviour: any
// KmsKeyId names a key of that account whose policy is the default one
// (the account root, i.e. the identity policies, decides). Once an account
// has a key (CreateKMSKey or a scenario's kms_keys), a KmsKeyId must name
// one of its keys, by ID, ARN, alias name or alias ARN.
func init() {
	registerService(&service{
		name: "kms", proto: protoJSON, targetPfx: "TrentService",
		throttleCode: "ThrottlingException", throttleHTTP: 400,
		deniedCode: "AccessDeniedException", deniedHTTP: 400,
		authCode: "UnrecognizedClientException", authHTTP: 400,
		ops: map[string]opHandler{
			"DescribeKey":  kmsDescribeKey,
			"GetKeyPolicy": kmsGetKeyPolicy,
		},
	})
}

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

// resource describes the key for an authorization check.
func (k *kmsKey) resource() authzResource {
	return authzResource{arn: k.arn, policy: k.policy, keyPolicy: true, account: k.account, tags: k.tags}
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

// ---- the KMS service ----

type kmsKeyInput struct {
	KeyID      string `json:"KeyId"`
	PolicyName string `json:"PolicyName"`
}

func kmsNotFound(id string) error {
	if strings.Contains(id, "alias/") {
		return apiErr(400, "NotFoundException", "Alias %s is not found.", id)
	}
	return apiErr(400, "NotFoundException", "Key '%s' does not exist", id)
}

// kmsRequestKey decodes a request naming one key, finds the key (only real
// keys: implicit ones exist for Secrets Manager's sake alone) and checks
// the caller under the key policy.
func kmsRequestKey(r *Request) (kmsKeyInput, *kmsKey, error) {
	var in kmsKeyInput
	if err := r.DecodeJSON(&in); err != nil {
		return in, nil, err
	}
	if in.KeyID == "" {
		return in, nil, apiErr(400, "ValidationException",
			"1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	k, err := r.Sim.resolveKMSKeyLocked(r.Account, r.Region, in.KeyID)
	if err != nil || k.implicit {
		return in, nil, kmsNotFound(in.KeyID)
	}
	if k.awsManaged {
		// The AWS managed key's policy admits the account's principals;
		// their identity policies decide.
		return in, k, r.Authorize(k.arn)
	}
	return in, k, r.authorizeOn(r.action(), k.resource())
}

type kmsKeyMetadata struct {
	AWSAccountID          string     `json:"AWSAccountId"`
	KeyID                 string     `json:"KeyId"`
	Arn                   string     `json:"Arn"`
	CreationDate          *EpochTime `json:"CreationDate,omitempty"`
	Enabled               bool       `json:"Enabled"`
	Description           string     `json:"Description"`
	KeyUsage              string     `json:"KeyUsage"`
	KeyState              string     `json:"KeyState"`
	Origin                string     `json:"Origin"`
	KeyManager            string     `json:"KeyManager"`
	CustomerMasterKeySpec string     `json:"CustomerMasterKeySpec"`
	KeySpec               string     `json:"KeySpec"`
	EncryptionAlgorithms  []string   `json:"EncryptionAlgorithms"`
	MultiRegion           bool       `json:"MultiRegion"`
}

func kmsDescribeKey(r *Request) (any, error) {
	_, k, err := kmsRequestKey(r)
	if err != nil {
		return nil, err
	}
	md := kmsKeyMetadata{AWSAccountID: k.account, KeyID: k.id, Arn: k.arn, CreationDate: Epoch(k.created),
		Enabled: true, Description: k.description, KeyUsage: "ENCRYPT_DECRYPT", KeyState: "Enabled",
		Origin: "AWS_KMS", KeyManager: "CUSTOMER", CustomerMasterKeySpec: "SYMMETRIC_DEFAULT",
		KeySpec: "SYMMETRIC_DEFAULT", EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"}}
	if k.awsManaged {
		// The AWS managed key: its real ID is an account's secret, so the
		// simulator names it by a stable ID derived from its ARN.
		md.KeyManager = "AWS"
		md.Description = "Default key that protects my Secrets Manager data when no other key is defined"
		md.KeyID = strings.ToLower(stableID(k.arn, 8)) + "-0000-4000-8000-" + strings.ToLower(stableID(k.arn+"/", 12))
		md.Arn = fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", k.region, k.account, md.KeyID)
	}
	return struct {
		KeyMetadata kmsKeyMetadata `json:"KeyMetadata"`
	}{md}, nil
}

func kmsGetKeyPolicy(r *Request) (any, error) {
	in, k, err := kmsRequestKey(r)
	if err != nil {
		return nil, err
	}
	if in.PolicyName != "" && in.PolicyName != "default" {
		return nil, kmsNotFound(in.PolicyName)
	}
	text := k.policyText
	if k.awsManaged {
		text = defaultKeyPolicy(k.account)
	}
	return struct {
		Policy     string `json:"Policy"`
		PolicyName string `json:"PolicyName"`
	}{text, "default"}, nil
}
