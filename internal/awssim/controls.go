package awssim

import (
	"strings"
	"sync"
	"time"
)

// Call is one request the simulator answered, as kept in the call log.
type Call struct {
	Time        time.Time
	Service     string
	Op          string
	Region      string
	AccountID   string
	Principal   string
	AccessKeyID string
	// ErrorCode is the error returned, "" on success.
	ErrorCode string
}

// Action is the call's IAM action name, e.g. "iam:CreateAccessKey".
func (c Call) Action() string { return c.Service + ":" + c.Op }

// IsWrite tells whether the operation changes state in AWS. Credential
// report generation and role assumption are reads: the read-only managed
// policies grant them.
func (c Call) IsWrite() bool { return IsWriteOp(c.Op) }

// IsWriteOp tells whether an operation name changes state.
func IsWriteOp(op string) bool {
	for _, p := range []string{"List", "Get", "Describe", "Head", "Simulate", "Lookup"} {
		if strings.HasPrefix(op, p) {
			return false
		}
	}
	switch op {
	case "GenerateCredentialReport", "AssumeRole", "GetCallerIdentity":
		return false
	}
	return true
}

// Fault makes matching calls fail. Service and Op must be set (Op "*"
// matches every operation of the service); AccountID narrows it to calls
// made with that account's credentials.
type Fault struct {
	Service   string
	Op        string
	AccountID string
	// Nth is the 1-based index of the first matching call that fails
	// (counted from when the fault was injected); 0 means the next one.
	Nth int
	// Times is how many calls fail from the Nth on; 0 means one (every
	// call for FaultUnsupported), a negative number every call.
	Times int
	// Kind is how the calls fail (default FaultError); see faults.go.
	Kind FaultKind
	// Code, Message and Status form the error response of FaultError.
	Code    string
	Message string
	Status  int
	// CutAfter lets the operation take effect, then drops the connection
	// without a response. It is the same as Kind FaultCut.
	CutAfter bool
	// HangFor bounds a FaultHang: after it the connection is dropped even
	// if the client still waits (default DefaultHangFor).
	HangFor time.Duration

	seen, fired int
}

type rateLimit struct {
	perSecond float64
	burst     float64
}

type bucket struct {
	tokens float64
	last   time.Time
}

// bucketKey names one token bucket: an account's calls to a service, and
// for services limited per region, in one region.
type bucketKey struct{ account, service, region string }

type controls struct {
	mu       sync.Mutex
	latency  map[string]time.Duration
	limits   map[string]rateLimit
	regional map[string]bool
	buckets  map[bucketKey]*bucket
	faults   []*Fault
	calls    []Call
	noLog    bool
	realTime func() time.Time
	// opLimits are the per-operation limits (SetOperationRateLimit), made
	// from defaultOperationLimits on first use, with their buckets.
	opLimits  map[string]rateLimit
	opBuckets map[string]*bucket
}

func newControls() *controls {
	return &controls{
		latency:  map[string]time.Duration{},
		limits:   map[string]rateLimit{},
		regional: map[string]bool{},
		buckets:  map[bucketKey]*bucket{},
		realTime: time.Now,
	}
}

// SetLatency delays every call matching pattern by d of real time.
// pattern is "service:Op", "service:*" or "*".
func (s *Sim) SetLatency(pattern string, d time.Duration) {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	s.ctl.latency[pattern] = d
}

func (c *controls) latencyFor(svc, op string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.latency) == 0 {
		return 0
	}
	if d, ok := c.latency[svc+":"+op]; ok {
		return d
	}
	if d, ok := c.latency[svc+":*"]; ok {
		return d
	}
	return c.latency["*"]
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

// throttle takes a token from the caller's bucket for the service, or
// answers the service's throttling error.
func (c *controls) throttle(account, region string, svc *service) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.limits) == 0 {
		return nil
	}
	lim, ok := c.limits[svc.name]
	if !ok {
		return nil
	}
	key := bucketKey{account: account, service: svc.name}
	if c.regional[svc.name] {
		key.region = region
	}
	now := c.realTime()
	b := c.buckets[key]
	if b == nil {
		b = &bucket{tokens: lim.burst, last: now}
		c.buckets[key] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * lim.perSecond
	if b.tokens > lim.burst {
		b.tokens = lim.burst
	}
	b.last = now
	if b.tokens < 1 {
		return apiErr(svc.throttleHTTP, svc.throttleCode, "Rate exceeded")
	}
	b.tokens--
	return nil
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

// fault returns the fault that fires for this call, if any.
func (c *controls) fault(svc, op, account string) *Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.faults {
		if f.Service != svc || (f.Op != op && f.Op != "*") || (f.AccountID != "" && f.AccountID != account) {
			continue
		}
		f.seen++
		if f.seen >= f.Nth && (f.Times < 0 || f.fired < f.Times) {
			f.fired++
			cp := *f
			if cp.Kind == FaultUnsupported && cp.Message == "" {
				cp.Message = unsupportedMessage(svc, op)
			}
			return &cp
		}
	}
	return nil
}

func (c *controls) record(call Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.noLog {
		c.calls = append(c.calls, call)
	}
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

// defaultOperationLimits are the rate limits AWS documents per operation,
// account and region (like CloudTrail LookupEvents' 2 per second), which
// every simulator starts with. Service files add theirs in init.
var defaultOperationLimits = map[string]rateLimit{}

// SetOperationRateLimit limits calls of one operation ("cloudtrail:LookupEvents")
// to perSecond (real time) with the given burst, in a token bucket per
// account and region, as AWS limits some operations; excess calls get the
// service's throttling error. It replaces the operation's default limit,
// and perSecond <= 0 removes the limit, the default included.
func (s *Sim) SetOperationRateLimit(action string, perSecond float64, burst int) {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	limits := s.ctl.opLimitsLocked()
	if perSecond <= 0 {
		limits[action] = rateLimit{}
		return
	}
	if burst < 1 {
		burst = 1
	}
	limits[action] = rateLimit{perSecond: perSecond, burst: float64(burst)}
}

func (c *controls) opLimitsLocked() map[string]rateLimit {
	if c.opLimits == nil {
		c.opLimits = make(map[string]rateLimit, len(defaultOperationLimits))
		for k, v := range defaultOperationLimits {
			c.opLimits[k] = v
		}
	}
	return c.opLimits
}

// throttleOperation applies the operation's limit, if any, to the calling
// account in the request's region.
func (c *controls) throttleOperation(svc *service, op, account, region string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	action := svc.name + ":" + op
	lim := c.opLimitsLocked()[action]
	if lim.perSecond <= 0 {
		return nil
	}
	if !c.takeTokenLocked(action+"/"+account+"/"+region, lim) {
		return apiErr(svc.throttleHTTP, svc.throttleCode, "Rate exceeded")
	}
	return nil
}

// takeTokenLocked refills the named operation bucket for the time passed and takes a
// token from it, telling whether there was one.
func (c *controls) takeTokenLocked(key string, lim rateLimit) bool {
	now := c.realTime()
	b := c.opBuckets[key]
	if b == nil {
		if c.opBuckets == nil {
			c.opBuckets = map[string]*bucket{}
		}
		b = &bucket{tokens: lim.burst, last: now}
		c.opBuckets[key] = b
	}
	b.tokens = min(lim.burst, b.tokens+now.Sub(b.last).Seconds()*lim.perSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
