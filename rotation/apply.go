package rotation

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"keyrotor/internal/interrupt"
	"keyrotor/vocab"
)

// Apply executes actions, which must come from Plan on inv with e.RunID, and
// returns one outcome per action, in the same order.
//
// A user's actions run in plan order; after one fails, the user's remaining
// actions are skipped. Once ctx is cancelled, actions not yet started are
// skipped; an action that started finishes (its calls run without the
// cancellation), so no step is left half done by Ctrl-C, unless the run is
// aborted (interrupt.Detach: the grace period after the stop request ran
// out, or a second one came): then its calls are cut short, it fails with
// an error that says so, and the next run recovers what it left.
func (e *Executor) Apply(ctx context.Context, inv Inventory, actions []Action) []Outcome {
	out := make([]Outcome, len(actions))
	users := make(map[string]User, len(inv.Users))
	for _, u := range inv.Users {
		users[u.Name] = u
	}
	var order []string
	byUser := map[string][]int{}
	for i, a := range actions {
		if _, ok := byUser[a.User]; !ok {
			order = append(order, a.User)
		}
		byUser[a.User] = append(byUser[a.User], i)
	}
	g := new(errgroup.Group)
	g.SetLimit(max(1, e.Concurrency))
	for _, name := range order {
		u, ok := users[name]
		if !ok {
			u = User{Name: name}
		}
		idx := byUser[name]
		g.Go(func() error {
			r := &userRun{e: e, u: u, notified: map[string]Events{}}
			r.run(ctx, actions, idx, out)
			return nil
		})
	}
	_ = g.Wait()
	return out
}

func (r *userRun) run(ctx context.Context, actions []Action, idx []int, out []Outcome) {
	var stop error
	for _, i := range idx {
		a := actions[i]
		if stop == nil && ctx.Err() != nil {
			stop = ErrInterrupted
		}
		if stop != nil {
			out[i] = Outcome{Action: a, Result: vocab.ResultSkipped, Err: stop, NewKeyID: a.NewKeyID}
			r.log(ctx, out[i])
			continue
		}
		// Once started, a step completes even if the run is interrupted:
		// stopping between CreateAccessKey and storing the secret would
		// leave a key nobody holds. Only an abort cuts it short.
		sctx, done := interrupt.Detach(ctx)
		out[i] = r.apply(sctx, a)
		if o := &out[i]; o.Result == vocab.ResultFailed && o.Err != nil && interrupt.Aborted(sctx) {
			o.Err = fmt.Errorf("%w: %w", context.Cause(sctx), o.Err)
		}
		done()
		r.log(ctx, out[i])
		if out[i].Result == vocab.ResultFailed {
			stop = fmt.Errorf("%w (%s of %s)", ErrEarlierStepFailed, a.Kind, a.KeyID)
		}
	}
}

func (r *userRun) log(ctx context.Context, o Outcome) {
	a := o.Action
	level := slog.LevelInfo
	switch {
	case o.Result == vocab.ResultFailed || o.NotifyErr != nil:
		level = slog.LevelWarn
	case !a.Kind.Mutates() && o.Notified == nil && o.NotifyErr == nil:
		level = slog.LevelDebug // nothing was called
	}
	attrs := []any{"account", r.e.AccountID, "user", a.User, "action", string(a.Kind), "key", a.KeyID,
		"new_key", cmp.Or(o.NewKeyID, a.NewKeyID), "result", o.Result}
	if o.Err != nil {
		attrs = append(attrs, "err", o.Err.Error())
	}
	if o.Notified != nil {
		attrs = append(attrs, "notified", string(a.Notify))
	}
	if o.NotifyErr != nil {
		attrs = append(attrs, "notify_err", o.NotifyErr.Error())
	}
	r.e.logger().Log(ctx, level, "rotation step", attrs...)
}

func (r *userRun) apply(ctx context.Context, a Action) Outcome {
	switch a.Kind {
	case ActionIssue:
		return r.issue(ctx, a)
	case ActionAdopt:
		return r.adopt(ctx, a)
	case ActionDeactivate:
		return r.deactivate(ctx, a)
	case ActionDelete:
		return r.delete(ctx, a)
	case ActionCleanup:
		return r.cleanup(ctx, a)
	case ActionForget:
		return r.forget(ctx, a)
	case ActionHold:
		return r.passive(ctx, a, vocab.ResultHeld)
	case ActionNone:
		return r.passive(ctx, a, "")
	case ActionSkip:
		return Outcome{Action: a, Result: vocab.ResultSkipped, NewKeyID: a.NewKeyID}
	case ActionExempt:
		return Outcome{Action: a}
	}
	return Outcome{Action: a, Result: vocab.ResultFailed, Err: fmt.Errorf("unknown action %q", a.Kind)}
}

// passive handles actions that change no key but may record what the plan
// observed (see userRun.record) and may owe a mail: a Hold's reminder, or a
// None's mail that an earlier run failed to send.
func (r *userRun) passive(ctx context.Context, a Action, result vocab.Result) Outcome {
	o := Outcome{Action: a, Result: result, NewKeyID: a.NewKeyID}
	r.record(ctx, a, &o)
	if a.Notify != "" && o.Err == nil {
		r.notify(ctx, a, a.Next, "", true, &o)
	}
	return o
}
