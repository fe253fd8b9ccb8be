package awssim_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
)

const mgmtID = "111111111111"

// orgTree is a seeded organization:
//
//	root: mgmt, 200000000001
//	  prod: 200000000002, 200000000003 (suspended)
//	    prod-eu: 200000000004
//	  dev: 200000000005
//
// plus the standalone 900000000001.
type orgTree struct {
	sim                 *awssim.Sim
	url                 string
	root, prod, eu, dev string
}

func newOrgTree(t *testing.T, opts ...awssim.Option) orgTree {
	t.Helper()
	sim := awssim.New(opts...)
	sim.CreateOrganization(mgmtID, "management", "mgmt@example.com")
	root := sim.Org().RootID
	prod := sim.AddOU(root, "prod")
	eu := sim.AddOU(prod, "prod-eu")
	dev := sim.AddOU(root, "dev")
	sim.AddAccount(awssim.AccountSpec{ID: "200000000001", Name: "shared"})
	sim.AddAccount(awssim.AccountSpec{ID: "200000000002", Name: "prod-a", ParentID: prod})
	sim.AddAccount(awssim.AccountSpec{ID: "200000000003", Name: "prod-b", ParentID: prod, Status: awssim.StatusSuspended})
	sim.AddAccount(awssim.AccountSpec{ID: "200000000004", Name: "prod-eu", ParentID: eu})
	sim.AddAccount(awssim.AccountSpec{ID: "200000000005", Name: "dev", ParentID: dev})
	sim.AddStandaloneAccount("900000000001", "outsider")
	return orgTree{sim: sim, url: newTestServer(t, sim), root: root, prod: prod, eu: eu, dev: dev}
}

func (o orgTree) client(accountID string) *organizations.Client {
	return organizations.NewFromConfig(cfgFor(o.url, o.sim.RootCredentials(accountID)))
}

func TestOrganizationsListAccountsPaginates(t *testing.T) {
	sim := awssim.New(awssim.WithPageSize(3))
	sim.CreateOrganization(mgmtID, "management", "mgmt@example.com")
	want := []string{mgmtID}
	for i := 9; i >= 1; i-- { // added out of order: the listing sorts
		id := fmt.Sprintf("3000000000%02d", i)
		sim.AddAccount(awssim.AccountSpec{ID: id, Name: "acct" + id})
		want = append(want, id)
	}
	sort.Strings(want)
	sim.AddStandaloneAccount("900000000001", "outsider")
	sim.SetAccountStatus("300000000004", awssim.StatusSuspended)
	url := newTestServer(t, sim)
	client := organizations.NewFromConfig(cfgFor(url, sim.RootCredentials(mgmtID)))
	ctx := context.Background()

	var got []types.Account
	p := organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		if len(out.Accounts) > 3 {
			t.Fatalf("page %d has %d accounts, page size is 3", pages+1, len(out.Accounts))
		}
		pages++
		got = append(got, out.Accounts...)
	}
	if pages != 4 {
		t.Errorf("pages = %d, want 4", pages)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, aws.ToString(a.Id))
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	org := sim.Org()
	for _, a := range got {
		id := aws.ToString(a.Id)
		if wantARN := fmt.Sprintf("arn:aws:organizations::%s:account/%s/%s", mgmtID, org.ID, id); aws.ToString(a.Arn) != wantARN {
			t.Errorf("%s arn = %s, want %s", id, aws.ToString(a.Arn), wantARN)
		}
		if a.JoinedTimestamp == nil || !a.JoinedTimestamp.Equal(sim.Now()) {
			t.Errorf("%s joined = %v, want %v", id, a.JoinedTimestamp, sim.Now())
		}
		wantStatus := types.AccountStatusActive
		if id == "300000000004" {
			wantStatus = types.AccountStatusSuspended
		}
		if a.Status != wantStatus || string(a.State) != string(wantStatus) {
			t.Errorf("%s status/state = %s/%s, want %s", id, a.Status, a.State, wantStatus)
		}
		if id == mgmtID {
			if aws.ToString(a.Email) != "mgmt@example.com" || aws.ToString(a.Name) != "management" || a.JoinedMethod != types.AccountJoinedMethodInvited {
				t.Errorf("management account = %+v", a)
			}
		} else if a.JoinedMethod != types.AccountJoinedMethodCreated || aws.ToString(a.Email) == "" {
			t.Errorf("%s joined method %s email %q", id, a.JoinedMethod, aws.ToString(a.Email))
		}
	}

	// A smaller MaxResults wins over the default page size.
	out, err := client.ListAccounts(ctx, &organizations.ListAccountsInput{MaxResults: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Accounts) != 2 || out.NextToken == nil {
		t.Fatalf("MaxResults 2: %d accounts, next %v", len(out.Accounts), out.NextToken)
	}
	_, err = client.ListAccounts(ctx, &organizations.ListAccountsInput{NextToken: aws.String("bogus")})
	var bad *types.InvalidInputException
	if !errors.As(err, &bad) {
		t.Fatalf("bad token: err = %v, want InvalidInputException", err)
	}
}

