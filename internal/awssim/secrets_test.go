package awssim_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
)

const secAcct = "222222222222"

// Version tokens: Secrets Manager wants 32 to 64 characters.
const (
	tok1 = "00000000-0000-4000-8000-000000000001"
	tok2 = "00000000-0000-4000-8000-000000000002"
	tok3 = "00000000-0000-4000-8000-000000000003"
)

type secretsEnv struct {
	sim *awssim.Sim
	url string
	sm  *secretsmanager.Client
}

func newSecretsEnv(t *testing.T, opts ...awssim.Option) secretsEnv {
	t.Helper()
	sim := awssim.New(opts...)
	sim.CreateOrganization(mgmtID, "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: secAcct, Name: "member"})
	url := newTestServer(t, sim)
	return secretsEnv{sim: sim, url: url, sm: secretsmanager.NewFromConfig(cfgFor(url, sim.RootCredentials(secAcct)))}
}

func stagesOf(t *testing.T, ctx context.Context, c *secretsmanager.Client, id string) map[string][]string {
	t.Helper()
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return d.VersionIdsToStages
}

func TestSecretsCreateIdempotent(t *testing.T) {
	e := newSecretsEnv(t)
	ctx := context.Background()
	in := &secretsmanager.CreateSecretInput{
		Name: aws.String("keyrotor/alice"), ClientRequestToken: aws.String(tok1), SecretString: aws.String("v1"),
		Description: aws.String("alice's key"), KmsKeyId: aws.String("alias/keyrotor"),
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("alice")}},
	}
	first, err := e.sm.CreateSecret(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(first.ARN)
	prefix := "arn:aws:secretsmanager:us-east-1:" + secAcct + ":secret:keyrotor/alice-"
	if !strings.HasPrefix(arn, prefix) || len(arn) != len(prefix)+6 {
		t.Fatalf("arn = %s, want %sXXXXXX", arn, prefix)
	}
	if aws.ToString(first.VersionId) != tok1 {
		t.Fatalf("version = %s, want the request token", aws.ToString(first.VersionId))
	}
	// A retry with the same token and value is answered like the first call.
	again, err := e.sm.CreateSecret(ctx, in)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if aws.ToString(again.ARN) != arn || aws.ToString(again.VersionId) != tok1 {
		t.Fatalf("retry = %s %s", aws.ToString(again.ARN), aws.ToString(again.VersionId))
	}
	if got := stagesOf(t, ctx, e.sm, "keyrotor/alice"); len(got) != 1 || !slices.Equal(got[tok1], []string{"AWSCURRENT"}) {
		t.Fatalf("versions = %v, want exactly one", got)
	}

	for name, mod := range map[string]func(*secretsmanager.CreateSecretInput){
		"other token":           func(c *secretsmanager.CreateSecretInput) { c.ClientRequestToken = aws.String(tok2) },
		"same token, new value": func(c *secretsmanager.CreateSecretInput) { c.SecretString = aws.String("v2") },
	} {
		c := *in
		mod(&c)
		_, err := e.sm.CreateSecret(ctx, &c)
		var ex *types.ResourceExistsException
		if !errors.As(err, &ex) {
			t.Fatalf("%s: err = %v, want ResourceExistsException", name, err)
		}
	}

	d, err := e.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.Description) != "alice's key" || aws.ToString(d.KmsKeyId) != "alias/keyrotor" ||
		len(d.Tags) != 1 || aws.ToString(d.Tags[0].Value) != "alice" || !d.CreatedDate.Equal(e.sim.Now()) {
		t.Fatalf("describe = %+v", d)
	}

	// A short token would be refused by AWS; the SDK's own tokens are UUIDs.
	_, err = e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("short"), ClientRequestToken: aws.String("AKIASHORT"), SecretString: aws.String("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
		t.Fatalf("short token: err = %v", err)
	}
	if _, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("auto-token"), SecretString: aws.String("x")}); err != nil {
		t.Fatalf("SDK-generated token: %v", err)
	}
}

