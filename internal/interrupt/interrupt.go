// Package interrupt is keyrotor's two-stage stop. The first request (the
// first SIGINT or SIGTERM) cancels the run's context: no account and no
// rotation step starts after it, and the report of what was done is
// written. Steps already started run on under Detach, because stopping
// between CreateAccessKey and storing the secret would leave a key nobody
// holds, but only for a grace period: when it ends, or at a second
// request, the run is aborted and every detached context is cancelled
// too, so a call that hangs cannot keep the process alive until a
// scheduler kills it without a report. A step cut short that way leaves
// the state the next run recovers (an intent tag, an orphan key it
// deletes).
package interrupt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultGrace is how long steps in flight may run on after the first
// stop request: under the 30 seconds ECS and Kubernetes wait between
// SIGTERM and SIGKILL, with time left to write the report.
const DefaultGrace = 20 * time.Second

// ErrStopRequested is the cause of the run's context once a stop was
// requested.
var ErrStopRequested = errors.New("stop requested")

// ErrAborted is the cause of every detached context once the run is
// aborted: the grace period ran out, or a second stop was requested.
var ErrAborted = errors.New("run aborted while the step was in flight")

// Event tells the user what a stop request did.
type Event struct {
	// Reason is what asked for the stop ("terminated", "interrupt").
	Reason string
	// Abort is false for the first request, which lets steps in flight
	// run on for Grace, and true when the run is aborted.
	Abort bool
	// Grace is the grace period of a first request.
	Grace time.Duration
}

// Stop is one run's two-stage stop. Its methods are safe for concurrent
// use.
type Stop struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	hard   context.Context
	abort  context.CancelCauseFunc

	mu       sync.Mutex
	grace    time.Duration
	requests int
	timer    *time.Timer
	notify   func(Event)
}

type stopKey struct{}

// New returns a Stop whose contexts derive from parent, with the given
// grace period (DefaultGrace when 0).
func New(parent context.Context, grace time.Duration) *Stop {
	if grace <= 0 {
		grace = DefaultGrace
	}
	s := &Stop{grace: grace}
	s.hard, s.abort = context.WithCancelCause(context.WithoutCancel(parent))
	ctx, cancel := context.WithCancelCause(parent)
	s.ctx, s.cancel = context.WithValue(ctx, stopKey{}, s), cancel
	// A cancelled parent aborts too: nothing else would end the grace.
	context.AfterFunc(parent, func() { s.abort(fmt.Errorf("%w: %w", ErrAborted, context.Cause(parent))) })
	return s
}

// Context is the run's context: cancelled at the first request, and the
// one Detach finds the Stop in.
func (s *Stop) Context() context.Context { return s.ctx }

// Aborted is closed once the run is aborted.
func (s *Stop) Aborted() <-chan struct{} { return s.hard.Done() }

// SetGrace changes the grace period of a stop not yet requested.
func (s *Stop) SetGrace(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > 0 && s.requests == 0 {
		s.grace = d
	}
}

// OnRequest sets the function told about each request, so that the
// command can say on its log what happens next.
func (s *Stop) OnRequest(f func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notify = f
}

// Request asks the run to stop, for reason (a signal's name). The first
// request cancels the run's context and arms the grace period; any later
// one aborts at once.
func (s *Stop) Request(reason string) {
	s.mu.Lock()
	s.requests++
	first := s.requests == 1
	ev := Event{Reason: reason, Abort: !first, Grace: s.grace}
	if first {
		s.timer = time.AfterFunc(s.grace, func() {
			s.abort(fmt.Errorf("%w: the grace period of %s after %s ran out", ErrAborted, s.grace, reason))
		})
	}
	notify := s.notify
	s.mu.Unlock()

	if notify != nil {
		notify(ev)
	}
	if first {
		s.cancel(fmt.Errorf("%w (%s)", ErrStopRequested, reason))
		return
	}
	s.abort(fmt.Errorf("%w: %s again", ErrAborted, reason))
}

// Detach returns a context for work that must run on after the run's
// context is cancelled (a started rotation step, the report upload, the
// digest): it keeps ctx's values, ignores its cancellation, and ends when
// the Stop in ctx aborts the run. Without a Stop in ctx it is
// context.WithoutCancel(ctx), bounded only by the calls' own timeouts.
// Call the returned function when the work is done.
func Detach(ctx context.Context) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(ctx)
	s, ok := ctx.Value(stopKey{}).(*Stop)
	if !ok {
		return base, func() {}
	}
	dctx, cancel := context.WithCancelCause(base)
	unhook := context.AfterFunc(s.hard, func() { cancel(context.Cause(s.hard)) })
	return dctx, func() {
		unhook()
		cancel(nil)
	}
}

// Aborted tells whether ctx is a detached context the run's abort ended.
func Aborted(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrAborted)
}
