package awssim

import (
	"context"
	"fmt"
	"net/http"
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

// Fault makes matching calls fail. Service and Op must be set (Op "*"
// matches every operation of the service); AccountID narrows it to calls
// made with that account's credentials.
type Fault struct {
	Service   string
	Op        string
	AccountID string
	// Nth is the 1-based index of the first matching call that fails
	// (counted from when the fault was injected); 0 means the next one.
	Nth int
	// Times is how many calls fail from the Nth on; 0 means one (every
	// call for FaultUnsupported), a negative number every call.
	Times int
	// Kind is how the calls fail (default FaultError); see FaultKind.
	Kind FaultKind
	// Code, Message and Status form the error response of FaultError.
	Code    string
	Message string
	Status  int
	// CutAfter lets the operation take effect, then drops the connection
	// without a response. It is the same as Kind FaultCut.
	CutAfter bool
	// HangFor bounds a FaultHang: after it the connection is dropped even
	// if the client still waits (default DefaultHangFor).
	HangFor time.Duration

	seen, fired int
}

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
