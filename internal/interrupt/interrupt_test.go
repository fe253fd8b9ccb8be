package interrupt_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"keyrotor/internal/interrupt"
)

// wait fails the test unless ch closes within d.
func wait(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s did not happen within %s", what, d)
	}
}

func TestFirstRequestLetsDetachedWorkRunForTheGrace(t *testing.T) {
	t.Parallel()
	s := interrupt.New(context.Background(), 150*time.Millisecond)
	var events []interrupt.Event
	var mu sync.Mutex
	s.OnRequest(func(e interrupt.Event) { mu.Lock(); events = append(events, e); mu.Unlock() })
	ctx := s.Context()
	step, done := interrupt.Detach(ctx)
	defer done()

	start := time.Now()
	s.Request("terminated")
	if ctx.Err() == nil || !errors.Is(context.Cause(ctx), interrupt.ErrStopRequested) {
		t.Fatalf("run context after the first request: %v (%v)", ctx.Err(), context.Cause(ctx))
	}
	if step.Err() != nil {
		t.Fatal("a detached step was cancelled by the first request")
	}
	wait(t, step.Done(), 5*time.Second, "the abort at the end of the grace")
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("aborted after %s, before the grace of 150ms", took)
	}
	if !interrupt.Aborted(step) || !errors.Is(context.Cause(step), interrupt.ErrAborted) {
		t.Errorf("detached context ended with %v, want ErrAborted", context.Cause(step))
	}
	wait(t, s.Aborted(), time.Second, "Aborted")
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 1 || events[0].Abort || events[0].Grace != 150*time.Millisecond || events[0].Reason != "terminated" {
		t.Errorf("events %+v, want one first request with its grace", events)
	}
}

func TestSecondRequestAbortsAtOnce(t *testing.T) {
	t.Parallel()
	s := interrupt.New(context.Background(), time.Hour)
	step, done := interrupt.Detach(s.Context())
	defer done()
	var aborts int
	s.OnRequest(func(e interrupt.Event) {
		if e.Abort {
			aborts++
		}
	})
	s.Request("interrupt")
	if step.Err() != nil {
		t.Fatal("the first request cancelled a detached step")
	}
	s.Request("interrupt")
	wait(t, step.Done(), time.Second, "the abort of the second request")
	if !interrupt.Aborted(step) || aborts != 1 {
		t.Errorf("cause %v, %d abort events", context.Cause(step), aborts)
	}
	// Work detached after the abort ends at once.
	late, lateDone := interrupt.Detach(s.Context())
	defer lateDone()
	wait(t, late.Done(), time.Second, "a late detached context's end")
}

func TestDoneDetachedContextIsReleased(t *testing.T) {
	t.Parallel()
	s := interrupt.New(context.Background(), time.Hour)
	step, done := interrupt.Detach(s.Context())
	done()
	if !errors.Is(step.Err(), context.Canceled) || interrupt.Aborted(step) {
		t.Errorf("a finished step's context: %v, aborted %v", step.Err(), interrupt.Aborted(step))
	}
}

type testKey struct{}

func TestDetachWithoutStop(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), testKey{}, "v"))
	step, done := interrupt.Detach(ctx)
	defer done()
	cancel()
	if step.Err() != nil || step.Value(testKey{}) != "v" {
		t.Errorf("without a Stop, Detach must ignore cancellation and keep values: %v", step.Err())
	}
}

func TestParentCancelAborts(t *testing.T) {
	t.Parallel()
	parent, cancel := context.WithCancel(context.Background())
	s := interrupt.New(parent, time.Hour)
	step, done := interrupt.Detach(s.Context())
	defer done()
	cancel()
	wait(t, step.Done(), time.Second, "the abort of a cancelled parent")
	if !interrupt.Aborted(step) {
		t.Errorf("cause %v", context.Cause(step))
	}
}

func TestSetGrace(t *testing.T) {
	t.Parallel()
	s := interrupt.New(context.Background(), time.Hour)
	s.SetGrace(50 * time.Millisecond)
	s.Request("terminated")
	wait(t, s.Aborted(), 5*time.Second, "the abort after the shortened grace")
	s.SetGrace(time.Hour) // after a request: no effect, no panic
}
