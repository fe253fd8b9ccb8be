package awssim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
)

const (
	s3Owner  = "222222222222"
	s3Other  = "333333333333"
	s3Bucket = "keyrotor-reports-222222222222-us-east-1"
)

type s3Env struct {
	sim  *awssim.Sim
	url  string
	root awssim.Credentials
	s3   *s3.Client
}

func newS3Env(t *testing.T) s3Env {
	t.Helper()
	sim := awssim.New()
	sim.CreateOrganization(mgmtID, "management", "mgmt@example.com")
	sim.AddAccount(awssim.AccountSpec{ID: s3Owner, Name: "security"})
	sim.AddAccount(awssim.AccountSpec{ID: s3Other, Name: "workload"})
	sim.CreateBucket(s3Owner, "us-east-1", s3Bucket)
	url := newTestServer(t, sim)
	root := sim.RootCredentials(s3Owner)
	return s3Env{sim: sim, url: url, root: root, s3: s3Client(url, root, "us-east-1")}
}

func s3Client(url string, c awssim.Credentials, region string, opts ...func(*s3.Options)) *s3.Client {
	cfg := cfgFor(url, c)
	cfg.Region = region
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) { o.UsePathStyle = true }}, opts...)...)
}

func s3ErrCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func s3HTTPStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestS3PutGetHead(t *testing.T) {
	e := newS3Env(t)
	ctx := context.Background()
	body := []byte(`{"schema":"keyrotor/v1","keys":[]}`)
	// Spaces, non-ASCII and '+' exercise path escaping on both sides of
	// the signature.
	key := "reports/2026 Q4/keyrotor-apply+ä.json"
	put, err := e.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s3Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType:          aws.String("application/json"),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
		Metadata:             map[string]string{"Run-Id": "r-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if put.ServerSideEncryption != types.ServerSideEncryptionAes256 || aws.ToString(put.ETag) == "" {
		t.Errorf("put output: SSE %q ETag %q", put.ServerSideEncryption, aws.ToString(put.ETag))
	}

	obj, ok := e.sim.Object(s3Bucket, key)
	if !ok {
		t.Fatalf("object %q not stored; keys: %q", key, e.sim.ObjectKeys(s3Bucket))
	}
	if !bytes.Equal(obj.Body, body) || obj.ContentType != "application/json" || obj.SSE != "AES256" ||
		obj.SSEKMSKeyID != "" || !maps.Equal(obj.Metadata, map[string]string{"run-id": "r-1"}) ||
		obj.Owner != s3Owner || !obj.LastModified.Equal(e.sim.Now()) || obj.ETag != aws.ToString(put.ETag) {
		t.Errorf("stored object = %+v", obj)
	}

	head, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(head.ContentLength) != int64(len(body)) || aws.ToString(head.ContentType) != "application/json" ||
		head.ServerSideEncryption != types.ServerSideEncryptionAes256 || head.Metadata["run-id"] != "r-1" ||
		head.LastModified == nil || !head.LastModified.Equal(e.sim.Now()) {
		t.Errorf("head = %+v", head)
	}

	get, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(get.Body)
	_ = get.Body.Close()
	if err != nil || !bytes.Equal(got, body) || aws.ToString(get.ETag) != obj.ETag {
		t.Errorf("get: %v %q etag %q", err, got, aws.ToString(get.ETag))
	}
	if keys := e.sim.ObjectKeys(s3Bucket); len(keys) != 1 || keys[0] != key {
		t.Errorf("keys = %q", keys)
	}

	calls := e.sim.Calls()
	var ops []string
	for _, c := range calls {
		if c.Service == "s3" {
			ops = append(ops, c.Op)
		}
	}
	if strings.Join(ops, ",") != "PutObject,HeadObject,GetObject" {
		t.Errorf("call log ops = %q", ops)
	}
}

