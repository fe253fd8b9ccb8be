// Package awsclient builds the AWS SDK configuration every keyrotor client
// shares: the SDK's usual lookup (environment, profiles, AWS_ENDPOINT_URL),
// a patient retryer, and an HTTP transport sized for the calls a run keeps
// in flight. It is the one place these settings are made.
package awsclient

import (
	"context"
	"fmt"
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

// NewRetryer is the SDK's standard retryer with keyrotor's settings.
func NewRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = MaxAttempts
		o.MaxBackoff = MaxBackoff
		o.RateLimiter = ratelimit.None
	})
}

// ThrottleOnlyRetryer retries throttled calls, with the same backoff as
// NewRetryer, and nothing else: for calls that are not idempotent
// (CreateAccessKey), where a retry after a dropped connection could act
// twice, while a throttled call was rejected before AWS acted.
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
// connection for every call a run can have in flight (inFlight). The
// default keeps 10 per host, and IAM and STS are one host each for every
// account: with hundreds of calls in flight, nearly every call would
// otherwise open (and TLS-handshake) a new connection and leave a socket in
// TIME_WAIT, which made a 200-account audit several times slower and can
// run a runner out of ephemeral ports.
func HTTPClient(inFlight int) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, inFlight)
		// A handful of hosts (IAM, STS, Organizations, Secrets Manager,
		// SES): the per-host bound is the one that matters.
		t.MaxIdleConns = 0
	})
}

// Options tune Load.
type Options struct {
	// Profile is the shared config profile; empty means the SDK's usual
	// lookup (AWS_PROFILE, then default).
	Profile string
	// Region is used when neither the environment nor the profile sets one.
	Region string
	// InFlight is how many calls a run can have in flight, for HTTPClient.
	InFlight int
	// Extra are further SDK load options, applied last (tests point the
	// SDK at a simulator with them).
	Extra []func(*awsconfig.LoadOptions) error
}

// Load builds the central account's AWS configuration the SDK's usual way,
// with keyrotor's retryer and HTTP client.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRetryer(NewRetryer),
		awsconfig.WithHTTPClient(HTTPClient(o.InFlight)),
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
	return cfg, nil
}
