package awssim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// The HTTP entry point: every request is decoded for the service its
// signature names (services.go), authenticated (sigv4.go), held to the
// test controls (controls.go, faults.go), authorized (authz_request.go),
// handed to the operation's handler, recorded in CloudTrail
// (trail_record.go) and answered in the service's protocol (wire.go).

// servedLocked records, with the simulator's lock held, a request the
// service answered for a known account (successfully or with its own
// error, denials included), the way CloudTrail sees calls.
func (s *Sim) servedLocked(r *Request, svc *service, err *error) {
	if r.Account == nil {
		return
	}
	s.recordTrailLocked(r, svc, *err)
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
	req := &Request{Sim: s, HTTP: hr, Service: svc.name, Region: auth.region, Body: body, Status: http.StatusOK, svc: svc}
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
	if !s.ctl.throttle(cred.AccountID, req.Region, svc.name) || !s.ctl.throttleOperation(svc.name, req.Op, svc.opLimits[req.Op], cred.AccountID, req.Region) {
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