// accountsUnder walks the tree below parent the way a discovery would:
// ListOrganizationalUnitsForParent recursively, ListAccountsForParent at
// every level.
func accountsUnder(ctx context.Context, t *testing.T, c *organizations.Client, parent string) []string {
	t.Helper()
	var ids []string
	ap := organizations.NewListAccountsForParentPaginator(c, &organizations.ListAccountsForParentInput{ParentId: aws.String(parent)})
	for ap.HasMorePages() {
		out, err := ap.NextPage(ctx)
		if err != nil {
			t.Fatalf("accounts for %s: %v", parent, err)
		}
		for _, a := range out.Accounts {
			ids = append(ids, aws.ToString(a.Id))
		}
	}
	op := organizations.NewListOrganizationalUnitsForParentPaginator(c, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(parent)})
	for op.HasMorePages() {
		out, err := op.NextPage(ctx)
		if err != nil {
			t.Fatalf("OUs for %s: %v", parent, err)
		}
		for _, ou := range out.OrganizationalUnits {
			ids = append(ids, accountsUnder(ctx, t, c, aws.ToString(ou.Id))...)
		}
	}
	return ids
}

// childrenUnder does the same walk with ListChildren.
func childrenUnder(ctx context.Context, t *testing.T, c *organizations.Client, parent string) []string {
	t.Helper()
	var ids []string
	for _, typ := range []types.ChildType{types.ChildTypeAccount, types.ChildTypeOrganizationalUnit} {
		p := organizations.NewListChildrenPaginator(c, &organizations.ListChildrenInput{ParentId: aws.String(parent), ChildType: typ})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("children %s of %s: %v", typ, parent, err)
			}
			for _, ch := range out.Children {
				if ch.Type != typ {
					t.Fatalf("child %s type %s, asked for %s", aws.ToString(ch.Id), ch.Type, typ)
				}
				if typ == types.ChildTypeAccount {
					ids = append(ids, aws.ToString(ch.Id))
				} else {
					ids = append(ids, childrenUnder(ctx, t, c, aws.ToString(ch.Id))...)
				}
			}
		}
	}
	return ids
}

func TestOrganizationsTreeRecursion(t *testing.T) {
	o := newOrgTree(t, awssim.WithPageSize(1))
	c := o.client(mgmtID)
	ctx := context.Background()

	roots, err := c.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(roots.Roots) != 1 || aws.ToString(roots.Roots[0].Id) != o.root || aws.ToString(roots.Roots[0].Name) != "Root" {
		t.Fatalf("roots = %+v", roots.Roots)
	}
	tests := []struct {
		name   string
		parent string
		want   []string
	}{
		{"root", o.root, []string{mgmtID, "200000000001", "200000000002", "200000000003", "200000000004", "200000000005"}},
		{"prod", o.prod, []string{"200000000002", "200000000003", "200000000004"}},
		{"prod-eu", o.eu, []string{"200000000004"}},
		{"dev", o.dev, []string{"200000000005"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for walk, got := range map[string][]string{
				"ListOUs+ListAccountsForParent": accountsUnder(ctx, t, c, tt.parent),
				"ListChildren":                  childrenUnder(ctx, t, c, tt.parent),
			} {
				sort.Strings(got)
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s: got %v, want %v", walk, got, tt.want)
				}
			}
		})
	}

	ous, err := c.ListOrganizationalUnitsForParent(ctx, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(o.prod)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ous.OrganizationalUnits) != 1 || aws.ToString(ous.OrganizationalUnits[0].Name) != "prod-eu" ||
		aws.ToString(ous.OrganizationalUnits[0].Arn) != fmt.Sprintf("arn:aws:organizations::%s:ou/%s/%s", mgmtID, o.sim.Org().ID, o.eu) {
		t.Fatalf("OUs under prod = %+v", ous.OrganizationalUnits)
	}

	_, err = c.ListAccountsForParent(ctx, &organizations.ListAccountsForParentInput{ParentId: aws.String("ou-zzzz-00000000")})
	var pnf *types.ParentNotFoundException
	if !errors.As(err, &pnf) {
		t.Fatalf("unknown parent: err = %v, want ParentNotFoundException", err)
	}
	_, err = c.ListChildren(ctx, &organizations.ListChildrenInput{ParentId: aws.String(o.root), ChildType: "POLICY"})
	var bad *types.InvalidInputException
	if !errors.As(err, &bad) {
		t.Fatalf("bad child type: err = %v, want InvalidInputException", err)
	}
	// A token is bound to the listing that issued it.
	first, err := c.ListChildren(ctx, &organizations.ListChildrenInput{ParentId: aws.String(o.root), ChildType: types.ChildTypeAccount})
	if err != nil || first.NextToken == nil {
		t.Fatalf("first page: %v, next %v", err, first)
	}
	_, err = c.ListAccountsForParent(ctx, &organizations.ListAccountsForParentInput{ParentId: aws.String(o.root), NextToken: first.NextToken})
	if !errors.As(err, &bad) {
		t.Fatalf("foreign token: err = %v, want InvalidInputException", err)
	}
}

