// Package pace keeps a run's calls near each account's real API limit
// without spending calls on throttles. AWS throttles IAM (and CloudTrail,
// Secrets Manager, STS, ...) per account with token buckets whose rates it
// does not publish, so a limiter starts from a configured rate, halves it
// when AWS throttles, and probes upward while calls succeed (AIMD, as TCP
// does), within a floor and a ceiling. An SDK middleware puts a limiter in
// front of every attempt of every call, the retried ones included, so the
// retryer's own throttling backoff rarely has to act.
package pace

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Options shape a Limiter.
type Options struct {
	// Rate is the starting rate in requests per second.
	Rate float64
	// Min and Max bound the rate (Min > 0, Max >= Rate).
	Min, Max float64
	// Burst is how many requests may go at once after a quiet spell.
	Burst int
	// Increase is how many requests per second the rate grows per second
	// of throttle-free calls at the current rate.
	Increase float64
	// Cooldown is how long after a decrease further throttles are taken
	// as part of the same event: calls in flight when AWS started
	// throttling come back throttled too and must not halve the rate again.
	Cooldown time.Duration
}

// Validate says what is wrong with o, for a configuration error.
func (o Options) Validate() error {
	switch {
	case o.Min <= 0:
		return fmt.Errorf("minimum rate %g must be above 0", o.Min)
	case o.Rate < o.Min || o.Rate > o.Max:
		return fmt.Errorf("rate %g must be between the minimum %g and the maximum %g", o.Rate, o.Min, o.Max)
	case o.Burst < 1:
		return fmt.Errorf("burst %d must be at least 1", o.Burst)
	case o.Increase < 0:
		return fmt.Errorf("increase %g must not be negative", o.Increase)
	}
	return nil
}

// Limiter is an AIMD-paced token bucket, safe for concurrent use.
type Limiter struct {
	o   Options
	now func() time.Time

	mu        sync.Mutex
	rate      float64
	lastDrop  time.Time
	throttles int
	requests  int
	waits     time.Duration
	tb        *rate.Limiter
}

// New returns a limiter with o, which must be valid.
func New(o Options) *Limiter {
	return &Limiter{o: o, now: time.Now, rate: o.Rate, tb: rate.NewLimiter(rate.Limit(o.Rate), o.Burst)}
}

// Wait blocks until a request may go, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	start := time.Now()
	err := l.tb.Wait(ctx)
	l.mu.Lock()
	l.waits += time.Since(start)
	l.requests++
	l.mu.Unlock()
	return err
}

// Throttled tells the limiter AWS throttled a request: the rate halves,
// once per cooldown.
func (l *Limiter) Throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.throttles++
	now := l.now()
	if !l.lastDrop.IsZero() && now.Sub(l.lastDrop) < l.o.Cooldown {
		return
	}
	l.lastDrop = now
	l.set(max(l.o.Min, l.rate/2))
}

// Succeeded tells the limiter a request went through: the rate grows by
// Increase per second's worth of requests.
func (l *Limiter) Succeeded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate >= l.o.Max || l.o.Increase == 0 {
		return
	}
	l.set(min(l.o.Max, l.rate+l.o.Increase/l.rate))
}

func (l *Limiter) set(r float64) {
	l.rate = r
	l.tb.SetLimit(rate.Limit(r))
}

// Stats are a limiter's figures, for benchmarks and logs.
type Stats struct {
	// Rate is the current rate in requests per second.
	Rate float64
	// Requests counts the requests paced, Throttles the throttled
	// responses seen.
	Requests, Throttles int
	// Waited is the time requests spent waiting for the limiter.
	Waited time.Duration
}

// Stats returns the limiter's figures.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Rate: l.rate, Requests: l.requests, Throttles: l.throttles, Waited: l.waits}
}
