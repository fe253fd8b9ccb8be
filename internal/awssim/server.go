package awssim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Wire protocols of the emulated services.
const (
	protoQuery    = iota // IAM, STS: form-encoded request, XML response
	protoJSON            // Organizations, Secrets Manager: JSON 1.1 with X-Amz-Target
	protoRESTJSON        // SES v2
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
}

type opHandler func(r *Request) (any, error)

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
}

// services maps a SigV4 signing name to the service emulation. Each
// service's file registers itself in init.
var services = map[string]*service{}

func registerService(s *service) { services[s.name] = s }

// servedHooks run, with the simulator's lock held, after the service
// answered a request of a known account (successfully or with its own
// error, denials included), the way CloudTrail sees calls. Service files
// add theirs in init.
var servedHooks []func(r *Request, svc *service, err error)

// servedLocked runs the served hooks with the request's outcome.
func (s *Sim) servedLocked(r *Request, svc *service, err *error) {
	if r.Account == nil {
		return
	}
	for _, h := range servedHooks {
		h(r, svc, *err)
	}
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	body, err := io.ReadAll(hr.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	auth := parseAuthorization(hr.Header.Get("Authorization"))
	svc := services[auth.service]
	if svc == nil {
		svc = guessService(hr)
	}
	if svc == nil {
		http.Error(w, "awssim: cannot tell which service this request is for", http.StatusBadRequest)
		return
	}
	req := &Request{Sim: s, HTTP: hr, Service: svc.name, Region: auth.region, Body: body, Status: http.StatusOK}
	if req.Region == "" {
		req.Region = DefaultRegion
	}
	req.Op, err = svc.operation(hr, body, req)
	if err != nil {
		s.writeError(w, svc, req, err)
		return
	}
	call := Call{Time: s.clock.Now(), Service: svc.name, Op: req.Op, Region: req.Region, AccessKeyID: auth.keyID}
	result, after, err := s.serve(hr.Context(), svc, req, auth)
	if req.Cred != nil {
		call.AccountID, call.Principal = req.Cred.AccountID, req.Cred.PrincipalARN
	}
	var ae *APIError
	if errors.As(err, &ae) {
		call.ErrorCode = ae.Code
	}
	s.ctl.record(call)
	switch {
	case ae != nil && ae.drop:
		cutConnection(w)
	case err != nil:
		s.writeError(w, svc, req, err)
	case after == FaultCut:
		cutConnection(w)
	case after == FaultTruncate:
		s.writeTruncated(w, svc, req, result)
	default:
		s.writeResult(w, svc, req, result)
	}
}

// serve authenticates, applies the test controls and runs the handler.
// after is the fault that mangles a successful response (cut or truncate).
func (s *Sim) serve(ctx context.Context, svc *service, req *Request, auth authHeader) (result any, after FaultKind, err error) {
	h := svc.ops[req.Op]
	if h == nil {
		return nil, "", apiErr(400, "InvalidAction", "awssim does not implement %s:%s", svc.name, req.Op)
	}
	if d := s.ctl.latencyFor(svc.name, req.Op); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", apiErr(500, "RequestCanceled", "request canceled")
		case <-t.C:
		}
	}
	cred, err := s.authenticate(svc, req, auth)
	if err != nil {
		return nil, "", err
	}
	req.Cred = cred
	if !s.ctl.throttle(cred.AccountID, req.Region, svc.name) || !s.ctl.throttleOperation(svc.name, req.Op, cred.AccountID, req.Region) {
		return nil, "", apiErr(svc.throttleHTTP, svc.throttleCode, "Rate exceeded")
	}
	fault := s.ctl.fault(svc.name, req.Op, cred.AccountID)
	if err := fault.before(ctx); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.servedLocked(req, svc, &err)
	req.Account = s.accounts[cred.AccountID]
	if req.Account == nil {
		return nil, "", apiErr(svc.authHTTP, svc.authCode, "The security token included in the request is invalid.")
	}
	if err := s.preauthorizeLocked(req, svc); err != nil {
		return nil, "", err
	}
	if cred.key != nil {
		now := req.Now
		cred.key.LastUsed = &now
		cred.key.LastService = svc.iamServiceName()
		cred.key.LastRegion = req.Region
		if svc.name == "iam" {
			cred.key.LastRegion = "N/A"
		}
	}
	result, err = h(req)
	if err != nil {
		return nil, "", err
	}
	if req.authz.pending {
		// A strict principal's call was left to a handler that never
		// checked it: a simulator defect, reported rather than allowed.
		return nil, "", apiErr(500, "InternalFailure", "awssim: %s:%s succeeded without authorizing its resource", svc.name, req.Op)
	}
	return result, fault.after(), nil
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

