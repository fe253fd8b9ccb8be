package awssim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// A request as handlers see it, and the service it is for: what each
// service's table entry (services.go) says about its wire format and
// errors. The readers here decode a request's parameters.

// Wire protocols of the emulated services.
const (
	protoQuery    = iota // IAM, STS: form-encoded request, XML response
	protoJSON            // Organizations, Secrets Manager, KMS, CloudTrail: JSON 1.1 with X-Amz-Target
	protoRESTJSON        // SES v2, Security Hub
	protoRESTXML         // S3
)

// Request is one decoded API call as a handler sees it. Handlers run with
// the simulator's lock held and must not block.
type Request struct {
	Sim     *Sim
	HTTP    *http.Request
	Service string
	Op      string
	Region  string
	Cred    *Credential
	// Account is the caller's account (the one its credentials belong to).
	Account *Account
	Form    url.Values
	Body    []byte
	Now     time.Time
	// Status is the HTTP status for a successful REST response (default 200).
	Status int

	authz authzState
	// svc is the service the request is for.
	svc *service
}

// opHandler answers one operation: the result is encoded in the service's
// protocol (wire.go), an *APIError in its error format.
type opHandler func(r *Request) (any, error)

// service is one emulated AWS service, as services.go lists it.
type service struct {
	name      string
	proto     int
	xmlns     string
	targetPfx string
	ops       map[string]opHandler
	// targetAlias is a second X-Amz-Target prefix some clients send.
	targetAlias string
	// route resolves REST requests to operation names.
	route func(method, path string) (string, bool)
	// throttleCode and deniedCode are the service's own error codes.
	throttleCode string
	throttleHTTP int
	deniedCode   string
	deniedHTTP   int
	authCode     string
	authHTTP     int
	// opLimits are the rate limits AWS documents per operation, account
	// and region (CloudTrail LookupEvents: 2 per second), by operation.
	// They apply from the start; SetOperationRateLimit replaces them.
	opLimits map[string]rateLimit
}

// iamServiceName is the service name IAM reports as a key's last-used service.
func (svc *service) iamServiceName() string {
	if svc.name == "ses" {
		return "ses"
	}
	return svc.name
}

// actionPrefix is the IAM action namespace of the service.
func (svc *service) actionPrefix() string {
	if svc.name == "ses" {
		return "ses"
	}
	return svc.name
}

// DecodeJSON unmarshals a JSON request body into v, reporting AWS's
// SerializationException on malformed input.
func (r *Request) DecodeJSON(v any) error {
	if len(bytes.TrimSpace(r.Body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return apiErr(400, "SerializationException", "cannot parse request: %v", err)
	}
	return nil
}

// FormInt reads an integer form value (0 when absent).
func (r *Request) FormInt(name string) (int, error) {
	v := r.Form.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, apiErr(400, "ValidationError", "%s must be an integer", name)
	}
	return n, nil
}

// FormList reads a query-protocol list (Name.member.1, Name.member.2, ...).
func (r *Request) FormList(name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := r.Form[fmt.Sprintf("%s.member.%d", name, i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// FormTags reads a query-protocol tag list (Tags.member.N.Key/Value).
func (r *Request) FormTags(name string) []Tag {
	var out []Tag
	for i := 1; ; i++ {
		k, ok := r.Form[fmt.Sprintf("%s.member.%d.Key", name, i)]
		if !ok {
			return out
		}
		out = append(out, Tag{Key: k[0], Value: r.Form.Get(fmt.Sprintf("%s.member.%d.Value", name, i))})
	}
}

// PageSize returns the page size for a list call: the request's own limit
// when given and smaller than the simulator's default.
func (r *Request) PageSize(requested int) int {
	n := r.Sim.pageSize
	if requested > 0 && requested < n {
		n = requested
	}
	return n
}
