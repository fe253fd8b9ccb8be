package accounts_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"keyrotor/accounts"
	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
)

// testOrg is a small organization:
//
//	root: 111 (management), 222 (security)
//	  Workloads (ou): 333
//	    Prod: 444, 555 (suspended)
//	    Dev: 666
//	  Sandbox: 777
type testOrg struct {
	sim                      *awssim.Sim
	srv                      *awssimtest.Server
	central                  awssim.Credentials
	workloads, prod, dev, sb string
}

func newTestOrg(t *testing.T) testOrg {
	t.Helper()
	sim := awssim.New(awssim.WithPageSize(1))
	sim.CreateOrganization("111111111111", "management", "mgmt@example.com")
	o := testOrg{sim: sim}
	root := sim.Org().RootID
	o.workloads = sim.AddOU(root, "Workloads")
	o.prod = sim.AddOU(o.workloads, "Prod")
	o.dev = sim.AddOU(o.workloads, "Dev")
	o.sb = sim.AddOU(root, "Sandbox")
	sim.AddAccount(awssim.AccountSpec{ID: "222222222222", Name: "security"})
	sim.AddAccount(awssim.AccountSpec{ID: "333333333333", Name: "shared", ParentID: o.workloads})
	sim.AddAccount(awssim.AccountSpec{ID: "444444444444", Name: "prod-a", ParentID: o.prod})
	sim.AddAccount(awssim.AccountSpec{ID: "555555555555", Name: "prod-old", ParentID: o.prod, Status: awssim.StatusSuspended})
	sim.AddAccount(awssim.AccountSpec{ID: "666666666666", Name: "dev-a", ParentID: o.dev})
	sim.AddAccount(awssim.AccountSpec{ID: "777777777777", Name: "sandbox", ParentID: o.sb})
	sim.AddDelegatedAdmin("222222222222")
	for _, id := range []string{"333333333333", "444444444444", "666666666666"} {
		sim.AddRole(id, awssim.RoleSpec{Name: "KeyrotorRotationRole", TrustedPrincipals: []string{"222222222222"}, ExternalID: "ext"})
	}
	sim.AddRole("777777777777", awssim.RoleSpec{Name: "KeyrotorRotationRole", TrustedPrincipals: []string{"999999999999"}})
	o.srv = awssimtest.Start(t, sim)
	o.central = sim.RootCredentials("222222222222")
	return o
}

func (o testOrg) cfg() aws.Config {
	return o.srv.Config(o.central)
}

