package awssim_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
)

// newTestServer starts sim on a loopback listener for the test's lifetime.
func newTestServer(t testing.TB, sim *awssim.Sim) string {
	t.Helper()
	return awssimtest.Start(t, sim).URL
}

// cfgFor keeps the SDK's default retryer: these tests check the simulator
// against the SDK as shipped.
func cfgFor(url string, c awssim.Credentials) aws.Config {
	return awssimtest.Config(url, c, awssimtest.SDKDefaultRetryer())
}

func TestCoreGetCallerIdentityAndBadSecret(t *testing.T) {
	sim := awssim.New()
	sim.CreateOrganization("111111111111", "management", "mgmt@example.com")
	url := newTestServer(t, sim)
	root := sim.RootCredentials("111111111111")
	ctx := context.Background()

	out, err := sts.NewFromConfig(cfgFor(url, root)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "111111111111" || aws.ToString(out.Arn) != "arn:aws:iam::111111111111:root" {
		t.Fatalf("identity = %s %s", aws.ToString(out.Account), aws.ToString(out.Arn))
	}

	bad := root
	bad.SecretAccessKey = "wrong"
	_, err = sts.NewFromConfig(cfgFor(url, bad)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: err = %v", err)
	}
	unknown := awssim.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"}
	_, err = sts.NewFromConfig(cfgFor(url, unknown)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidClientTokenId" {
		t.Fatalf("unknown key: err = %v", err)
	}
}

func TestCoreAssumeRole(t *testing.T) {
	sim := awssim.New()
	sim.CreateOrganization("111111111111", "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: "222222222222", Name: "member"})
	sim.AddRole("222222222222", awssim.RoleSpec{Name: "Rotator", TrustedPrincipals: []string{"111111111111"}, ExternalID: "ext-1"})
	url := newTestServer(t, sim)
	root := sim.RootCredentials("111111111111")
	ctx := context.Background()
	client := sts.NewFromConfig(cfgFor(url, root))
	out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::222222222222:role/Rotator"), RoleSessionName: aws.String("keyrotor-test"),
		ExternalId: aws.String("ext-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	sess := awssim.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
	id, err := sts.NewFromConfig(cfgFor(url, sess)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(id.Arn); got != "arn:aws:sts::222222222222:assumed-role/Rotator/keyrotor-test" {
		t.Fatalf("arn = %s", got)
	}
	_, err = client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::222222222222:role/Rotator"), RoleSessionName: aws.String("keyrotor-test"),
	})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("missing external id: err = %v", err)
	}
}
