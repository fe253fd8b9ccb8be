package usage

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
)

// Summary is what CloudTrail says about one access key's use in a window.
type Summary struct {
	// Start and End bound the window looked at.
	Start, End time.Time
	// Regions are the regions asked.
	Regions []string
	// Events is how many events were read (at most the events cap).
	Events int
	// FirstSeen and LastSeen bound the events read; zero when none.
	FirstSeen, LastSeen time.Time
	// SourceIPs, Services and Calls count the events by source IP address,
	// service ("s3") and event name; UserAgents by user agent, with the
	// tool recognised in it. Most frequent first.
	SourceIPs  []Count
	UserAgents []Agent
	Services   []Count
	Calls      []Count
	// EventIDs are a few event IDs, newest first, for drill-down in the
	// CloudTrail console.
	EventIDs []string
	// Partial tells that the summary does not cover the whole window: the
	// events cap was reached, or a region's lookup failed (see Problems).
	Partial bool
	// Problems say, per region, what could not be looked up.
	Problems []string
}

// Count is how often one value occurred, and when last.
type Count struct {
	Value    string
	Count    int
	LastSeen time.Time
}

// Agent is a user agent, the tool recognised in it, and how often it
// occurred.
type Agent struct {
	UserAgent string
	Tool      string
	Count     int
	LastSeen  time.Time
}

// Used tells whether any event was found.
func (s Summary) Used() bool { return s.Events > 0 }

// Tools lists the distinct tools recognised, most frequent first, with
// "unrecognised" for user agents that name none.
func (s Summary) Tools() []string {
	var out []string
	for _, a := range s.UserAgents {
		t := cmp.Or(a.Tool, "unrecognised client")
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// maxEventIDs is how many event IDs a summary keeps.
const maxEventIDs = 5

// Event is what a summary reads of one CloudTrail event. Request
// parameters and response elements are never read into it.
type Event struct {
	ID, Name, Source string
	Time             time.Time
	SourceIP         string
	UserAgent        string
}

// record is the part of a CloudTrail record (the LookupEvents
// CloudTrailEvent JSON) that a summary needs; encoding/json skips every
// other field, requestParameters included, so they are never held.
type record struct {
	SourceIPAddress string `json:"sourceIPAddress"`
	UserAgent       string `json:"userAgent"`
}

// parseRecord reads the source IP and user agent of a CloudTrail record;
// one that does not parse leaves them empty.
func parseRecord(cloudTrailEvent string) record {
	var r record
	_ = json.Unmarshal([]byte(cloudTrailEvent), &r)
	return r
}

// Summarize tallies events (any order) into the summary of a window.
func Summarize(events []Event, start, end time.Time, regions []string) Summary {
	s := Summary{Start: start, End: end, Regions: slices.Clone(regions), Events: len(events)}
	events = slices.Clone(events)
	slices.SortStableFunc(events, func(a, b Event) int { return b.Time.Compare(a.Time) })
	ips, svcs, calls := counter{}, counter{}, counter{}
	agents := map[string]*Agent{}
	for _, e := range events {
		if s.FirstSeen.IsZero() || e.Time.Before(s.FirstSeen) {
			s.FirstSeen = e.Time
		}
		if e.Time.After(s.LastSeen) {
			s.LastSeen = e.Time
		}
		ips.add(e.SourceIP, e.Time)
		svcs.add(Service(e.Source), e.Time)
		calls.add(e.Name, e.Time)
		if e.UserAgent != "" {
			a := agents[e.UserAgent]
			if a == nil {
				a = &Agent{UserAgent: e.UserAgent, Tool: Tool(e.UserAgent)}
				agents[e.UserAgent] = a
			}
			a.Count++
			if e.Time.After(a.LastSeen) {
				a.LastSeen = e.Time
			}
		}
		if e.ID != "" && len(s.EventIDs) < maxEventIDs {
			s.EventIDs = append(s.EventIDs, e.ID)
		}
	}
	s.SourceIPs, s.Services, s.Calls = ips.sorted(), svcs.sorted(), calls.sorted()
	for _, a := range agents {
		s.UserAgents = append(s.UserAgents, *a)
	}
	slices.SortFunc(s.UserAgents, func(a, b Agent) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.UserAgent, b.UserAgent))
	})
	return s
}

// counter counts values and remembers when each was last seen.
type counter map[string]*Count

func (c counter) add(v string, t time.Time) {
	if v == "" {
		return
	}
	n := c[v]
	if n == nil {
		n = &Count{Value: v}
		c[v] = n
	}
	n.Count++
	if t.After(n.LastSeen) {
		n.LastSeen = t
	}
}

// sorted lists the counts, most frequent first, then by value.
func (c counter) sorted() []Count {
	out := make([]Count, 0, len(c))
	for _, k := range slices.Sorted(maps.Keys(c)) {
		out = append(out, *c[k])
	}
	slices.SortStableFunc(out, func(a, b Count) int { return cmp.Compare(b.Count, a.Count) })
	return out
}