// ---- authentication ----

type authHeader struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

func parseAuthorization(h string) authHeader {
	var a authHeader
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) == 5 {
				a.keyID, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
			}
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	return a
}

// guessService picks a service for requests without a usable signature, so
// that the error can be written in the right format.
func guessService(hr *http.Request) *service {
	t := hr.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(t, "AWSOrganizations"):
		return services["organizations"]
	case strings.HasPrefix(t, "secretsmanager"):
		return services["secretsmanager"]
	case strings.HasPrefix(hr.URL.Path, "/v2/email"):
		return services["ses"]
	}
	return nil
}

func (s *Sim) authenticate(svc *service, req *Request, a authHeader) (*Credential, error) {
	if a.keyID == "" {
		return nil, apiErr(svc.authHTTP, "MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	s.mu.Lock()
	c := s.creds[a.keyID]
	now := s.clock.Now()
	var status string
	if c != nil && c.key != nil {
		status = c.key.Status
		if !keyAttached(c.key) {
			status = "Deleted"
		}
	}
	s.mu.Unlock()
	req.Now = now
	invalid := apiErr(svc.authHTTP, svc.authCode, "The security token included in the request is invalid.")
	if c == nil || (c.key != nil && status != "Active") {
		return nil, invalid
	}
	if c.Kind == CredSession {
		if req.HTTP.Header.Get("X-Amz-Security-Token") != c.SessionToken {
			return nil, invalid
		}
		if !now.Before(c.Expires) {
			code := "ExpiredToken"
			if svc.proto != protoQuery {
				code = "ExpiredTokenException"
			}
			return nil, apiErr(svc.authHTTP, code, "The security token included in the request is expired")
		}
	}
	if err := verifySignature(req.HTTP, req.Body, a, c); err != nil {
		return nil, apiErr(403, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return c, nil
}

// verifySignature recomputes the SigV4 signature of the request with the
// credential's secret, using the SDK's own signer on a copy that carries
// only the signed headers.
func verifySignature(hr *http.Request, body []byte, a authHeader, c *Credential) error {
	if hr.URL.Path == "/" && hr.URL.RawQuery == "" {
		return verifyRootPathSignature(hr, body, a, c)
	}
	amzDate := hr.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return fmt.Errorf("bad X-Amz-Date %q", amzDate)
	}
	u := &url.URL{Scheme: "http", Host: hr.Host, Path: hr.URL.Path, RawPath: hr.URL.RawPath, RawQuery: hr.URL.RawQuery}
	cp, err := http.NewRequest(hr.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	cp.Host = hr.Host
	// Sign content-length only when the client did (botocore does not).
	cp.ContentLength = 0
	cp.Header = http.Header{}
	for _, h := range a.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			cp.ContentLength = hr.ContentLength
		default:
			cp.Header[http.CanonicalHeaderKey(h)] = hr.Header.Values(h)
		}
	}
	hash := hr.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
	}
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = a.service == "s3" })
	if err := signer.SignHTTP(context.Background(), creds, cp, hash, a.service, a.region, t); err != nil {
		return err
	}
	got := parseAuthorization(cp.Header.Get("Authorization")).signature
	if !hmac.Equal([]byte(got), []byte(a.signature)) {
		return errors.New("signature mismatch")
	}
	return nil
}

// ---- protocol decoding ----

