package pace

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Key names one limiter: an account's calls to one service in one region.
type Key struct {
	Account, Service, Region string
}

// Set hands out one limiter per Key, made on first use with the options of
// its service, so every client of an account shares its account's pace
// whichever goroutine makes the call.
type Set struct {
	byService map[string]Options
	def       Options

	mu sync.Mutex
	m  map[Key]*Limiter
}

// NewSet returns a set whose limiters take byService[serviceID] (the SDK's
// service IDs: "IAM", "STS", "Organizations", "Secrets Manager",
// "CloudTrail", "SESv2", ...), or def for a service not listed. A service
// whose options have Rate 0 is not paced.
func NewSet(byService map[string]Options, def Options) *Set {
	return &Set{byService: maps.Clone(byService), def: def, m: map[Key]*Limiter{}}
}

// For returns the picker of one account's limiters, for APIOption.
func (s *Set) For(account string) For {
	return func(serviceID, region string) *Limiter { return s.Limiter(Key{account, serviceID, region}) }
}

// Limiter returns k's limiter, made on first use; nil when k's service is
// not paced.
func (s *Set) Limiter(k Key) *Limiter {
	o, ok := s.byService[k.Service]
	if !ok {
		o = s.def
	}
	if o.Rate == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.m[k]
	if l == nil {
		l = New(o)
		s.m[k] = l
	}
	return l
}

// Stats returns every limiter's figures, by key in a stable order.
func (s *Set) Stats() []KeyStats {
	s.mu.Lock()
	keys := slices.SortedFunc(maps.Keys(s.m), func(a, b Key) int {
		return cmp.Or(strings.Compare(a.Account, b.Account), strings.Compare(a.Service, b.Service), strings.Compare(a.Region, b.Region))
	})
	ls := make([]*Limiter, len(keys))
	for i, k := range keys {
		ls[i] = s.m[k]
	}
	s.mu.Unlock()
	out := make([]KeyStats, len(keys))
	for i, k := range keys {
		out[i] = KeyStats{Key: k, Stats: ls[i].Stats()}
	}
	return out
}

// KeyStats is one limiter's figures.
type KeyStats struct {
	Key
	Stats
}
