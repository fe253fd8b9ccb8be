package awssim

import (
	"strings"
	"sync"
	"time"
)

// The test controls: the call log, latency, rate limits (per service and
// per operation) and injected faults that a Sim applies to every request.
// This file is their state and bookkeeping, which knows neither the Sim nor
// its services; controls_api.go is the Sim's methods that set them, and
// server.go applies them.

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
	// opLimits are the per-operation limits SetOperationRateLimit set, by
	// "service:Op", which replace the ones AWS documents (a zero limit
	// removes one); opBuckets are the per-operation buckets.
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

// throttle takes a token from the caller's bucket for the service,
// telling whether there was one (false: answer the service's throttling
// error).
func (c *controls) throttle(account, region, service string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.limits) == 0 {
		return true
	}
	lim, ok := c.limits[service]
	if !ok {
		return true
	}
	key := bucketKey{account: account, service: service}
	if c.regional[service] {
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
		return false
	}
	b.tokens--
	return true
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

// throttleOperation applies the operation's limit, if any, to the calling
// account in the request's region, telling whether the call may go on.
// documented is the limit AWS documents for the operation, which one set
// by SetOperationRateLimit replaces.
func (c *controls) throttleOperation(service, op string, documented rateLimit, account, region string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	lim := documented
	if len(c.opLimits) > 0 {
		if l, ok := c.opLimits[service+":"+op]; ok {
			lim = l
		}
	}
	if lim.perSecond <= 0 {
		return true
	}
	return c.takeTokenLocked(service+":"+op+"/"+account+"/"+region, lim)
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
