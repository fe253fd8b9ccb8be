package awssim

import (
	"encoding/json"
	"net"
	"strings"
)

// Every request the simulator authenticates and answers becomes a
// CloudTrail event, as AWS records management events: server.go hands each
// one to recordTrailLocked.

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
