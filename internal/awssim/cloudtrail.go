package awssim

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
)

// CloudTrail is emulated for what keyrotor asks of it: where an access key
// was used (LookupEvents by AccessKeyId). The simulator records an event
// for every request it serves, as CloudTrail's Event history does for
// management events, and tests can add historical events of their own.

// ---- LookupEvents ----

type ctLookupInput struct {
	LookupAttributes []struct {
		AttributeKey   string  `json:"AttributeKey"`
		AttributeValue *string `json:"AttributeValue"`
	} `json:"LookupAttributes"`
	StartTime     *float64 `json:"StartTime"`
	EndTime       *float64 `json:"EndTime"`
	EventCategory *string  `json:"EventCategory"`
	MaxResults    *int     `json:"MaxResults"`
	NextToken     *string  `json:"NextToken"`
}

// ctLookupKeys are the LookupAttributes keys CloudTrail accepts.
var ctLookupKeys = map[string]bool{
	"EventId": true, "EventName": true, "ReadOnly": true, "Username": true,
	"ResourceType": true, "ResourceName": true, "EventSource": true, "AccessKeyId": true,
}

func ctEpoch(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

func ctLookupEvents(r *Request) (any, error) {
	var in ctLookupInput
	if err := r.DecodeJSON(&in); err != nil {
		return nil, err
	}
	var key, value string
	switch n := len(in.LookupAttributes); {
	case n > 1:
		return nil, apiErr(400, "InvalidLookupAttributesException", "You can specify only one lookup attribute.")
	case n == 1:
		a := in.LookupAttributes[0]
		if !ctLookupKeys[a.AttributeKey] {
			return nil, apiErr(400, "InvalidLookupAttributesException",
				"Invalid attribute key %q: it must be one of EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId.", a.AttributeKey)
		}
		if a.AttributeValue == nil || *a.AttributeValue == "" || len(*a.AttributeValue) > 2000 {
			return nil, apiErr(400, "InvalidLookupAttributesException", "The attribute value of %s must be 1 to 2000 characters long.", a.AttributeKey)
		}
		key, value = a.AttributeKey, *a.AttributeValue
	}
	var start, end time.Time
	if in.StartTime != nil {
		start = ctEpoch(*in.StartTime)
	}
	if in.EndTime != nil {
		end = ctEpoch(*in.EndTime)
	}
	if !start.IsZero() && !end.IsZero() && start.After(end) {
		return nil, apiErr(400, "InvalidTimeRangeException", "The start time must not be after the end time.")
	}
	max := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, apiErr(400, "InvalidMaxResultsException", "MaxResults must be between 1 and 50, got %d.", *in.MaxResults)
		}
		max = *in.MaxResults
	}
	if in.EventCategory != nil && *in.EventCategory != "insight" {
		return nil, apiErr(400, "InvalidEventCategoryException", "Invalid event category %q.", *in.EventCategory)
	}
	fp := ctFingerprint(r.Account.ID, r.Region, key, value, in.StartTime, in.EndTime, in.EventCategory)
	var after *ctCursor
	if in.NextToken != nil {
		c, ok := ctParseToken(*in.NextToken, fp)
		if !ok {
			return nil, apiErr(400, "InvalidNextTokenException", "Invalid NextToken.")
		}
		after = &c
	}
	out := struct {
		Events    []ctEvent `json:"Events"`
		NextToken *string   `json:"NextToken,omitempty"`
	}{Events: []ctEvent{}}
	if in.EventCategory != nil {
		// The simulator records no Insights events.
		return out, nil
	}
	oldest := r.Now.Add(-trailHistory)
	if start.Before(oldest) {
		start = oldest
	}
	l := r.Sim.trailLocked().logs[trailKey{r.Account.ID, r.Region}]
	if l == nil {
		return out, nil
	}
	var last *trailEvent
	events := l.events()
	for i := len(events) - 1; i >= 0; i-- {
		e := &events[i]
		if after != nil && !after.above(e) {
			continue
		}
		if e.at().Before(start) {
			break
		}
		if !end.IsZero() && e.at().After(end) {
			continue
		}
		if key != "" && !e.matches(key, value) {
			continue
		}
		if len(out.Events) == max {
			tok := ctToken(ctCursor{unix: last.unix, seq: last.seq}, fp)
			out.NextToken = &tok
			break
		}
		out.Events = append(out.Events, r.Sim.ctRender(e, r.Account.ID, r.Region))
		last = e
	}
	return out, nil
}

// matches tells whether the event has the lookup attribute's value.
func (e *trailEvent) matches(key, value string) bool {
	switch key {
	case "EventId":
		return e.eventID() == value
	case "EventName":
		return e.name == value
	case "EventSource":
		return e.source == value
	case "AccessKeyId":
		return e.accessKeyID == value
	case "Username":
		return e.ident.displayName() == value
	case "ReadOnly":
		return strconv.FormatBool(!IsWriteOp(e.name)) == value
	case "ResourceType", "ResourceName":
		for _, res := range e.resourceList() {
			if key == "ResourceType" && res.Type == value || key == "ResourceName" && res.Name == value {
				return true
			}
		}
	}
	return false
}

// ctCursor is where a page of LookupEvents ended: the last event returned.
type ctCursor struct {
	unix int64
	seq  uint64
}

// above tells whether e comes after the cursor in LookupEvents' order
// (newest first; events of the same second newest recorded first).
func (c ctCursor) above(e *trailEvent) bool {
	return e.unix < c.unix || e.unix == c.unix && e.seq < c.seq
}

// ctFingerprint identifies a lookup's parameters, so that a NextToken is
// refused with other parameters, as CloudTrail refuses it.
func ctFingerprint(account, region, key, value string, start, end *float64, category *string) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s|%s", account, region, key, value)
	for _, f := range []*float64{start, end} {
		if f != nil {
			fmt.Fprintf(h, "|%g", *f)
		} else {
			h.Write([]byte("|-"))
		}
	}
	if category != nil {
		fmt.Fprintf(h, "|%s", *category)
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

func ctToken(c ctCursor, fp string) string {
	raw := fmt.Sprintf("v1|%d|%d|%s", c.unix, c.seq, fp)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func ctParseToken(tok, fp string) (ctCursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return ctCursor{}, false
	}
	f := strings.Split(string(raw), "|")
	if len(f) != 4 || f[0] != "v1" || f[3] != fp {
		return ctCursor{}, false
	}
	sec, err1 := strconv.ParseInt(f[1], 10, 64)
	seq, err2 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return ctCursor{}, false
	}
	return ctCursor{unix: sec, seq: seq}, true
}
