package awssim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// CloudTrail's event history: what the simulator keeps of the calls made
// in each account and region, and the controls and accessors tests use.
// trail_record.go files the calls the simulator serves; cloudtrail.go
// answers LookupEvents over it.

// DefaultTrailCapacity is how many events the simulator keeps per account
// and region unless SetTrailCapacity says otherwise. The oldest go first.
const DefaultTrailCapacity = 10000

// trailHistory is how far back LookupEvents looks, as CloudTrail's Event
// history does.
const trailHistory = 90 * 24 * time.Hour

// TrailResource is a resource a CloudTrail event names.
type TrailResource struct {
	// Type is a CloudFormation-style type, such as AWS::IAM::User.
	Type string
	// Name is the resource's name or ARN.
	Name string
}

// TrailEvent is one CloudTrail management event. AddTrailEvent reads Time,
// EventSource, EventName, AccessKeyID, the identity fields, SourceIP,
// UserAgent, RequestParameters, Resources and the error fields; TrailEvents
// fills in every field.
type TrailEvent struct {
	// EventID is CloudTrail's ID of the event; generated when empty.
	EventID string
	// Time is when the call was made (zero: the simulator's now).
	Time time.Time
	// AccountID and Region say whose history holds the event. AddTrailEvent
	// takes them from its arguments.
	AccountID, Region string
	// EventSource is the service's endpoint name, like s3.amazonaws.com.
	EventSource string
	// EventName is the operation, like ListBuckets.
	EventName string
	// ReadOnly tells a read from a write. It follows from EventName.
	ReadOnly bool
	// AccessKeyID is the key that signed the call.
	AccessKeyID string
	// IdentityType is CloudTrail's userIdentity.type: Root, IAMUser or
	// AssumedRole. AddTrailEvent derives it, PrincipalARN and UserName from
	// AccessKeyID when the simulator knows that key.
	IdentityType string
	// PrincipalARN is the caller's ARN.
	PrincipalARN string
	// UserName is the IAM user name, the session name of a role session,
	// or "root".
	UserName string
	// SourceIP is the caller's IP address.
	SourceIP string
	// UserAgent is the caller's User-Agent header.
	UserAgent string
	// RequestParameters are the call's benign parameters (names as
	// CloudTrail writes them, like userName). Nothing secret is ever kept.
	RequestParameters map[string]string
	// Resources are the resources the call named.
	Resources []TrailResource
	// ErrorCode and ErrorMessage are set for a call that failed.
	ErrorCode, ErrorMessage string
}

// trailKey names one account's history in one region.
type trailKey struct{ account, region string }

// trailIdentity is a caller as CloudTrail's userIdentity shows it. One is
// kept per credential and shared by its events.
type trailIdentity struct {
	kind, principalID, arn, accountID, userName string
	// Set for role sessions.
	roleID, roleARN, roleName string
}

// trailParam is one recorded request parameter.
type trailParam struct {
	key, value string
	number     bool
}

// trailEvent is a recorded event, kept compact: a big organization's runs
// record tens of thousands of them. Strings that repeat (services,
// operations, clients) are interned, and what few events have lives in extra.
type trailEvent struct {
	seq         uint64
	unix        int64 // the event's time; CloudTrail keeps seconds
	source      string
	name        string
	accessKeyID string
	sourceIP    string
	userAgent   string
	params      []trailParam
	ident       *trailIdentity
	extra       *trailExtra
}

// trailExtra holds the fields of failed calls and AddTrailEvent's events.
type trailExtra struct {
	errCode, errMsg string
	// id is an event ID AddTrailEvent was given; else it derives from seq.
	id string
	// resources are AddTrailEvent's explicit resources; else they derive
	// from params.
	resources []TrailResource
}

func (e *trailEvent) at() time.Time { return time.Unix(e.unix, 0).UTC() }

func (e *trailEvent) errCode() string {
	if e.extra == nil {
		return ""
	}
	return e.extra.errCode
}

func (e *trailEvent) errMsg() string {
	if e.extra == nil {
		return ""
	}
	return e.extra.errMsg
}

// trailLog is one account's history in one region, oldest first: the
// events are buf[start:]. Dropping the oldest advances start, and the live
// events move back to the front of buf when it is full, so a full history
// takes new events without allocating.
type trailLog struct {
	buf   []trailEvent
	start int
}

func (l *trailLog) events() []trailEvent { return l.buf[l.start:] }

