package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/organizations"
)

var _ OrganizationsAPI = (*organizations.Client)(nil)

// ErrNotTargeted is returned by Resolve when an account asked for by ID is
// not among the targets (a typo, an excluded or a suspended account).
var ErrNotTargeted = errors.New("not among the target accounts")

// Selection narrows the discovered targets of one run.
type Selection struct {
	// Only keeps these account IDs (empty: all). Each must be a target.
	Only []string
	// Shard keeps the accounts of one shard (the zero Shard keeps all).
	Shard Shard
}

// Resolve discovers the accounts (see Discover) and applies sel: the
// targets and the skipped accounts of this run, both in shard. With Only
// set, the skipped accounts are left out: the run was asked about the
// listed accounts alone.
func Resolve(ctx context.Context, api OrganizationsAPI, o DiscoverOptions, sel Selection) ([]Target, []Skipped, error) {
	found, skipped, err := Discover(ctx, api, o)
	if err != nil {
		return nil, nil, fmt.Errorf("discover accounts: %w", err)
	}
	for _, id := range sel.Only {
		if !slices.ContainsFunc(found, func(t Target) bool { return t.ID == id }) {
			return nil, nil, fmt.Errorf("account %s: %w (%d targets)", id, ErrNotTargeted, len(found))
		}
	}
	keep := func(id string) bool {
		return sel.Shard.Has(id) && (len(sel.Only) == 0 || slices.Contains(sel.Only, id))
	}
	found = slices.DeleteFunc(found, func(t Target) bool { return !keep(t.ID) })
	if len(sel.Only) > 0 {
		skipped = nil
	}
	skipped = slices.DeleteFunc(skipped, func(s Skipped) bool { return !sel.Shard.Has(s.ID) })
	return found, skipped, nil
}
