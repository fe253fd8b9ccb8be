package awssim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CloudTrail is emulated for what keyrotor asks of it: where an access key
// was used (LookupEvents by AccessKeyId). The simulator records an event
// for every request it serves, as CloudTrail's Event history does for
// management events, and tests can add historical events of their own.
func init() {
	registerService(&service{
		name: "cloudtrail", proto: protoJSON,
		targetPfx: "CloudTrail_20131101",
		// botocore (the AWS CLI) sends the model's full target prefix; the
		// Go SDK sends the short one.
		targetAlias:  "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
		throttleCode: "ThrottlingException", throttleHTTP: 400,
		deniedCode: "AccessDeniedException", deniedHTTP: 400,
		authCode: "UnrecognizedClientException", authHTTP: 400,
		ops: map[string]opHandler{
			"LookupEvents": ctLookupEvents,
		},
	})
	// AWS documents LookupEvents at two requests per second per account
	// and region.
	defaultOperationLimits["cloudtrail:LookupEvents"] = rateLimit{perSecond: 2, burst: 2}
}

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
	if s.trail == nil {
		s.trail = &trailStore{
			capacity: DefaultTrailCapacity,
			logs:     map[trailKey]*trailLog{},
			idents:   map[string]*trailIdentity{},
			interned: map[string]string{},
			sources:  map[string]string{},
		}
	}
	return s.trail
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

// ---- recording served requests ----

// trailGlobal are the services CloudTrail records in us-east-1 whatever
// region a request names: their endpoints are global.
var trailGlobal = map[string]bool{"iam": true, "organizations": true}

// trailDataEvents are operations CloudTrail treats as data events, which
// its Event history does not record: S3 object calls and SES sending.
var trailDataEvents = map[string]bool{
	"s3:PutObject": true, "s3:GetObject": true, "s3:HeadObject": true,
	"ses:SendEmail": true,
}

// trailParamNames are the request parameters CloudTrail records that the
// simulator keeps, by wire name, with the name CloudTrail writes. Only
// these are kept: nothing else of a request body (secret values, keys,
// policies, tags) ever reaches the history.
var trailParamNames = []struct {
	wire, name string
	number     bool
}{
	{"UserName", "userName", false},
	{"AccessKeyId", "accessKeyId", false},
	{"Status", "status", false},
	{"GroupName", "groupName", false},
	{"RoleArn", "roleArn", false},
	{"RoleSessionName", "roleSessionName", false},
	{"DurationSeconds", "durationSeconds", true},
	{"PolicySourceArn", "policySourceArn", false},
	{"AccountId", "accountId", false},
	{"ParentId", "parentId", false},
	{"ChildType", "childType", false},
	{"SecretId", "secretId", false},
	{"Name", "name", false},
	{"EmailIdentity", "emailIdentity", false},
}

// trailParamServices are the JSON services whose bodies are searched for
// the parameters above; the others' bodies are never parsed for the trail.
var trailParamServices = map[string]bool{"organizations": true, "secretsmanager": true, "ses": true}

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

// recordTrailLocked files the CloudTrail event of a request the simulator
// authenticated and answered, successfully or with the service's own error
// (an authorization denial included). Throttled calls and injected faults
// never get here.
func (s *Sim) recordTrailLocked(r *Request, svc *service, err error) {
	t := s.trailLocked()
	if t.off || trailDataEvents[svc.name+":"+r.Op] {
		return
	}
	region := r.Region
	if trailGlobal[svc.name] {
		region = DefaultRegion
	}
	ev := trailEvent{
		unix:   r.Now.Unix(),
		source: t.source(svc.name), name: t.intern(r.Op),
		accessKeyID: r.Cred.AccessKeyID,
		sourceIP:    t.intern(remoteIP(r.HTTP.RemoteAddr)),
		userAgent:   t.intern(r.HTTP.Header.Get("User-Agent")),
		params:      trailRequestParams(r, svc),
		ident:       s.trailIdentityLocked(r.Cred),
	}
	if err != nil {
		code, msg := "InternalFailure", err.Error()
		if ae, ok := err.(*APIError); ok {
			code, msg = ae.Code, ae.Message
		}
		ev.extra = &trailExtra{errCode: code, errMsg: msg}
	}
	t.add(trailKey{r.Cred.AccountID, region}, ev)
}

