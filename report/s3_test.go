package report

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
)

func TestS3Key(t *testing.T) {
	for _, tt := range []struct{ prefix, file, want string }{
		{"reports", "/tmp/out/keyrotor-apply-20261126T060000Z.json", "reports/keyrotor-apply-20261126T060000Z.json"},
		{"reports/", "a.csv", "reports/a.csv"},
		{"/reports", "a.csv", "reports/a.csv"},
		{"reports//2026//", "dir/a.xlsx", "reports/2026/a.xlsx"},
		{"", "dir/a.json", "a.json"},
		{"/", "a.json", "a.json"},
	} {
		if got := S3Key(tt.prefix, tt.file); got != tt.want {
			t.Errorf("S3Key(%q, %q) = %q, want %q", tt.prefix, tt.file, got, tt.want)
		}
	}
}

const (
	s3TestAccount = "222222222222"
	s3TestBucket  = "keyrotor-reports-test"
)

func newS3Sim(t *testing.T) (*awssim.Sim, *s3.Client) {
	t.Helper()
	sim := awssim.New()
	sim.CreateOrganization("111111111111", "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: s3TestAccount, Name: "security"})
	sim.CreateBucket(s3TestAccount, "us-east-1", s3TestBucket)
	client := s3.NewFromConfig(awssimtest.Start(t, sim).RootConfig(s3TestAccount), func(o *s3.Options) { o.UsePathStyle = true })
	return sim, client
}

// reportFiles writes one file per format and returns their paths.
func reportFiles(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, f := range []string{"keyrotor-apply-20261126T060000Z.json", "keyrotor-apply-20261126T060000Z.xlsx", "keyrotor-apply-20261126T060000Z.csv"} {
		p := filepath.Join(dir, f)
		if err := os.WriteFile(p, []byte("content of "+f), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func TestUploadFiles(t *testing.T) {
	const keyARN = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tt := range []struct {
		name, prefix, kms, wantSSE, wantPrefix string
	}{
		{"sse-s3", "reports/2026/", "", "AES256", "reports/2026/"},
		{"sse-kms", "/reports", keyARN, "aws:kms", "reports/"},
		{"no prefix", "", "", "AES256", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sim, client := newS3Sim(t)
			files := reportFiles(t)
			uris, err := UploadFiles(context.Background(), client, s3TestBucket, tt.prefix, files, tt.kms)
			if err != nil {
				t.Fatal(err)
			}
			wantTypes := []string{
				"application/json",
				"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
				"text/csv",
			}
			var wantURIs []string
			for i, f := range files {
				key := tt.wantPrefix + filepath.Base(f)
				wantURIs = append(wantURIs, "s3://"+s3TestBucket+"/"+key)
				obj, ok := sim.Object(s3TestBucket, key)
				if !ok {
					t.Errorf("no object %q; bucket has %q", key, sim.ObjectKeys(s3TestBucket))
					continue
				}
				want, _ := os.ReadFile(f)
				if string(obj.Body) != string(want) || obj.ContentType != wantTypes[i] ||
					obj.SSE != tt.wantSSE || obj.SSEKMSKeyID != tt.kms {
					t.Errorf("%s: body %q type %q SSE %q key %q", key, obj.Body, obj.ContentType, obj.SSE, obj.SSEKMSKeyID)
				}
			}
			if !slices.Equal(uris, wantURIs) {
				t.Errorf("uris = %q, want %q", uris, wantURIs)
			}
			if n := len(sim.ObjectKeys(s3TestBucket)); n != len(files) {
				t.Errorf("bucket has %d objects, want %d", n, len(files))
			}
		})
	}
}

func TestUploadFilesErrors(t *testing.T) {
	sim, client := newS3Sim(t)
	ctx := context.Background()
	files := reportFiles(t)

	uris, err := UploadFiles(ctx, client, "no-such-bucket", "reports", files, "")
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchBucket" {
		t.Fatalf("err = %v, want a wrapped NoSuchBucket", err)
	}
	if !strings.Contains(err.Error(), "s3://no-such-bucket/reports/"+filepath.Base(files[0])) ||
		!strings.Contains(err.Error(), files[0]) {
		t.Errorf("error %q does not say which file went where", err)
	}
	if len(uris) != 0 {
		t.Errorf("uris = %q after the first upload failed", uris)
	}

	// A missing file stops the upload; what was copied before is reported.
	missing := filepath.Join(t.TempDir(), "gone.json")
	uris, err = UploadFiles(ctx, client, s3TestBucket, "reports", []string{files[0], missing, files[1]}, "")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want one wrapping fs.ErrNotExist", err)
	}
	if want := []string{"s3://" + s3TestBucket + "/reports/" + filepath.Base(files[0])}; !slices.Equal(uris, want) {
		t.Errorf("uris = %q, want %q", uris, want)
	}
	if keys := sim.ObjectKeys(s3TestBucket); len(keys) != 1 {
		t.Errorf("bucket has %q, want only the first file", keys)
	}
}