func TestSecretsPutValueMovesStages(t *testing.T) {
	e := newSecretsEnv(t)
	ctx := context.Background()
	created, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("keyrotor/bob"), ClientRequestToken: aws.String(tok1), SecretString: aws.String("v1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	put := func(tok, val string) (*secretsmanager.PutSecretValueOutput, error) {
		return e.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String("keyrotor/bob"), ClientRequestToken: aws.String(tok), SecretString: aws.String(val),
		})
	}
	out, err := put(tok2, "v2")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.VersionId) != tok2 || !slices.Equal(out.VersionStages, []string{"AWSCURRENT"}) {
		t.Fatalf("put = %s %v", aws.ToString(out.VersionId), out.VersionStages)
	}
	want := map[string][]string{tok1: {"AWSPREVIOUS"}, tok2: {"AWSCURRENT"}}
	if got := stagesOf(t, ctx, e.sm, "keyrotor/bob"); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("after v2: %v, want %v", got, want)
	}
	// Retrying the same put changes nothing.
	if out, err = put(tok2, "v2"); err != nil || aws.ToString(out.VersionId) != tok2 {
		t.Fatalf("retry: %v %v", err, out)
	}
	if got := stagesOf(t, ctx, e.sm, "keyrotor/bob"); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("after retry: %v, want %v", got, want)
	}
	_, err = put(tok2, "changed")
	var ex *types.ResourceExistsException
	if !errors.As(err, &ex) {
		t.Fatalf("same token, other value: err = %v, want ResourceExistsException", err)
	}
	if _, err = put(tok3, "v3"); err != nil {
		t.Fatal(err)
	}
	// v1 lost its last label and is no longer reported.
	want = map[string][]string{tok2: {"AWSPREVIOUS"}, tok3: {"AWSCURRENT"}}
	if got := stagesOf(t, ctx, e.sm, "keyrotor/bob"); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("after v3: %v, want %v", got, want)
	}

	tests := []struct {
		name string
		in   secretsmanager.GetSecretValueInput
		want string
	}{
		{"by name", secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/bob")}, "v3"},
		{"by ARN", secretsmanager.GetSecretValueInput{SecretId: created.ARN}, "v3"},
		{"by partial ARN", secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:" + secAcct + ":secret:keyrotor/bob")}, "v3"},
		{"previous", secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/bob"), VersionStage: aws.String("AWSPREVIOUS")}, "v2"},
		{"deprecated version by id", secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/bob"), VersionId: aws.String(tok1)}, "v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.sm.GetSecretValue(ctx, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(got.SecretString) != tt.want || aws.ToString(got.ARN) != aws.ToString(created.ARN) || aws.ToString(got.Name) != "keyrotor/bob" {
				t.Fatalf("got %s %s %s", aws.ToString(got.SecretString), aws.ToString(got.ARN), aws.ToString(got.Name))
			}
		})
	}
	if v, ok := e.sim.SecretValue(secAcct, "us-east-1", "keyrotor/bob"); !ok || v != "v3" {
		t.Fatalf("sim.SecretValue = %q %v", v, ok)
	}
	_, err = e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/bob"), VersionStage: aws.String("AWSPENDING")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("missing stage: err = %v", err)
	}

	// Binary values round-trip.
	if _, err := e.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String("keyrotor/bob"), SecretBinary: []byte{0, 1, 2, 255},
	}); err != nil {
		t.Fatal(err)
	}
	bin, err := e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/bob")})
	if err != nil || !slices.Equal(bin.SecretBinary, []byte{0, 1, 2, 255}) || bin.SecretString != nil {
		t.Fatalf("binary: %v %v %v", err, bin.SecretBinary, bin.SecretString)
	}
}