func (svc *service) operation(hr *http.Request, body []byte, req *Request) (string, error) {
	switch svc.proto {
	case protoQuery:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return "", apiErr(400, "MalformedQueryString", "cannot parse form body: %v", err)
		}
		for k, v := range hr.URL.Query() {
			form[k] = append(form[k], v...)
		}
		req.Form = form
		op := form.Get("Action")
		if op == "" {
			return "", apiErr(400, "MissingAction", "Missing Action")
		}
		return op, nil
	case protoJSON:
		t := hr.Header.Get("X-Amz-Target")
		op, ok := strings.CutPrefix(t, svc.targetPfx+".")
		if !ok && svc.targetAlias != "" {
			op, ok = strings.CutPrefix(t, svc.targetAlias+".")
		}
		if !ok {
			return "", apiErr(400, "UnknownOperationException", "unknown target %q", t)
		}
		return op, nil
	default:
		if svc.route != nil {
			if op, ok := svc.route(hr.Method, hr.URL.Path); ok {
				return op, nil
			}
		}
		return "", apiErr(404, "NotFoundException", "no route for %s %s", hr.Method, hr.URL.Path)
	}
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

// ---- protocol encoding ----

func (s *Sim) writeResult(w http.ResponseWriter, svc *service, req *Request, result any) {
	rid := s.requestID()
	switch svc.proto {
	case protoQuery:
		var buf bytes.Buffer
		raw, isRaw := result.(rawXML)
		buf.Grow(len(raw.Inner) + 2*len(req.Op) + 256)
		buf.WriteString(xml.Header)
		fmt.Fprintf(&buf, `<%sResponse xmlns="%s">`, req.Op, svc.xmlns)
		if isRaw {
			fmt.Fprintf(&buf, "<%sResult>", req.Op)
			buf.Write(raw.Inner)
			fmt.Fprintf(&buf, "</%sResult>", req.Op)
		} else if result != nil {
			enc := xml.NewEncoder(&buf)
			if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: req.Op + "Result"}}); err != nil {
				http.Error(w, "awssim: encode: "+err.Error(), 500)
				return
			}
		}
		fmt.Fprintf(&buf, `<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`, rid, req.Op)
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("X-Amzn-Requestid", rid)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.Bytes())
	case protoJSON, protoRESTJSON:
		if result == nil {
			result = struct{}{}
		}
		b, err := json.Marshal(result)
		if err != nil {
			http.Error(w, "awssim: encode: "+err.Error(), 500)
			return
		}
		if svc.proto == protoJSON {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Header().Set("X-Amzn-Requestid", rid)
		w.WriteHeader(req.Status)
		_, _ = w.Write(b)
	case protoRESTXML:
		w.Header().Set("X-Amz-Request-Id", rid)
		if raw, ok := result.(RawResponse); ok {
			for k, v := range raw.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(req.Status)
			_, _ = w.Write(raw.Body)
			return
		}
		w.WriteHeader(req.Status)
		if result != nil {
			_, _ = w.Write([]byte(xml.Header))
			_ = xml.NewEncoder(w).Encode(result)
		}
	}
}

// RawResponse lets a REST handler set headers and the exact body.
type RawResponse struct {
	Header http.Header
	Body   []byte
}

func (s *Sim) writeError(w http.ResponseWriter, svc *service, req *Request, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		ae = &APIError{Code: "InternalFailure", Message: err.Error(), Status: 500, Receiver: true}
	}
	if ae.Status == 0 {
		ae.Status = 400
	}
	rid := s.requestID()
	w.Header().Set("X-Amzn-Requestid", rid)
	switch svc.proto {
	case protoQuery:
		typ := "Sender"
		if ae.Receiver {
			typ = "Receiver"
		}
		var buf bytes.Buffer
		fmt.Fprintf(&buf, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>`, svc.xmlns, typ, ae.Code)
		_ = xml.EscapeText(&buf, []byte(ae.Message))
		fmt.Fprintf(&buf, `</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, rid)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(ae.Status)
		_, _ = w.Write(buf.Bytes())
	case protoJSON:
		b, _ := json.Marshal(map[string]string{"__type": ae.Code, "message": ae.Message})
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(ae.Status)
		_, _ = w.Write(b)
	case protoRESTJSON:
		b, _ := json.Marshal(map[string]string{"message": ae.Message})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", ae.Code)
		w.WriteHeader(ae.Status)
		_, _ = w.Write(b)
	case protoRESTXML:
		var buf bytes.Buffer
		fmt.Fprintf(&buf, `%s<Error><Code>%s</Code><Message>`, xml.Header, ae.Code)
		_ = xml.EscapeText(&buf, []byte(ae.Message))
		fmt.Fprintf(&buf, `</Message><RequestId>%s</RequestId></Error>`, rid)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(ae.Status)
		if req == nil || req.HTTP.Method != http.MethodHead {
			_, _ = w.Write(buf.Bytes())
		}
	}
}

