package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Putter is the part of S3 that UploadFiles calls; *s3.Client satisfies it.
type S3Putter interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var _ S3Putter = (*s3.Client)(nil)

// contentTypes are the media types of the report formats; anything else is
// uploaded as application/octet-stream.
var contentTypes = map[string]string{
	".json": "application/json",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".csv":  "text/csv",
}

// ParseS3URL splits an s3://bucket/prefix location into bucket and key
// prefix (which may be empty). The bucket must follow S3's naming rules, so
// that a typo fails before a run rather than at its upload.
func ParseS3URL(s string) (bucket, prefix string, err error) {
	rest, found := strings.CutPrefix(s, "s3://")
	if !found || rest == "" {
		return "", "", fmt.Errorf("%q is not an S3 location (want s3://bucket or s3://bucket/prefix)", s)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if !s3Bucket.MatchString(bucket) {
		return "", "", fmt.Errorf("%q is not an S3 location: %q is not a valid bucket name", s, bucket)
	}
	return bucket, prefix, nil
}

// s3Bucket is S3's bucket naming rule (3-63 lower-case letters, digits,
// dots and hyphens, starting and ending with a letter or digit).
var s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// S3Key returns the object key of a file uploaded under prefix: the
// prefix's non-empty segments, then the file's base name, joined by "/".
// Leading, trailing and repeated slashes in prefix never make empty
// segments, so "reports/", "/reports" and "reports//" all give
// "reports/<name>", and "" gives "<name>".
func S3Key(prefix, file string) string {
	var parts []string
	for _, p := range strings.Split(prefix, "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(append(parts, filepath.Base(file)), "/")
}

// UploadFiles copies report files to s3://bucket/prefix/<base name>, each
// with the content type of its format and server-side encryption: SSE-KMS
// with kmsKeyID when it is set, else SSE-S3 (AES256), so that a report is
// encrypted even in a bucket whose default encryption was changed. It
// returns the s3:// URIs written, in the order of files; on an error it
// stops and returns the URIs already written with the error.
func UploadFiles(ctx context.Context, api S3Putter, bucket, prefix string, files []string, kmsKeyID string) ([]string, error) {
	uris := make([]string, 0, len(files))
	for _, path := range files {
		key := S3Key(prefix, path)
		uri := "s3://" + bucket + "/" + key
		if err := putFile(ctx, api, bucket, key, path, kmsKeyID); err != nil {
			return uris, fmt.Errorf("upload report %s to %s: %w", path, uri, err)
		}
		uris = append(uris, uri)
	}
	return uris, nil
}

func putFile(ctx context.Context, api S3Putter, bucket, key, path, kmsKeyID string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	ct, ok := contentTypes[strings.ToLower(filepath.Ext(path))]
	if !ok {
		ct = "application/octet-stream"
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          f,
		ContentLength: aws.Int64(info.Size()),
		ContentType:   aws.String(ct),
	}
	if kmsKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(kmsKeyID)
	} else {
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	}
	_, err = api.PutObject(ctx, in)
	return err
}
