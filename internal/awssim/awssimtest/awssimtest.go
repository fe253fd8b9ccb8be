// Package awssimtest is the test kit every keyrotor package's tests share
// to reach the simulator the way production reaches AWS: a *awssim.Sim
// served on a loopback HTTP server for the test's lifetime, and aws.Config
// values that point the real SDK clients at it, signed with a credential
// the simulator issued and retried by keyrotor's own retryer unless a test
// asks for another.
//
// It is a non-test package only so that other packages' tests can import
// it; production code must not.
package awssimtest

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"keyrotor/internal/awsclient"
	"keyrotor/internal/awssim"
)

// SessionDuration is how long the role sessions RoleConfig issues last:
// longer than any test, so none expires under it unless the test moves the
// simulated clock past it on purpose.
const SessionDuration = time.Hour

// Server is a Sim served over HTTP on 127.0.0.1 until the test that
// started it ends.
type Server struct {
	// URL is the server's base URL (http://127.0.0.1:port), the
	// BaseEndpoint of every service.
	URL string
	// Sim is the simulator served.
	Sim *awssim.Sim
	// Seeded is what StartScenario's Build created; zero after Start.
	Seeded awssim.Seeded
}

// Start serves sim on a loopback httptest server, closed at t's cleanup.
func Start(t testing.TB, sim *awssim.Sim) *Server {
	t.Helper()
	return StartWrapped(t, sim, nil)
}

// StartWrapped is Start with the simulator served through wrap (nil:
// directly), for tests that act between two of the client's calls.
func StartWrapped(t testing.TB, sim *awssim.Sim, wrap func(http.Handler) http.Handler) *Server {
	t.Helper()
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, Sim: sim}
}

// StartScenario builds sc with opts (see awssim.Scenario.Build) and serves
// the result as Start does; the test fails at once if sc does not build.
// The returned Server's Seeded describes what was built, and its configs
// default to the scenario's region.
func StartScenario(t testing.TB, sc *awssim.Scenario, opts ...awssim.Option) *Server {
	t.Helper()
	return StartScenarioWrapped(t, sc, nil, opts...)
}

// StartScenarioWrapped is StartScenario served through wrap, as
// StartWrapped.
func StartScenarioWrapped(t testing.TB, sc *awssim.Scenario, wrap func(http.Handler) http.Handler, opts ...awssim.Option) *Server {
	t.Helper()
	sim, seeded, err := sc.Build(opts...)
	if err != nil {
		t.Fatalf("build scenario: %v", err)
	}
	s := StartWrapped(t, sim, wrap)
	s.Seeded = seeded
	return s
}

// Option adjusts a Config.
type Option func(*aws.Config)

// Region sets the config's region (by default the scenario's region for a
// Server from StartScenario, else awssim.DefaultRegion).
func Region(region string) Option {
	return func(c *aws.Config) { c.Region = region }
}

// NoRetries makes every call a single attempt, for tests that count calls
// or expect an injected failure to reach the code under test as it is.
func NoRetries() Option {
	return func(c *aws.Config) {
		c.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 1
				o.RateLimiter = ratelimit.None
			})
		}
	}
}

// Retries replaces keyrotor's retryer with the SDK's standard one making
// up to attempts attempts (at least one) and backing off at most
// maxBackoff between them, without the client-side retry quota that a
// deliberately failing or throttled test would exhaust: the production
// retry decisions, on a test's time scale.
func Retries(attempts int, maxBackoff time.Duration) Option {
	return func(c *aws.Config) {
		c.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = max(1, attempts)
				o.MaxBackoff = maxBackoff
				o.RateLimiter = ratelimit.None
			})
		}
	}
}

// SDKDefaultRetryer leaves the retryer unset, so that each client falls
// back to the SDK's own default (three attempts, with a retry quota): for
// the simulator's own tests, which check its wire behaviour against the
// SDK as shipped rather than as keyrotor configures it.
func SDKDefaultRetryer() Option {
	return func(c *aws.Config) { c.Retryer = nil }
}

// Provider is a static credentials provider for c.
func Provider(c awssim.Credentials) credentials.StaticCredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

// Config is an SDK configuration for the simulator at endpoint, signing
// with c, in awssim.DefaultRegion and with keyrotor's production retryer
// (awsclient.NewRetryer), as adjusted by opts in order. Use it for a
// simulator this package did not start; Server.Config otherwise.
func Config(endpoint string, c awssim.Credentials, opts ...Option) aws.Config {
	cfg := aws.Config{
		Region:       awssim.DefaultRegion,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  Provider(c),
		Retryer:      awsclient.NewRetryer,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Config is an SDK configuration for s signing with c (see Config); its
// region is the scenario's when s was started by StartScenario.
func (s *Server) Config(c awssim.Credentials, opts ...Option) aws.Config {
	if s.Seeded.Region != "" {
		opts = append([]Option{Region(s.Seeded.Region)}, opts...)
	}
	return Config(s.URL, c, opts...)
}

// CentralConfig signs with the scenario's central credentials: a root key
// of the security account, the identity keyrotor runs as. It needs a
// Server from StartScenario.
func (s *Server) CentralConfig(opts ...Option) aws.Config {
	if s.Seeded.Central.AccessKeyID == "" {
		panic("awssimtest: CentralConfig needs a Server started by StartScenario")
	}
	return s.Config(s.Seeded.Central, opts...)
}

// RootConfig signs with a new root access key of accountID: the account's
// own administrator, for setting up what an earlier run or an owner would
// have left behind.
func (s *Server) RootConfig(accountID string, opts ...Option) aws.Config {
	return s.Config(s.Sim.RootCredentials(accountID), opts...)
}

// RoleConfig signs with a new session of role roleName in accountID, named
// sessionName and lasting SessionDuration, issued without AssumeRole: for
// tests that act as a role whose trust is not what they test.
func (s *Server) RoleConfig(accountID, roleName, sessionName string, opts ...Option) aws.Config {
	return s.Config(s.Sim.SessionCredentials(accountID, roleName, sessionName, SessionDuration), opts...)
}

// KeyConfig signs with the existing access key accessKeyID (a user's key,
// seeded or created through the API); ok is false if the simulator never
// issued it.
func (s *Server) KeyConfig(accessKeyID string, opts ...Option) (cfg aws.Config, ok bool) {
	c, ok := s.Sim.CredentialsFor(accessKeyID)
	if !ok {
		return aws.Config{}, false
	}
	return s.Config(c, opts...), true
}
