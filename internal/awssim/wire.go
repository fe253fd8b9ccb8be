package awssim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The wire protocols: which operation a request calls, and how results,
// errors and mangled (cut or truncated) responses are written, each in the
// service's own protocol.

// ---- protocol decoding ----

// operation finds the operation a request calls, as its protocol names it,
// and reads a query request's parameters into req.Form.
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

// ---- protocol encoding ----

// rawXML is a result rendered by hand: encoding/xml writes an ",innerxml"
// field verbatim. The list calls render this way because reflection was
// most of their cost (BenchmarkIAMListUsers).
type rawXML struct {
	Inner []byte `xml:",innerxml"`
}

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
