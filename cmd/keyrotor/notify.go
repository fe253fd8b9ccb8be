package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"keyrotor/config"
	"keyrotor/notify"
	"keyrotor/report"
	"keyrotor/rotation"
)

// newNotifier builds the SES notifier when mail is on for this run, or nil
// when it is off: then nothing is mailed and nothing is recorded as mailed,
// so a later run with mail on still tells the owners.
func newNotifier(awsCfg aws.Config, conf *config.Config, on bool, log *slog.Logger) (*notify.SESNotifier, error) {
	if !on || !conf.Notifications.Enabled {
		return nil, nil
	}
	client := sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) { o.Region = conf.Notifications.Region })
	n, err := notify.NewSESNotifier(client, conf.NotifySettings())
	if err != nil {
		return nil, usageError{fmt.Errorf("notifications: %w", err)}
	}
	n.Logger = log
	n.Now = clock
	return n, nil
}

// sendDigest mails the security team a summary of an applied run.
func sendDigest(ctx context.Context, n *notify.SESNotifier, conf *config.Config, rep *report.Report, files, s3 []string) (rotation.Delivery, error) {
	d, err := notify.BuildDigest(rep, notify.DigestOptions{Files: files, S3: s3, AttachXLSX: conf.Notifications.AttachXLSX})
	if err != nil {
		return rotation.Delivery{}, err
	}
	return n.SendDigest(ctx, d)
}