// trailStore is the simulator's CloudTrail. It is guarded by Sim.mu.
type trailStore struct {
	off      bool
	capacity int
	seq      uint64
	logs     map[trailKey]*trailLog
	idents   map[string]*trailIdentity
	// interned holds the source IPs and user agents seen, so that the
	// events of one client share one copy.
	interned map[string]string
	sources  map[string]string
}

// trailInternMax bounds the intern table; past it strings are kept as they come.
const trailInternMax = 4096

func (s *Sim) trailLocked() *trailStore {
	return simState(s, "cloudtrail", func() *trailStore {
		return &trailStore{
			capacity: DefaultTrailCapacity,
			logs:     map[trailKey]*trailLog{},
			idents:   map[string]*trailIdentity{},
			interned: map[string]string{},
			sources:  map[string]string{},
		}
	})
}

// source is a service's event source, like iam.amazonaws.com.
func (t *trailStore) source(service string) string {
	if src, ok := t.sources[service]; ok {
		return src
	}
	src := service + ".amazonaws.com"
	t.sources[service] = src
	return src
}

func (t *trailStore) intern(v string) string {
	if c, ok := t.interned[v]; ok {
		return c
	}
	if len(t.interned) < trailInternMax {
		t.interned[v] = v
	}
	return v
}

// add files an event in order of time, dropping the oldest events past the
// capacity.
func (t *trailStore) add(k trailKey, e trailEvent) {
	t.seq++
	e.seq = t.seq
	l := t.logs[k]
	if l == nil {
		l = &trailLog{}
		t.logs[k] = l
	}
	ev := l.events()
	i := len(ev)
	if i > 0 && ev[i-1].unix > e.unix {
		i = sort.Search(len(ev), func(j int) bool { return ev[j].unix > e.unix })
	}
	if len(l.buf) == cap(l.buf) && l.start > 0 {
		n := copy(l.buf, ev)
		clear(l.buf[n:])
		l.buf, l.start = l.buf[:n], 0
	}
	l.buf = append(l.buf, trailEvent{})
	ev = l.events()
	copy(ev[i+1:], ev[i:])
	ev[i] = e
	if over := len(ev) - t.capacity; over > 0 {
		clear(ev[:over])
		l.start += over
	}
}

// SetTrailRecording turns the recording of served requests on (the default)
// or off. AddTrailEvent works either way.
func (s *Sim) SetTrailRecording(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailLocked().off = !on
}

// SetTrailCapacity sets how many events are kept per account and region
// (n <= 0 restores DefaultTrailCapacity). Histories already longer lose
// their oldest events at their next event.
func (s *Sim) SetTrailCapacity(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		n = DefaultTrailCapacity
	}
	s.trailLocked().capacity = n
}

// AddTrailEvent adds a historical event to the CloudTrail history of
// accountID in region, as if the call had been made then: for example a
// key's use from a pipeline before the test starts. EventSource and
// EventName are required.
func (s *Sim) AddTrailEvent(accountID, region string, e TrailEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAccount(accountID)
	if e.EventSource == "" || e.EventName == "" {
		panic("awssim: AddTrailEvent needs EventSource and EventName")
	}
	if region == "" {
		region = DefaultRegion
	}
	t := s.trailLocked()
	ev := trailEvent{
		unix:   e.Time.Unix(),
		source: t.intern(e.EventSource), name: t.intern(e.EventName), accessKeyID: e.AccessKeyID,
		sourceIP: t.intern(e.SourceIP), userAgent: t.intern(e.UserAgent),
		extra: &trailExtra{
			errCode: e.ErrorCode, errMsg: e.ErrorMessage, id: e.EventID,
			resources: append([]TrailResource(nil), e.Resources...),
		},
	}
	if e.Time.IsZero() {
		ev.unix = s.clock.Now().Unix()
	}
	keys := make([]string, 0, len(e.RequestParameters))
	for k := range e.RequestParameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ev.params = append(ev.params, trailParam{key: k, value: e.RequestParameters[k]})
	}
	if c := s.creds[e.AccessKeyID]; c != nil && c.AccountID == accountID && e.IdentityType == "" {
		ev.ident = s.trailIdentityLocked(c)
	} else {
		kind := e.IdentityType
		if kind == "" {
			kind = "IAMUser"
		}
		ev.ident = &trailIdentity{kind: kind, principalID: e.AccessKeyID, arn: e.PrincipalARN, accountID: accountID, userName: e.UserName}
	}
	t.add(trailKey{accountID, region}, ev)
}

