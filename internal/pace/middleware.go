package pace

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
)

// middlewareID names the pacing step in the SDK's stack.
const middlewareID = "keyrotor.Pace"

// throttles are the errors AWS means as "slow down".
var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// For picks the limiter of a call from its service ID ("IAM", "STS",
// "CloudTrail"...) and region; nil leaves the call unpaced.
type For func(serviceID, region string) *Limiter

// APIOption returns an SDK API option (for aws.Config.APIOptions or a
// client's Options.APIOptions) that paces every attempt of every call
// through the limiter pick gives: it is inserted after the retry step, so a
// retry waits for the limiter like a first attempt.
func APIOption(pick For) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		mw := middleware.FinalizeMiddlewareFunc(middlewareID, func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			l := pick(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetRegion(ctx))
			if l == nil {
				return next.HandleFinalize(ctx, in)
			}
			if err := l.Wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("wait for the %s rate: %w", awsmiddleware.GetServiceID(ctx), err)
			}
			out, md, err := next.HandleFinalize(ctx, in)
			switch {
			case err == nil:
				l.Succeeded()
			case throttles.IsErrorThrottle(err) == aws.TrueTernary:
				l.Throttled()
			}
			return out, md, err
		})
		if _, ok := stack.Finalize.Get("Retry"); ok {
			return stack.Finalize.Insert(mw, "Retry", middleware.After)
		}
		return stack.Finalize.Add(mw, middleware.Before)
	}
}
