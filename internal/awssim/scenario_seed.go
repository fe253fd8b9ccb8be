package awssim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// Seeding a Sim with a scenario's parts: users with their keys and
// CloudTrail history, generated users, and the security fields. Build
// (scenario_build.go) drives them.

// scnSeedUser creates one user and its keys. The user is as old as its oldest
// key, so that the credential report never shows a key older than its user.
func scnSeedUser(sim *Sim, accountID string, u ScenarioUser, now time.Time) {
	created := now
	keys := make([]KeySpec, len(u.Keys))
	for i, k := range u.Keys {
		ks := scnKeySpec(k, now)
		if ks.Created.Before(created) {
			created = ks.Created
		}
		keys[i] = ks
	}
	sim.AddUser(accountID, UserSpec{Name: u.Name, Path: u.Path, Created: created, Tags: u.Tags, Groups: u.Groups})
	for i, k := range keys {
		c := sim.AddAccessKey(accountID, u.Name, k)
		for _, use := range u.Keys[i].Usage {
			scnSeedUsage(sim, accountID, c.AccessKeyID, u.Keys[i], use, now)
		}
	}
}

// scnSeedUsage adds a usage entry's calls to the key's CloudTrail history.
func scnSeedUsage(sim *Sim, accountID, keyID string, k ScenarioKey, u ScenarioUsage, now time.Time) {
	last := time.Duration(*k.LastUsed)
	if u.Last != nil {
		last = time.Duration(*u.Last)
	}
	region := u.Region
	if region == "" || trailGlobal[u.Service] {
		region = DefaultRegion
	}
	step := time.Duration(0)
	if u.Events > 1 {
		step = time.Duration(u.Over) / time.Duration(u.Events)
	}
	for i := range u.Events {
		sim.AddTrailEvent(accountID, region, TrailEvent{
			Time:        now.Add(-last - time.Duration(i)*step),
			EventSource: u.Service + ".amazonaws.com", EventName: u.Event,
			AccessKeyID: keyID, SourceIP: u.SourceIP, UserAgent: u.UserAgent,
		})
	}
}

// scnFillUsers expands an account's generate section. The account ID is
// mixed into the seed so that equal seeds in two accounts differ.
func scnFillUsers(a ScenarioAccount) []ScenarioUser {
	h := fnv.New64a()
	h.Write([]byte(a.ID))
	r := rand.New(rand.NewPCG(a.Generate.Seed, h.Sum64()))
	taken := make(map[string]bool, len(a.Users)+a.Generate.Users)
	for _, u := range a.Users {
		taken[u.Name] = true
	}
	return genUsers(r, a.Generate.Users, taken)
}

// scnSeedSecurity applies an account's policies, extra roles, KMS keys and
// root keys. The scenario was validated, so errors here are defects.
func scnSeedSecurity(sim *Sim, sc *Scenario, sd Seeded, a ScenarioAccount, users []ScenarioUser) error {
	customer := map[string]bool{}
	for _, p := range a.CustomerPolicies {
		if _, err := sim.CreateManagedPolicy(a.ID, p.Name, string(p.Document)); err != nil {
			return err
		}
		customer[p.Name] = true
	}
	apply := func(arn string, docs []PolicyDocument, managed []string) error {
		if len(docs) == 0 && len(managed) == 0 {
			return nil
		}
		texts := make([]string, len(docs))
		for i, d := range docs {
			texts[i] = string(d)
		}
		if err := sim.SetPrincipalPolicy(arn, texts...); err != nil {
			return err
		}
		for _, m := range managed {
			if err := sim.AttachPrincipalPolicy(arn, scnManagedARN(m, a.ID, customer)); err != nil {
				return err
			}
		}
		return nil
	}
	if a.Role == "" || a.Role == RoleOK || a.Role == RoleWrongTrust {
		if err := apply(sd.RoleARN(a.ID), sc.Role.Policies, sc.Role.ManagedPolicies); err != nil {
			return err
		}
	}
	for _, r := range a.Roles {
		trusted := r.Trusted
		if len(trusted) == 0 {
			trusted = []string{fmt.Sprintf("arn:aws:iam::%s:root", sd.SecurityAccountID)}
		}
		path := r.Path
		if path == "" {
			path = "/"
		}
		sim.AddRole(a.ID, RoleSpec{Name: r.Name, Path: path, TrustedPrincipals: trusted, ExternalID: r.ExternalID})
		if err := apply(fmt.Sprintf("arn:aws:iam::%s:role%s%s", a.ID, path, r.Name), r.Policies, r.ManagedPolicies); err != nil {
			return err
		}
	}
	for _, u := range users {
		path := u.Path
		if path == "" {
			path = "/"
		}
		if err := apply(fmt.Sprintf("arn:aws:iam::%s:user%s%s", a.ID, path, u.Name), u.Policies, u.ManagedPolicies); err != nil {
			return err
		}
	}
	for _, k := range a.KMSKeys {
		region := k.Region
		if region == "" {
			region = sd.Region
		}
		if _, err := sim.CreateKMSKey(a.ID, KMSKeySpec{ID: k.ID, Region: region, Aliases: k.Aliases,
			Policy: string(k.Policy), Description: k.Description}); err != nil {
			return err
		}
	}
	return nil
}

// scnKeySpec turns a scenario key into a KeySpec, measuring ages from now.
func scnKeySpec(k ScenarioKey, now time.Time) KeySpec {
	ks := KeySpec{Created: k.Created, Inactive: k.Status == "Inactive", Service: k.Service, Region: k.Region}
	if ks.Created.IsZero() {
		ks.Created = now.Add(-time.Duration(k.Age))
	}
	if k.LastUsed != nil {
		t := now.Add(-time.Duration(*k.LastUsed))
		ks.LastUsed = &t
	}
	return ks
}
