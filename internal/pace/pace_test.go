package pace

import (
	"testing"
	"time"
)

func TestLimiterAIMD(t *testing.T) {
	o := Options{Rate: 10, Min: 1, Max: 40, Burst: 2, Increase: 1, Cooldown: time.Second}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	l := New(o)
	l.now = func() time.Time { return now }

	l.Throttled()
	if r := l.Stats().Rate; r != 5 {
		t.Fatalf("after a throttle rate %g, want 5", r)
	}
	// Calls in flight when AWS began throttling come back throttled too:
	// one event, one halving.
	now = now.Add(500 * time.Millisecond)
	l.Throttled()
	if r := l.Stats().Rate; r != 5 {
		t.Errorf("a throttle within the cooldown halved again: %g", r)
	}
	now = now.Add(time.Second)
	l.Throttled()
	l.Throttled()
	if st := l.Stats(); st.Rate != 2.5 || st.Throttles != 4 {
		t.Errorf("after the cooldown: %+v, want rate 2.5 and 4 throttles", st)
	}
	for range 10 {
		now = now.Add(time.Second)
		l.Throttled()
	}
	if r := l.Stats().Rate; r != 1 {
		t.Errorf("rate %g fell below the minimum 1", r)
	}
	// Additive increase: about Increase per second of calls at the rate.
	l.set(10)
	for range 10 {
		l.Succeeded()
	}
	if r := l.Stats().Rate; r < 10.9 || r > 11 {
		t.Errorf("after a second of successes at 10/s rate %g, want about 11", r)
	}
	for range 10000 {
		l.Succeeded()
	}
	if r := l.Stats().Rate; r != 40 {
		t.Errorf("rate %g went past the maximum 40", r)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{
		{Rate: 10, Min: 0, Max: 20, Burst: 1},
		{Rate: 30, Min: 1, Max: 20, Burst: 1},
		{Rate: 0.5, Min: 1, Max: 20, Burst: 1},
		{Rate: 10, Min: 1, Max: 20, Burst: 0},
		{Rate: 10, Min: 1, Max: 20, Burst: 1, Increase: -1},
	} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestSet(t *testing.T) {
	s := NewSet(map[string]Options{
		"IAM":        {Rate: 10, Min: 1, Max: 20, Burst: 1},
		"CloudTrail": {Rate: 2, Min: 0.5, Max: 2, Burst: 1},
		"SESv2":      {},
	}, Options{Rate: 5, Min: 1, Max: 5, Burst: 1})
	a, b := s.For("111111111111"), s.For("222222222222")
	first, again := a("IAM", "us-east-1"), a("IAM", "us-east-1")
	if first != again || first == b("IAM", "us-east-1") {
		t.Error("limiters are not one per account and service")
	}
	if a("CloudTrail", "us-east-1") == a("CloudTrail", "eu-west-1") {
		t.Error("CloudTrail limiters are not per region")
	}
	if a("SESv2", "us-east-1") != nil {
		t.Error("a service with rate 0 is paced")
	}
	if l := a("Secrets Manager", "us-east-1"); l == nil || l.Stats().Rate != 5 {
		t.Error("an unlisted service does not take the default")
	}
	if st := s.Stats(); len(st) != 5 || st[0].Account != "111111111111" || st[0].Service != "CloudTrail" || st[0].Region != "eu-west-1" {
		t.Errorf("stats %+v", st)
	}
}