func TestS3KMSAndDefaults(t *testing.T) {
	e := newS3Env(t)
	ctx := context.Background()
	const keyARN = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	put, err := e.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s3Bucket), Key: aws.String("kms.xlsx"), Body: strings.NewReader("xlsx"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(keyARN),
	})
	if err != nil {
		t.Fatal(err)
	}
	if put.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(put.SSEKMSKeyId) != keyARN {
		t.Errorf("put: SSE %q key %q", put.ServerSideEncryption, aws.ToString(put.SSEKMSKeyId))
	}
	if o, _ := e.sim.Object(s3Bucket, "kms.xlsx"); o.SSE != "aws:kms" || o.SSEKMSKeyID != keyARN {
		t.Errorf("stored SSE %q key %q", o.SSE, o.SSEKMSKeyID)
	}

	// No SSE header: nothing recorded as asked for, but S3 reports its
	// default encryption.
	if _, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("plain"),
		Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if o, _ := e.sim.Object(s3Bucket, "plain"); o.SSE != "" {
		t.Errorf("stored SSE %q", o.SSE)
	}
	head, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("plain")})
	if err != nil || head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("head: %v SSE %q", err, head.ServerSideEncryption)
	}

	// Unsigned payloads (what the SDK sends over TLS) are accepted too.
	unsigned := s3Client(e.url, e.root, "us-east-1", func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	})
	if _, err := unsigned.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("unsigned"),
		Body: strings.NewReader("u")}); err != nil {
		t.Fatalf("unsigned payload: %v", err)
	}
	if o, ok := e.sim.Object(s3Bucket, "unsigned"); !ok || string(o.Body) != "u" {
		t.Errorf("unsigned object = %+v", o)
	}
}

func TestS3Errors(t *testing.T) {
	e := newS3Env(t)
	ctx := context.Background()
	put := func(c *s3.Client, bucket, key string, mod ...func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("data")}
		for _, m := range mod {
			m(in)
		}
		_, err := c.PutObject(ctx, in)
		return err
	}
	if err := put(e.s3, s3Bucket, "exists"); err != nil {
		t.Fatal(err)
	}
	other := s3Client(e.url, e.sim.RootCredentials(s3Other), "us-east-1")
	wrongRegion := s3Client(e.url, e.root, "eu-west-1")
	badSecret := s3Client(e.url, awssim.Credentials{AccessKeyID: e.root.AccessKeyID, SecretAccessKey: "wrong"}, "us-east-1")

	var notFound *types.NotFound
	var noSuchKey *types.NoSuchKey
	for _, tt := range []struct {
		name   string
		call   func() error
		code   string
		status int
		typed  any
	}{
		{"put to missing bucket", func() error { return put(e.s3, "no-such-bucket", "k") }, "NoSuchBucket", 404, nil},
		{"put to another account's bucket", func() error { return put(other, s3Bucket, "k") }, "AccessDenied", 403, nil},
		{"wrong signing region", func() error { return put(wrongRegion, s3Bucket, "k") }, "AuthorizationHeaderMalformed", 400, nil},
		{"bad signature", func() error { return put(badSecret, s3Bucket, "k") }, "SignatureDoesNotMatch", 403, nil},
		{"unknown SSE", func() error {
			return put(e.s3, s3Bucket, "k", func(in *s3.PutObjectInput) { in.ServerSideEncryption = "rot13" })
		}, "InvalidArgument", 400, nil},
		{"KMS key without aws:kms", func() error {
			return put(e.s3, s3Bucket, "k", func(in *s3.PutObjectInput) {
				in.ServerSideEncryption = types.ServerSideEncryptionAes256
				in.SSEKMSKeyId = aws.String("alias/reports")
			})
		}, "InvalidArgument", 400, nil},
		{"head missing key", func() error {
			_, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("missing")})
			return err
		}, "NotFound", 404, &notFound},
		{"get missing key", func() error {
			_, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("missing")})
			return err
		}, "NoSuchKey", 404, &noSuchKey},
		{"get from missing bucket", func() error {
			_, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")})
			return err
		}, "NoSuchBucket", 404, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if s3ErrCode(err) != tt.code || s3HTTPStatus(err) != tt.status {
				t.Fatalf("err = %v (code %q, status %d), want %s %d", err, s3ErrCode(err), s3HTTPStatus(err), tt.code, tt.status)
			}
			if tt.typed != nil && !errors.As(err, tt.typed) {
				t.Errorf("err = %T, want %T", err, tt.typed)
			}
		})
	}
	if keys := e.sim.ObjectKeys(s3Bucket); len(keys) != 1 || keys[0] != "exists" {
		t.Errorf("failed puts stored objects: %q", keys)
	}
	if e.sim.ObjectKeys("no-such-bucket") != nil {
		t.Error("ObjectKeys of a missing bucket is not nil")
	}
}

