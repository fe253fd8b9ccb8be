package accounts_test

import (
	"fmt"
	"testing"

	"keyrotor/accounts"
)

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    accounts.Shard
		wantErr bool
	}{
		{"", accounts.Shard{Index: 0, Count: 1}, false},
		{"0/4", accounts.Shard{Index: 0, Count: 4}, false},
		{"3/4", accounts.Shard{Index: 3, Count: 4}, false},
		{"4/4", accounts.Shard{}, true},
		{"-1/4", accounts.Shard{}, true},
		{"1/0", accounts.Shard{}, true},
		{"1", accounts.Shard{}, true},
		{"a/b", accounts.Shard{}, true},
	} {
		got, err := accounts.ParseShard(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseShard(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestShardPartitions(t *testing.T) {
	const n = 4
	counts := make([]int, n)
	for a := 0; a < 1000; a++ {
		id := fmt.Sprintf("%012d", 100000000000+a*7919)
		in := 0
		for i := 0; i < n; i++ {
			if (accounts.Shard{Index: i, Count: n}).Has(id) {
				in++
				counts[i]++
			}
		}
		if in != 1 {
			t.Fatalf("account %s is in %d shards, want exactly 1", id, in)
		}
	}
	for i, c := range counts {
		if c < 150 {
			t.Errorf("shard %d has %d of 1000 accounts; the hash spreads badly", i, c)
		}
	}
}
