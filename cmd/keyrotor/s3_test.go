package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"keyrotor/internal/awssim"
	"keyrotor/job"
)

const s3Bucket = "keyrotor-reports-222222222222"

// s3Harness is a small organization whose security account (the central
// account keyrotor runs in) owns the report bucket.
func s3Harness(t *testing.T, extraYAML string, createBucket bool) *harness {
	t.Helper()
	sc := awssim.Generate(awssim.GenOptions{Accounts: 1, UsersPerAccount: 3, Seed: 5})
	h := newHarness(t, sc, extraYAML)
	if createBucket {
		h.sim.CreateBucket(h.seeded.SecurityAccountID, h.seeded.Region, s3Bucket)
	}
	return h
}

// localReports returns the report files of the harness's report directory.
func localReports(t *testing.T, h *harness) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(h.dir, "reports", "keyrotor-*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkUploaded compares the bucket with the run's local report files:
// one object per file under prefix, with its content, content type and
// encryption.
func checkUploaded(t *testing.T, h *harness, prefix, sse, kmsKey string) {
	t.Helper()
	rep := h.latestReport("")
	stamp := rep.Run.Started.UTC().Format("20060102T150405Z")
	contentTypes := map[string]string{
		"json": "application/json",
		"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"csv":  "text/csv",
	}
	// Issue 11: an applied run first proves it can write there (the same
	// call, encryption and permission) with one object of its own.
	check := prefix + "/" + job.WriteCheckKey
	want := []string{check}
	for _, f := range []string{"csv", "json", "xlsx"} {
		want = append(want, prefix+"/keyrotor-apply-"+stamp+"."+f)
	}
	if got := h.sim.ObjectKeys(s3Bucket); !slices.Equal(got, want) {
		t.Fatalf("objects %q\nwant %q", got, want)
	}
	if o, _ := h.sim.Object(s3Bucket, check); o.SSE != sse || o.SSEKMSKeyID != kmsKey || !strings.Contains(string(o.Body), rep.Run.ID) {
		t.Errorf("%s: encryption %q key %q body %q, want %q key %q naming the run", check, o.SSE, o.SSEKMSKeyID, o.Body, sse, kmsKey)
	}
	for _, key := range want[1:] {
		o, _ := h.sim.Object(s3Bucket, key)
		local, err := os.ReadFile(filepath.Join(h.dir, "reports", filepath.Base(key)))
		if err != nil {
			t.Fatal(err)
		}
		ext := strings.TrimPrefix(filepath.Ext(key), ".")
		if string(o.Body) != string(local) {
			t.Errorf("%s: body differs from the local file", key)
		}
		if o.ContentType != contentTypes[ext] {
			t.Errorf("%s: content type %q, want %q", key, o.ContentType, contentTypes[ext])
		}
		if o.SSE != sse || o.SSEKMSKeyID != kmsKey {
			t.Errorf("%s: encryption %q key %q, want %q key %q", key, o.SSE, o.SSEKMSKeyID, sse, kmsKey)
		}
		if o.Owner != h.seeded.SecurityAccountID {
			t.Errorf("%s: written by %s, want the central account", key, o.Owner)
		}
	}
}

func TestReportS3Upload(t *testing.T) {
	t.Parallel()
	h := s3Harness(t, "", true)
	// Slashes around the prefix make no empty key segments.
	r := h.runAt("rotate", "--apply", "--report-s3", "s3://"+s3Bucket+"/daily/org/")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	checkUploaded(t, h, "daily/org", "AES256", "")
	if !strings.Contains(r.stderr, "Uploaded: s3://"+s3Bucket+"/daily/org/keyrotor-apply-") {
		t.Errorf("stderr does not name the S3 location:\n%s", r.stderr)
	}
	h.assertNoSecrets(r.stdout, r.stderr)
}

func TestReportS3UploadFromConfigWithKMS(t *testing.T) {
	t.Parallel()
	const key = "arn:aws:kms:us-east-1:222222222222:key/3f1c0a52-6b1e-4c55-9a3c-1d2e3f405162"
	// Appended to the harness's report: section.
	h := s3Harness(t, "  s3: s3://"+s3Bucket+"/reports\n  kms_key_id: "+key+"\n", true)
	if r := h.runAt("rotate", "--apply"); r.code != ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	checkUploaded(t, h, "reports", "aws:kms", key)
}

// TestReportS3MissingBucket: a run that does not change anything (here
// rotate without --apply) finds a missing bucket at its upload, with the
// local report written. (Issue 11: it ran rotate --apply, which now
// checks the bucket before any change; see TestReportS3CheckedBeforeChanges.)
func TestReportS3MissingBucket(t *testing.T) {
	t.Parallel()
	h := s3Harness(t, "", false)
	r := h.runAt("rotate", "--report-s3", "s3://"+s3Bucket+"/daily")
	if r.code != ExitFailed {
		t.Fatalf("exit %d, want %d\n%s", r.code, ExitFailed, r.stderr)
	}
	if !strings.Contains(r.stderr, "report upload failed") || !strings.Contains(r.stderr, "NoSuchBucket") {
		t.Errorf("the log does not report the failed upload:\n%s", r.stderr)
	}
	files := localReports(t, h)
	if len(files) != 3 {
		t.Fatalf("local report files %q, want json, xlsx and csv", files)
	}
	// The local report is the whole run's.
	rep := h.latestReport("")
	if rep.Run.Mode != "plan" || len(rep.Keys) != rep.Summary.Keys || rep.Summary.Keys == 0 || rep.Summary.AccountsOK == 0 {
		t.Errorf("local report is not the run's: %+v", rep.Summary)
	}
	if keys := h.sim.ObjectKeys(s3Bucket); keys != nil {
		t.Errorf("objects written to a missing bucket: %q", keys)
	}
}

// TestReportS3CheckedBeforeChanges: under --apply, a report location that
// does not parse, a bucket that does not exist or one the runner may not
// write stops the run before any change (exit 2 and 1), where it used to
// rotate every key and then fail at the upload (and exit 2 for a bad URL
// that KEYROTOR_REPORT_S3 refused at start-up).
func TestReportS3CheckedBeforeChanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, dest string
		bucket     bool
		deny       bool
		want       int
		says       string
	}{
		{"not an S3 URL", "http://x", true, false, ExitUsage, "is not an S3 location"},
		{"missing bucket", "s3://" + s3Bucket + "/daily", false, false, ExitFailed, "NoSuchBucket"},
		{"denied", "s3://" + s3Bucket + "/daily", true, true, ExitFailed, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := s3Harness(t, "", tc.bucket)
			if tc.deny {
				h.sim.InjectFault(awssim.Fault{Service: "s3", Op: "PutObject", Code: "AccessDenied", Status: 403, Message: "Access Denied", Times: -1})
			}
			r := h.runAt("rotate", "--apply", "--report-s3", tc.dest)
			if r.code != tc.want || !strings.Contains(r.stderr, tc.says) {
				t.Fatalf("exit %d, want %d saying %q\n%s", r.code, tc.want, tc.says, r.stderr)
			}
			for _, c := range h.sim.WriteCalls() {
				if c.Service != "s3" {
					t.Errorf("the run changed %s in %s before failing its report check", c.Action(), c.AccountID)
				}
			}
			if files := localReports(t, h); len(files) != 0 {
				t.Errorf("a run that did nothing wrote %q", files)
			}
		})
	}
}
