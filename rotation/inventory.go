package rotation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"golang.org/x/sync/errgroup"

	"keyrotor/vocab"
)

// IAMReader is the part of IAM the inventory reads; *iam.Client satisfies it.
type IAMReader interface {
	ListUsers(ctx context.Context, in *iam.ListUsersInput, optFns ...func(*iam.Options)) (*iam.ListUsersOutput, error)
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, optFns ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
	GetGroup(ctx context.Context, in *iam.GetGroupInput, optFns ...func(*iam.Options)) (*iam.GetGroupOutput, error)
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	GenerateCredentialReport(ctx context.Context, in *iam.GenerateCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
	GetCredentialReport(ctx context.Context, in *iam.GetCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
}

// DefaultReportWait is how long Collect waits for a credential report that
// is being generated when InventoryOptions.ReportWait is zero.
const DefaultReportWait = 30 * time.Second

// Credential report polling backoff: short at first because a small
// account's report is ready within seconds.
const (
	reportPollFirst = time.Second
	reportPollMax   = 8 * time.Second
)

// Reasons a user is exempt, as User.Exempt shows them.
const (
	exemptListedReason = "listed in accounts.yaml"
)

// InventoryOptions configures Collect for one account.
type InventoryOptions struct {
	AccountID, AccountName string
	// ExemptTag exempts users carrying this tag (Value "" matches any
	// value; Key "" disables tag exemption).
	ExemptTag TagMatch
	// ExemptGroups exempts the members of these groups. Each is read with
	// one paginated GetGroup; a group that does not exist in the account
	// exempts nobody there.
	ExemptGroups []string
	// ExemptUsers exempts users by name (global and this account's lists,
	// merged by the caller), compared case-insensitively as IAM does.
	ExemptUsers []string
	// SecretName gives the name of a user's secret (from the configured
	// template). A user it gives no valid name is held (User.Problem); nil
	// leaves User.SecretName empty and holds every user with a state tag,
	// whose secret must be read.
	SecretName func(user string) (string, error)
	// KMS and Simulate, when both are set, check for the users
	// CheckDecrypt names whether they may decrypt their secret's customer
	// managed KMS key (User.OwnerDecrypt); SecretRegion is the secrets'
	// region, which the check's kms:ViaService names.
	KMS          KeyPolicyReader
	Simulate     SimulateAPI
	SecretRegion string
	CheckDecrypt func(u User) bool
	// ReadSecret, if set, names users without a state tag whose secret's
	// metadata the planner needs too (see NeedsForeignEvidence).
	ReadSecret func(u User) bool
	// Concurrency bounds the IAM calls in flight for users (at least 1);
	// the credential report is fetched alongside.
	Concurrency int
	// ReportWait bounds the wait for a credential report that is being
	// generated (0: DefaultReportWait; negative: do not wait). After it,
	// last use is asked key by key.
	ReportWait time.Duration
	// Sleep waits between credential report polls; nil sleeps for real.
	// Tests inject one that advances a simulated clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// FreshLastUsed tells which keys need last-use data fresher than the
	// credential report (up to 4 hours old): they always get
	// GetAccessKeyLastUsed and LastUsedFresh. Required: callers pass
	// NeedsFreshLastUsed with the account's policy and the run's time.
	FreshLastUsed func(u User, k Key) bool
	// Logger receives warnings (credential report unusable) and debug
	// details (required).
	Logger *slog.Logger
}

// CollectStats describes how an inventory was collected.
type CollectStats struct {
	// ReportUsed is true when the credential report was read and parsed.
	ReportUsed bool
	// ReportGenerated is when the report used was generated.
	ReportGenerated time.Time
	// ReportProblem says why the credential report was not used ("" when
	// it was).
	ReportProblem string
	// FallbackLastUsed counts keys whose last use was asked with
	// GetAccessKeyLastUsed because the report could not answer for them.
	FallbackLastUsed int
	// FreshLastUsed counts keys asked with GetAccessKeyLastUsed because the
	// planner needs fresh data on them.
	FreshLastUsed int
}

// Collect reads the inventory of one account: its users, their tags and
// keys, the keys' last use, exemptions and, for users with a state tag, the
// metadata of their secret (never its value).
//
// The calls grow with users and keys, not their product: one paginated
// ListUsers, per user one ListAccessKeys and one ListUserTags, one GetGroup
// per exempt group, the credential report for last use (with
// GetAccessKeyLastUsed only for keys the report cannot answer or that need
// fresh data), DescribeSecret only for users with a state tag (or that
// ReadSecret names), and the
// decrypt check only for users whose deactivation is due.
//
// Users are sorted by name, each user's keys by creation time. A failed IAM
// read fails the whole collection: a partial inventory could make the
// planner act on a wrong picture. A user or key deleted while it is read is
// left out: its owner may do that at any time. A user whose secret cannot be read or
// named is held instead (User.Problem), and the others go on.
func Collect(ctx context.Context, iamAPI IAMReader, sm SecretMetaReader, o InventoryOptions) (Inventory, CollectStats, error) {
	c := &collector{o: o, iam: iamAPI, sm: sm}
	if c.o.Concurrency < 1 {
		c.o.Concurrency = 1
	}
	if c.o.ReportWait == 0 {
		c.o.ReportWait = DefaultReportWait
	}
	if c.o.Sleep == nil {
		c.o.Sleep = sleepContext
	}
	if c.o.FreshLastUsed == nil {
		return Inventory{}, CollectStats{}, errors.New("collect inventory: no FreshLastUsed rule")
	}
	if c.o.Logger == nil {
		return Inventory{}, CollectStats{}, errors.New("collect inventory: no logger")
	}
	c.log = c.o.Logger.With("account", o.AccountID)

	inv, err := c.collect(ctx)
	c.mu.Lock()
	stats := c.stats
	c.mu.Unlock()
	if err != nil {
		return Inventory{}, stats, err
	}
	return inv, stats, nil
}

// collector is the state of one Collect call.
type collector struct {
	o   InventoryOptions
	iam IAMReader
	sm  SecretMetaReader
	log *slog.Logger

	mu    sync.Mutex
	stats CollectStats

	// groupsOf maps a lower-cased user name to the exempt groups it is in.
	groupsOf map[string][]string
	report   *credentialReport
}

func (c *collector) collect(ctx context.Context) (Inventory, error) {
	var users []User
	g, gctx := errgroup.WithContext(ctx)
	// The report takes seconds to generate; fetch it while the users are
	// listed. Its failure is not the collection's: last use is then asked
	// key by key.
	g.Go(func() error {
		rep, gen, err := c.fetchReport(gctx)
		if err != nil {
			if ctx.Err() == nil && gctx.Err() == nil {
				c.log.Warn("credential report unusable; asking last use key by key", "err", err)
			}
			c.stats.ReportProblem = err.Error()
			return nil
		}
		c.report = rep
		c.stats.ReportUsed, c.stats.ReportGenerated = true, gen
		return nil
	})
	g.Go(func() error {
		var err error
		if c.groupsOf, err = c.exemptGroupMembers(gctx); err != nil {
			return err
		}
		users, err = c.listUsers(gctx)
		return err
	})
	if err := g.Wait(); err != nil {
		return Inventory{}, err
	}

	ug, uctx := errgroup.WithContext(ctx)
	ug.SetLimit(c.o.Concurrency)
	for i := range users {
		ug.Go(func() error { return c.completeUser(uctx, &users[i]) })
	}
	if err := ug.Wait(); err != nil {
		return Inventory{}, err
	}
	slices.SortFunc(users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return Inventory{AccountID: c.o.AccountID, AccountName: c.o.AccountName, Users: users}, nil
}

// exemptGroupMembers resolves the exempt groups with one paginated GetGroup
// each, instead of asking every user for its groups.
func (c *collector) exemptGroupMembers(ctx context.Context) (map[string][]string, error) {
	members := map[string][]string{}
	var seen []string
	for _, name := range c.o.ExemptGroups {
		if name == "" || slices.ContainsFunc(seen, func(s string) bool { return strings.EqualFold(s, name) }) {
			continue
		}
		seen = append(seen, name)
		p := iam.NewGetGroupPaginator(c.iam, &iam.GetGroupInput{GroupName: aws.String(name)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			var missing *types.NoSuchEntityException
			if errors.As(err, &missing) {
				c.log.Debug("exempt group does not exist in this account", "group", name)
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read exempt group %s: %w", name, err)
			}
			for _, u := range out.Users {
				k := strings.ToLower(aws.ToString(u.UserName))
				if !slices.Contains(members[k], name) {
					members[k] = append(members[k], name)
				}
			}
		}
	}
	return members, nil
}

// listUsers lists the account's users and reads each one's keys and tags
// with a bounded pool.
func (c *collector) listUsers(ctx context.Context) ([]User, error) {
	var users []User
	p := iam.NewListUsersPaginator(c.iam, &iam.ListUsersInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		for _, u := range out.Users {
			users = append(users, User{
				Name: aws.ToString(u.UserName), ARN: aws.ToString(u.Arn), UserID: aws.ToString(u.UserId),
			})
		}
	}
	gone := make([]bool, len(users))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.o.Concurrency)
	for i := range users {
		g.Go(func() error {
			var err error
			gone[i], err = c.readUser(gctx, &users[i])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	kept := users[:0]
	for i, u := range users {
		if !gone[i] {
			kept = append(kept, u)
		}
	}
	return kept, nil
}

// readUser fills u's keys and tags. A user deleted since ListUsers is
// reported as gone: there is nothing left to rotate.
func (c *collector) readUser(ctx context.Context, u *User) (gone bool, err error) {
	var missing *types.NoSuchEntityException
	kp := iam.NewListAccessKeysPaginator(c.iam, &iam.ListAccessKeysInput{UserName: aws.String(u.Name)})
	for kp.HasMorePages() {
		out, err := kp.NextPage(ctx)
		if errors.As(err, &missing) {
			c.log.Debug("user vanished during inventory", "user", u.Name)
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("list access keys of user %s: %w", u.Name, err)
		}
		for _, m := range out.AccessKeyMetadata {
			u.Keys = append(u.Keys, Key{
				ID: aws.ToString(m.AccessKeyId), Status: vocab.KeyStatus(m.Status), Created: aws.ToTime(m.CreateDate).UTC(),
			})
		}
	}
	slices.SortStableFunc(u.Keys, func(a, b Key) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	u.Tags = map[string]string{}
	tp := iam.NewListUserTagsPaginator(c.iam, &iam.ListUserTagsInput{UserName: aws.String(u.Name)})
	for tp.HasMorePages() {
		out, err := tp.NextPage(ctx)
		if errors.As(err, &missing) {
			c.log.Debug("user vanished during inventory", "user", u.Name)
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("list tags of user %s: %w", u.Name, err)
		}
		for _, t := range out.Tags {
			u.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return false, nil
}

// completeUser decides u's exemption and secret name, then fills in its
// keys' last use and, if it has a state tag, what its secret's metadata
// says.
func (c *collector) completeUser(ctx context.Context, u *User) error {
	u.Groups = slices.Clone(c.groupsOf[strings.ToLower(u.Name)])
	u.Exempt = c.exemptReason(*u)
	if c.o.SecretName != nil {
		name, err := c.o.SecretName(u.Name)
		if err == nil {
			err = ValidSecretName(name)
		}
		if err != nil {
			u.Problem = &UserProblem{Code: vocab.ReasonSecretNameInvalid, Reason: fmt.Sprintf(
				"user %s gives no usable secret name: %v; keyrotor cannot store a key for it and leaves its keys as they are (rename the user, or change secrets.name_template)",
				u.Name, err)}
		} else {
			u.SecretName = name
		}
	}
	var gone []string
	for i := range u.Keys {
		k := &u.Keys[i]
		fresh := c.o.FreshLastUsed(*u, *k)
		if !fresh {
			if used, svc, region, ok := c.report.lastUsed(*u, *k); ok {
				k.LastUsed, k.LastUsedService, k.LastUsedRegion = used, svc, region
				continue
			}
		}
		if err := c.askLastUsed(ctx, u.Name, k); err != nil {
			// The owner may delete a key of theirs at any time, also
			// between ListAccessKeys and this call: a key that is gone
			// has nothing to rotate and must not fail the account.
			if keys, lerr := listUserKeys(ctx, c.iam, u.Name); lerr != nil || slices.ContainsFunc(keys, func(x Key) bool { return x.ID == k.ID }) {
				return err
			}
			c.log.Debug("access key vanished during inventory", "user", u.Name, "key", k.ID)
			gone = append(gone, k.ID)
			continue
		}
		c.mu.Lock()
		if fresh {
			c.stats.FreshLastUsed++
		} else {
			c.stats.FallbackLastUsed++
		}
		c.mu.Unlock()
	}
	u.Keys = slices.DeleteFunc(u.Keys, func(k Key) bool { return slices.Contains(gone, k.ID) })
	extra := c.o.ReadSecret != nil && c.o.SecretName != nil && c.o.ReadSecret(*u)
	if (u.HasState() || extra) && u.Problem == nil {
		c.readSecret(ctx, u)
	}
	return nil
}

// readSecret reads the metadata of u's secret and, when its deactivation is
// due, checks that u can decrypt it. A failure holds u alone.
func (c *collector) readSecret(ctx context.Context, u *User) {
	if c.o.SecretName == nil {
		u.Problem = &UserProblem{Code: vocab.ReasonSecretUnreadable,
			Reason: "no secret name template is configured, so the secret the user's rotation state refers to cannot be read"}
		return
	}
	m, err := ReadSecretMeta(ctx, c.sm, u.SecretName)
	if err != nil {
		c.log.Warn("secret metadata unreadable; holding the user", "user", u.Name, "secret", u.SecretName, "err", err)
		describe := cmdDescribeSecret(u.SecretName)
		u.Problem = &UserProblem{Code: vocab.ReasonSecretUnreadable, Fix: describe, Reason: fmt.Sprintf(
			"the metadata of secret %s, which keyrotor checks the user's rotation state against, could not be read (%v); nothing is changed for this user until it can be: %s",
			u.SecretName, err, describe)}
		return
	}
	u.Secret = m
	if c.o.KMS != nil && c.o.Simulate != nil && c.o.CheckDecrypt != nil && customerKey(m.KMSKeyID) && c.o.CheckDecrypt(*u) {
		u.OwnerDecrypt = CheckOwnerDecrypt(ctx, c.o.KMS, c.o.Simulate, c.o.SecretRegion, *u)
	}
}

// exemptReason says why u is exempt, or "" if it is not. u.Groups holds
// only the exempt groups u is a member of.
func (c *collector) exemptReason(u User) string {
	if m := c.o.ExemptTag; m.Key != "" {
		for k, v := range u.Tags {
			if m.Matches(k, v) {
				return fmt.Sprintf("tag %s=%s", k, v)
			}
		}
	}
	if len(u.Groups) > 0 {
		return "group " + u.Groups[0]
	}
	if slices.ContainsFunc(c.o.ExemptUsers, func(n string) bool { return strings.EqualFold(n, u.Name) }) {
		return exemptListedReason
	}
	return ""
}

// askLastUsed fills k's last use from GetAccessKeyLastUsed.
func (c *collector) askLastUsed(ctx context.Context, user string, k *Key) error {
	out, err := c.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(k.ID)})
	if err != nil {
		return fmt.Errorf("get last use of access key %s of user %s: %w", k.ID, user, err)
	}
	k.LastUsedFresh = true
	k.LastUsed, k.LastUsedService, k.LastUsedRegion = nil, "", ""
	if lu := out.AccessKeyLastUsed; lu != nil && lu.LastUsedDate != nil {
		t := lu.LastUsedDate.UTC()
		k.LastUsed = &t
		k.LastUsedService = reportValue(aws.ToString(lu.ServiceName))
		k.LastUsedRegion = reportValue(aws.ToString(lu.Region))
	}
	return nil
}

// fetchReport generates the credential report and reads it, polling while
// it is in progress for up to ReportWait of Sleep time.
func (c *collector) fetchReport(ctx context.Context) (*credentialReport, time.Time, error) {
	if _, err := c.iam.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		return nil, time.Time{}, fmt.Errorf("generate credential report: %w", err)
	}
	var waited time.Duration
	backoff := reportPollFirst
	for {
		out, err := c.iam.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		var notReady *types.CredentialReportNotReadyException
		if errors.As(err, &notReady) && waited < c.o.ReportWait {
			d := min(backoff, c.o.ReportWait-waited)
			if err := c.o.Sleep(ctx, d); err != nil {
				return nil, time.Time{}, fmt.Errorf("wait for credential report: %w", err)
			}
			waited += d
			backoff = min(2*backoff, reportPollMax)
			continue
		}
		if errors.As(err, &notReady) {
			return nil, time.Time{}, fmt.Errorf("credential report not ready after %s: %w", waited, err)
		}
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("get credential report: %w", err)
		}
		if out.GeneratedTime == nil {
			return nil, time.Time{}, errors.New("get credential report: no generation time")
		}
		if f := out.ReportFormat; f != "" && f != types.ReportFormatTypeTextCsv {
			return nil, time.Time{}, fmt.Errorf("get credential report: unexpected format %q", f)
		}
		gen := out.GeneratedTime.UTC()
		rep, err := parseCredentialReport(out.Content, gen)
		if err != nil {
			return nil, time.Time{}, err
		}
		return rep, gen, nil
	}
}

// sleepContext sleeps for d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
