package rotation

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"keyrotor/vocab"
)

// Plan decides what to do with every key of every user in inv at now. It is
// pure and deterministic: users in name order, each user's actions in
// execution order. runID names this run in the issuing intents it plans and
// tells its own intents from other runs'.
//
// pol must have been validated (accounts does): zero durations are taken
// literally.
func Plan(inv Inventory, pol Policy, now time.Time, runID string) []Action {
	users := slices.Clone(inv.Users)
	slices.SortStableFunc(users, func(a, b User) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.UserID, b.UserID))
	})
	var out []Action
	for _, u := range users {
		p := newUserPlanner(inv.AccountID, u, pol, now, runID)
		acts := p.plan()
		if err := checkUserPlan(u, acts); err != nil {
			acts = p.refuse(err)
		}
		out = append(out, planNotices(inv.AccountID, u, pol, now, acts)...)
	}
	return out
}

// NeedsFreshLastUsed reports whether the planner's decision on key k depends
// on its recent use, so the inventory must ask GetAccessKeyLastUsed for it
// (and set LastUsedFresh): an active old key whose deactivation is due, a
// possible orphan next to an issuing intent, and an inactive key whose
// deletion is due (a use after keyrotor deactivated it means it was turned
// on again, which restarts the grace period).
func NeedsFreshLastUsed(u User, k Key, pol Policy, now time.Time) bool {
	if u.Exempt != "" {
		return false
	}
	tag, tracked := TagValue(u.Tags, TagKey(k.ID))
	if !tracked {
		// A key without state next to an issuing intent may be that
		// intent's orphan; whether it was ever used decides between
		// deleting it and holding, and must not rest on a stale report.
		return u.HasIntent()
	}
	st, err := ParseState(tag)
	if err != nil {
		return false
	}
	switch st.Phase {
	case PhaseIssuing, PhaseIssued, PhaseReactivated:
		return k.Active() && !now.Before(st.Since().Add(pol.DeactivateAfter))
	case PhaseDeactivated:
		return !k.Active() && !now.Before(st.Deactivated.Add(pol.DeleteAfter))
	}
	return false
}

// NeedsDecryptCheck reports whether the planner may deactivate or delete
// one of u's keys in this run, so the inventory must check that u can
// decrypt its secret (see DecryptCheck): an active key whose deactivation
// is due, or an inactive one whose deletion is due (the owner's way back
// to it ends there).
func NeedsDecryptCheck(u User, pol Policy, now time.Time) bool {
	if u.Exempt != "" {
		return false
	}
	for _, k := range u.Keys {
		tag, ok := TagValue(u.Tags, TagKey(k.ID))
		if !ok {
			continue
		}
		st, err := ParseState(tag)
		if err != nil {
			continue
		}
		switch st.Phase {
		case PhaseIssuing, PhaseIssued, PhaseReactivated:
			if k.Active() && !now.Before(st.Since().Add(pol.DeactivateAfter)) {
				return true
			}
		case PhaseDeactivated:
			if !k.Active() && !now.Before(st.Deactivated.Add(pol.DeleteAfter)) {
				return true
			}
		}
	}
	return false
}

// NeedsForeignEvidence reports whether the inventory must read the
// metadata of u's secret although u has no state tag: under
// policy.delete_foreign_inactive, an inactive key may be one keyrotor
// retired whose state tag someone removed, and only the secret (its
// keyrotor:replaces and keyrotor:clock tags) still says when its grace
// period ends.
func NeedsForeignEvidence(u User, pol Policy) bool {
	return pol.DeleteForeignInactive && u.Exempt == "" &&
		slices.ContainsFunc(u.Keys, func(k Key) bool { return k.Status == vocab.KeyInactive })
}

func (p *userPlanner) plan() []Action {
	if p.u.Exempt != "" {
		var out []Action
		for _, k := range p.keys {
			out = append(out, p.action(k.ID, ActionExempt, vocab.ReasonExempt, fmt.Sprintf(
				"user is exempt (%s); keyrotor reports this key but never changes it", p.u.Exempt)))
		}
		return out
	}
	if p.u.Problem != nil {
		return p.holdProblem()
	}
	p.planVanished()
	for _, k := range p.keys {
		if st, ok := p.states[k.ID]; ok && st.Phase == PhaseIssuing {
			p.recoverIntent(k, st)
		}
	}
	for _, k := range p.keys {
		if len(p.decided[k.ID]) == 0 && !slices.Contains(p.wantIssue, k.ID) {
			p.decideOwn(k)
		}
	}
	for _, id := range p.wantIssue {
		p.resolveIssue(p.byID[id])
	}
	return p.collect()
}

// collect flattens the decisions into execution order.
func (p *userPlanner) collect() []Action {
	var out []Action
	for _, acts := range p.decided {
		out = append(out, acts...)
	}
	pos := func(id string) int {
		if i, ok := p.order[id]; ok {
			return i
		}
		return len(p.keys) // vanished keys after real ones, then by ID
	}
	slices.SortStableFunc(out, func(a, b Action) int {
		return cmp.Or(cmp.Compare(step[a.Kind], step[b.Kind]),
			cmp.Compare(pos(a.KeyID), pos(b.KeyID)), strings.Compare(a.KeyID, b.KeyID))
	})
	return out
}