// remoteIP is the host part of a connection's remote address.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// trailRequestParams picks the benign parameters of a request.
func trailRequestParams(r *Request, svc *service) []trailParam {
	var out []trailParam
	switch {
	case svc.proto == protoQuery:
		for _, p := range trailParamNames {
			if v := r.Form.Get(p.wire); v != "" {
				out = append(out, trailParam{key: p.name, value: v, number: p.number})
			}
		}
	case trailParamServices[svc.name]:
		if svc.name == "ses" && r.HTTP.Method == "GET" {
			if name, ok := strings.CutPrefix(r.HTTP.URL.Path, sesIdentityPath); ok && name != "" {
				out = append(out, trailParam{key: "emailIdentity", value: name})
			}
			return out
		}
		var body map[string]json.RawMessage
		if json.Unmarshal(r.Body, &body) != nil {
			return nil
		}
		for _, p := range trailParamNames {
			raw, ok := body[p.wire]
			if !ok {
				continue
			}
			var sv string
			if json.Unmarshal(raw, &sv) == nil && sv != "" {
				out = append(out, trailParam{key: p.name, value: sv})
				continue
			}
			var n json.Number
			if json.Unmarshal(raw, &n) == nil {
				out = append(out, trailParam{key: p.name, value: n.String(), number: true})
			}
		}
	}
	return out
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

type ctResource struct {
	ResourceName string `json:"ResourceName,omitempty"`
	ResourceType string `json:"ResourceType,omitempty"`
}

type ctEvent struct {
	AccessKeyID     string       `json:"AccessKeyId,omitempty"`
	CloudTrailEvent string       `json:"CloudTrailEvent"`
	EventID         string       `json:"EventId"`
	EventName       string       `json:"EventName"`
	EventSource     string       `json:"EventSource"`
	EventTime       *EpochTime   `json:"EventTime"`
	ReadOnly        string       `json:"ReadOnly"`
	Resources       []ctResource `json:"Resources"`
	Username        string       `json:"Username,omitempty"`
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

// ---- the CloudTrail record ----

type ctSessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	Arn         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

type ctSessionContext struct {
	SessionIssuer ctSessionIssuer   `json:"sessionIssuer"`
	Attributes    map[string]string `json:"attributes"`
}

type ctUserIdentity struct {
	Type           string            `json:"type"`
	PrincipalID    string            `json:"principalId"`
	Arn            string            `json:"arn,omitempty"`
	AccountID      string            `json:"accountId"`
	AccessKeyID    string            `json:"accessKeyId,omitempty"`
	UserName       string            `json:"userName,omitempty"`
	SessionContext *ctSessionContext `json:"sessionContext,omitempty"`
}

// ctRecord is a CloudTrail record, with its fields in CloudTrail's order.
type ctRecord struct {
	EventVersion       string          `json:"eventVersion"`
	UserIdentity       ctUserIdentity  `json:"userIdentity"`
	EventTime          string          `json:"eventTime"`
	EventSource        string          `json:"eventSource"`
	EventName          string          `json:"eventName"`
	AwsRegion          string          `json:"awsRegion"`
	SourceIPAddress    string          `json:"sourceIPAddress"`
	UserAgent          string          `json:"userAgent"`
	ErrorCode          string          `json:"errorCode,omitempty"`
	ErrorMessage       string          `json:"errorMessage,omitempty"`
	RequestParameters  json.RawMessage `json:"requestParameters"`
	ResponseElements   json.RawMessage `json:"responseElements"`
	RequestID          string          `json:"requestID"`
	EventID            string          `json:"eventID"`
	ReadOnly           bool            `json:"readOnly"`
	EventType          string          `json:"eventType"`
	ManagementEvent    bool            `json:"managementEvent"`
	RecipientAccountID string          `json:"recipientAccountId"`
	EventCategory      string          `json:"eventCategory"`
}

var jsonNull = json.RawMessage("null")

// ctRender turns a recorded event into LookupEvents' Event.
func (s *Sim) ctRender(e *trailEvent, account, region string) ctEvent {
	id := e.ident
	ui := ctUserIdentity{
		Type: id.kind, PrincipalID: id.principalID, Arn: id.arn, AccountID: id.accountID,
		AccessKeyID: e.accessKeyID,
	}
	switch id.kind {
	case "IAMUser":
		ui.UserName = id.userName
	case "AssumedRole":
		ui.SessionContext = &ctSessionContext{
			SessionIssuer: ctSessionIssuer{Type: "Role", PrincipalID: id.roleID, Arn: id.roleARN, AccountID: id.accountID, UserName: id.roleName},
			Attributes:    map[string]string{"mfaAuthenticated": "false"},
		}
	}
	rec := ctRecord{
		EventVersion: "1.09", UserIdentity: ui, EventTime: ISO(e.at()),
		EventSource: e.source, EventName: e.name, AwsRegion: region,
		SourceIPAddress: e.sourceIP, UserAgent: e.userAgent,
		ErrorCode: e.errCode(), ErrorMessage: e.errMsg(),
		RequestParameters: jsonNull, ResponseElements: jsonNull,
		RequestID: seqUUID(e.seq, 0x4e9), EventID: e.eventID(),
		ReadOnly: !IsWriteOp(e.name), EventType: "AwsApiCall", ManagementEvent: true,
		RecipientAccountID: account, EventCategory: "Management",
	}
	if len(e.params) > 0 {
		rec.RequestParameters = renderParams(e.params)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		// Every field is a string, bool or valid raw JSON.
		panic(fmt.Sprintf("awssim: encode CloudTrail record: %v", err))
	}
	ev := ctEvent{
		AccessKeyID: e.accessKeyID, CloudTrailEvent: string(b), EventID: rec.EventID,
		EventName: e.name, EventSource: e.source, EventTime: Epoch(e.at()),
		ReadOnly: strconv.FormatBool(rec.ReadOnly), Username: id.displayName(),
		Resources: []ctResource{},
	}
	for _, res := range e.resourceList() {
		ev.Resources = append(ev.Resources, ctResource{ResourceName: res.Name, ResourceType: res.Type})
	}
	return ev
}

// renderParams writes recorded parameters as a JSON object.
func renderParams(ps []trailParam) json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.key)
		b.Write(k)
		b.WriteByte(':')
		if _, err := strconv.ParseFloat(p.value, 64); p.number && err == nil {
			b.WriteString(p.value)
		} else {
			v, _ := json.Marshal(p.value)
			b.Write(v)
		}
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}
