package usage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"
)

// API is the CloudTrail call a lookup makes; *cloudtrail.Client satisfies
// it.
type API interface {
	LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, optFns ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error)
}

var _ API = (*cloudtrail.Client)(nil)

// Limiter paces the lookups of one account and region: CloudTrail allows
// about 2 LookupEvents requests per second there.
type Limiter interface {
	Wait(ctx context.Context) error
}

// MaxWindow is how far back CloudTrail's event history goes.
const MaxWindow = 90 * 24 * time.Hour

// pageSize is LookupEvents' largest page.
const pageSize = 50

// Options say where and how far back to look.
type Options struct {
	// Regions to ask, in order (see Regions).
	Regions []string
	// Start and End bound the window; Start is moved up to End-MaxWindow.
	Start, End time.Time
	// MaxEvents caps the events read over all regions; beyond it the
	// summary is partial.
	MaxEvents int
	// Client returns the CloudTrail client of a region.
	Client func(region string) API
	// Limiter returns the pacer of a region; nil paces nothing.
	Limiter func(region string) Limiter
}

// Regions lists the regions worth asking about a key: where it was last
// used, the home region, and the given extra ones (us-east-1 records the
// global services), each once.
func Regions(lastUsed, home string, extra ...string) []string {
	var out []string
	for _, r := range append([]string{lastUsed, home}, extra...) {
		if r != "" && r != "N/A" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// Lookup reads the management events CloudTrail recorded for access key
// keyID and summarizes them. It never fails as a whole: a region whose
// lookup fails (denied, throttled past the retries) is a problem in the
// summary, which is then partial, so a rotation step never waits on it.
func Lookup(ctx context.Context, keyID string, o Options) Summary {
	start := o.Start
	if oldest := o.End.Add(-MaxWindow); start.Before(oldest) {
		start = oldest
	}
	var events []Event
	var problems []string
	capped := false
	for _, region := range o.Regions {
		if o.MaxEvents > 0 && len(events) >= o.MaxEvents {
			capped = true
			break
		}
		got, full, err := lookupRegion(ctx, keyID, region, start, o, o.MaxEvents-len(events))
		events = append(events, got...)
		capped = capped || full
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", region, concise(err)))
		}
	}
	s := Summarize(events, start, o.End, o.Regions)
	s.Problems = problems
	s.Partial = capped || len(problems) > 0
	return s
}

// lookupRegion pages through one region's events of keyID, reading at most
// limit (0: no limit); full tells that the limit cut the history short.
func lookupRegion(ctx context.Context, keyID, region string, start time.Time, o Options, limit int) (events []Event, full bool, err error) {
	api := o.Client(region)
	var lim Limiter
	if o.Limiter != nil {
		lim = o.Limiter(region)
	}
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(keyID)}},
		StartTime:        aws.Time(start), EndTime: aws.Time(o.End), MaxResults: aws.Int32(pageSize),
	}
	for {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return events, false, fmt.Errorf("wait for the lookup rate: %w", err)
			}
		}
		out, err := api.LookupEvents(ctx, in)
		if err != nil {
			return events, false, fmt.Errorf("look up events of %s: %w", keyID, err)
		}
		for _, e := range out.Events {
			if limit > 0 && len(events) >= limit {
				return events, true, nil
			}
			r := parseRecord(aws.ToString(e.CloudTrailEvent))
			events = append(events, Event{
				ID: aws.ToString(e.EventId), Name: aws.ToString(e.EventName), Source: aws.ToString(e.EventSource),
				Time: aws.ToTime(e.EventTime).UTC(), SourceIP: r.SourceIPAddress, UserAgent: r.UserAgent,
			})
		}
		if out.NextToken == nil || aws.ToString(out.NextToken) == "" {
			return events, false, nil
		}
		if limit > 0 && len(events) >= limit {
			return events, true, nil
		}
		in.NextToken = out.NextToken
	}
}

// concise keeps an AWS error's code and message, without the SDK's
// operation and request ID framing, for a line in a report.
func concise(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}
