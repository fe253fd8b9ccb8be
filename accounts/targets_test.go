package accounts_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"keyrotor/accounts"
)

func TestResolve(t *testing.T) {
	o := newTestOrg(t)
	api := organizations.NewFromConfig(o.cfg())
	whole := accounts.DiscoverOptions{UseOrganizations: true}
	ctx := context.Background()

	all, allSkipped, err := accounts.Resolve(ctx, api, whole, accounts.Selection{})
	if err != nil || len(all) != 5 || len(allSkipped) != 2 {
		t.Fatalf("no selection: %v targets, %v skipped, %v", ids(all), allSkipped, err)
	}

	// --account keeps the listed targets and, asked about them alone,
	// reports no skipped account.
	got, skipped, err := accounts.Resolve(ctx, api, whole, accounts.Selection{Only: []string{"444444444444", "222222222222"}})
	if err != nil || !slices.Equal(ids(got), []string{"222222222222", "444444444444"}) || len(skipped) != 0 {
		t.Errorf("--account: %v, skipped %v, %v", ids(got), skipped, err)
	}
	// An account that is not a target is an error, not an empty run.
	for _, id := range []string{"555555555555", "999999999999"} {
		if _, _, err := accounts.Resolve(ctx, api, whole, accounts.Selection{Only: []string{id}}); !errors.Is(err, accounts.ErrNotTargeted) {
			t.Errorf("--account %s: err = %v, want ErrNotTargeted", id, err)
		}
	}

	// Shards partition the targets and the skipped accounts alike.
	seen, seenSkipped := map[string]int{}, map[string]int{}
	for i := range 3 {
		got, skipped, err := accounts.Resolve(ctx, api, whole, accounts.Selection{Shard: accounts.Shard{Index: i, Count: 3}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range got {
			seen[tg.ID]++
		}
		for _, s := range skipped {
			seenSkipped[s.ID]++
		}
	}
	if len(seen) != len(all) || len(seenSkipped) != len(allSkipped) {
		t.Errorf("shards cover %d targets and %d skipped, want %d and %d", len(seen), len(seenSkipped), len(all), len(allSkipped))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s is in %d shards", id, n)
		}
	}
}
