package report

import (
	"cmp"
	"math"
	"slices"

	"keyrotor/vocab"
)

// Finalize prepares a report for the writers, which all assume it was called:
//
//   - SchemaVersion is set when empty, and nil slices become empty ones so
//     the JSON has [] rather than null where the schema asks for an array.
//   - Accounts are sorted by account ID, Keys by (account, user, key ID) and
//     Notifications by (account, user, key ID, event), all stably, so that
//     two runs over the same estate write identical files.
//   - A key whose account is missing from Accounts gets an account entry
//     (status ok, name from the key): it was inventoried, so it must be
//     counted.
//   - Each account's Keys, Findings and CompliancePct are recomputed from
//     its keys; CompliancePct only for an account whose keys were seen
//     (status ok), nil for the others. Users is kept as the producer set it, because it counts
//     users without keys that Keys cannot show, but is raised to the number
//     of distinct key owners if lower.
//   - Summary is recomputed from scratch (see countKeys for the rules).
//
// Finalize is idempotent.
func (r *Report) Finalize() {
	if r.SchemaVersion == "" {
		r.SchemaVersion = SchemaVersion
	}
	if r.Run.AccountsTargets == nil {
		r.Run.AccountsTargets = []string{}
	}
	if r.Accounts == nil {
		r.Accounts = []Account{}
	}
	if r.Keys == nil {
		r.Keys = []Key{}
	}
	if r.Notifications == nil {
		r.Notifications = []Notification{}
	}
	for i := range r.Keys {
		normalizeFindings(&r.Keys[i])
	}

	slices.SortStableFunc(r.Keys, compareKeys)
	slices.SortStableFunc(r.Notifications, func(a, b Notification) int {
		return cmp.Or(
			cmp.Compare(a.AccountID, b.AccountID),
			cmp.Compare(a.User, b.User),
			cmp.Compare(a.AccessKeyID, b.AccessKeyID),
			cmp.Compare(a.Event, b.Event),
		)
	})
	r.addMissingAccounts()
	slices.SortStableFunc(r.Accounts, func(a, b Account) int {
		return cmp.Compare(a.AccountID, b.AccountID)
	})

	// Keys are sorted by account, so each account's keys are one run of the
	// slice; tallying run by run needs no map of per-account counters.
	byID := make(map[string]int, len(r.Accounts))
	for i := range r.Accounts {
		a := &r.Accounts[i]
		byID[a.AccountID] = i
		// An account without keys in this report keeps no counts from
		// whoever filled it in before.
		a.Keys, a.Findings, a.CompliancePct = 0, 0, nil
		if a.Status == vocab.AccountOK {
			a.CompliancePct = compliancePct(0, 0)
		}
	}
	total := newTally()
	for lo := 0; lo < len(r.Keys); {
		hi := lo + 1
		for hi < len(r.Keys) && r.Keys[hi].AccountID == r.Keys[lo].AccountID {
			hi++
		}
		t := newTally()
		t.countKeys(r.Keys[lo:hi])
		total.add(t)
		a := &r.Accounts[byID[r.Keys[lo].AccountID]]
		a.Keys = t.keys
		a.Findings = t.findingCount
		if a.Status == vocab.AccountOK {
			a.CompliancePct = compliancePct(t.compliant, t.eligible)
		}
		a.Users = max(a.Users, t.owners)
		lo = hi
	}
	s := Summary{
		Keys:          total.keys,
		ActiveKeys:    total.active,
		ExemptKeys:    total.exempt,
		CompliantKeys: total.compliant,
		Findings:      total.findings,
		Actions:       total.actions,
		Results:       total.results,
	}
	for i := range r.Accounts {
		a := &r.Accounts[i]
		s.Users += a.Users
		switch a.Status {
		case vocab.AccountOK:
			s.AccountsOK++
		case vocab.AccountError:
			s.AccountsFailed++
		case vocab.AccountSkipped:
			s.AccountsSkipped++
		}
	}
	s.AccountsUnseen = len(r.Accounts) - s.AccountsOK
	if s.AccountsOK > 0 {
		s.CompliancePct = compliancePct(total.compliant, total.eligible)
	}
	r.Summary = s
}