// cutConnection drops the TCP connection without a response, as a network
// failure after the server acted would.
func cutConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// signingKeys caches derived SigV4 keys by secret and scope: the HMAC chain
// is the same for every request a credential signs on one day.
var signingKeys sync.Map

// verifyRootPathSignature recomputes the signature of a POST to "/" (every
// query and JSON 1.1 request) without building a request copy.
func verifyRootPathSignature(hr *http.Request, body []byte, a authHeader, c *Credential) error {
	amzDate := hr.Header.Get("X-Amz-Date")
	if len(amzDate) != 16 || amzDate[:8] != a.date {
		return fmt.Errorf("bad X-Amz-Date %q", amzDate)
	}
	hash := hr.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
	}
	var cr strings.Builder
	cr.Grow(512)
	cr.WriteString(hr.Method)
	cr.WriteString("\n/\n\n")
	for _, h := range a.signedHeaders {
		cr.WriteString(h)
		cr.WriteByte(':')
		switch h {
		case "host":
			cr.WriteString(hr.Host)
		case "content-length":
			cr.WriteString(strconv.FormatInt(hr.ContentLength, 10))
		default:
			for i, v := range hr.Header.Values(h) {
				if i > 0 {
					cr.WriteByte(',')
				}
				cr.WriteString(strings.Join(strings.Fields(v), " "))
			}
		}
		cr.WriteByte('\n')
	}
	cr.WriteByte('\n')
	cr.WriteString(strings.Join(a.signedHeaders, ";"))
	cr.WriteByte('\n')
	cr.WriteString(hash)
	crSum := sha256.Sum256([]byte(cr.String()))
	scope := a.date + "/" + a.region + "/" + a.service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crSum[:])
	cacheKey := c.SecretAccessKey + "/" + scope
	key, ok := signingKeys.Load(cacheKey)
	if !ok {
		k := hmacSHA256([]byte("AWS4"+c.SecretAccessKey), a.date)
		k = hmacSHA256(k, a.region)
		k = hmacSHA256(k, a.service)
		k = hmacSHA256(k, "aws4_request")
		key, _ = signingKeys.LoadOrStore(cacheKey, k)
	}
	got := hex.EncodeToString(hmacSHA256(key.([]byte), sts))
	if !hmac.Equal([]byte(got), []byte(a.signature)) {
		return errors.New("signature mismatch")
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// bufferedResponse collects a response so that it can be cut short.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

// writeTruncated writes a successful response with its body cut in half,
// framed correctly (Content-Length is the shortened length), so the
// client reads the whole response and fails to decode it.
func (s *Sim) writeTruncated(w http.ResponseWriter, svc *service, req *Request, result any) {
	buf := &bufferedResponse{header: http.Header{}}
	s.writeResult(buf, svc, req, result)
	body := buf.body.Bytes()
	n := len(body) / 2
	if n == 0 && len(body) > 1 {
		n = 1
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(n))
	status := buf.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body[:n])
}

// SupportsOperation tells whether the simulator serves service (a SigV4
// signing name such as "iam") and, unless op is "*", its operation op. It
// lets a command line check a fault or latency pattern before serving.
func SupportsOperation(service, op string) bool {
	svc := services[service]
	if svc == nil {
		return false
	}
	if op == "*" {
		return true
	}
	_, ok := svc.ops[op]
	return ok
}

// ServiceNames lists the services the simulator serves, sorted.
func ServiceNames() []string {
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
