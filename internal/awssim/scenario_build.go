package awssim

import (
	"fmt"
	"time"
)

// Build creates a Sim (seeded with sc.Seed, paging at sc.PageSize, its
// clock at sc.Now) and seeds the scenario into it. opts are applied after
// those, so they can override any of them; key ages are measured from the
// resulting clock.
func (sc *Scenario) Build(opts ...Option) (*Sim, Seeded, error) {
	if errs := sc.validate(); len(errs) > 0 {
		return nil, Seeded{}, fmt.Errorf("invalid scenario: %w", scnFormatErrors("", errs, nil))
	}
	now := sc.Now
	if now.IsZero() {
		now = time.Now().UTC().Truncate(time.Second)
	}
	base := []Option{WithSeed(sc.Seed), WithClock(NewClock(now))}
	if sc.PageSize > 0 {
		base = append(base, WithPageSize(sc.PageSize))
	}
	sim := New(append(base, opts...)...)
	now = sim.Now()

	mgmt, sec := sc.Organization.ManagementAccount, sc.Organization.SecurityAccount
	sd := Seeded{
		SecurityAccountID: sec.ID, ManagementAccountID: mgmt.ID,
		RoleName: sc.Role.Name, RolePath: sc.Role.Path, ExternalID: sc.Role.ExternalID,
		Region: sc.SES.Region, OUIDs: map[string]string{},
	}
	if sd.RoleName == "" {
		sd.RoleName = DefaultRoleName
	}
	if sd.RolePath == "" {
		sd.RolePath = "/"
	}
	if sd.Region == "" {
		sd.Region = DefaultRegion
	}

	sim.CreateOrganization(mgmt.ID, mgmt.Name, mgmt.Email)
	sd.RootID = sim.Org().RootID
	sd.OUIDs[""] = sd.RootID
	var addOUs func(parentID, prefix string, list []ScenarioOU)
	addOUs = func(parentID, prefix string, list []ScenarioOU) {
		for _, ou := range list {
			p := ou.Name
			if prefix != "" {
				p = prefix + "/" + ou.Name
			}
			id := sim.AddOU(parentID, ou.Name)
			sd.OUIDs[p] = id
			addOUs(id, p, ou.Children)
		}
	}
	addOUs(sd.RootID, "", sc.OUs)

	all := make([]ScenarioAccount, 0, len(sc.Accounts)+2)
	all = append(all, mgmt, sec)
	all = append(all, sc.Accounts...)
	for _, a := range all[1:] {
		sim.AddAccount(AccountSpec{ID: a.ID, Name: a.Name, Email: a.Email, ParentID: sd.OUIDs[a.OU], Status: a.Status})
	}
	sim.AddDelegatedAdmin(sec.ID)

	for _, a := range all {
		sd.Accounts++
		switch a.Role {
		case "", RoleOK:
			sim.AddRole(a.ID, RoleSpec{Name: sd.RoleName, Path: sd.RolePath, ExternalID: sd.ExternalID,
				TrustedPrincipals: []string{fmt.Sprintf("arn:aws:iam::%s:root", sec.ID)}})
		case RoleWrongTrust:
			sim.AddRole(a.ID, RoleSpec{Name: sd.RoleName, Path: sd.RolePath, ExternalID: sd.ExternalID,
				TrustedPrincipals: []string{fmt.Sprintf("arn:aws:iam::%s:role/%s", sec.ID, scnWrongTrustRole)}})
		}
		for _, g := range a.Groups {
			sim.AddGroup(a.ID, g)
		}
		users := a.Users
		if a.Generate != nil && a.Generate.Users > 0 {
			users = append(append([]ScenarioUser(nil), a.Users...), scnFillUsers(a)...)
		}
		for _, u := range users {
			scnSeedUser(sim, a.ID, u, now)
			sd.Users++
			sd.Keys += len(u.Keys)
		}
		if err := scnSeedSecurity(sim, sc, sd, a, users); err != nil {
			return nil, Seeded{}, fmt.Errorf("seed account %s: %w", a.ID, err)
		}
		for _, k := range a.RootKeys {
			sim.AddRootAccessKey(a.ID, scnKeySpec(k, now))
		}
		for _, id := range sc.SES.Verified {
			sim.VerifyEmailIdentity(a.ID, sd.Region, id)
		}
		if a.SecurityHub == SecurityHubDisabled {
			sim.SetSecurityHubEnabled(a.ID, "", false)
		}
	}
	sd.Central = sim.RootCredentials(sec.ID)
	return sim, sd, nil
}
