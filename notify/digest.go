package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"keyrotor/rotation"
)

// maxRawMessage bounds a raw message. SES v2 accepts up to 40 MB, but
// many receiving servers refuse far less; 10 MB, SES v1's own limit, is
// accepted nearly everywhere. A larger report is linked, not attached.
const maxRawMessage = 10 << 20

// rawOverhead is room for the headers and both bodies next to the
// attachment.
const rawOverhead = 256 << 10

// SendDigest mails d to notifications.security_team. With an attachment
// the message is sent as raw MIME (text and HTML alternatives plus the
// file); without one, as simple content.
func (n *SESNotifier) SendDigest(ctx context.Context, d Digest) (rotation.Delivery, error) {
	var rec Recipients
	to := rec.validList("security_team", n.cfg.SecurityTeam)
	del := rotation.Delivery{Skipped: rec.Skipped}
	if len(to) == 0 {
		return del, fmt.Errorf("%w for the digest of run %s: notifications.security_team has no valid address", ErrNoRecipient, d.RunID)
	}
	del.To, del.Source = to, string(SourceSecurityTeam)

	data := DigestMail{Digest: d}
	att := d.Attachment
	if att != nil {
		if len(att.Data) == 0 {
			return del, fmt.Errorf("send digest of run %s: attachment %s is empty", d.RunID, att.Name)
		}
		if base64Size(len(att.Data))+rawOverhead > maxRawMessage {
			data.AttachmentNote = fmt.Sprintf("The report %s (%.1f MB) is too large to attach; use the report files listed above.",
				attachmentName(att), float64(len(att.Data))/(1<<20))
			att = nil
		} else {
			data.AttachmentName = attachmentName(att)
		}
	}
	m, err := n.digest.render(data)
	if err != nil {
		return del, fmt.Errorf("render digest of run %s: %w", d.RunID, err)
	}
	del.Subject = m.Subject

	in := n.input(to, []types.MessageTag{{Name: aws.String("keyrotor_event"), Value: aws.String("digest")}})
	if att == nil {
		in.Content = simpleContent(m)
	} else {
		raw, err := buildRawMessage(rawHeader{From: n.fromHdr, To: to, ReplyTo: n.cfg.ReplyTo, Date: n.now()}, m, att)
		if err != nil {
			return del, fmt.Errorf("build digest of run %s: %w", d.RunID, err)
		}
		in.Content = &types.EmailContent{Raw: &types.RawMessage{Data: raw}}
	}
	out, err := n.api.SendEmail(ctx, in)
	if err != nil {
		return del, n.sendError("send digest of run "+d.RunID, err)
	}
	del.MessageID = aws.ToString(out.MessageId)
	n.logger.InfoContext(ctx, "digest sent", "run", d.RunID, "to", strings.Join(to, ","),
		"attachment", data.AttachmentName, "message_id", del.MessageID)
	return del, nil
}

func base64Size(n int) int {
	enc := (n + 2) / 3 * 4
	return enc + enc/76*2 + 2
}

// attachmentName is the file name to show: the base name, since a report
// path says nothing to the reader and may reveal the runner's layout.
func attachmentName(a *Attachment) string {
	name := path.Base(strings.ReplaceAll(a.Name, `\`, "/"))
	if name == "" || name == "." || name == "/" {
		return "keyrotor-report.xlsx"
	}
	return name
}

// attachmentTypes are the content types of the report formats; the
// system's MIME table is not relied on, since minimal containers lack it.
var attachmentTypes = map[string]string{
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".json": "application/json",
	".csv":  "text/csv",
}

// rawHeader holds the top-level header fields of a raw message.
type rawHeader struct {
	From    string
	To      []string
	ReplyTo []string
	Date    time.Time
}

// buildRawMessage returns an RFC 5322 message: multipart/mixed holding a
// multipart/alternative (text, HTML; quoted-printable) and the attachment
// (base64). Lines end in CRLF.
func buildRawMessage(h rawHeader, m renderedMail, att *Attachment) ([]byte, error) {
	from, err := mail.ParseAddress(h.From)
	if err != nil {
		return nil, fmt.Errorf("sender %q: %w", h.From, err)
	}
	addrs := func(list []string) string {
		out := make([]string, len(list))
		for i, a := range list {
			out[i] = (&mail.Address{Address: a}).String()
		}
		return strings.Join(out, ", ")
	}

	var alt bytes.Buffer
	aw := multipart.NewWriter(&alt)
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, err := aw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(part.typ, map[string]string{"charset": "utf-8"})},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(w)
		if _, err := qw.Write([]byte(part.body)); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}

	name := attachmentName(att)
	ctype := att.ContentType
	if ctype == "" {
		ctype = cmp.Or(attachmentTypes[strings.ToLower(path.Ext(name))], "application/octet-stream")
	}
	typeHeader := mime.FormatMediaType(ctype, map[string]string{"name": name})
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if typeHeader == "" || disposition == "" {
		return nil, fmt.Errorf("attachment %q: cannot form its MIME headers (content type %q)", name, ctype)
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type": {mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": aw.Boundary()})},
	})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(alt.Bytes()); err != nil {
		return nil, err
	}
	w, err = mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {typeHeader},
		"Content-Disposition":       {disposition},
		"Content-Transfer-Encoding": {"base64"},
	})
	if err != nil {
		return nil, err
	}
	if err := writeBase64Lines(w, att.Data); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}

	var out bytes.Buffer
	header := func(k, v string) { out.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", addrs(h.To))
	if len(h.ReplyTo) > 0 {
		header("Reply-To", addrs(h.ReplyTo))
	}
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", h.Date.Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	header("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	out.WriteString("\r\n")
	out.Write(body.Bytes())
	if out.Len() > maxRawMessage {
		return nil, errors.New("message exceeds the size SES and mail servers accept")
	}
	return out.Bytes(), nil
}

// writeBase64Lines writes data base64-encoded in lines of 76 characters,
// as RFC 2045 requires.
func writeBase64Lines(w interface{ Write([]byte) (int, error) }, data []byte) error {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 0 {
		n := min(76, len(enc))
		if _, err := w.Write([]byte(enc[:n] + "\r\n")); err != nil {
			return err
		}
		enc = enc[n:]
	}
	return nil
}
