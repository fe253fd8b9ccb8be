package awssim

import (
	"slices"
	"sort"
	"time"
)

// Inspection: snapshots of the simulated world that tests assert on. They
// copy what they return, so a test never holds the simulator's state.

// KeyInfo is a snapshot of one access key for assertions.
type KeyInfo struct {
	AccountID, User, ID, Status string
	Created                     time.Time
	LastUsed                    *time.Time
	LastService, LastRegion     string
}

// Keys returns a snapshot of every access key of accountID (all accounts
// when accountID is empty), ordered by account, user, creation.
func (s *Sim) Keys(accountID string) []KeyInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []KeyInfo
	ids := make([]string, 0, len(s.accounts))
	for id := range s.accounts {
		if accountID == "" || id == accountID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := s.accounts[id]
		for _, name := range sortedUserNames(a) {
			for _, k := range a.users[name].Keys {
				ki := KeyInfo{AccountID: id, User: name, ID: k.ID, Status: k.Status, Created: k.Created,
					LastService: k.LastService, LastRegion: k.LastRegion}
				if k.LastUsed != nil {
					t := *k.LastUsed
					ki.LastUsed = &t
				}
				out = append(out, ki)
			}
		}
	}
	return out
}

// UserTags returns a copy of a user's tags.
func (s *Sim) UserTags(accountID, userName string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.mustAccount(accountID).users[userName]
	if u == nil {
		return nil
	}
	m := make(map[string]string, len(u.Tags))
	for _, t := range u.Tags {
		m[t.Key] = t.Value
	}
	return m
}

// SecretValue returns the current (AWSCURRENT) string value of a secret.
func (s *Sim) SecretValue(accountID, region, name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.mustAccount(accountID).secrets[region+"\x00"+name]
	if sec == nil || sec.Deleted != nil {
		return "", false
	}
	for _, v := range sec.Versions {
		for _, st := range v.Stages {
			if st == "AWSCURRENT" {
				return v.String, true
			}
		}
	}
	return "", false
}

// IssuedSecrets returns every secret access key the simulator ever issued
// (seeded, CreateAccessKey, AssumeRole), so tests can prove none of them
// leaked into logs, reports or mail.
func (s *Sim) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.creds))
	for _, c := range s.creds {
		out = append(out, c.SecretAccessKey)
	}
	sort.Strings(out)
	return out
}

// CredentialsFor returns the credentials of an existing access key (for
// tests that sign as a user with a key the tool created).
func (s *Sim) CredentialsFor(accessKeyID string) (Credentials, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[accessKeyID]
	if !ok {
		return Credentials{}, false
	}
	return Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, true
}

// Outbox returns a copy of every message SES accepted.
func (s *Sim) Outbox() []Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Email(nil), s.outbox...)
}

func sortedUserNames(a *Account) []string {
	names := make([]string, 0, len(a.users))
	for n := range a.users {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UserNames returns the IAM user names of accountID in alphabetical order.
func (s *Sim) UserNames(accountID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mustAccount(accountID).sortedUsersLocked())
}
