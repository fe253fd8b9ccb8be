package awssim_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"keyrotor/internal/awssim"
)

func newSESEnv(t *testing.T) (*awssim.Sim, *sesv2.Client) {
	t.Helper()
	sim := awssim.New()
	sim.CreateOrganization(mgmtID, "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: secAcct, Name: "security"})
	url := newTestServer(t, sim)
	return sim, sesv2.NewFromConfig(cfgFor(url, sim.RootCredentials(secAcct)))
}

func simpleEmail(from string, to ...string) *sesv2.SendEmailInput {
	return &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination:      &types.Destination{ToAddresses: to},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("Your access key was rotated")},
			Body: &types.Body{
				Text: &types.Content{Data: aws.String("plain body")},
				Html: &types.Content{Data: aws.String("<p>html body</p>")},
			},
		}},
	}
}

func TestSESSendSimple(t *testing.T) {
	sim, c := newSESEnv(t)
	sim.VerifyEmailIdentity(secAcct, "us-east-1", "example.com")
	ctx := context.Background()
	in := simpleEmail("KeyRotor <keyrotor@example.com>", "alice@corp.example")
	in.Destination.CcAddresses = []string{"sec@corp.example"}
	in.Destination.BccAddresses = []string{"audit@corp.example"}
	in.ReplyToAddresses = []string{"help@corp.example"}
	in.ConfigurationSetName = aws.String("keyrotor")
	out, err := c.SendEmail(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	box := sim.Outbox()
	if len(box) != 1 {
		t.Fatalf("outbox has %d messages", len(box))
	}
	m := box[0]
	if m.MessageID != aws.ToString(out.MessageId) || m.MessageID == "" {
		t.Errorf("message id %q, response %q", m.MessageID, aws.ToString(out.MessageId))
	}
	if m.AccountID != secAcct || m.Region != "us-east-1" || m.From != "KeyRotor <keyrotor@example.com>" ||
		!slices.Equal(m.To, []string{"alice@corp.example"}) || !slices.Equal(m.Cc, []string{"sec@corp.example"}) ||
		!slices.Equal(m.Bcc, []string{"audit@corp.example"}) || !slices.Equal(m.ReplyTo, []string{"help@corp.example"}) ||
		m.Subject != "Your access key was rotated" || m.Text != "plain body" || m.HTML != "<p>html body</p>" ||
		m.ConfigurationSet != "keyrotor" || !m.Sent.Equal(sim.Now()) {
		t.Fatalf("outbox message = %+v", m)
	}

	_, err = c.SendEmail(ctx, simpleEmail("keyrotor@example.com"))
	var br *types.BadRequestException
	if !errors.As(err, &br) {
		t.Fatalf("no recipients: err = %v, want BadRequestException", err)
	}
}

func TestSESSendRaw(t *testing.T) {
	sim, c := newSESEnv(t)
	sim.VerifyEmailIdentity(secAcct, "us-east-1", "keyrotor@example.com")
	ctx := context.Background()
	raw := strings.ReplaceAll(`From: KeyRotor <keyrotor@example.com>
To: alice@corp.example, Bob <bob@corp.example>
Subject: =?UTF-8?Q?Cl=C3=A9_rotated?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Your key AKIA=E2=80=A6 is old.
--b1
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: base64

PHA+WW91ciBrZXkgaXMgb2xkLjwvcD4=
--b1--
`, "\n", "\r\n")
	// No FromEmailAddress and no Destination: both come from the headers.
	out, err := c.SendEmail(ctx, &sesv2.SendEmailInput{Content: &types.EmailContent{Raw: &types.RawMessage{Data: []byte(raw)}}})
	if err != nil {
		t.Fatal(err)
	}
	box := sim.Outbox()
	if len(box) != 1 {
		t.Fatalf("outbox has %d messages", len(box))
	}
	m := box[0]
	if m.MessageID != aws.ToString(out.MessageId) || string(m.Raw) != raw || m.Subject != "Clé rotated" ||
		m.From != "KeyRotor <keyrotor@example.com>" || !slices.Equal(m.To, []string{"alice@corp.example", "bob@corp.example"}) ||
		m.Text != "Your key AKIA… is old." || m.HTML != "<p>Your key is old.</p>" {
		t.Fatalf("outbox message = %+v", m)
	}

	// An explicit Destination wins over the headers.
	_, err = c.SendEmail(ctx, &sesv2.SendEmailInput{
		Destination: &types.Destination{ToAddresses: []string{"only@corp.example"}},
		Content:     &types.EmailContent{Raw: &types.RawMessage{Data: []byte(raw)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := sim.Outbox()[1].To; !slices.Equal(got, []string{"only@corp.example"}) {
		t.Fatalf("to = %v", got)
	}
}

func TestSESUnverifiedSender(t *testing.T) {
	sim, c := newSESEnv(t)
	// Verified elsewhere does not count.
	sim.VerifyEmailIdentity(secAcct, "eu-west-1", "example.com")
	sim.VerifyEmailIdentity(mgmtID, "us-east-1", "example.com")
	ctx := context.Background()
	_, err := c.SendEmail(ctx, simpleEmail("keyrotor@example.com", "alice@corp.example"))
	var rej *types.MessageRejected
	if !errors.As(err, &rej) {
		t.Fatalf("err = %v, want MessageRejected", err)
	}
	want := "Email address is not verified. The following identities failed the check in region US-EAST-1: keyrotor@example.com"
	if aws.ToString(rej.Message) != want {
		t.Fatalf("message = %q, want %q", aws.ToString(rej.Message), want)
	}
	if n := len(sim.Outbox()); n != 0 {
		t.Fatalf("outbox has %d messages", n)
	}
	// Creating the identity is not enough: it must be verified.
	if _, err := c.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("keyrotor@example.com")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendEmail(ctx, simpleEmail("keyrotor@example.com", "alice@corp.example")); !errors.As(err, &rej) {
		t.Fatalf("unverified identity: err = %v, want MessageRejected", err)
	}
}

func TestSESIdentities(t *testing.T) {
	sim, c := newSESEnv(t)
	ctx := context.Background()
	tests := []struct {
		identity string
		typ      types.IdentityType
	}{
		{"keyrotor@example.com", types.IdentityTypeEmailAddress},
		{"corp.example", types.IdentityTypeDomain},
	}
	for _, tt := range tests {
		t.Run(tt.identity, func(t *testing.T) {
			out, err := c.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(tt.identity)})
			if err != nil {
				t.Fatal(err)
			}
			if out.IdentityType != tt.typ || out.VerifiedForSendingStatus {
				t.Fatalf("create = %s verified %v", out.IdentityType, out.VerifiedForSendingStatus)
			}
			get, err := c.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(tt.identity)})
			if err != nil {
				t.Fatal(err)
			}
			if get.IdentityType != tt.typ || get.VerifiedForSendingStatus || get.VerificationStatus != types.VerificationStatusPending {
				t.Fatalf("get = %s %v %s", get.IdentityType, get.VerifiedForSendingStatus, get.VerificationStatus)
			}
			_, err = c.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(tt.identity)})
			var ae *types.AlreadyExistsException
			if !errors.As(err, &ae) {
				t.Fatalf("second create: err = %v, want AlreadyExistsException", err)
			}
			sim.VerifyEmailIdentity(secAcct, "us-east-1", tt.identity)
			get, err = c.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(tt.identity)})
			if err != nil {
				t.Fatal(err)
			}
			if !get.VerifiedForSendingStatus || get.VerificationStatus != types.VerificationStatusSuccess {
				t.Fatalf("after verification: %v %s", get.VerifiedForSendingStatus, get.VerificationStatus)
			}
		})
	}
	_, err := c.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("nobody@example.com")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("unknown identity: err = %v, want NotFoundException", err)
	}
	_, err = c.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("not an identity")})
	var br *types.BadRequestException
	if !errors.As(err, &br) {
		t.Fatalf("bad identity: err = %v, want BadRequestException", err)
	}
}
