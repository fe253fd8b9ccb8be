package awssim

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"net/http"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"
)

// S3 is emulated for what keyrotor does with it: copying report files to a
// bucket. Requests are path-style (/bucket/key; set UsePathStyle on the
// client), signed with SigV4 for the service name "s3".

// s3Route maps path-style object requests to operations.
func s3Route(method, path string) (string, bool) {
	bucket, key := s3SplitPath(path)
	if bucket == "" || key == "" {
		return "", false
	}
	switch method {
	case http.MethodPut:
		return "PutObject", true
	case http.MethodGet:
		return "GetObject", true
	case http.MethodHead:
		return "HeadObject", true
	}
	return "", false
}

// s3SplitPath splits a decoded path-style URL path into bucket and key.
func s3SplitPath(path string) (bucket, key string) {
	bucket, key, _ = strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return bucket, key
}

// S3Object is an object stored in a simulated bucket, as tests inspect it.
type S3Object struct {
	Bucket, Key string
	Body        []byte
	ContentType string
	// SSE is the x-amz-server-side-encryption the PutObject asked for:
	// AES256, aws:kms or aws:kms:dsse. Empty means the request named none
	// (S3 then applies the bucket default, AES256, and says so in
	// responses).
	SSE string
	// SSEKMSKeyID is x-amz-server-side-encryption-aws-kms-key-id as sent.
	SSEKMSKeyID string
	// Metadata holds the x-amz-meta-* headers, keys lower-cased without
	// the prefix.
	Metadata     map[string]string
	ETag         string
	LastModified time.Time
	// Owner is the account whose credentials wrote the object.
	Owner string
}

type s3Bucket struct {
	name, owner, region string
	created             time.Time
	objects             map[string]*S3Object
}

type s3Store struct {
	buckets map[string]*s3Bucket
}

// s3Stores holds each simulator's buckets. The Sim type predates S3 here;
// keying by a weak pointer lets a Sim be collected with its buckets.
var s3Stores sync.Map // weak.Pointer[Sim] -> *s3Store

// s3 returns the simulator's bucket store. Callers hold s.mu while they
// use it.
func (s *Sim) s3() *s3Store {
	key := weak.Make(s)
	if v, ok := s3Stores.Load(key); ok {
		return v.(*s3Store)
	}
	v, loaded := s3Stores.LoadOrStore(key, &s3Store{buckets: map[string]*s3Bucket{}})
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[Sim]) { s3Stores.Delete(k) }, key)
	}
	return v.(*s3Store)
}

// bucketNameRe is S3's general purpose bucket naming rule (without the
// reserved prefixes and suffixes).
var bucketNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// CreateBucket creates an empty bucket owned by accountID in region. It
// panics on a name S3 would refuse or one another account already owns,
// as the other seeding methods do on bad input.
func (s *Sim) CreateBucket(accountID, region, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAccount(accountID)
	if !bucketNameRe.MatchString(name) || strings.Contains(name, "..") {
		panic(fmt.Sprintf("awssim: invalid bucket name %q", name))
	}
	st := s.s3()
	if b, ok := st.buckets[name]; ok {
		if b.owner != accountID || b.region != region {
			panic(fmt.Sprintf("awssim: bucket %s already exists in %s (%s)", name, b.owner, b.region))
		}
		return
	}
	st.buckets[name] = &s3Bucket{name: name, owner: accountID, region: region,
		created: s.clock.Now(), objects: map[string]*S3Object{}}
}

// Object returns a copy of an object (false if the bucket or key does not
// exist).
func (s *Sim) Object(bucket, key string) (S3Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.s3().buckets[bucket]
	if b == nil || b.objects[key] == nil {
		return S3Object{}, false
	}
	o := *b.objects[key]
	o.Body = bytes.Clone(o.Body)
	o.Metadata = maps.Clone(o.Metadata)
	return o, true
}

