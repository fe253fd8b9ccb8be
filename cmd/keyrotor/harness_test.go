package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/report"
)

// harness runs the keyrotor CLI in-process against a simulated
// organization, the way a user runs it against AWS: through the SDK's
// standard environment variables.
type harness struct {
	t      *testing.T
	sim    *awssim.Sim
	seeded awssim.Seeded
	srv    *awssimtest.Server
	dir    string
	config string
	// awsOptions point the SDK at the simulator; nil after useProcessEnv.
	awsOptions []func(*awsconfig.LoadOptions) error
	// getenv is the CLI's environment (KEYROTOR_* overrides).
	getenv func(string) string
}

// harnessConfig is the accounts.yaml the CLI tests use. %[1]s role name,
// %[2]s external id, %[3]s report dir, %[4]s extra YAML appended verbatim.
const harnessConfig = `region: us-east-1
organization:
  discovery: true
role:
  name: %[1]s
  external_id: %[2]s
exemptions:
  tag: {key: "keyrotor:exempt", value: "true"}
  groups: [BreakGlass]
notifications:
  enabled: false
concurrency:
  accounts: 4
  per_account: 2
report:
  out: %[3]q
  formats: [json, xlsx, csv]
%[4]s`

// newHarness builds sc (fixing its clock for reproducible ages), serves it
// on loopback and points the SDK's environment at it.
func newHarness(t *testing.T, sc *awssim.Scenario, extraYAML string) *harness {
	t.Helper()
	return newHarnessWrapped(t, sc, extraYAML, nil)
}

// newHarnessWrapped is newHarness with the simulator served through wrap
// (nil: directly), for tests that act between two of keyrotor's calls.
func newHarnessWrapped(t *testing.T, sc *awssim.Scenario, extraYAML string, wrap func(http.Handler) http.Handler) *harness {
	t.Helper()
	if sc.Now.IsZero() {
		sc.Now = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	}
	srv := awssimtest.StartScenarioWrapped(t, sc, wrap)
	seeded := srv.Seeded
	h := &harness{t: t, sim: srv.Sim, seeded: seeded, srv: srv, dir: t.TempDir()}
	h.config = filepath.Join(h.dir, "accounts.yaml")
	yaml := fmt.Sprintf(harnessConfig, seeded.RoleName, seeded.ExternalID, filepath.Join(h.dir, "reports"), extraYAML)
	if err := os.WriteFile(h.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// The SDK's own loader, told explicitly what a user's environment would
	// tell it; no process environment is touched, so tests run in parallel.
	h.awsOptions = []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(seeded.Region),
		awsconfig.WithBaseEndpoint(srv.URL),
		awsconfig.WithCredentialsProvider(awssimtest.Provider(seeded.Central)),
		awsconfig.WithSharedConfigFiles([]string{filepath.Join(h.dir, "no-aws-config")}),
		awsconfig.WithSharedCredentialsFiles([]string{filepath.Join(h.dir, "no-aws-credentials")}),
		awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	}
	h.getenv = func(string) string { return "" }
	return h
}

// useProcessEnv points the SDK at the simulator through the standard
// environment variables instead, as a user does: for the tests that prove
// that path. Such a test cannot run in parallel.
func (h *harness) useProcessEnv() {
	h.t.Helper()
	awssimtest.SetEnv(h.t, h.srv.URL, h.seeded.Region, h.seeded.Central)
	h.awsOptions, h.getenv = nil, os.Getenv
}

// env is the CLI's Env for one invocation, on clock now.
func (h *harness) env(stdout, stderr io.Writer, now func() time.Time) *Env {
	return &Env{Stdout: stdout, Stderr: stderr, Now: now, Getenv: h.getenv, AWSOptions: h.awsOptions}
}

// result is one CLI invocation's outcome.
type result struct {
	code           int
	stdout, stderr string
}

// run invokes the CLI with the harness's config on the real clock; the
// simulator's clock is not the CLI's, so commands that must see simulated
// time use runAt.
func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.runWith(time.Now, args...)
}

// runAt invokes the CLI with its clock set to the simulator's.
func (h *harness) runAt(args ...string) result {
	h.t.Helper()
	return h.runWith(h.sim.Now, args...)
}

func (h *harness) runWith(now func() time.Time, args ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--config", h.config}, args...)
	code := run(context.Background(), full, h.env(&out, &errb, now))
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// latestReport reads the newest JSON report in dir (default: the config's
// report dir).
func (h *harness) latestReport(dir string) *report.Report {
	h.t.Helper()
	if dir == "" {
		dir = filepath.Join(h.dir, "reports")
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(matches) == 0 {
		h.t.Fatalf("no JSON report in %s (%v)", dir, err)
	}
	var newest string
	var newestMod time.Time
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			h.t.Fatal(err)
		}
		if newest == "" || st.ModTime().After(newestMod) || (st.ModTime().Equal(newestMod) && m > newest) {
			newest, newestMod = m, st.ModTime()
		}
	}
	f, err := os.Open(newest)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	rep, err := report.ReadJSON(f)
	if err != nil {
		h.t.Fatalf("read %s: %v", newest, err)
	}
	return rep
}

// assertNoSecrets fails if any secret the simulator ever issued appears in
// any of texts or in any file under the harness's directory.
func (h *harness) assertNoSecrets(texts ...string) {
	h.t.Helper()
	secrets := h.sim.IssuedSecrets()
	var blobs []string
	blobs = append(blobs, texts...)
	_ = filepath.Walk(h.dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, rerr := os.ReadFile(p)
		if rerr == nil {
			blobs = append(blobs, string(b))
		}
		return nil
	})
	for _, s := range secrets {
		for _, b := range blobs {
			if strings.Contains(b, s) {
				h.t.Fatalf("a secret access key issued by the simulator leaked into output")
			}
		}
	}
}

// callerIdentity signs sts:GetCallerIdentity with keyID's credentials and
// returns the caller's ARN, or the error code AWS answered with.
func (h *harness) callerIdentity(keyID string) (arn, code string) {
	h.t.Helper()
	cfg, ok := h.srv.KeyConfig(keyID, awssimtest.NoRetries())
	if !ok {
		h.t.Fatalf("the simulator has no credentials for %s", keyID)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			h.t.Fatalf("GetCallerIdentity with %s: %v", keyID, err)
		}
		return "", ae.ErrorCode()
	}
	return aws.ToString(out.Arn), ""
}
