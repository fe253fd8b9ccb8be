package accounts

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/smithy-go"
)

// Assumer hands out AWS configurations whose credentials are the rotation
// role in a member account. Credentials are cached and refreshed by the SDK
// before they expire, so a long run never works with stale ones.
type Assumer struct {
	// STS is the central account's STS client.
	STS stscreds.AssumeRoleAPIClient
	// Base is the central account's configuration; member configurations
	// copy it, keeping its region, retryer and endpoint settings.
	Base aws.Config
	// RunID is appended to the role session name so CloudTrail entries in
	// member accounts name the run that made them.
	RunID string
}

// Role is the role to assume in one account, with account overrides
// applied.
type Role struct {
	Name        string        // role name
	Path        string        // IAM path, "/" or "/a/b/"
	ExternalID  string        // sts ExternalId; empty means none
	SessionName string        // RoleSessionName prefix; the caller appends the run ID
	Duration    time.Duration // session length
	// Partition is the ARN partition of the home region ("aws", "aws-cn",
	// "aws-us-gov"); empty means "aws".
	Partition string
}

// ARN returns the role's ARN in accountID.
func (r Role) ARN(accountID string) string {
	partition := r.Partition
	if partition == "" {
		partition = "aws"
	}
	path := r.Path
	if path == "" {
		path = "/"
	}
	return "arn:" + partition + ":iam::" + accountID + ":role" + path + r.Name
}

var sessionUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// SessionName builds the RoleSessionName: the configured prefix and the run
// ID, restricted to the characters and length STS accepts.
func SessionName(prefix, runID string) string {
	n := sessionUnsafe.ReplaceAllString(prefix+"-"+runID, "-")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// ConfigFor assumes role in accountID and returns a configuration for
// clients in that account. It retrieves the credentials once before
// returning, so a denied role is reported here, per account, and not by
// the first API call that happens to need them.
func (a *Assumer) ConfigFor(ctx context.Context, accountID string, role Role) (aws.Config, error) {
	arn := role.ARN(accountID)
	provider := stscreds.NewAssumeRoleProvider(a.STS, arn, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = SessionName(role.SessionName, a.RunID)
		if role.ExternalID != "" {
			o.ExternalID = aws.String(role.ExternalID)
		}
		if role.Duration > 0 {
			o.Duration = role.Duration
		}
	})
	cache := aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = 5 * time.Minute
	})
	if _, err := cache.Retrieve(ctx); err != nil {
		return aws.Config{}, fmt.Errorf("assume role %s in %s: %w", arn, accountID, Concise(err))
	}
	cfg := a.Base.Copy()
	cfg.Credentials = cache
	return cfg, nil
}

// conciseError prints only an AWS API error's code and message, without the
// SDK's operation, HTTP status and request ID framing, which makes one
// failed account unreadable in a table; errors.As still reaches the SDK's
// typed error underneath.
type conciseError struct {
	msg string
	err error
}

func (e conciseError) Error() string { return e.msg }
func (e conciseError) Unwrap() error { return e.err }

// Concise shortens err's message to "Code: message" when it carries an AWS
// API error, keeping the original error for errors.Is and errors.As.
func Concise(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return conciseError{msg: ae.ErrorCode() + ": " + ae.ErrorMessage(), err: err}
	}
	return err
}