func TestOrganizationsAccessControl(t *testing.T) {
	o := newOrgTree(t)
	o.sim.AddDelegatedAdmin("200000000005")
	ctx := context.Background()

	tests := []struct {
		name     string
		account  string
		wantErr  any // pointer to the typed error expected, nil for success
		describe bool
	}{
		{name: "management", account: mgmtID, describe: true},
		{name: "delegated admin", account: "200000000005", describe: true},
		{name: "member", account: "200000000002", wantErr: new(*types.AccessDeniedException), describe: true},
		{name: "standalone", account: "900000000001", wantErr: new(*types.AWSOrganizationsNotInUseException)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := o.client(tt.account)
			_, err := c.ListAccounts(ctx, &organizations.ListAccountsInput{})
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("ListAccounts: %v", err)
			case tt.wantErr != nil && !errors.As(err, tt.wantErr):
				t.Fatalf("ListAccounts: err = %v, want %T", err, tt.wantErr)
			}
			_, err = c.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String("200000000001")})
			if (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("DescribeAccount: err = %v", err)
			}
			// Every member may describe its organization.
			org, err := c.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
			if tt.describe {
				if err != nil {
					t.Fatalf("DescribeOrganization: %v", err)
				}
				if aws.ToString(org.Organization.MasterAccountId) != mgmtID || aws.ToString(org.Organization.Id) != o.sim.Org().ID ||
					aws.ToString(org.Organization.MasterAccountEmail) != "mgmt@example.com" || org.Organization.FeatureSet != types.OrganizationFeatureSetAll {
					t.Fatalf("organization = %+v", org.Organization)
				}
			} else {
				var niu *types.AWSOrganizationsNotInUseException
				if !errors.As(err, &niu) {
					t.Fatalf("DescribeOrganization: err = %v, want AWSOrganizationsNotInUseException", err)
				}
			}
		})
	}
	// The denial is also visible as a plain API error code, with the
	// status the service model gives it.
	_, err := o.client("200000000002").ListRoots(ctx, &organizations.ListRootsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("member ListRoots: err = %v", err)
	}
}

func TestOrganizationsDescribeAccount(t *testing.T) {
	o := newOrgTree(t)
	c := o.client(mgmtID)
	ctx := context.Background()

	out, err := c.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String("200000000003")})
	if err != nil {
		t.Fatal(err)
	}
	a := out.Account
	if aws.ToString(a.Id) != "200000000003" || aws.ToString(a.Name) != "prod-b" || a.Status != types.AccountStatusSuspended ||
		a.State != types.AccountStateSuspended || aws.ToString(a.Email) != "aws+200000000003@example.com" {
		t.Fatalf("account = %+v", a)
	}
	for _, id := range []string{"299999999999", "900000000001"} { // unknown, and not in the organization
		_, err = c.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(id)})
		var nf *types.AccountNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("DescribeAccount %s: err = %v, want AccountNotFoundException", id, err)
		}
	}
}

func TestOrganizationsThrottleRetried(t *testing.T) {
	o := newOrgTree(t)
	// One call, then one every 200ms of real time: back-to-back calls are
	// throttled until the bucket refills.
	o.sim.SetRateLimit("organizations", 5, 1)
	cfg := cfgFor(o.url, o.sim.RootCredentials(mgmtID))
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 10
			so.MaxBackoff = 300 * time.Millisecond
		})
	}
	c := organizations.NewFromConfig(cfg)
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.ListAccounts(ctx, &organizations.ListAccountsInput{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	throttled, ok := 0, 0
	for _, call := range o.sim.Calls() {
		if call.Op != "ListAccounts" {
			continue
		}
		switch call.ErrorCode {
		case "TooManyRequestsException":
			throttled++
		case "":
			ok++
		default:
			t.Fatalf("unexpected error %s", call.ErrorCode)
		}
	}
	if ok != 3 || throttled == 0 {
		t.Fatalf("ListAccounts calls: %d ok, %d throttled; want 3 ok and some throttled", ok, throttled)
	}

	// Without retries the throttle surfaces as the typed error.
	o.sim.SetRateLimit("organizations", 0.001, 1)
	noRetry := organizations.NewFromConfig(cfgFor(o.url, o.sim.RootCredentials(mgmtID)), func(oo *organizations.Options) {
		oo.RetryMaxAttempts = 1
	})
	_, _ = noRetry.ListRoots(ctx, &organizations.ListRootsInput{})
	_, err := noRetry.ListRoots(ctx, &organizations.ListRootsInput{})
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) {
		t.Fatalf("err = %v, want TooManyRequestsException", err)
	}
}
