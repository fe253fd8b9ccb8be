package awsclient

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// IsTruncatedResponse tells whether err is a successful (HTTP 200) answer
// whose body could not be decoded: cut short on the wire or by a proxy.
// aws-sdk-go-v2 reports it as an *http.ResponseError with status 200
// wrapping the decoder's error (*xml.SyntaxError for the query protocols,
// *smithy.DeserializationError for the JSON ones) and does not retry it.
// The call took effect, as a call whose connection dropped after the
// server acted did; the retryer retries both, except for the calls that
// ThrottleOnlyRetryer guards.
func IsTruncatedResponse(err error) bool {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusOK {
		return false
	}
	var (
		syntax *xml.SyntaxError
		deser  *smithy.DeserializationError
		jsyn   *json.SyntaxError
	)
	return errors.As(err, &syntax) || errors.As(err, &deser) || errors.As(err, &jsyn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func retryTruncated(err error) aws.Ternary {
	if IsTruncatedResponse(err) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}

// CallTimeoutError is the error of a call that did not finish, with all its
// retries, within the call timeout.
type CallTimeoutError struct {
	Timeout time.Duration
	Err     error
}

// Error implements error.
func (e *CallTimeoutError) Error() string {
	return fmt.Sprintf("no answer within the call timeout of %s (--aws-call-timeout): %v", e.Timeout, e.Err)
}

// Unwrap returns the SDK's error.
func (e *CallTimeoutError) Unwrap() error { return e.Err }

// callTimeout returns an API option bounding every call of a client by d,
// retries included. It sits first in the stack, around the retry loop, so
// a call that keeps failing slowly ends with a CallTimeoutError instead of
// holding an account (and the run) for as long as the retryer is willing.
func callTimeout(d time.Duration) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("keyrotor.CallTimeout",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				cctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				out, md, err := next.HandleInitialize(cctx, in)
				if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
					err = &CallTimeoutError{Timeout: d, Err: err}
				}
				return out, md, err
			}), middleware.Before)
	}
}

// unsupportedCodes are the error codes AWS-compatible servers answer for
// an operation they do not implement: AWS's own for an unknown action
// (query protocols: InvalidAction; JSON: UnknownOperationException),
// LocalStack's and moto's.
var unsupportedCodes = map[string]bool{
	"InvalidAction":             true,
	"UnknownOperationException": true,
	"UnknownOperation":          true,
	"NotImplemented":            true,
	"NotImplementedException":   true,
	"NotImplementedError":       true,
}

// IsUnsupported tells whether err says the server does not implement the
// operation: HTTP 501; one of the codes AWS-compatible servers use for it;
// or a 404 that is no AWS error at all (a REST route the server lacks, as
// aws-ses-v2-local answers GetEmailIdentity with an HTML page). An emulator
// (LocalStack, moto) answers so for calls keyrotor can do without, such as
// iam:SimulatePrincipalPolicy and ses:GetEmailIdentity.
func IsUnsupported(err error) bool {
	var (
		re *awshttp.ResponseError
		ae smithy.APIError
	)
	isAPI := errors.As(err, &ae)
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotImplemented:
			return true
		case http.StatusNotFound:
			if !isAPI {
				return true
			}
		}
	}
	return isAPI && unsupportedCodes[ae.ErrorCode()]
}

// IsServerError tells whether err is an HTTP 5xx answer.
func IsServerError(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() >= 500
}
