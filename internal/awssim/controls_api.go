package awssim

import "time"

// The Sim's test controls (see controls.go), which tests and cmd/awssim's
// flags use to make an organization slow, throttled or failing, and to
// read back the calls it served.

// SetLatency delays every call matching pattern by d of real time.
// pattern is "service:Op", "service:*" or "*".
func (s *Sim) SetLatency(pattern string, d time.Duration) {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	s.ctl.latency[pattern] = d
}

// SetRateLimit limits each account's calls to service to perSecond (real
// time) with the given burst; excess calls get the service's throttling
// error. perSecond <= 0 removes the limit.
func (s *Sim) SetRateLimit(service string, perSecond float64, burst int) {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	if perSecond <= 0 {
		delete(s.ctl.limits, service)
		return
	}
	if burst < 1 {
		burst = 1
	}
	s.ctl.limits[service] = rateLimit{perSecond: perSecond, burst: float64(burst)}
}

// SetRateLimitScope makes the rate limit of service apply per account and
// region (perRegion true), as CloudTrail's LookupEvents limit does, instead
// of per account across regions (the default). It takes effect for buckets
// created afterwards, so set it before the first call.
func (s *Sim) SetRateLimitScope(service string, perRegion bool) {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	if perRegion {
		s.ctl.regional[service] = true
	} else {
		delete(s.ctl.regional, service)
	}
}

// InjectFault arms a fault. Faults fire in the order they were injected.
func (s *Sim) InjectFault(f Fault) {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	f.normalize()
	s.ctl.faults = append(s.ctl.faults, &f)
}

// ClearFaults disarms every fault.
func (s *Sim) ClearFaults() {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	s.ctl.faults = nil
}

// SetOperationRateLimit limits calls of one operation ("cloudtrail:LookupEvents")
// to perSecond (real time) with the given burst, in a token bucket per
// account and region, as AWS limits some operations; excess calls get the
// service's throttling error. It replaces the operation's default limit,
// and perSecond <= 0 removes the limit, the default included.
func (s *Sim) SetOperationRateLimit(action string, perSecond float64, burst int) {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	if s.ctl.opLimits == nil {
		s.ctl.opLimits = map[string]rateLimit{}
	}
	limits := s.ctl.opLimits
	if perSecond <= 0 {
		limits[action] = rateLimit{}
		return
	}
	if burst < 1 {
		burst = 1
	}
	limits[action] = rateLimit{perSecond: perSecond, burst: float64(burst)}
}

// Calls returns a copy of the call log.
func (s *Sim) Calls() []Call {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	return append([]Call(nil), s.ctl.calls...)
}

// ResetCalls empties the call log.
func (s *Sim) ResetCalls() {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	s.ctl.calls = nil
}

// SetCallLog turns the call log on or off (off saves memory in benchmarks).
func (s *Sim) SetCallLog(on bool) {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	s.ctl.noLog = !on
}

// WriteCalls returns the logged calls to operations that change state,
// whether or not they succeeded.
func (s *Sim) WriteCalls() []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.IsWrite() {
			out = append(out, c)
		}
	}
	return out
}
