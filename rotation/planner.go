package rotation

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"keyrotor/vocab"
)

type userPlanner struct {
	account string
	u       User
	pol     Policy
	now     time.Time
	runID   string

	keys   []Key // by creation, then ID
	byID   map[string]Key
	order  map[string]int // key ID -> position for sorting actions
	states map[string]State
	errs   map[string]error
	// replacementOf maps a replacement key to the old key whose rotation
	// issued (or adopted) it, for rotations whose evidence agrees.
	replacementOf map[string]string
	// tampered maps an old key to what disagrees between its state tag and
	// the evidence (see evidence.go); its rotation makes no step.
	tampered map[string]string

	decided   map[string][]Action
	wantIssue []string
	// restart holds the intent of keys whose Issue restarts an interrupted
	// rotation.
	restart map[string]State
}

func newUserPlanner(account string, u User, pol Policy, now time.Time, runID string) *userPlanner {
	p := &userPlanner{
		account: account, u: u, pol: pol, now: now, runID: runID,
		keys:          slices.Clone(u.Keys),
		byID:          map[string]Key{},
		order:         map[string]int{},
		replacementOf: map[string]string{},
		tampered:      map[string]string{},
		decided:       map[string][]Action{},
		restart:       map[string]State{},
	}
	slices.SortStableFunc(p.keys, func(a, b Key) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	for i, k := range p.keys {
		p.byID[k.ID] = k
		p.order[k.ID] = i
	}
	p.states, p.errs = u.States()
	for old, st := range p.states {
		x, ok := p.byID[old]
		if !ok {
			continue
		}
		var problem string
		if st.Phase == PhaseIssuing {
			var recorded *Key
			if k, ok := p.recorded(old); ok {
				recorded = &k
			}
			problem = intentProblem(x, st, recorded, now)
		} else {
			problem = rotationProblem(x, st, p.keys, u.Secret, p.secretName(), now)
		}
		switch {
		case problem != "":
			p.tampered[old] = problem
		case st.NewKeyID != "" && st.Phase != PhaseIssuing:
			p.replacementOf[st.NewKeyID] = old
		}
	}
	return p
}

// recorded returns the key the owner's secret records as created for
// oldID's rotation and never stored, if the user still has it.
func (p *userPlanner) recorded(oldID string) (Key, bool) {
	id, ok := p.u.Secret.Unstored(oldID)
	if !ok {
		return Key{}, false
	}
	k, ok := p.byID[id]
	return k, ok
}

// action builds an action on keyID with its current state; Next defaults to
// "unchanged".
func (p *userPlanner) action(keyID string, kind ActionKind, code vocab.Reason, reason string) Action {
	st := p.states[keyID]
	return Action{AccountID: p.account, User: p.u.Name, KeyID: keyID, Kind: kind, Code: code, Reason: reason, State: st, Next: st}
}

func (p *userPlanner) set(keyID string, acts ...Action) { p.decided[keyID] = acts }

// hold holds a key until a human acts; fix lists the commands that do it,
// which reason quotes too.
func (p *userPlanner) hold(keyID string, code vocab.Reason, reason string, fix ...string) {
	p.holdUntil(keyID, code, reason, time.Time{}, fix...)
}

// holdUntil holds a key whose blocker clears by itself at due.
func (p *userPlanner) holdUntil(keyID string, code vocab.Reason, reason string, due time.Time, fix ...string) {
	a := p.action(keyID, ActionHold, code, reason)
	a.Due, a.Fix = due, strings.Join(fix, "; ")
	p.set(keyID, a)
}

// leased tells whether another run's intent still holds its key. An
// intent dated in the future holds nothing: its lease would never end.
func (p *userPlanner) leased(st State) bool {
	return st.RunID != p.runID && p.now.Sub(st.At) < IntentLease && !st.At.After(p.now.Add(ClockSkew))
}

// holdTampered holds a key whose state tag disagrees with the evidence:
// nothing is written, and the report carries a state_tampered finding.
func (p *userPlanner) holdTampered(keyID, what string) {
	untag := cmdUntag(p.u.Name, keyID)
	p.hold(keyID, vocab.ReasonStateTampered, fmt.Sprintf(
		"keyrotor's state tag %s does not agree with the evidence: %s. Nothing is changed; if nobody tampered with the tag, remove it to start the rotation over: %s",
		TagKey(keyID), what, untag), untag)
}

// holdProblem holds every key of a user the inventory could not read
// fully.
func (p *userPlanner) holdProblem() []Action {
	var out []Action
	for _, k := range p.keys {
		a := p.action(k.ID, ActionHold, p.u.Problem.Code, p.u.Problem.Reason)
		a.Fix = p.u.Problem.Fix
		out = append(out, a)
	}
	return out
}

func (p *userPlanner) skip(keyID string, st State) {
	a := p.action(keyID, ActionSkip, vocab.ReasonLeaseHeld, fmt.Sprintf(
		"another run (%s) is rotating this key since %s; its lease ends %s",
		st.RunID, st.At.UTC().Format(time.RFC3339), st.At.Add(IntentLease).UTC().Format(time.RFC3339)))
	a.Due = st.At.Add(IntentLease)
	p.set(keyID, a)
}

// refuse replaces a plan that failed checkUserPlan with holds: a planner bug
// must not reach AWS.
func (p *userPlanner) refuse(err error) []Action {
	var out []Action
	for _, k := range p.keys {
		out = append(out, p.action(k.ID, ActionHold, vocab.ReasonUnsafePlan, fmt.Sprintf("keyrotor refused its own unsafe plan for this user (%v); please report this", err)))
	}
	return out
}

func (p *userPlanner) primaryReason(keyID string) string {
	if acts := p.decided[keyID]; len(acts) > 0 {
		return acts[len(acts)-1].Reason
	}
	return "no decision"
}

// leastUsed picks the key to suggest deactivating: the one used least
// recently (never used counts as least), b on a tie.
func (p *userPlanner) leastUsed(a, b Key) Key {
	if a.LastUsed == nil && b.LastUsed != nil {
		return a
	}
	if a.LastUsed != nil && b.LastUsed != nil && a.LastUsed.Before(*b.LastUsed) {
		return a
	}
	return b
}

func (p *userPlanner) secretName() string {
	if p.u.SecretName == "" {
		return "(unnamed)"
	}
	return p.u.SecretName
}

func tooManyKeys(n int) string {
	return fmt.Sprintf("the user has %d access keys, more than IAM's limit of two; keyrotor does not know which to keep", n)
}

// day formats a date the way every reason does.
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// days renders a policy duration in days.
func days(d time.Duration) string {
	n := d.Hours() / 24
	if n == float64(int64(n)) {
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", int64(n))
	}
	return d.String()
}

func ageDays(k Key, now time.Time) int { return int(now.Sub(k.Created) / (24 * time.Hour)) }

func lastUse(k Key) string {
	if k.LastUsed == nil {
		return "never used"
	}
	s := "last used " + day(*k.LastUsed)
	if k.LastUsedService != "" {
		s += " by " + k.LastUsedService
	}
	if k.LastUsedRegion != "" {
		s += " in " + k.LastUsedRegion
	}
	return s
}

func unusedSince(k Key) string {
	if k.LastUsed == nil {
		return "never used"
	}
	return "unused since " + day(*k.LastUsed)
}