func TestSecretsNotFoundAndDeletion(t *testing.T) {
	e := newSecretsEnv(t)
	ctx := context.Background()
	_, err := e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.Message) != "Secrets Manager can't find the specified secret." {
		t.Fatalf("unknown secret: err = %v", err)
	}
	// Secrets are per region.
	west := secretsmanager.NewFromConfig(cfgFor(e.url, e.sim.RootCredentials(secAcct)), func(o *secretsmanager.Options) { o.Region = "us-west-2" })
	if _, err := west.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("west")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}); !errors.As(err, &nf) {
		t.Fatalf("other region: err = %v", err)
	}
	if _, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("east")}); err != nil {
		t.Fatal(err)
	}

	del, err := e.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("s"), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	if !del.DeletionDate.Equal(e.sim.Now().Add(7 * 24 * time.Hour)) {
		t.Fatalf("deletion date = %v", del.DeletionDate)
	}
	_, err = e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	var ir *types.InvalidRequestException
	if !errors.As(err, &ir) {
		t.Fatalf("deleted secret: err = %v, want InvalidRequestException", err)
	}
	d, err := e.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	if err != nil || d.DeletedDate == nil {
		t.Fatalf("describe deleted: %v %+v", err, d)
	}
	_, err = e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("again")})
	if !errors.As(err, &ir) {
		t.Fatalf("recreate during recovery: err = %v, want InvalidRequestException", err)
	}
	if got := listNames(t, ctx, e.sm, nil, false); len(got) != 0 {
		t.Fatalf("listed without planned deletions: %v", got)
	}
	if got := listNames(t, ctx, e.sm, nil, true); !slices.Equal(got, []string{"s"}) {
		t.Fatalf("listed with planned deletions: %v", got)
	}
	_, err = e.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("s"), RecoveryWindowInDays: aws.Int64(3)})
	var ip *types.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Fatalf("3-day window: err = %v", err)
	}

	e.sim.Clock().Advance(7*24*time.Hour + time.Second)
	if _, err := e.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")}); !errors.As(err, &nf) {
		t.Fatalf("after recovery window: err = %v", err)
	}
	if v, ok := e.sim.SecretValue(secAcct, "us-west-2", "s"); !ok || v != "west" {
		t.Fatalf("west secret = %q %v", v, ok)
	}
	if _, err := west.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("s"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := west.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("new")}); err != nil {
		t.Fatalf("recreate after force delete: %v", err)
	}
}

func listNames(t *testing.T, ctx context.Context, c *secretsmanager.Client, filters []types.Filter, planned bool) []string {
	t.Helper()
	var names []string
	p := secretsmanager.NewListSecretsPaginator(c, &secretsmanager.ListSecretsInput{Filters: filters, IncludePlannedDeletion: aws.Bool(planned)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListSecrets: %v", err)
		}
		for _, s := range out.SecretList {
			names = append(names, aws.ToString(s.Name))
		}
	}
	sort.Strings(names)
	return names
}

func TestSecretsListFiltersAndPages(t *testing.T) {
	e := newSecretsEnv(t, awssim.WithPageSize(2))
	ctx := context.Background()
	for i, name := range []string{"keyrotor/a", "keyrotor/b", "keyrotor/c", "other/x", "other/y"} {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("v")}
		if i%2 == 0 {
			in.Tags = []types.Tag{{Key: aws.String("keyrotor:user"), Value: aws.String(fmt.Sprint("u", i))}}
		}
		if _, err := e.sm.CreateSecret(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		filters []types.Filter
		want    []string
	}{
		{"all", nil, []string{"keyrotor/a", "keyrotor/b", "keyrotor/c", "other/x", "other/y"}},
		{"name prefix", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"keyrotor/"}}}, []string{"keyrotor/a", "keyrotor/b", "keyrotor/c"}},
		{"negated name", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"!keyrotor/"}}}, []string{"other/x", "other/y"}},
		{"tag key", []types.Filter{{Key: types.FilterNameStringTypeTagKey, Values: []string{"keyrotor:user"}}}, []string{"keyrotor/a", "keyrotor/c", "other/y"}},
		{"name and tag", []types.Filter{
			{Key: types.FilterNameStringTypeName, Values: []string{"other/"}},
			{Key: types.FilterNameStringTypeTagKey, Values: []string{"keyrotor:"}},
		}, []string{"other/y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listNames(t, ctx, e.sm, tt.filters, false); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	n := 0
	for _, c := range e.sim.Calls() {
		if c.Op == "ListSecrets" {
			n++
		}
	}
	if n < 3+2+1+2+1 { // each listing takes ceil(matches/2) pages
		t.Fatalf("ListSecrets calls = %d: pages were not forced", n)
	}
	_, err := e.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{NextToken: aws.String("garbage")})
	var bad *types.InvalidNextTokenException
	if !errors.As(err, &bad) {
		t.Fatalf("bad token: err = %v", err)
	}
}

