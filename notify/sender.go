package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"keyrotor/accounts"
)

// IdentityAPI is what CheckSender calls.
type IdentityAPI interface {
	GetEmailIdentity(ctx context.Context, in *sesv2.GetEmailIdentityInput, optFns ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error)
}

var (
	_ IdentityAPI = (*sesv2.Client)(nil)
	_ SESAPI      = (*sesv2.Client)(nil)
)

// CheckSender tells whether SES may send from sender in region: the address
// itself or its domain must be an identity verified for sending. It says
// what it verified.
func CheckSender(ctx context.Context, api IdentityAPI, sender, region string) (string, error) {
	addr, err := mail.ParseAddress(sender)
	if err != nil {
		return "", fmt.Errorf("notifications.sender %q: %w", sender, err)
	}
	_, domain, _ := strings.Cut(addr.Address, "@")
	for _, id := range []string{addr.Address, domain} {
		out, err := api.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(id)})
		var nf *sestypes.NotFoundException
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("SES identity %s in %s: %w", id, region, accounts.Concise(err))
		}
		if !out.VerifiedForSendingStatus {
			return "", fmt.Errorf("SES identity %s in %s is not verified for sending (status %s)", id, region, out.VerificationStatus)
		}
		return fmt.Sprintf("SES identity %s verified for sending in %s", id, region), nil
	}
	return "", fmt.Errorf("no SES identity for %s or %s in %s: verify one (aws sesv2 create-email-identity)", addr.Address, domain, region)
}