// TrailEvents returns a copy of the events kept for accountID in region,
// newest first as LookupEvents orders them, including those older than
// the 90 days LookupEvents shows.
func (s *Sim) TrailEvents(accountID, region string) []TrailEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.trailLocked().logs[trailKey{accountID, region}]
	if l == nil {
		return nil
	}
	events := l.events()
	out := make([]TrailEvent, 0, len(events))
	for i := len(events) - 1; i >= 0; i-- {
		e := &events[i]
		te := TrailEvent{
			EventID: e.eventID(), Time: e.at(), AccountID: accountID, Region: region,
			EventSource: e.source, EventName: e.name, ReadOnly: !IsWriteOp(e.name),
			AccessKeyID: e.accessKeyID, IdentityType: e.ident.kind, PrincipalARN: e.ident.arn,
			UserName: e.ident.displayName(), SourceIP: e.sourceIP, UserAgent: e.userAgent,
			Resources: e.resourceList(), ErrorCode: e.errCode(), ErrorMessage: e.errMsg(),
		}
		if len(e.params) > 0 {
			te.RequestParameters = make(map[string]string, len(e.params))
			for _, p := range e.params {
				te.RequestParameters[p.key] = p.value
			}
		}
		out = append(out, te)
	}
	return out
}

// trailGlobal are the services CloudTrail records in us-east-1 whatever
// region a request names: their endpoints are global.
var trailGlobal = map[string]bool{"iam": true, "organizations": true}

// trailResourceTypes maps recorded parameters to the resources they name.
var trailResourceTypes = map[string]string{
	"userName":        "AWS::IAM::User",
	"accessKeyId":     "AWS::IAM::AccessKey",
	"groupName":       "AWS::IAM::Group",
	"roleArn":         "AWS::IAM::Role",
	"secretId":        "AWS::SecretsManager::Secret",
	"accountId":       "AWS::Organizations::Account",
	"emailIdentity":   "AWS::SES::EmailIdentity",
	"policySourceArn": "AWS::IAM::Role",
}

// trailIdentityLocked returns the caller identity of a credential, made once.
func (s *Sim) trailIdentityLocked(c *Credential) *trailIdentity {
	t := s.trailLocked()
	if id := t.idents[c.AccessKeyID]; id != nil {
		return id
	}
	id := &trailIdentity{arn: c.PrincipalARN, accountID: c.AccountID}
	switch c.Kind {
	case CredRoot:
		id.kind, id.principalID = "Root", c.AccountID
	case CredSession:
		id.kind = "AssumedRole"
		id.roleName = c.RoleName
		session := c.PrincipalARN[strings.LastIndexByte(c.PrincipalARN, '/')+1:]
		id.userName = session
		id.principalID = session
		if a := s.accounts[c.AccountID]; a != nil {
			if role := a.roles[c.RoleName]; role != nil {
				id.roleID, id.roleARN = role.ID, role.ARN
				id.principalID = role.ID + ":" + session
			}
		}
	default:
		id.kind = "IAMUser"
		id.principalID = c.AccessKeyID
		if c.key != nil && c.key.user != nil {
			id.principalID, id.userName = c.key.user.ID, c.key.user.Name
		}
	}
	t.idents[c.AccessKeyID] = id
	return id
}

// displayName is what LookupEvents shows as an event's Username.
func (id *trailIdentity) displayName() string {
	if id.kind == "Root" {
		return "root"
	}
	return id.userName
}

// eventID is the event's CloudTrail ID: its own, or one derived from its
// sequence number (unique in the simulator, and stable across lookups).
func (e *trailEvent) eventID() string {
	if e.extra != nil && e.extra.id != "" {
		return e.extra.id
	}
	return seqUUID(e.seq, 0x5eed)
}

// seqUUID formats a UUID (version 4 layout) from a sequence number and a salt.
func seqUUID(seq, salt uint64) string {
	a, b := splitmix64(seq^salt), splitmix64(seq+salt*0x9e3779b97f4a7c15)
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// resourceList is the resources the event names.
func (e *trailEvent) resourceList() []TrailResource {
	if e.extra != nil && e.extra.resources != nil {
		return append([]TrailResource(nil), e.extra.resources...)
	}
	var out []TrailResource
	for _, p := range e.params {
		typ := trailResourceTypes[p.key]
		if p.key == "name" && e.source == "secretsmanager.amazonaws.com" {
			typ = "AWS::SecretsManager::Secret"
		}
		if typ != "" {
			out = append(out, TrailResource{Type: typ, Name: p.value})
		}
	}
	return out
}
