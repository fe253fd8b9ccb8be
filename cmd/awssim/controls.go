package main

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"keyrotor/internal/awssim"
)

// The test controls on the command line, so that a throttled, slow or
// failing organization can be reproduced without Go (docs/awssim.md):
//
//	--latency PATTERN=DURATION                 iam:ListUsers=300ms, sts:*=1s, *=50ms
//	--rate-limit SERVICE[/region]=RATE[:BURST]  iam=5:10, cloudtrail/region=2
//	--fault SERVICE:OP[@ACCOUNT][#N[xTIMES]]=ACTION
//
// A fault's ACTION is STATUS[:CODE[:MESSAGE]] (an error response, default
// code InternalFailure), hang[:BOUND], unsupported, truncate or cut. #N
// starts at the Nth matching call (default the first), xTIMES is how many
// calls fail (default one; unsupported: every call), x* means every call.

// latencyControl is one --latency.
type latencyControl struct {
	pattern string
	delay   time.Duration
}

// rateControl is one --rate-limit.
type rateControl struct {
	service   string
	perRegion bool
	perSecond float64
	burst     int
}

// maxControlDelay bounds --latency and a hang's bound: a typo must not
// freeze a demo for hours.
const maxControlDelay = time.Hour

// checkPattern accepts "*", "SERVICE:*" and "SERVICE:Op" of what awssim serves.
func checkPattern(p string) error {
	if p == "*" {
		return nil
	}
	svc, op, ok := strings.Cut(p, ":")
	if !ok || svc == "" || op == "" {
		return fmt.Errorf("%q is not *, SERVICE:* or SERVICE:Operation", p)
	}
	return checkOperation(svc, op)
}

func checkOperation(svc, op string) error {
	if !awssim.SupportsOperation(svc, "*") {
		return fmt.Errorf("awssim serves no service %q (it serves %s)", svc, strings.Join(awssim.ServiceNames(), ", "))
	}
	if !awssim.SupportsOperation(svc, op) {
		return fmt.Errorf("awssim does not serve %s:%s (operation names are case-sensitive, like ListUsers)", svc, op)
	}
	return nil
}

func parseDelay(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > maxControlDelay {
		return 0, fmt.Errorf("%q is not a duration between 1ns and %s, like 250ms or 2s", s, maxControlDelay)
	}
	return d, nil
}

// parseLatency reads PATTERN=DURATION.
func parseLatency(spec string) (latencyControl, error) {
	p, d, ok := strings.Cut(spec, "=")
	if !ok {
		return latencyControl{}, errors.New("want PATTERN=DURATION, like iam:ListUsers=300ms")
	}
	if err := checkPattern(p); err != nil {
		return latencyControl{}, err
	}
	delay, err := parseDelay(d)
	if err != nil {
		return latencyControl{}, err
	}
	return latencyControl{pattern: p, delay: delay}, nil
}

// parseRateLimit reads SERVICE[/region]=PER_SECOND[:BURST]. The burst
// defaults to one second's worth of calls.
func parseRateLimit(spec string) (rateControl, error) {
	svc, rate, ok := strings.Cut(spec, "=")
	if !ok {
		return rateControl{}, errors.New("want SERVICE[/region]=PER_SECOND[:BURST], like iam=5:10")
	}
	var rc rateControl
	svc, scope, scoped := strings.Cut(svc, "/")
	if scoped && scope != "region" {
		return rateControl{}, fmt.Errorf("%q is no scope: write SERVICE/region to limit per account and region", scope)
	}
	rc.service, rc.perRegion = svc, scoped
	if !awssim.SupportsOperation(svc, "*") {
		return rateControl{}, fmt.Errorf("awssim serves no service %q (it serves %s)", svc, strings.Join(awssim.ServiceNames(), ", "))
	}
	perSecond, burst, hasBurst := strings.Cut(rate, ":")
	n, err := strconv.ParseFloat(perSecond, 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return rateControl{}, fmt.Errorf("%q is not a positive number of calls per second", perSecond)
	}
	rc.perSecond = n
	rc.burst = int(math.Max(1, math.Ceil(n)))
	if hasBurst {
		b, err := strconv.Atoi(burst)
		if err != nil || b < 1 {
			return rateControl{}, fmt.Errorf("burst %q is not a whole number of calls of at least 1", burst)
		}
		rc.burst = b
	}
	return rc, nil
}

