package awssim

import (
	"fmt"
	"slices"
)

// AddRootAccessKey gives the account's root user an access key (at most
// two, as AWS allows) and returns its credentials. Unlike RootCredentials,
// which hands out scaffolding keys for tests and demos, these keys are the
// root user's own: the credential report's <root_account> row shows them
// (active or not, created, last used), an inactive one is refused, and
// every signed request records its use. They belong to no IAM user, so no
// user call lists them.
func (s *Sim) AddRootAccessKey(accountID string, spec KeySpec) Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(accountID)
	x := s.iamExtLocked(a)
	if x.root == nil {
		x.root = &User{Name: "<root_account>", ID: a.ID, Path: "/", ARN: rootARN(a.ID), Created: a.JoinedAt}
	}
	if len(x.root.Keys) >= maxKeysPerUser {
		panic(fmt.Sprintf("awssim: the root user of %s already has %d access keys", accountID, maxKeysPerUser))
	}
	if spec.Created.IsZero() {
		spec.Created = s.clock.Now()
	}
	k, c := s.newAccessKeyLocked(a, x.root, spec.Created)
	c.Kind = CredRoot
	if spec.Inactive {
		k.Status = "Inactive"
	}
	if spec.LastUsed != nil {
		t := spec.LastUsed.UTC()
		k.LastUsed = &t
		k.LastService, k.LastRegion = spec.Service, spec.Region
		if k.LastService == "" {
			k.LastService = "s3"
		}
		if k.LastRegion == "" {
			k.LastRegion = DefaultRegion
		}
	}
	return Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
}

// RootKeys returns a snapshot of the root user's access keys (those of
// AddRootAccessKey and scenarios' root_keys), oldest first. User is
// "<root_account>", as the credential report names the root.
func (s *Sim) RootKeys(accountID string) []KeyInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(accountID)
	if a.iamx == nil || a.iamx.root == nil {
		return nil
	}
	var out []KeyInfo
	for _, k := range a.iamx.root.Keys {
		ki := KeyInfo{AccountID: accountID, User: a.iamx.root.Name, ID: k.ID, Status: k.Status, Created: k.Created,
			LastService: k.LastService, LastRegion: k.LastRegion}
		if k.LastUsed != nil {
			t := *k.LastUsed
			ki.LastUsed = &t
		}
		out = append(out, ki)
	}
	slices.SortStableFunc(out, func(x, y KeyInfo) int { return x.Created.Compare(y.Created) })
	return out
}
