package main

import (
	"path/filepath"
	"slices"
	"testing"

	"keyrotor/internal/awssim"
	"keyrotor/report"
)

// TestShardedAuditMerges splits an audit into two shards and checks that
// merging their reports gives exactly the keys of one unsharded audit.
func TestShardedAuditMerges(t *testing.T) {
	t.Parallel()
	sc := awssim.Generate(awssim.GenOptions{Accounts: 6, UsersPerAccount: 3, Seed: 11})
	h := newHarness(t, sc, "")
	full := filepath.Join(h.dir, "full")
	if res := h.runAt("audit", "--out", full); res.code != ExitOK {
		t.Fatalf("audit exit %d\n%s", res.code, res.stderr)
	}
	var shardFiles []string
	var shardKeys int
	for _, s := range []string{"0/2", "1/2"} {
		dir := filepath.Join(h.dir, "shard-"+s[:1])
		if res := h.runAt("audit", "--shard", s, "--out", dir, "--format", "json"); res.code != ExitOK {
			t.Fatalf("audit --shard %s exit %d\n%s", s, res.code, res.stderr)
		}
		rep := h.latestReport(dir)
		if len(rep.Keys) == 0 {
			t.Errorf("shard %s has no keys: the hash put every account in one shard", s)
		}
		shardKeys += len(rep.Keys)
		m, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		shardFiles = append(shardFiles, m...)
	}
	merged := filepath.Join(h.dir, "merged")
	if res := h.run(append([]string{"report", "merge", "--out", merged}, shardFiles...)...); res.code != ExitOK {
		t.Fatalf("report merge exit %d\n%s", res.code, res.stderr)
	}
	want, got := h.latestReport(full), h.latestReport(merged)
	ids := func(r *report.Report) []string {
		var out []string
		for _, k := range r.Keys {
			out = append(out, k.AccountID+"/"+k.AccessKeyID)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(ids(got), ids(want)) || shardKeys != len(want.Keys) {
		t.Fatalf("merged shards have %d keys (shards %d), unsharded audit %d", len(got.Keys), shardKeys, len(want.Keys))
	}
	if res := h.runAt("audit", "--shard", "2/2"); res.code != ExitUsage {
		t.Errorf("--shard 2/2: exit %d, want %d", res.code, ExitUsage)
	}
}