// compareKeys orders keys by account, user and key ID.
func compareKeys(a, b Key) int {
	return cmp.Or(
		cmp.Compare(a.AccountID, b.AccountID),
		cmp.Compare(a.User, b.User),
		cmp.Compare(a.AccessKeyID, b.AccessKeyID),
	)
}

// normalizeFindings replaces nil slices by empty ones. The Findings slice is
// cloned before a Controls field is changed, because callers (Merge) may
// share its backing array with a report they do not own.
func normalizeFindings(k *Key) {
	if k.Findings == nil {
		k.Findings = []Finding{}
		return
	}
	cloned := false
	for j := range k.Findings {
		if k.Findings[j].Controls != nil {
			continue
		}
		if !cloned {
			k.Findings = slices.Clone(k.Findings)
			cloned = true
		}
		k.Findings[j].Controls = []string{}
	}
}

func (r *Report) addMissingAccounts() {
	known := make(map[string]bool, len(r.Accounts))
	for _, a := range r.Accounts {
		known[a.AccountID] = true
	}
	for _, k := range r.Keys {
		if known[k.AccountID] {
			continue
		}
		known[k.AccountID] = true
		r.Accounts = append(r.Accounts, Account{
			AccountID: k.AccountID,
			Name:      k.AccountName,
			Status:    vocab.AccountOK,
		})
	}
}

// compliancePct is documented on Summary.CompliancePct: the share of
// eligible (active, non-exempt) keys that are compliant, 0-100 rounded to
// one decimal, and 100 when no key is eligible.
func compliancePct(compliant, eligible int) *float64 {
	pct := 100.0
	if eligible > 0 {
		pct = math.Round(float64(compliant)*1000/float64(eligible)) / 10
	}
	return &pct
}

// tally accumulates the counts of a set of keys.
type tally struct {
	keys, active, exempt int
	// eligible keys are active and not exempt; compliant ones among them
	// have no stale_key finding.
	eligible, compliant int
	// owners counts distinct users; valid only over keys sorted by user.
	owners int
	// findingCount counts findings, each finding ID once per key.
	findingCount int
	findings     map[string]int
	actions      map[vocab.Action]int
	results      map[vocab.Result]int
}

func newTally() *tally {
	return &tally{
		findings: map[string]int{},
		actions:  map[vocab.Action]int{},
		results:  map[vocab.Result]int{},
	}
}

// countKeys adds keys to t. A key's action is the one attempted in this run,
// else the planned one; "none" is not counted, since nearly every key has it
// and the map is meant to show work.
func (t *tally) countKeys(keys []Key) {
	for i := range keys {
		k := &keys[i]
		t.keys++
		if i == 0 || k.User != keys[i-1].User {
			t.owners++
		}
		stale := false
		for j, f := range k.Findings {
			if seenBefore(k.Findings[:j], f.ID) {
				continue
			}
			t.findingCount++
			t.findings[f.ID]++
			stale = stale || f.ID == FindingStaleKey
		}
		if k.Exempt {
			t.exempt++
		}
		if k.Status == vocab.KeyActive {
			t.active++
			if !k.Exempt {
				t.eligible++
				if !stale {
					t.compliant++
				}
			}
		}
		action := cmp.Or(k.Action, k.PlannedAction)
		if action != "" && action != vocab.ActionNone {
			t.actions[action]++
		}
		if k.Result != "" {
			t.results[k.Result]++
		}
	}
}

func seenBefore(fs []Finding, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

func (t *tally) add(o *tally) {
	t.keys += o.keys
	t.active += o.active
	t.exempt += o.exempt
	t.eligible += o.eligible
	t.compliant += o.compliant
	t.owners += o.owners
	t.findingCount += o.findingCount
	for k, v := range o.findings {
		t.findings[k] += v
	}
	for k, v := range o.actions {
		t.actions[k] += v
	}
	for k, v := range o.results {
		t.results[k] += v
	}
}

// stringCounts re-keys a count map by plain strings, for writers that list
// counts of every kind alike.
func stringCounts[K ~string](m map[K]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, n := range m {
		out[string(k)] = n
	}
	return out
}