func TestSecretsResourcePolicy(t *testing.T) {
	e := newSecretsEnv(t)
	ctx := context.Background()
	e.sim.AddUser(secAcct, awssim.UserSpec{Name: "alice"})
	e.sim.AddUser(secAcct, awssim.UserSpec{Name: "bob"})
	alice := secretsmanager.NewFromConfig(cfgFor(e.url, e.sim.AddAccessKey(secAcct, "alice", awssim.KeySpec{})))
	bob := secretsmanager.NewFromConfig(cfgFor(e.url, e.sim.AddAccessKey(secAcct, "bob", awssim.KeySpec{})))

	created, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyrotor/alice"), SecretString: aws.String(`{"AccessKeyId":"AKIA..."}`)})
	if err != nil {
		t.Fatal(err)
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"AWS":"arn:aws:iam::%s:user/alice"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`, secAcct)
	if _, err := e.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: created.ARN, ResourcePolicy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	got, err := e.sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String("keyrotor/alice")})
	if err != nil || aws.ToString(got.ResourcePolicy) != policy {
		t.Fatalf("GetResourcePolicy = %v %v", err, got)
	}

	tests := []struct {
		name   string
		client *secretsmanager.Client
		ok     bool
	}{
		{"alice reads her own secret", alice, true},
		{"bob is denied", bob, false},
		{"account root keeps access", e.sm, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keyrotor/alice")})
			if tt.ok {
				if err != nil || aws.ToString(out.SecretString) != `{"AccessKeyId":"AKIA..."}` {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
				t.Fatalf("err = %v, want AccessDeniedException", err)
			}
		})
	}
	// Without a policy the simulator does not restrict users.
	if _, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("open"), SecretString: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("open")}); err != nil {
		t.Fatalf("no policy: %v", err)
	}

	for name, doc := range map[string]string{
		"not JSON":          `{"Version":`,
		"no statement":      `{"Version":"2012-10-17","Statement":[]}`,
		"unknown principal": fmt.Sprintf(`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:user/mallory"},"Action":"secretsmanager:*"}}`, secAcct),
		"bad effect":        `{"Statement":{"Effect":"Maybe","Principal":"*","Action":"*"}}`,
	} {
		_, err := e.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("open"), ResourcePolicy: aws.String(doc)})
		var mp *types.MalformedPolicyDocumentException
		if !errors.As(err, &mp) {
			t.Errorf("%s: err = %v, want MalformedPolicyDocumentException", name, err)
		}
	}
	_, err = e.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("open"), BlockPublicPolicy: aws.Bool(true),
		ResourcePolicy: aws.String(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue"}}`)})
	var pp *types.PublicPolicyException
	if !errors.As(err, &pp) {
		t.Fatalf("public policy: err = %v", err)
	}
}

func TestSecretsTagAndRoleNarrowing(t *testing.T) {
	e := newSecretsEnv(t)
	ctx := context.Background()
	e.sim.AddRole(secAcct, awssim.RoleSpec{
		Name: "Rotator", TrustedPrincipals: []string{mgmtID},
		AllowedActions: []string{"secretsmanager:*"},
		ResourcePrefixes: map[string][]string{
			"secretsmanager:*": {"arn:aws:secretsmanager:*:" + secAcct + ":secret:keyrotor/*"},
		},
	})
	sess := secretsmanager.NewFromConfig(cfgFor(e.url, e.sim.SessionCredentials(secAcct, "Rotator", "test", time.Hour)))
	if _, err := sess.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyrotor/u"), SecretString: aws.String("x")}); err != nil {
		t.Fatalf("allowed prefix: %v", err)
	}
	if _, err := sess.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("keyrotor/u"),
		Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("1")}, {Key: aws.String("k"), Value: aws.String("2")}}}); err != nil {
		t.Fatal(err)
	}
	d, err := sess.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("keyrotor/u")})
	if err != nil || len(d.Tags) != 1 || aws.ToString(d.Tags[0].Value) != "2" {
		t.Fatalf("tags: %v %+v", err, d)
	}
	for name, call := range map[string]func() error{
		"create outside prefix": func() error {
			_, err := sess.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("root-creds"), SecretString: aws.String("x")})
			return err
		},
		"read missing secret outside prefix": func() error {
			_, err := sess.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("root-creds")})
			return err
		},
	} {
		var ae smithy.APIError
		if err := call(); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
			t.Errorf("%s: err = %v, want AccessDeniedException", name, err)
		}
	}
}
