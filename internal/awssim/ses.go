package awssim

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
)

const sesIdentityPath = "/v2/email/identities/"

// sesRoute maps SES v2 REST paths (already URL-decoded) to operations.
func sesRoute(method, path string) (string, bool) {
	switch {
	case method == http.MethodPost && path == "/v2/email/outbound-emails":
		return "SendEmail", true
	case method == http.MethodPost && path == "/v2/email/identities":
		return "CreateEmailIdentity", true
	case method == http.MethodGet && strings.HasPrefix(path, sesIdentityPath) && len(path) > len(sesIdentityPath):
		return "GetEmailIdentity", true
	}
	return "", false
}

func sesBadRequest(format string, args ...any) error {
	return apiErr(400, "BadRequestException", format, args...)
}

type sesContent struct {
	Data    string `json:"Data"`
	Charset string `json:"Charset"`
}

type sesSendInput struct {
	FromEmailAddress *string `json:"FromEmailAddress"`
	Destination      *struct {
		ToAddresses  []string `json:"ToAddresses"`
		CcAddresses  []string `json:"CcAddresses"`
		BccAddresses []string `json:"BccAddresses"`
	} `json:"Destination"`
	ReplyToAddresses     []string `json:"ReplyToAddresses"`
	ConfigurationSetName *string  `json:"ConfigurationSetName"`
	Content              struct {
		Simple *struct {
			Subject *sesContent `json:"Subject"`
			Body    *struct {
				Text *sesContent `json:"Text"`
				HTML *sesContent `json:"Html"`
			} `json:"Body"`
			Headers []struct {
				Name  string `json:"Name"`
				Value string `json:"Value"`
			} `json:"Headers"`
		} `json:"Simple"`
		Raw *struct {
			Data []byte `json:"Data"`
		} `json:"Raw"`
		Template *struct{} `json:"Template"`
	} `json:"Content"`
}

// identityARN is the ARN of an SES identity, the resource SendEmail and the
// identity operations are authorized against.
func identityARN(r *Request, identity string) string {
	return fmt.Sprintf("arn:aws:ses:%s:%s:identity/%s", r.Region, r.Account.ID, identity)
}

func sesSendEmail(r *Request) (any, error) {
	var in sesSendInput
	if err := r.DecodeJSON(&in); err != nil {
		return nil, err
	}
	msg := Email{AccountID: r.Account.ID, Region: r.Region, ReplyTo: in.ReplyToAddresses, Sent: r.Now}
	if in.ConfigurationSetName != nil {
		msg.ConfigurationSet = *in.ConfigurationSetName
	}
	if in.Destination != nil {
		msg.To, msg.Cc, msg.Bcc = in.Destination.ToAddresses, in.Destination.CcAddresses, in.Destination.BccAddresses
	}
	if in.FromEmailAddress != nil {
		msg.From = *in.FromEmailAddress
	}
	c := in.Content
	switch {
	case c.Template != nil:
		return nil, sesBadRequest("awssim does not support templated email; use Simple or Raw content.")
	case c.Simple != nil && c.Raw != nil:
		return nil, sesBadRequest("Only one of Simple, Raw or Template content may be specified.")
	case c.Simple != nil:
		s := c.Simple
		if s.Subject == nil {
			return nil, sesBadRequest("Missing required field Subject.")
		}
		if s.Body == nil || (s.Body.Text == nil && s.Body.HTML == nil) {
			return nil, sesBadRequest("Missing required field Body.")
		}
		msg.Subject = s.Subject.Data
		if s.Body.Text != nil {
			msg.Text = s.Body.Text.Data
		}
		if s.Body.HTML != nil {
			msg.HTML = s.Body.HTML.Data
		}
	case c.Raw != nil:
		if err := parseRawEmail(&msg, c.Raw.Data, in.Destination == nil); err != nil {
			return nil, err
		}
	default:
		return nil, sesBadRequest("Missing required field Content.")
	}
	if msg.From == "" {
		return nil, sesBadRequest("Missing required field FromEmailAddress.")
	}
	from, err := mail.ParseAddress(msg.From)
	if err != nil {
		return nil, sesBadRequest("Illegal address: %s", msg.From)
	}
	for _, list := range [][]string{msg.To, msg.Cc, msg.Bcc, msg.ReplyTo} {
		for _, a := range list {
			if _, err := mail.ParseAddress(a); err != nil {
				return nil, sesBadRequest("Illegal address: %s", a)
			}
		}
	}
	n := len(msg.To) + len(msg.Cc) + len(msg.Bcc)
	if n == 0 {
		return nil, sesBadRequest("Missing required field Destination: at least one recipient is required.")
	}
	if n > 50 {
		return nil, apiErr(400, "MessageRejected", "Recipient count exceeds 50.")
	}
	if err := r.Authorize(identityARN(r, from.Address)); err != nil {
		return nil, err
	}
	if !sesVerified(r, from.Address) {
		return nil, apiErr(400, "MessageRejected",
			"Email address is not verified. The following identities failed the check in region %s: %s",
			strings.ToUpper(r.Region), from.Address)
	}
	msg.MessageID = fmt.Sprintf("0100%s-%s-000000", r.Sim.randHex(12), r.Sim.randUUID())
	r.Sim.outbox = append(r.Sim.outbox, msg)
	return struct {
		MessageID string `json:"MessageId"`
	}{msg.MessageID}, nil
}

// sesVerified tells whether addr may send: the address itself or its
// domain is a verified identity in the caller's account and region.
func sesVerified(r *Request, addr string) bool {
	addr = strings.ToLower(addr)
	if id := r.Account.ses[r.Region+"\x00"+addr]; id != nil && id.Verified {
		return true
	}
	_, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return false
	}
	id := r.Account.ses[r.Region+"\x00"+domain]
	return id != nil && id.Verified
}