// ObjectKeys returns the keys of every object in bucket, sorted (nil if the
// bucket does not exist).
func (s *Sim) ObjectKeys(bucket string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.s3().buckets[bucket]
	if b == nil {
		return nil
	}
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// s3Target authorizes the request's action on the object and finds its
// bucket. The order follows S3: IAM first, then existence, ownership
// (there are no bucket policies here, so other accounts are denied) and
// the signing region.
func s3Target(r *Request) (*s3Bucket, string, error) {
	name, key := s3SplitPath(r.HTTP.URL.Path)
	if err := r.Authorize("arn:aws:s3:::" + name + "/" + key); err != nil {
		return nil, "", err
	}
	b := r.Sim.s3().buckets[name]
	if b == nil {
		return nil, "", apiErr(404, "NoSuchBucket", "The specified bucket does not exist")
	}
	if b.owner != r.Account.ID {
		return nil, "", apiErr(403, "AccessDenied", "Access Denied")
	}
	if b.region != r.Region {
		return nil, "", apiErr(400, "AuthorizationHeaderMalformed",
			"The authorization header is malformed; the region '%s' is wrong; expecting '%s'", r.Region, b.region)
	}
	return b, key, nil
}

func s3PutObject(r *Request) (any, error) {
	b, key, err := s3Target(r)
	if err != nil {
		return nil, err
	}
	h := r.HTTP.Header
	body, err := s3Payload(r)
	if err != nil {
		return nil, err
	}
	sse := h.Get("X-Amz-Server-Side-Encryption")
	kmsKey := h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
	switch sse {
	case "", "AES256", "aws:kms", "aws:kms:dsse":
	default:
		return nil, apiErr(400, "InvalidArgument", "The encryption method specified is not supported")
	}
	if kmsKey != "" && !strings.HasPrefix(sse, "aws:kms") {
		return nil, apiErr(400, "InvalidArgument",
			"Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
	}
	meta := map[string]string{}
	for k, v := range h {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok {
			meta[name] = strings.Join(v, ",")
		}
	}
	sum := md5.Sum(body)
	obj := &S3Object{
		Bucket: b.name, Key: key, Body: body, ContentType: h.Get("Content-Type"),
		SSE: sse, SSEKMSKeyID: kmsKey, Metadata: meta,
		ETag:         `"` + hex.EncodeToString(sum[:]) + `"`,
		LastModified: r.Now.UTC().Truncate(time.Second), Owner: r.Account.ID,
	}
	if obj.ContentType == "" {
		obj.ContentType = "binary/octet-stream"
	}
	b.objects[key] = obj
	hdr := http.Header{}
	hdr.Set("ETag", obj.ETag)
	s3EncryptionHeaders(hdr, obj)
	return RawResponse{Header: hdr}, nil
}

func s3GetObject(r *Request) (any, error) {
	obj, err := s3Lookup(r, "NoSuchKey", "The specified key does not exist.")
	if err != nil {
		return nil, err
	}
	return RawResponse{Header: s3ObjectHeaders(obj), Body: bytes.Clone(obj.Body)}, nil
}

func s3HeadObject(r *Request) (any, error) {
	// A HEAD response has no body, so S3's code here is the status text.
	obj, err := s3Lookup(r, "NotFound", "Not Found")
	if err != nil {
		return nil, err
	}
	return RawResponse{Header: s3ObjectHeaders(obj)}, nil
}

func s3Lookup(r *Request, code, msg string) (*S3Object, error) {
	b, key, err := s3Target(r)
	if err != nil {
		return nil, err
	}
	obj := b.objects[key]
	if obj == nil {
		return nil, apiErr(404, code, "%s", msg)
	}
	return obj, nil
}

func s3ObjectHeaders(o *S3Object) http.Header {
	h := http.Header{}
	h.Set("Content-Type", o.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(o.Body)))
	h.Set("ETag", o.ETag)
	h.Set("Last-Modified", o.LastModified.Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	for k, v := range o.Metadata {
		h.Set("X-Amz-Meta-"+k, v)
	}
	s3EncryptionHeaders(h, o)
	return h
}

// s3EncryptionHeaders reports the encryption an object has: what was
// asked for, or the bucket default.
func s3EncryptionHeaders(h http.Header, o *S3Object) {
	sse := o.SSE
	if sse == "" {
		sse = "AES256"
	}
	h.Set("X-Amz-Server-Side-Encryption", sse)
	if o.SSEKMSKeyID != "" {
		h.Set("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", o.SSEKMSKeyID)
	}
}

// s3Payload returns the object data of a PutObject and checks it against
// every digest the client sent: the signed payload hash, Content-MD5 and
// the flexible checksums, in headers or aws-chunked trailers.
func s3Payload(r *Request) ([]byte, error) {
	h := r.HTTP.Header
	body := r.Body
	trailers := http.Header{}
	contentHash := h.Get("X-Amz-Content-Sha256")
	switch {
	case strings.HasPrefix(contentHash, "STREAMING-"):
		var err error
		body, trailers, err = decodeAWSChunked(r.Body)
		if err != nil {
			return nil, apiErr(400, "IncompleteBody", "cannot decode aws-chunked body: %v", err)
		}
		if d := h.Get("X-Amz-Decoded-Content-Length"); d != "" && d != strconv.Itoa(len(body)) {
			return nil, apiErr(400, "IncompleteBody", "The request body terminated unexpectedly")
		}
	case contentHash == "" || contentHash == "UNSIGNED-PAYLOAD":
	default:
		sum := sha256.Sum256(body)
		if !strings.EqualFold(contentHash, hex.EncodeToString(sum[:])) {
			return nil, apiErr(400, "XAmzContentSHA256Mismatch",
				"The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
	}
	if want := h.Get("Content-Md5"); want != "" {
		sum := md5.Sum(body)
		if want != base64.StdEncoding.EncodeToString(sum[:]) {
			return nil, apiErr(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
		}
	}
	for name, newHash := range s3Checksums {
		want := h.Get(name)
		if want == "" {
			want = trailers.Get(name)
		}
		if want == "" {
			continue
		}
		hh := newHash()
		hh.Write(body)
		if want != base64.StdEncoding.EncodeToString(hh.Sum(nil)) {
			algo := strings.TrimPrefix(strings.ToLower(name), "x-amz-checksum-")
			return nil, apiErr(400, "BadDigest", "The %s you specified did not match the calculated checksum.", strings.ToUpper(algo))
		}
	}
	return body, nil
}

// s3Checksums are the flexible checksums the simulator verifies; others
// (CRC64NVME) are accepted unchecked.
var s3Checksums = map[string]func() hash.Hash{
	"X-Amz-Checksum-Crc32":  func() hash.Hash { return crc32.NewIEEE() },
	"X-Amz-Checksum-Crc32c": func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"X-Amz-Checksum-Sha1":   sha1.New,
	"X-Amz-Checksum-Sha256": sha256.New,
}

// decodeAWSChunked decodes an aws-chunked body: hex-size[;ext]\r\n data
// \r\n ..., a zero-size chunk, then optional trailer headers. Chunk
// signatures are not verified.
func decodeAWSChunked(b []byte) ([]byte, http.Header, error) {
	rd := bufio.NewReader(bytes.NewReader(b))
	var out []byte
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return nil, nil, fmt.Errorf("chunk header: %w", err)
		}
		sizeText, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
		if err != nil || size < 0 || size > int64(len(b)) {
			return nil, nil, fmt.Errorf("bad chunk size %q", sizeText)
		}
		if size == 0 {
			break
		}
		chunk := make([]byte, size)
		if _, err := io.ReadFull(rd, chunk); err != nil {
			return nil, nil, fmt.Errorf("chunk data: %w", err)
		}
		out = append(out, chunk...)
		if crlf, err := rd.ReadString('\n'); err != nil || strings.TrimRight(crlf, "\r\n") != "" {
			return nil, nil, fmt.Errorf("chunk not terminated by CRLF")
		}
	}
	trailers := http.Header{}
	for {
		line, err := rd.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, nil, fmt.Errorf("bad trailer %q", line)
		}
		trailers.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		if err != nil {
			break
		}
	}
	return out, trailers, nil
}
