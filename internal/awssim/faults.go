package awssim

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// FaultKind is how an injected fault breaks a call, for field hardening:
// each reproduces something a real organization, a proxy or an emulator
// does to a client.
type FaultKind string

const (
	// FaultError answers with the fault's error (Code, Status, Message);
	// the call has no effect. It is the default.
	FaultError FaultKind = "error"
	// FaultCut lets the call take effect, then closes the connection with
	// no response, as a network failure after the server acted would.
	FaultCut FaultKind = "cut"
	// FaultHang never answers: the call has no effect and the connection
	// stays open until the client gives up (its context ends) or HangFor
	// passes, then it is closed with no response.
	FaultHang FaultKind = "hang"
	// FaultUnsupported answers as LocalStack does for an operation it does
	// not implement: HTTP 501 with InternalFailure, on every call unless
	// Times says otherwise. The SDK does not retry it.
	FaultUnsupported FaultKind = "unsupported"
	// FaultTruncate lets the call take effect and answers 200 with the
	// first half of the real body (Content-Length says so), so the SDK
	// fails to deserialize it. An operation whose response has no body
	// cannot be truncated; its client sees a success.
	FaultTruncate FaultKind = "truncate"
)

// DefaultHangFor bounds a FaultHang without HangFor: long enough that any
// client timeout fires first, short enough that no test leaks a handler.
const DefaultHangFor = 2 * time.Minute

// normalize fills in a fault's defaults.
func (f *Fault) normalize() {
	if f.CutAfter && (f.Kind == "" || f.Kind == FaultError) {
		f.Kind = FaultCut
	}
	if f.Kind == "" {
		f.Kind = FaultError
	}
	f.CutAfter = f.Kind == FaultCut
	if f.Nth == 0 {
		f.Nth = 1
	}
	switch f.Kind {
	case FaultUnsupported:
		if f.Times == 0 {
			f.Times = -1
		}
		if f.Status == 0 {
			f.Status = http.StatusNotImplemented
		}
	case FaultHang:
		if f.HangFor <= 0 {
			f.HangFor = DefaultHangFor
		}
	}
	if f.Times == 0 {
		f.Times = 1
	}
	if f.Status == 0 {
		f.Status = 500
	}
	if f.Code == "" {
		f.Code = "InternalFailure"
	}
	if f.Message == "" && f.Kind != FaultUnsupported {
		f.Message = "injected failure"
	}
}

// before applies the part of a fault that comes before the handler: an
// error, 501 or hang. It is nil-safe: no fault, no error.
func (f *Fault) before(ctx context.Context) error {
	if f == nil {
		return nil
	}
	switch f.Kind {
	case FaultCut, FaultTruncate:
		return nil
	case FaultHang:
		t := time.NewTimer(f.HangFor)
		defer t.Stop()
		select {
		case <-ctx.Done():
			// The client gave up; the call log says so.
			return &APIError{Code: "RequestCanceled", Message: "the client gave up on a hung call", drop: true}
		case <-t.C:
			return &APIError{Code: "HangTimeout", Message: "a hung call reached its bound", drop: true}
		}
	case FaultUnsupported:
		return &APIError{Code: f.Code, Message: f.Message, Status: f.Status, Receiver: true}
	}
	return &APIError{Code: f.Code, Message: f.Message, Status: f.Status}
}

// after is the fault that mangles a successful response, if any.
func (f *Fault) after() FaultKind {
	if f == nil || (f.Kind != FaultCut && f.Kind != FaultTruncate) {
		return ""
	}
	return f.Kind
}

// unsupportedMessage is LocalStack's message for an operation it lacks.
func unsupportedMessage(service, op string) string {
	return fmt.Sprintf("API action '%s' for service '%s' not yet implemented", op, service)
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