// TestS3PayloadIntegrity signs a request whose body does not match its
// x-amz-content-sha256: the signature is valid, the data is not.
func TestS3PayloadIntegrity(t *testing.T) {
	e := newS3Env(t)
	for _, tt := range []struct {
		name, body, signedHash, code string
		header                       map[string]string
	}{
		{"sha256 mismatch", "tampered", sha256Hex("original"), "XAmzContentSHA256Mismatch", nil},
		{"md5 mismatch", "data", sha256Hex("data"), "BadDigest", map[string]string{"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}},
		{"crc32 mismatch", "data", "UNSIGNED-PAYLOAD", "BadDigest", map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}},
		{"aws-chunked with trailer", "4\r\ndata\r\n0\r\nx-amz-checksum-crc32:rfPzYw==\r\n\r\n",
			"STREAMING-UNSIGNED-PAYLOAD-TRAILER", "", map[string]string{"X-Amz-Decoded-Content-Length": "4", "Content-Encoding": "aws-chunked"}},
		{"aws-chunked bad trailer checksum", "4\r\ndata\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
			"STREAMING-UNSIGNED-PAYLOAD-TRAILER", "BadDigest", map[string]string{"X-Amz-Decoded-Content-Length": "4"}},
		{"aws-chunked truncated", "8\r\ndata", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "IncompleteBody", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPut, e.url+"/"+s3Bucket+"/raw", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Content-Sha256", tt.signedHash)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			creds := aws.Credentials{AccessKeyID: e.root.AccessKeyID, SecretAccessKey: e.root.SecretAccessKey}
			signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
			if err := signer.SignHTTP(context.Background(), creds, req, tt.signedHash, "s3", "us-east-1", e.sim.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if tt.code == "" {
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
				// No Content-Type was sent: S3 stores its default.
				if o, ok := e.sim.Object(s3Bucket, "raw"); !ok || string(o.Body) != "data" || o.ContentType != "binary/octet-stream" {
					t.Errorf("stored %q as %q", o.Body, o.ContentType)
				}
				return
			}
			if resp.StatusCode != 400 || !strings.Contains(string(b), "<Code>"+tt.code+"</Code>") {
				t.Errorf("status %d body %s, want 400 %s", resp.StatusCode, b, tt.code)
			}
		})
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestS3RoleAllowList(t *testing.T) {
	e := newS3Env(t)
	ctx := context.Background()
	e.sim.AddRole(s3Owner, awssim.RoleSpec{
		Name: "Runner", TrustedPrincipals: []string{s3Owner},
		AllowedActions:   []string{"s3:PutObject"},
		ResourcePrefixes: map[string][]string{"s3:PutObject": {"arn:aws:s3:::" + s3Bucket + "/reports/*"}},
	})
	c := s3Client(e.url, e.sim.SessionCredentials(s3Owner, "Runner", "run", time.Hour), "us-east-1")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("reports/a.json"),
		Body: strings.NewReader("{}")}); err != nil {
		t.Fatalf("allowed prefix: %v", err)
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("elsewhere/a.json"),
		Body: strings.NewReader("{}")})
	if s3ErrCode(err) != "AccessDenied" || s3HTTPStatus(err) != 403 {
		t.Errorf("outside prefix: err = %v", err)
	}
	// Denied before existence is revealed.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("reports/a.json"),
		Body: strings.NewReader("{}")})
	if s3ErrCode(err) != "AccessDenied" {
		t.Errorf("other bucket: err = %v", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("reports/a.json")})
	if s3ErrCode(err) != "AccessDenied" {
		t.Errorf("get: err = %v", err)
	}
}

func TestS3CreateBucketPanics(t *testing.T) {
	e := newS3Env(t)
	for name, f := range map[string]func(){
		"bad name":            func() { e.sim.CreateBucket(s3Owner, "us-east-1", "Bad_Name") },
		"taken by another":    func() { e.sim.CreateBucket(s3Other, "us-east-1", s3Bucket) },
		"unknown account":     func() { e.sim.CreateBucket("999999999999", "us-east-1", "fresh-bucket") },
		"same name, new home": func() { e.sim.CreateBucket(s3Owner, "eu-west-1", s3Bucket) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	// Creating the same bucket again is a no-op that keeps its objects.
	if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s3Bucket),
		Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	e.sim.CreateBucket(s3Owner, "us-east-1", s3Bucket)
	if _, ok := e.sim.Object(s3Bucket, "k"); !ok {
		t.Error("CreateBucket of an existing bucket dropped its objects")
	}
}
