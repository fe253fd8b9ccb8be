package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"keyrotor/accounts"
	"keyrotor/internal/awsclient"
	"keyrotor/notify"
	"keyrotor/report"
)

// This file checks every output of a run before the run changes anything:
// a rotation that issued keys and mailed their owners, then could not
// write its report, leaves nobody knowing what it did.

// ErrBadInput marks errors caused by the run's input (an --account that is
// not a target, an OU that does not exist, an S3 location that does not
// parse, a mail template that does not render): the CLI's usage error,
// exit code 2.
var ErrBadInput = errors.New("bad input")

// WriteCheckKey is the object a run under --apply writes under the report
// prefix before it changes anything, to prove that the report can be
// uploaded: the same call, encryption and permission (s3:PutObject) as the
// upload itself. One object, overwritten by every run.
const WriteCheckKey = ".keyrotor-write-check"

// checkReportDir creates dir if needed and writes and removes a file in
// it, so that a report directory that cannot take the report fails the
// run before it starts.
func checkReportDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("report directory %s: cannot write reports there: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".keyrotor-write-check-*")
	if err != nil {
		return fmt.Errorf("report directory %s: cannot write reports there: %w", dir, err)
	}
	name := f.Name()
	_, werr := f.WriteString("keyrotor write check\n")
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return fmt.Errorf("report directory %s: cannot write reports there: %w", dir, err)
	}
	return nil
}

// s3Location is a parsed s3://bucket/prefix.
type s3Location struct {
	url, bucket, prefix string
}

// parseS3Location parses the report's S3 destination ("" for none).
func parseS3Location(dest string) (s3Location, error) {
	if dest == "" {
		return s3Location{}, nil
	}
	bucket, prefix, err := report.ParseS3URL(dest)
	if err != nil {
		return s3Location{}, fmt.Errorf("%w: report S3 destination: %w", ErrBadInput, err)
	}
	return s3Location{url: dest, bucket: bucket, prefix: prefix}, nil
}

// s3Client is the client reports are uploaded with. Custom endpoints
// (LocalStack, moto, awssim) serve buckets by path.
func s3Client(awsCfg aws.Config, getenv func(string) string) *s3.Client {
	return s3.NewFromConfig(awsCfg, func(so *s3.Options) {
		so.UsePathStyle = awsCfg.BaseEndpoint != nil || getenv("AWS_ENDPOINT_URL_S3") != ""
	})
}

// probeS3 writes WriteCheckKey under loc's prefix as the upload will write
// the report: with the same server-side encryption.
func probeS3(ctx context.Context, api report.S3Putter, loc s3Location, kmsKeyID, runID string, now time.Time) error {
	key := report.S3Key(loc.prefix, WriteCheckKey)
	in := &s3.PutObjectInput{
		Bucket:      aws.String(loc.bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(fmt.Appendf(nil, "keyrotor run %s checked it can write reports here at %s\n", runID, now.UTC().Format(time.RFC3339))),
		ContentType: aws.String("text/plain"),
	}
	if kmsKeyID != "" {
		in.ServerSideEncryption = s3types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(kmsKeyID)
	} else {
		in.ServerSideEncryption = s3types.ServerSideEncryptionAes256
	}
	if _, err := api.PutObject(ctx, in); err != nil {
		return fmt.Errorf("report S3 destination %s: cannot write s3://%s/%s, so the report could not be uploaded; nothing was changed: %w",
			loc.url, loc.bucket, key, accounts.Concise(err))
	}
	return nil
}

// checkSender fails unless SES may send from sender, so that an applied
// run does not rotate keys whose owners it cannot tell. An endpoint that
// does not implement GetEmailIdentity (an emulator) cannot answer; the run
// then goes on with a warning, and each failed send is reported.
func checkSender(ctx context.Context, api notify.IdentityAPI, sender, region string, log *slog.Logger) error {
	msg, err := notify.CheckSender(ctx, api, sender, region)
	switch {
	case err != nil && awsclient.IsUnsupported(err):
		log.Warn("cannot check the SES sender here (the endpoint does not implement GetEmailIdentity); going on", "sender", sender, "err", err)
		return nil
	case err != nil:
		return fmt.Errorf("notifications: %w; nothing was changed (fix the sender, or run with --notify=false)", err)
	}
	log.Debug("SES sender checked", "result", msg)
	return nil
}
