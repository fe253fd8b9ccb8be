// Package awsclient builds the AWS SDK configuration every keyrotor client
// shares: the SDK's usual lookup (environment, profiles, AWS_ENDPOINT_URL),
// a patient retryer, bounded waits on every call, an HTTP transport sized
// for the calls a run keeps in flight, and the SDK's own log routed into
// keyrotor's. It is the one place these settings are made.
package awsclient

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// Retry settings. IAM throttles per account, and a daily batch job would
// rather wait than give up on an account: throttling backs off
// exponentially up to MaxBackoff, and the client-side retry quota is off so
// that a burst of throttles across many concurrent accounts does not make
// every account fail at once.
const (
	MaxAttempts = 10
	MaxBackoff  = 20 * time.Second
)

// Default timeouts. An attempt is one HTTP exchange; AWS answers keyrotor's
// calls in well under a second, and the largest body sent (a report of
// 100,000 keys, 6 MB, to S3) takes seconds, so 30 s means the connection
// hung. A call is every attempt with the backoff between them: 3 minutes
// lets the retryer spend most of its budget on throttling.
const (
	DefaultAttemptTimeout = 30 * time.Second
	DefaultCallTimeout    = 3 * time.Minute
)

// Timeouts bound how long any one AWS call may take.
type Timeouts struct {
	// Attempt bounds one HTTP attempt, from dialling to the last byte of
	// the answer; an attempt that runs out is retried like a dropped
	// connection (except for calls that are not retried after they may
	// have acted, see ThrottleOnlyRetryer). 0 means DefaultAttemptTimeout.
	Attempt time.Duration
	// Call bounds a call with all its attempts and the backoff between
	// them. 0 means DefaultCallTimeout.
	Call time.Duration
}

// withDefaults fills the zero fields.
func (t Timeouts) withDefaults() Timeouts {
	if t.Attempt <= 0 {
		t.Attempt = DefaultAttemptTimeout
	}
	if t.Call <= 0 {
		t.Call = DefaultCallTimeout
	}
	return t
}

// NewRetryer is the SDK's standard retryer with keyrotor's settings. Besides
// the SDK's retryable errors it retries a 200 whose body cannot be decoded
// (see IsTruncatedResponse): a blip on the wire must not fail a whole
// account.
func NewRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = MaxAttempts
		o.MaxBackoff = MaxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(retryTruncated)}, o.Retryables...)
	})
}

// ThrottleOnlyRetryer retries throttled calls, with the same backoff as
// NewRetryer, and nothing else: for calls that are not idempotent
// (CreateAccessKey), where a retry after a dropped connection, a timed-out
// attempt or a truncated answer could act twice, while a throttled call was
// rejected before AWS acted.
func ThrottleOnlyRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = MaxAttempts
		o.MaxBackoff = MaxBackoff
		o.RateLimiter = ratelimit.None
		throttle := retry.ThrottleErrorCode{Codes: retry.DefaultThrottleErrorCodes}
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(throttle.IsErrorThrottle)}
	})
}

// HTTPClient is the SDK's default HTTP client, made to keep an idle
// connection for every call a run can have in flight (inFlight), and to
// give up on an attempt after attempt (0: no bound). The default keeps 10
// idle connections per host, and IAM and STS are one host each for every
// account: with hundreds of calls in flight, nearly every call would
// otherwise open (and TLS-handshake) a new connection and leave a socket in
// TIME_WAIT, which made a 200-account audit several times slower and can
// run a runner out of ephemeral ports.
func HTTPClient(inFlight int, attempt time.Duration) *awshttp.BuildableClient {
	c := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, inFlight)
		// A handful of hosts (IAM, STS, Organizations, Secrets Manager,
		// SES): the per-host bound is the one that matters.
		t.MaxIdleConns = 0
		if attempt > 0 {
			// A server that accepts the connection and never answers is
			// caught by the client timeout; these name the stage in the
			// error when it is the connection itself that hangs.
			t.TLSHandshakeTimeout = min(t.TLSHandshakeTimeout, attempt)
			t.ResponseHeaderTimeout = attempt
		}
	}).WithDialerOptions(func(d *net.Dialer) {
		if attempt > 0 {
			d.Timeout = min(d.Timeout, attempt)
		}
	})
	if attempt > 0 {
		c = c.WithTimeout(attempt)
	}
	return c
}

// Options tune Load and Configure.
type Options struct {
	// Profile is the shared config profile; empty means the SDK's usual
	// lookup (AWS_PROFILE, then default).
	Profile string
	// Region is used when neither the environment nor the profile sets one.
	Region string
	// InFlight is how many calls a run can have in flight, for HTTPClient.
	InFlight int
	// Timeouts bound every call (zero fields: the defaults).
	Timeouts Timeouts
	// Logger receives the SDK's own log messages (warnings, and at debug
	// level its retries), so that they come out in keyrotor's log format;
	// nil discards them.
	Logger *slog.Logger
	// Extra are further SDK load options, applied last (tests point the
	// SDK at a simulator with them).
	Extra []func(*awsconfig.LoadOptions) error
}

// Load builds the central account's AWS configuration the SDK's usual way,
// with keyrotor's retryer, timeouts, HTTP client and logger.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	t := o.Timeouts.withDefaults()
	logger, mode := sdkLogger(o.Logger)
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRetryer(NewRetryer),
		awsconfig.WithHTTPClient(HTTPClient(o.InFlight, t.Attempt)),
		awsconfig.WithLogger(logger),
		awsconfig.WithClientLogMode(mode),
	}
	if o.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(o.Profile))
	}
	opts = append(opts, o.Extra...)
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = o.Region
	}
	cfg.APIOptions = append(cfg.APIOptions, callTimeout(t.Call))
	return cfg, nil
}

// Configure gives a configuration built by hand (the demo's, pointed at its
// simulator) what Load gives one it loads: keyrotor's retryer, timeouts,
// HTTP client and logger. Profile, Region and Extra are not used.
func Configure(cfg *aws.Config, o Options) {
	t := o.Timeouts.withDefaults()
	cfg.Retryer = NewRetryer
	cfg.HTTPClient = HTTPClient(o.InFlight, t.Attempt)
	cfg.Logger, cfg.ClientLogMode = sdkLogger(o.Logger)
	cfg.APIOptions = append(cfg.APIOptions, callTimeout(t.Call))
}
