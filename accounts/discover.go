package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// OrganizationsAPI is the part of AWS Organizations that discovery reads.
// *organizations.Client satisfies it.
type OrganizationsAPI interface {
	DescribeOrganization(ctx context.Context, in *organizations.DescribeOrganizationInput, optFns ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
	ListRoots(ctx context.Context, in *organizations.ListRootsInput, optFns ...func(*organizations.Options)) (*organizations.ListRootsOutput, error)
	ListOrganizationalUnitsForParent(ctx context.Context, in *organizations.ListOrganizationalUnitsForParentInput, optFns ...func(*organizations.Options)) (*organizations.ListOrganizationalUnitsForParentOutput, error)
	ListAccountsForParent(ctx context.Context, in *organizations.ListAccountsForParentInput, optFns ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error)
}

// Target is an account keyrotor will work on.
type Target struct {
	ID    string
	Name  string
	Email string
	// OU is the path of OU names from the root ("Workloads/Prod"); "" for
	// accounts directly under the root or not found through Organizations.
	OU string
	// Source is "organizations" or "config".
	Source string
}

// Skipped is an account that was found but will not be worked on.
type Skipped struct {
	Target
	Reason string
}

// DiscoverOptions selects targets. Package config derives it from
// accounts.yaml; discovery is tested without a file.
type DiscoverOptions struct {
	// UseOrganizations walks the organization; false targets only Explicit.
	UseOrganizations bool
	// IncludeOUs are OU or root IDs whose accounts (recursively) are
	// targeted; empty means the whole organization.
	IncludeOUs []string
	// ExcludeOUs are OU IDs whose accounts (recursively) are skipped.
	ExcludeOUs []string
	// IncludeManagement targets the management account too.
	IncludeManagement bool
	// ExcludeAccounts are never targeted.
	ExcludeAccounts []string
	// Explicit accounts are always targeted (unless excluded), whether or
	// not Organizations lists them.
	Explicit []Target
}

// Discover lists the accounts to work on. Suspended, excluded and (unless
// asked for) management accounts are returned as skipped with the reason,
// so the report accounts for every account it saw. Both lists are sorted
// by account ID.
func Discover(ctx context.Context, api OrganizationsAPI, o DiscoverOptions) ([]Target, []Skipped, error) {
	found := map[string]Target{}
	var skipped []Skipped
	excluded := func(id string) bool { return slices.Contains(o.ExcludeAccounts, id) }

	if o.UseOrganizations {
		org, err := api.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
		if err != nil {
			return nil, nil, fmt.Errorf("describe organization: %w", err)
		}
		mgmt := aws.ToString(org.Organization.MasterAccountId)
		w := walker{api: api, include: o.IncludeOUs, exclude: o.ExcludeOUs, seen: map[string]bool{}}
		roots := organizations.NewListRootsPaginator(api, &organizations.ListRootsInput{})
		for roots.HasMorePages() {
			page, err := roots.NextPage(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("list organization roots: %w", err)
			}
			for _, r := range page.Roots {
				id := aws.ToString(r.Id)
				if err := w.walk(ctx, id, "", len(o.IncludeOUs) == 0 || slices.Contains(o.IncludeOUs, id), false); err != nil {
					return nil, nil, err
				}
			}
		}
		if err := w.unknownOUs(); err != nil {
			return nil, nil, err
		}
		for _, a := range w.accounts {
			t := Target{ID: aws.ToString(a.acct.Id), Name: aws.ToString(a.acct.Name), Email: aws.ToString(a.acct.Email), OU: a.path, Source: "organizations"}
			switch {
			case excluded(t.ID):
				skipped = append(skipped, Skipped{t, "excluded by exclude_accounts"})
			case a.acct.Status == types.AccountStatusSuspended || a.acct.State == types.AccountStateSuspended:
				skipped = append(skipped, Skipped{t, "account is SUSPENDED"})
			case t.ID == mgmt && !o.IncludeManagement:
				skipped = append(skipped, Skipped{t, "management account (organization.include_management_account is false)"})
			default:
				found[t.ID] = t
			}
		}
		for _, ex := range w.excludedAccounts {
			skipped = append(skipped, Skipped{Target{ID: aws.ToString(ex.acct.Id), Name: aws.ToString(ex.acct.Name), OU: ex.path, Source: "organizations"}, "in an excluded OU"})
		}
	}
	for _, t := range o.Explicit {
		if excluded(t.ID) {
			skipped = append(skipped, Skipped{t, "excluded by exclude_accounts"})
			continue
		}
		if prev, ok := found[t.ID]; ok {
			if t.Name != "" {
				prev.Name = t.Name
			}
			found[t.ID] = prev
			continue
		}
		if slices.ContainsFunc(skipped, func(s Skipped) bool { return s.ID == t.ID }) {
			continue
		}
		t.Source = "config"
		found[t.ID] = t
	}
	targets := make([]Target, 0, len(found))
	for _, t := range found {
		targets = append(targets, t)
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].ID < targets[j].ID })
	sort.Slice(skipped, func(i, j int) bool { return skipped[i].ID < skipped[j].ID })
	return targets, skipped, nil
}

// ErrUnknownOU is wrapped by Discover's error when include_ous or
// exclude_ous names an OU or root the organization does not have: a run
// that covers nothing must not read as a clean one, and an exclusion that
// excludes nothing would rotate keys in accounts meant to be left alone.
var ErrUnknownOU = errors.New("not in the organization")

// unknownOUs fails for the include and exclude IDs the walk never reached.
func (w *walker) unknownOUs() error {
	var errs []error
	for _, list := range []struct {
		field string
		ids   []string
	}{{"organization.include_ous", w.include}, {"organization.exclude_ous", w.exclude}} {
		for _, id := range list.ids {
			if !w.seen[id] {
				errs = append(errs, fmt.Errorf("%s: %s is %w (check the ID with aws organizations list-organizational-units-for-parent)", list.field, id, ErrUnknownOU))
			}
		}
	}
	return errors.Join(errs...)
}

type placedAccount struct {
	acct types.Account
	path string
}

// walker visits the OU tree from the roots, so every account gets its full
// OU path even when only some OUs are included.
type walker struct {
	api              OrganizationsAPI
	include, exclude []string
	seen             map[string]bool
	accounts         []placedAccount
	excludedAccounts []placedAccount
}

// walk visits parent and every OU below it. included and excluded carry
// the decision of the nearest listed ancestor down the tree.
func (w *walker) walk(ctx context.Context, parent, path string, included, excluded bool) error {
	if w.seen[parent] {
		return nil
	}
	w.seen[parent] = true
	excluded = excluded || slices.Contains(w.exclude, parent)
	included = included || slices.Contains(w.include, parent)
	ap := organizations.NewListAccountsForParentPaginator(w.api, &organizations.ListAccountsForParentInput{ParentId: aws.String(parent)})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list accounts under %s: %w", parent, err)
		}
		for _, a := range page.Accounts {
			switch {
			case excluded:
				w.excludedAccounts = append(w.excludedAccounts, placedAccount{a, path})
			case included:
				w.accounts = append(w.accounts, placedAccount{a, path})
			}
		}
	}
	op := organizations.NewListOrganizationalUnitsForParentPaginator(w.api, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(parent)})
	for op.HasMorePages() {
		page, err := op.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list OUs under %s: %w", parent, err)
		}
		for _, ou := range page.OrganizationalUnits {
			child := aws.ToString(ou.Name)
			if path != "" {
				child = path + "/" + child
			}
			if err := w.walk(ctx, aws.ToString(ou.Id), child, included, excluded); err != nil {
				return err
			}
		}
	}
	return nil
}
