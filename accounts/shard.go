package accounts

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard selects one of N disjoint slices of the targets, so that very large
// estates can be split across scheduled tasks (`--shard i/n`) whose JSON
// reports `keyrotor report merge` joins. An account's shard depends only on
// its ID, so it stays in the same shard from run to run.
type Shard struct {
	// Index is 0-based and less than Count.
	Index, Count int
}

// ParseShard reads "i/n" (0 <= i < n). The empty string means no sharding.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{Index: 0, Count: 1}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 0 <= i < n, e.g. 0/4", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// Has tells whether accountID belongs to this shard.
func (s Shard) Has(accountID string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(accountID))
	return int(h.Sum32()%uint32(s.Count)) == s.Index
}