func ids(ts []accounts.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func TestDiscover(t *testing.T) {
	o := newTestOrg(t)
	api := organizations.NewFromConfig(o.cfg())
	tests := []struct {
		name        string
		opts        accounts.DiscoverOptions
		want        []string
		wantSkipped map[string]string
	}{
		{
			name: "whole org",
			opts: accounts.DiscoverOptions{UseOrganizations: true},
			want: []string{"222222222222", "333333333333", "444444444444", "666666666666", "777777777777"},
			wantSkipped: map[string]string{
				"111111111111": "management account (organization.include_management_account is false)",
				"555555555555": "account is SUSPENDED",
			},
		},
		{
			name:        "include OU is recursive",
			opts:        accounts.DiscoverOptions{UseOrganizations: true, IncludeOUs: []string{o.workloads}},
			want:        []string{"333333333333", "444444444444", "666666666666"},
			wantSkipped: map[string]string{"555555555555": "account is SUSPENDED"},
		},
		{
			name:        "exclude OU is recursive and wins over include",
			opts:        accounts.DiscoverOptions{UseOrganizations: true, IncludeOUs: []string{o.workloads}, ExcludeOUs: []string{o.prod}},
			want:        []string{"333333333333", "666666666666"},
			wantSkipped: map[string]string{"444444444444": "in an excluded OU", "555555555555": "in an excluded OU"},
		},
		{
			name:        "excluded accounts and the management account",
			opts:        accounts.DiscoverOptions{UseOrganizations: true, IncludeManagement: true, ExcludeAccounts: []string{"777777777777"}},
			want:        []string{"111111111111", "222222222222", "333333333333", "444444444444", "666666666666"},
			wantSkipped: map[string]string{"555555555555": "account is SUSPENDED", "777777777777": "excluded by exclude_accounts"},
		},
		{
			name: "explicit accounts without Organizations",
			opts: accounts.DiscoverOptions{Explicit: []accounts.Target{{ID: "444444444444", Name: "by-hand"}, {ID: "888888888888"}}},
			want: []string{"444444444444", "888888888888"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, skipped, err := accounts.Discover(context.Background(), api, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("targets = %v, want %v", ids(got), tc.want)
			}
			gotSkipped := map[string]string{}
			for _, s := range skipped {
				gotSkipped[s.ID] = s.Reason
			}
			if len(gotSkipped) != len(tc.wantSkipped) {
				t.Errorf("skipped = %v, want %v", gotSkipped, tc.wantSkipped)
			}
			for id, reason := range tc.wantSkipped {
				if gotSkipped[id] != reason {
					t.Errorf("skipped[%s] = %q, want %q", id, gotSkipped[id], reason)
				}
			}
		})
	}
	got, _, err := accounts.Discover(context.Background(), api, accounts.DiscoverOptions{UseOrganizations: true})
	if err != nil {
		t.Fatal(err)
	}
	ous := map[string]string{}
	for _, tg := range got {
		ous[tg.ID] = tg.OU
	}
	if ous["444444444444"] != "Workloads/Prod" || ous["222222222222"] != "" || ous["777777777777"] != "Sandbox" {
		t.Errorf("OU paths = %v", ous)
	}
}

// TestDiscoverUnknownOU: an include_ous or exclude_ous entry the
// organization does not have is an error naming it, not a run over no
// accounts (that read as 100% compliant) or an exclusion of nothing.
func TestDiscoverUnknownOU(t *testing.T) {
	o := newTestOrg(t)
	api := organizations.NewFromConfig(o.cfg())
	for _, opts := range []accounts.DiscoverOptions{
		{UseOrganizations: true, IncludeOUs: []string{"ou-zzzz-00000000"}},
		{UseOrganizations: true, IncludeOUs: []string{o.prod}, ExcludeOUs: []string{"ou-zzzz-00000000"}},
	} {
		got, _, err := accounts.Discover(context.Background(), api, opts)
		if !errors.Is(err, accounts.ErrUnknownOU) || !strings.Contains(err.Error(), "ou-zzzz-00000000 is not in the organization") {
			t.Errorf("Discover(%+v) = %v, %v; want ErrUnknownOU naming the OU", opts, ids(got), err)
		}
	}
	// The root itself and known OUs are fine.
	if _, _, err := accounts.Discover(context.Background(), api, accounts.DiscoverOptions{UseOrganizations: true,
		IncludeOUs: []string{o.sim.Org().RootID}, ExcludeOUs: []string{o.sb}}); err != nil {
		t.Errorf("root and a known OU: %v", err)
	}
}

func TestDiscoverDeniedForMemberAccount(t *testing.T) {
	o := newTestOrg(t)
	member := o.sim.RootCredentials("666666666666")
	cfg := o.srv.Config(member)
	_, _, err := accounts.Discover(context.Background(), organizations.NewFromConfig(cfg), accounts.DiscoverOptions{UseOrganizations: true})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("err = %v, want AccessDeniedException", err)
	}
}

func TestAssumer(t *testing.T) {
	o := newTestOrg(t)
	cfg := o.cfg()
	a := &accounts.Assumer{STS: sts.NewFromConfig(cfg), Base: cfg, RunID: "20261126T060000Z-abc123"}
	role := accounts.Role{Name: "KeyrotorRotationRole", ExternalID: "ext", SessionName: "keyrotor", Duration: time.Hour}
	mcfg, err := a.ConfigFor(context.Background(), "444444444444", role)
	if err != nil {
		t.Fatal(err)
	}
	id, err := sts.NewFromConfig(mcfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:sts::444444444444:assumed-role/KeyrotorRotationRole/keyrotor-20261126T060000Z-abc123"
	if aws.ToString(id.Arn) != want {
		t.Errorf("session arn = %s, want %s", aws.ToString(id.Arn), want)
	}
	for _, tc := range []struct {
		name, account string
		role          accounts.Role
	}{
		{"wrong trust", "777777777777", role},
		{"missing external id", "444444444444", accounts.Role{Name: "KeyrotorRotationRole", SessionName: "keyrotor"}},
		{"no such role", "666666666666", accounts.Role{Name: "Other", SessionName: "keyrotor"}},
	} {
		_, err := a.ConfigFor(context.Background(), tc.account, tc.role)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
			t.Errorf("%s: err = %v, want AccessDenied", tc.name, err)
		}
	}
}

func TestSessionName(t *testing.T) {
	if got := accounts.SessionName("key rotor", "run/1"); got != "key-rotor-run-1" {
		t.Errorf("SessionName = %q", got)
	}
	long := accounts.SessionName("keyrotor", string(make([]byte, 100)))
	if len(long) != 64 {
		t.Errorf("len = %d, want 64", len(long))
	}
}
