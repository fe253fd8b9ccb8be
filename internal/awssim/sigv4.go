package awssim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Authentication: the access key in a request's SigV4 Authorization
// header selects the credential, whose secret must reproduce the
// request's signature.

// authHeader is a parsed SigV4 Authorization header.
type authHeader struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

// parseAuthorization reads a SigV4 Authorization header; anything else
// parses to the zero authHeader.
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

// authenticate finds the request's credential and checks that it is
// live and signed the request, answering the service's own errors.
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