var (
	faultTargetRe = regexp.MustCompile(`^([a-z0-9-]+):([A-Za-z0-9]+|\*)(?:@(\d{12}))?(?:#(\d+)(?:x(\d+|\*))?)?$`)
	errorCodeRe   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.]*$`)
)

// parseFault reads SERVICE:OP[@ACCOUNT][#N[xTIMES]]=ACTION.
func parseFault(spec string) (awssim.Fault, error) {
	target, action, ok := strings.Cut(spec, "=")
	if !ok {
		return awssim.Fault{}, errors.New("want SERVICE:OP[@ACCOUNT][#N[xTIMES]]=ACTION, like iam:ListUsers#3x2=500:InternalFailure")
	}
	m := faultTargetRe.FindStringSubmatch(target)
	if m == nil {
		return awssim.Fault{}, fmt.Errorf("%q is not SERVICE:OP[@ACCOUNT][#N[xTIMES]] (the account is 12 digits, N and TIMES whole numbers, TIMES may be *)", target)
	}
	if err := checkOperation(m[1], m[2]); err != nil {
		return awssim.Fault{}, err
	}
	f := awssim.Fault{Service: m[1], Op: m[2], AccountID: m[3]}
	if m[4] != "" {
		n, err := strconv.Atoi(m[4])
		if err != nil || n < 1 {
			return awssim.Fault{}, fmt.Errorf("#%s: calls count from 1", m[4])
		}
		f.Nth = n
	}
	switch m[5] {
	case "":
	case "*":
		f.Times = -1
	default:
		n, err := strconv.Atoi(m[5])
		if err != nil || n < 1 {
			return awssim.Fault{}, fmt.Errorf("x%s: a fault fails at least one call (x* for every call)", m[5])
		}
		f.Times = n
	}
	kind, arg, hasArg := strings.Cut(action, ":")
	switch kind {
	case "hang":
		f.Kind = awssim.FaultHang
		if hasArg {
			d, err := parseDelay(arg)
			if err != nil {
				return awssim.Fault{}, fmt.Errorf("hang bound: %w", err)
			}
			f.HangFor = d
		}
		return f, nil
	case "unsupported", "truncate", "cut":
		if hasArg {
			return awssim.Fault{}, fmt.Errorf("%s takes no argument", kind)
		}
		f.Kind = map[string]awssim.FaultKind{"unsupported": awssim.FaultUnsupported, "truncate": awssim.FaultTruncate, "cut": awssim.FaultCut}[kind]
		return f, nil
	}
	status, err := strconv.Atoi(kind)
	if err != nil || status < 400 || status > 599 {
		return awssim.Fault{}, fmt.Errorf("%q is not an action: hang[:BOUND], unsupported, truncate, cut, or an HTTP error status 400-599 with an optional :CODE[:MESSAGE]", action)
	}
	f.Kind, f.Status = awssim.FaultError, status
	if hasArg {
		code, msg, _ := strings.Cut(arg, ":")
		if !errorCodeRe.MatchString(code) {
			return awssim.Fault{}, fmt.Errorf("%q is not an error code like InternalFailure or Throttling", code)
		}
		f.Code, f.Message = code, msg
	}
	return f, nil
}

// controlFlags collects the repeatable control flags.
type controlFlags struct {
	latency []latencyControl
	rates   []rateControl
	faults  []awssim.Fault
	specs   []string // as given, for the start-up line
}

// apply arms the controls on sim.
func (c *controlFlags) apply(sim *awssim.Sim) {
	for _, l := range c.latency {
		sim.SetLatency(l.pattern, l.delay)
	}
	for _, r := range c.rates {
		sim.SetRateLimitScope(r.service, r.perRegion)
		sim.SetRateLimit(r.service, r.perSecond, r.burst)
	}
	for _, f := range c.faults {
		sim.InjectFault(f)
	}
}
