package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"keyrotor/accounts"
	"keyrotor/report"
	"keyrotor/vocab"
)

// Filters narrow what a rotate run acts on. Everything is still read and
// reported; filtered-out actions are reported as skipped.
type Filters struct {
	// Users limits actions to these IAM user names (empty: all).
	Users []string
	// Phases limits actions to these phases: "issue" (issue, adopt,
	// cleanup), "deactivate", "delete" (empty: all).
	Phases []string
}

// Runner processes many accounts concurrently and merges their results
// into one report.
type Runner struct {
	// Connect returns the API clients for one member account, typically by
	// assuming the rotation role there.
	Connect func(ctx context.Context, t AccountTarget) (AccountAPI, error)
	Mode    vocab.Mode
	RunID   string
	Version string
	// Now is the clock; decisions are made with the time a run started
	// for each account, steps are stamped with the time they happened.
	Now func() time.Time
	// Concurrency bounds accounts in flight; PerAccount bounds calls in
	// flight inside one account.
	Concurrency int
	PerAccount  int
	// DefaultPolicy is reported as the run's policy.
	DefaultPolicy Policy
	// Exemptions and Secrets come from accounts.yaml.
	Exemptions Exemptions
	Secrets    SecretSettings
	// Notifier tells owners about steps (apply mode only).
	Notifier Notifier
	// NotifyEnabled is reported in the run header.
	NotifyEnabled bool
	Filters       Filters
	// Progress, if set, is called after each account finishes.
	Progress func(done, total int)
	Logger   *slog.Logger
	// ReportWait bounds the wait for a credential report (0: default).
	ReportWait time.Duration

	// seenUsers records the Filters.Users names some inventory found.
	seenMu    sync.Mutex
	seenUsers map[string]bool
	// simulateUnavailable is set once the endpoint has shown it does not
	// answer iam:SimulatePrincipalPolicy.
	simulateUnavailable atomic.Bool
}