// parseRawEmail fills msg from a MIME message: From (unless the request
// gave one), Subject, the text and HTML bodies, and, when the request has
// no Destination, the recipients from the To, Cc and Bcc headers.
func parseRawEmail(msg *Email, data []byte, recipientsFromHeaders bool) error {
	if len(data) == 0 {
		return sesBadRequest("Missing required field Raw.Data.")
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return apiErr(400, "MessageRejected", "Could not parse the raw message: %v", err)
	}
	msg.Raw = append([]byte(nil), data...)
	dec := new(mime.WordDecoder)
	if msg.From == "" {
		from := m.Header.Get("From")
		if from == "" {
			return apiErr(400, "MessageRejected", "Missing required header 'From'.")
		}
		if d, err := dec.DecodeHeader(from); err == nil {
			from = d
		}
		msg.From = from
	}
	msg.Subject = m.Header.Get("Subject")
	if d, err := dec.DecodeHeader(msg.Subject); err == nil {
		msg.Subject = d
	}
	if recipientsFromHeaders {
		for _, h := range []struct {
			name string
			dst  *[]string
		}{{"To", &msg.To}, {"Cc", &msg.Cc}, {"Bcc", &msg.Bcc}} {
			list, err := m.Header.AddressList(h.name)
			if err != nil && !errors.Is(err, mail.ErrHeaderNotPresent) {
				return sesBadRequest("Illegal address in %s header: %v", h.name, err)
			}
			for _, a := range list {
				*h.dst = append(*h.dst, a.Address)
			}
		}
	}
	return extractBodies(msg, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, 0)
}

// extractBodies walks a MIME entity and keeps the first text/plain and
// text/html parts, decoded.
func extractBodies(msg *Email, contentType, encoding string, body io.Reader, depth int) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return apiErr(400, "MessageRejected", "Could not parse the raw message: bad Content-Type %q", contentType)
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth > 10 {
			return apiErr(400, "MessageRejected", "Could not parse the raw message: MIME parts nested too deep")
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return apiErr(400, "MessageRejected", "Could not parse the raw message: %v", err)
			}
			if err := extractBodies(msg, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); err != nil {
				return err
			}
		}
	}
	var dst *string
	switch mt {
	case "text/plain":
		dst = &msg.Text
	case "text/html":
		dst = &msg.HTML
	default:
		return nil
	}
	if *dst != "" {
		return nil
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &newlineStripper{r: body})
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return apiErr(400, "MessageRejected", "Could not parse the raw message: %v", err)
	}
	*dst = string(b)
	return nil
}

// newlineStripper drops CR and LF so wrapped base64 bodies decode.
type newlineStripper struct{ r io.Reader }

func (n *newlineStripper) Read(p []byte) (int, error) {
	for {
		c, err := n.r.Read(p)
		w := 0
		for _, b := range p[:c] {
			if b != '\r' && b != '\n' {
				p[w] = b
				w++
			}
		}
		if w > 0 || err != nil {
			return w, err
		}
	}
}

var (
	emailIdentityRe  = regexp.MustCompile(`^[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)
	domainIdentityRe = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$`)
)

func identityType(name string) (string, bool) {
	switch {
	case emailIdentityRe.MatchString(name):
		return "EMAIL_ADDRESS", true
	case domainIdentityRe.MatchString(name):
		return "DOMAIN", true
	}
	return "", false
}

func sesCreateEmailIdentity(r *Request) (any, error) {
	var in struct {
		EmailIdentity string `json:"EmailIdentity"`
	}
	if err := r.DecodeJSON(&in); err != nil {
		return nil, err
	}
	typ, ok := identityType(in.EmailIdentity)
	if !ok {
		return nil, sesBadRequest("Invalid email identity: %s", in.EmailIdentity)
	}
	if err := r.Authorize(identityARN(r, in.EmailIdentity)); err != nil {
		return nil, err
	}
	key := r.Region + "\x00" + strings.ToLower(in.EmailIdentity)
	if _, exists := r.Account.ses[key]; exists {
		return nil, apiErr(400, "AlreadyExistsException", "Email identity %s already exist.", in.EmailIdentity)
	}
	// Verification needs the mailbox owner or DNS; tests do it with
	// Sim.VerifyEmailIdentity.
	r.Account.ses[key] = &EmailIdentity{Name: in.EmailIdentity}
	return struct {
		IdentityType             string `json:"IdentityType"`
		VerifiedForSendingStatus bool   `json:"VerifiedForSendingStatus"`
	}{typ, false}, nil
}

func sesGetEmailIdentity(r *Request) (any, error) {
	name := strings.TrimPrefix(r.HTTP.URL.Path, sesIdentityPath)
	if err := r.Authorize(identityARN(r, name)); err != nil {
		return nil, err
	}
	id := r.Account.ses[r.Region+"\x00"+strings.ToLower(name)]
	if id == nil {
		return nil, apiErr(404, "NotFoundException", "Email identity %s does not exist.", name)
	}
	typ, _ := identityType(id.Name)
	status := "PENDING"
	if id.Verified {
		status = "SUCCESS"
	}
	return struct {
		FeedbackForwardingStatus bool   `json:"FeedbackForwardingStatus"`
		IdentityType             string `json:"IdentityType"`
		VerificationStatus       string `json:"VerificationStatus"`
		VerifiedForSendingStatus bool   `json:"VerifiedForSendingStatus"`
	}{true, typ, status, id.Verified}, nil
}
