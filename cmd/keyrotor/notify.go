package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"keyrotor/accounts"
	"keyrotor/report"
	"keyrotor/rotation"
)

// newNotifier builds the SES notifier when mail is on for this run, or nil
// when it is off: then nothing is mailed and nothing is recorded as mailed,
// so a later run with mail on still tells the owners.
func newNotifier(awsCfg aws.Config, conf *accounts.Config, on bool, log *slog.Logger) (*rotation.SESNotifier, error) {
	if !on || !conf.Notifications.Enabled {
		return nil, nil
	}
	client := sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) { o.Region = conf.Notifications.Region })
	n, err := rotation.NewSESNotifier(client, conf.Notifications, func(id string) []string {
		ac, _ := conf.Account(id)
		return ac.Contacts
	})
	if err != nil {
		return nil, usageError{fmt.Errorf("notifications: %w", err)}
	}
	n.Logger = log
	n.Now = clock
	return n, nil
}

// sendDigest mails the security team a summary of an applied run.
func sendDigest(ctx context.Context, n *rotation.SESNotifier, conf *accounts.Config, rep *report.Report, files, s3 []string) (rotation.Delivery, error) {
	d := rotation.Digest{
		RunID: rep.Run.ID, Mode: rep.Run.Mode, Accounts: len(rep.Accounts), Keys: rep.Summary.Keys,
		CompliancePct: rep.Summary.CompliancePct, ReportFiles: files, ReportS3: s3,
	}
	counts := map[[2]string]int{}
	for _, k := range rep.Keys {
		if k.Action != "" {
			counts[[2]string{k.Action, k.Result}]++
		}
	}
	for ar, c := range counts {
		d.Counts = append(d.Counts, rotation.DigestCount{Action: ar[0], Result: ar[1], Count: c})
	}
	sort.Slice(d.Counts, func(i, j int) bool {
		a, b := d.Counts[i], d.Counts[j]
		return a.Action+"/"+a.Result < b.Action+"/"+b.Result
	})
	for _, a := range rep.Accounts {
		if a.Status == report.AccountError {
			d.FailedAccounts = append(d.FailedAccounts, rotation.FailedAccount{ID: a.AccountID, Name: a.Name, Error: a.Error})
		}
	}
	for _, nt := range rep.Notifications {
		if nt.Result == report.NotifyFailed {
			d.NotifyFailures = append(d.NotifyFailures, rotation.NotifyFailure{AccountID: nt.AccountID, User: nt.User,
				KeyID: nt.AccessKeyID, Event: nt.Event, Error: nt.Error})
		}
	}
	if conf.Notifications.AttachXLSX {
		for _, f := range files {
			if strings.HasSuffix(f, ".xlsx") {
				data, err := os.ReadFile(f)
				if err != nil {
					return rotation.Delivery{}, fmt.Errorf("attach report %s: %w", f, err)
				}
				d.Attachment = &rotation.Attachment{Name: filepath.Base(f), Data: data}
			}
		}
	}
	return n.SendDigest(ctx, d)
}