// UnmatchedUsers returns, after Run, the Filters.Users names that matched
// no user in any account inventoried, in the order given: a --user that
// acts on nobody must not pass for a run that did its work.
func (r *Runner) UnmatchedUsers() []string {
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	var out []string
	for _, name := range r.Filters.Users {
		if !r.seenUsers[name] && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// noteUsers records which Filters.Users names inv holds.
func (r *Runner) noteUsers(inv Inventory) {
	if len(r.Filters.Users) == 0 {
		return
	}
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	if r.seenUsers == nil {
		r.seenUsers = map[string]bool{}
	}
	for _, u := range inv.Users {
		if slices.Contains(r.Filters.Users, u.Name) {
			r.seenUsers[u.Name] = true
		}
	}
}

// accountResult is what one account contributes to the report.
type accountResult struct {
	account       report.Account
	keys          []report.Key
	notifications []report.Notification
}

// Run works on every target (the skipped ones are only reported) and
// returns the merged report. It never fails as a whole: an account's
// failure is recorded in its report entry. If ctx is cancelled, steps in
// flight finish, accounts not yet started are reported as skipped, and
// Run.Interrupted is set.
func (r *Runner) Run(ctx context.Context, targets []AccountTarget, skipped []accounts.Skipped) *report.Report {
	log := r.logger()
	started := r.Now().UTC()
	rep := &report.Report{
		SchemaVersion: report.SchemaVersion,
		Run: report.Run{
			ID: r.RunID, Started: started, Mode: r.Mode, Version: r.Version,
			Policy: reportPolicy(r.DefaultPolicy), Notify: r.NotifyEnabled && r.Mode == vocab.ModeApply,
		},
	}
	for _, t := range targets {
		rep.Run.AccountsTargets = append(rep.Run.AccountsTargets, t.ID)
	}
	results := make([]accountResult, len(targets))
	var (
		mu   sync.Mutex
		done int
	)
	g := new(errgroup.Group)
	g.SetLimit(max(1, r.Concurrency))
	for i, t := range targets {
		g.Go(func() error {
			// An account whose turn comes after Ctrl-C is not started at
			// all: it is reported as skipped, not as failed.
			if ctx.Err() != nil {
				results[i] = accountResult{account: report.Account{AccountID: t.ID, Name: t.Name, OU: t.OU,
					Status: vocab.AccountSkipped, Error: "run interrupted before this account started"}}
				return nil
			}
			results[i] = r.runAccount(ctx, t)
			mu.Lock()
			done++
			if r.Progress != nil {
				r.Progress(done, len(targets))
			}
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	for _, s := range skipped {
		rep.Accounts = append(rep.Accounts, report.Account{AccountID: s.ID, Name: s.Name, OU: s.OU,
			Status: vocab.AccountSkipped, Error: s.Reason})
	}
	for _, res := range results {
		rep.Accounts = append(rep.Accounts, res.account)
		rep.Keys = append(rep.Keys, res.keys...)
		rep.Notifications = append(rep.Notifications, res.notifications...)
	}
	sort.Slice(rep.Accounts, func(i, j int) bool { return rep.Accounts[i].AccountID < rep.Accounts[j].AccountID })
	rep.Run.Interrupted = ctx.Err() != nil
	rep.Run.Ended = r.Now().UTC()
	rep.Finalize()
	log.Info("run finished", "run", r.RunID, "mode", r.Mode, "accounts", len(targets), "keys", len(rep.Keys),
		"interrupted", rep.Run.Interrupted)
	return rep
}

func (r *Runner) logger() *slog.Logger { return r.Logger }

// runAccount does one account's whole run and never returns an error: a
// failure becomes the account's status.
func (r *Runner) runAccount(ctx context.Context, t AccountTarget) accountResult {
	log := r.logger()
	res := accountResult{account: report.Account{AccountID: t.ID, Name: t.Name, OU: t.OU, Status: vocab.AccountOK}}
	fail := func(err error) accountResult {
		if ctx.Err() != nil {
			// Cut short by Ctrl-C or SIGTERM before any step: not a
			// failure of the account, and nothing of it was seen.
			log.Warn("account interrupted", "account", t.ID, "err", err)
			res.account.Status = vocab.AccountSkipped
			res.account.Error = "run interrupted before this account's inventory finished: " + err.Error()
			return res
		}
		log.Error("account failed", "account", t.ID, "err", err)
		res.account.Status = vocab.AccountError
		res.account.Error = err.Error()
		return res
	}
	api, err := r.Connect(ctx, t)
	if err != nil {
		return fail(err)
	}
	if r.Mode == vocab.ModeApply {
		if err := r.checkApplyPermissions(ctx, api, t); err != nil {
			return fail(err)
		}
	}
	now := r.Now().UTC()
	inv, _, err := Collect(ctx, api.IAM, api.Secrets, InventoryOptions{
		AccountID:    t.ID,
		AccountName:  t.Name,
		ExemptTag:    r.Exemptions.Tag,
		ExemptGroups: r.Exemptions.Groups,
		ExemptUsers:  slices.Concat(r.Exemptions.Users, t.ExemptUsers),
		SecretName: func(user string) (string, error) {
			return r.Secrets.SecretName(t.ID, t.Name, user)
		},
		Concurrency: max(1, r.PerAccount),
		ReportWait:  r.ReportWait,
		Logger:      log,
		FreshLastUsed: func(u User, k Key) bool {
			return NeedsFreshLastUsed(u, k, t.Policy, now)
		},
		KMS: api.KMS, Simulate: api.Permissions, SecretRegion: r.Secrets.Region,
		CheckDecrypt: func(u User) bool { return NeedsDecryptCheck(u, t.Policy, now) },
		ReadSecret:   func(u User) bool { return NeedsForeignEvidence(u, t.Policy) },
	})
	if err != nil {
		return fail(fmt.Errorf("inventory of %s: %w", t.ID, err))
	}
	// Users without keys count too: they are part of the account's IAM
	// estate the audit covered.
	res.account.Users = len(inv.Users)
	r.noteUsers(inv)
	actions := Plan(inv, t.Policy, now, r.RunID)
	var outcomes []Outcome
	switch r.Mode {
	case vocab.ModeApply:
		run, filtered := r.filter(actions)
		ex := &Executor{
			IAM: api.IAM, Secrets: SecretStore{API: api.Secrets, KMSKeyID: r.Secrets.KMSKeyID, UserReadPolicy: r.Secrets.UserReadPolicy,
				WriterARN: api.RoleARN, BreakGlass: r.Secrets.BreakGlass},
			Notifier: r.Notifier, Now: r.Now, RunID: r.RunID, AccountID: t.ID, AccountName: t.Name,
			SecretRegion: r.Secrets.Region, Logger: log, Concurrency: max(1, r.PerAccount),
		}
		outcomes = append(ex.Apply(ctx, inv, run), filtered...)
	default:
		for _, a := range actions {
			o := Outcome{Action: a, Result: vocab.ResultPlanned}
			if !a.Kind.Mutates() {
				o.Result = passiveResult(a.Kind)
			}
			outcomes = append(outcomes, o)
		}
	}
	res.keys, res.notifications = r.reportKeys(inv, t, now, outcomes)
	for _, o := range outcomes {
		if o.Result == vocab.ResultFailed {
			log.Warn("step failed", "account", t.ID, "user", o.Action.User, "key", o.Action.KeyID, "action", o.Action.Kind, "err", o.Err)
		}
	}
	return res
}

// passiveResult is the report result of an action that calls nothing.
func passiveResult(k ActionKind) vocab.Result {
	switch k {
	case ActionHold:
		return vocab.ResultHeld
	case ActionSkip:
		return vocab.ResultSkipped
	}
	return ""
}

// Phases are the values Filters.Phases may hold, in lifecycle order.
var Phases = []string{"issue", "deactivate", "delete"}

// phaseOf maps an action to the --phase that covers it ("" for
// housekeeping that every phase may do).
func phaseOf(k ActionKind) string {
	switch k {
	case ActionIssue, ActionAdopt, ActionCleanup:
		return "issue"
	case ActionDeactivate:
		return "deactivate"
	case ActionDelete:
		return "delete"
	}
	return ""
}

// filter splits actions into those to run and those the filters exclude.
// Once a user's mutating action is filtered out, the rest of that user's
// sequence is too: later steps may rely on it (an Issue on the slot a
// Delete frees).
func (r *Runner) filter(actions []Action) (run []Action, skipped []Outcome) {
	blocked := map[string]error{}
	for _, a := range actions {
		if reason, ok := blocked[a.User]; ok && a.Kind.Mutates() {
			skipped = append(skipped, Outcome{Action: a, Result: vocab.ResultSkipped, Err: reason})
			continue
		}
		if len(r.Filters.Users) > 0 && !slices.Contains(r.Filters.Users, a.User) {
			if a.Kind.Mutates() {
				skipped = append(skipped, Outcome{Action: a, Result: vocab.ResultSkipped, Err: fmt.Errorf("%w by --user", ErrFiltered)})
			} else {
				// Reported as planned, but a user outside --user gets no
				// mail and no tag write from this run.
				a.Notify, a.Next = "", a.State
				run = append(run, a)
			}
			continue
		}
		if p := phaseOf(a.Kind); p != "" && len(r.Filters.Phases) > 0 && !slices.Contains(r.Filters.Phases, p) {
			reason := fmt.Errorf("%w by --phase", ErrFiltered)
			blocked[a.User] = reason
			skipped = append(skipped, Outcome{Action: a, Result: vocab.ResultSkipped, Err: reason})
			continue
		}
		run = append(run, a)
	}
	return run, skipped
}

// reportKeys turns the inventory and the outcomes into report rows: one per
// key, carrying its primary action and what became of it.
func (r *Runner) reportKeys(inv Inventory, t AccountTarget, now time.Time, outcomes []Outcome) ([]report.Key, []report.Notification) {
	// Outcomes are the user's own: a state tag may name any key ID, another
	// user's too (its Forget is an outcome of the tagged user), and must not
	// stand in that key's row for what keyrotor did to it.
	type userKey struct{ user, key string }
	byKey := map[userKey]Outcome{}
	var notes []report.Notification
	for _, o := range outcomes {
		// The last outcome of a key is its primary one, unless an earlier
		// step failed or was skipped: then that one explains the key.
		id := userKey{o.Action.User, o.Action.KeyID}
		prev, seen := byKey[id]
		if !seen || prev.Result == vocab.ResultDone || prev.Result == vocab.ResultPlanned || prev.Result == "" {
			byKey[id] = o
		}
		if o.Notified != nil || o.NotifyErr != nil {
			n := report.Notification{AccountID: t.ID, User: o.Action.User, AccessKeyID: o.Action.KeyID,
				Event: string(o.Action.Notify), Result: vocab.NotifySent}
			if o.Notified != nil {
				n.To, n.Subject = o.Notified.To, o.Notified.Subject
			}
			if o.NotifyErr != nil {
				n.Result, n.Error = vocab.NotifyFailed, o.NotifyErr.Error()
			}
			notes = append(notes, n)
		}
	}
	var keys []report.Key
	for _, u := range inv.Users {
		states, stateErrs := u.States()
		for _, k := range u.Keys {
			rk := report.Key{
				AccountID: t.ID, AccountName: t.Name, User: u.Name, AccessKeyID: k.ID, Status: k.Status,
				Created: k.Created.UTC(), AgeDays: int(now.Sub(k.Created) / (24 * time.Hour)),
				LastUsed: k.LastUsed, LastUsedService: k.LastUsedService, LastUsedRegion: k.LastUsedRegion,
				Exempt: u.Exempt != "", ExemptReason: u.Exempt,
			}
			rk.Findings = []report.Finding{}
			for _, f := range Findings(u, k, t.Policy, now) {
				rk.Findings = append(rk.Findings, report.Finding{ID: f.ID, Controls: f.Controls})
			}
			if o, ok := byKey[userKey{u.Name, k.ID}]; ok && o.Action.Code == vocab.ReasonStateTampered {
				rk.Findings = append(rk.Findings, report.Finding{ID: FindingStateTampered, Controls: Controls(FindingStateTampered)})
			}
			if st, ok := states[k.ID]; ok {
				rk.RotationState = string(st.Phase)
				rk.NewAccessKeyID = st.NewKeyID
			} else if _, bad := stateErrs[k.ID]; bad {
				rk.RotationState = "corrupt"
			}
			if o, ok := byKey[userKey{u.Name, k.ID}]; ok {
				rk.PlannedAction = reportAction(o.Action.Kind)
				rk.Reason, rk.ReasonCode, rk.Fix = o.Action.Reason, o.Code(), o.Action.Fix
				if o.Action.NewKeyID != "" {
					rk.NewAccessKeyID = o.Action.NewKeyID
				}
				if r.Mode == vocab.ModeApply && o.Action.Kind.Mutates() || o.Result == vocab.ResultFailed || (r.Mode == vocab.ModeApply && o.Result == vocab.ResultSkipped) {
					rk.Action = reportAction(o.Action.Kind)
				}
				rk.Result = o.Result
				if o.Err != nil {
					rk.Reason, rk.Fix = o.Err.Error(), ""
				}
				if o.NewKeyID != "" {
					rk.NewAccessKeyID = o.NewKeyID
				}
				if o.SecretName != "" {
					rk.SecretName = o.SecretName
				}
			} else {
				rk.PlannedAction = vocab.ActionNone
			}
			if rk.SecretName == "" && rk.NewAccessKeyID != "" {
				rk.SecretName = u.SecretName
			}
			keys = append(keys, rk)
		}
	}
	return keys, notes
}

// reportAction names an action in the report's vocabulary (report.Action*),
// which says what happens to the key rather than how the executor gets
// there: adopting a replacement and leaving a key to the run that is
// issuing for it are both part of an issue; forgetting a state tag is
// clean-up. Writing the executor's own kinds would make a report that
// fails its schema.
func reportAction(k ActionKind) vocab.Action {
	switch k {
	case ActionAdopt, ActionSkip:
		return vocab.ActionIssue
	case ActionForget:
		return vocab.ActionCleanup
	}
	return vocab.Action(k)
}

func reportPolicy(p Policy) report.Policy {
	d := func(x time.Duration) float64 { return x.Hours() / 24 }
	return report.Policy{
		MaxKeyAgeDays: d(p.MaxKeyAge), UnusedAfterDays: d(p.UnusedAfter),
		DeactivateAfterDays: d(p.DeactivateAfter), DeleteAfterDays: d(p.DeleteAfter),
	}
}

// checkApplyPermissions refuses an account whose role lacks what an
// applied rotation needs, before any call that reads or changes the
// account, so a read-only deployment fails with one clear error instead of
// halfway through a rotation. When the permissions cannot be checked (the
// role may not simulate its policies, or IAM fails), it logs a warning and
// lets the run go on: the calls themselves are then the check.
func (r *Runner) checkApplyPermissions(ctx context.Context, api AccountAPI, t AccountTarget) error {
	if api.Permissions == nil || api.RoleARN == "" {
		return nil
	}
	log := r.logger()
	scope, err := ScopeFor(t, api.RoleARN, r.Secrets, r.Exemptions.Groups)
	if err != nil {
		return err
	}
	if r.simulateUnavailable.Load() {
		return nil
	}
	missing, err := CheckPermissions(ctx, api.Permissions, api.RoleARN, NeededActions(vocab.ModeApply, r.Secrets, r.Exemptions, scope), scope)
	switch {
	case errors.Is(err, ErrSimulateUnavailable):
		// The endpoint, not the account: asking again in every account
		// would only cost time.
		if !r.simulateUnavailable.Swap(true) {
			log.Warn("cannot check the rotation role's permissions beforehand on this endpoint; going on, the calls themselves are the check", "account", t.ID, "err", err)
		}
		return nil
	case errors.Is(err, ErrSimulateDenied):
		log.Warn("cannot check the rotation role's permissions beforehand; going on", "account", t.ID, "err", err)
		return nil
	case err != nil:
		log.Warn("permission check failed; going on", "account", t.ID, "err", err)
		return nil
	case len(missing) > 0:
		return &PermissionError{RoleARN: api.RoleARN, Mode: vocab.ModeApply, Missing: missing}
	}
	return nil
}
