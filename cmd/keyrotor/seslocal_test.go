//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/rotation"
)

// sesLocalCLI is aws-ses-v2-local's entry point, relative to this package's
// directory (go test runs in it). .ci/run installs it with
// `npm ci --prefix test/seslocal`.
const sesLocalCLI = "../../test/seslocal/node_modules/aws-ses-v2-local/dist/cli.js"

// sesLocalStore is aws-ses-v2-local's GET /store answer; the field names
// are its own.
type sesLocalStore struct {
	Emails []sesLocalEmail `json:"emails"`
}

type sesLocalEmail struct {
	MessageID   string   `json:"messageId"`
	From        string   `json:"from"`
	ReplyTo     []string `json:"replyTo"`
	Destination struct {
		To  []string `json:"to"`
		Cc  []string `json:"cc"`
		Bcc []string `json:"bcc"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		Text string `json:"text"`
		HTML string `json:"html"`
	} `json:"body"`
}

// sesLocal is a running aws-ses-v2-local server.
type sesLocal struct {
	url string
	// out collects the server's stdout and stderr for failure messages;
	// exec writes to it from its own goroutines.
	out *awssimtest.SyncBuffer
}

// startSESLocal starts aws-ses-v2-local on 127.0.0.1 and a free port and
// stops it when the test ends. Without node or the package it skips, or,
// on CI (CI=true) and under make test (KEYROTOR_REQUIRE_SESLOCAL=1, after
// make test installed it), fails.
func startSESLocal(t *testing.T) *sesLocal {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		msg := what + "; install the independent SES v2 implementation this test runs against with `npm ci --prefix test/seslocal` (needs Node.js and npm)"
		if os.Getenv("CI") == "true" || os.Getenv("KEYROTOR_REQUIRE_SESLOCAL") == "1" {
			t.Fatal("required: " + msg)
		}
		t.Skip("SKIP aws-ses-v2-local end-to-end test: " + msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	cli, err := filepath.Abs(sesLocalCLI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cli); err != nil {
		missing(fmt.Sprintf("aws-ses-v2-local is not installed (%s)", cli))
	}
	// Another process may take the free port between our probe and the
	// server's bind; then the server exits and we try another port.
	var last error
	for range 3 {
		s, err := trySESLocal(t, node, cli)
		if err == nil {
			return s
		}
		last = err
	}
	t.Fatalf("start aws-ses-v2-local: %v", last)
	return nil
}

func trySESLocal(t *testing.T, node, cli string) (*sesLocal, error) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	out := &awssimtest.SyncBuffer{}
	cmd := exec.Command(node, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Dir = filepath.Dir(cli)
	// SMTP_TRANSPORT would make it relay every message to a real server.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SMTP_TRANSPORT=") })
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s %s: %w", node, cli, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		// The whole process group, in case node ever forks a helper.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	s := &sesLocal{url: "http://127.0.0.1:" + strconv.Itoa(port), out: out}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("aws-ses-v2-local exited (%v):\n%s", err, out)
		default:
		}
		resp, err := client.Get(s.url + "/health-check")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(stop)
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("aws-ses-v2-local did not answer %s/health-check within 15s:\n%s", s.url, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// store returns every message the server accepted and the raw JSON it
// answered with.
func (s *sesLocal) store(t *testing.T) ([]sesLocalEmail, string) {
	t.Helper()
	resp, err := http.Get(s.url + "/store")
	if err != nil {
		t.Fatalf("read the aws-ses-v2-local store: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("read the aws-ses-v2-local store: status %d, %v", resp.StatusCode, err)
	}
	var st sesLocalStore
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("aws-ses-v2-local store is not the JSON expected: %v\n%s", err, body)
	}
	return st.Emails, string(body)
}

// sesLocalScenario: stale keys in two accounts; alice and bob have owners,
// erin is reported to the security team. awssim verifies no sender: every
// message must go to aws-ses-v2-local, and one that reached awssim would be
// refused there.
const sesLocalScenario = `
seed: 31
organization:
  management_account: {id: "111111111111", name: management}
  security_account: {id: "222222222222", name: security}
role: {name: KeyrotorRotationRole, external_id: keyrotor-seslocal}
ses: {region: us-east-1}
accounts:
  - id: "333333333333"
    name: prod
    users:
      - {name: alice, tags: {email: alice@example.com}, keys: [{age: 100d, last_used: 3d}]}
      - {name: bob, tags: {email: bob@example.com}, keys: [{age: 200d, last_used: 2d}]}
      - {name: carol, tags: {email: carol@example.com}, keys: [{age: 10d, last_used: 1h}]}
  - id: "444444444444"
    name: dev
    users:
      - {name: erin, keys: [{age: 95d, last_used: never}]}
`

// TestMailSESLocal sends keyrotor's mail to aws-ses-v2-local, an
// independent SES v2 implementation, through the SDK's standard
// AWS_ENDPOINT_URL_SESV2, while IAM, STS, Organizations and Secrets Manager
// stay on awssim through AWS_ENDPOINT_URL; it reads the messages back from
// the server's store.
func TestMailSESLocal(t *testing.T) {
	ses := startSESLocal(t)
	h := newMailHarness(t, mailScenario(t, sesLocalScenario), defaultMailConfig(), "")
	// The service-specific variable must win over AWS_ENDPOINT_URL, which
	// points at awssim.
	h.useProcessEnv()
	t.Setenv("AWS_ENDPOINT_URL_SESV2", ses.url)
	old := mailOldKeys(t, h.sim)
	owners := map[string]struct{ account, where, to string }{
		"alice": {mailProd, "prod (" + mailProd + ")", "alice@example.com"},
		"bob":   {mailProd, "prod (" + mailProd + ")", "bob@example.com"},
		"erin":  {mailDev, "dev (" + mailDev + ")", mailSecurity},
	}
	secretName := func(u string) string { return "keyrotor/" + owners[u].account + "/" + u }

	// check compares the messages stored since the last check with run r's
	// notices, want (subject -> recipient and strings both bodies must
	// hold), and r's digest.
	seen := 0
	check := func(label string, want map[string]sesWant, r mailRun) []mailSent {
		t.Helper()
		all, raw := ses.store(t)
		for _, s := range h.sim.IssuedSecrets() {
			if strings.Contains(raw, s) {
				t.Fatalf("%s: a message in aws-ses-v2-local holds a secret access key the simulator issued", label)
			}
		}
		got := all[seen:]
		seen = len(all)
		runID := r.rep.Run.ID
		digests := 0
		var sent []mailSent
		for _, m := range got {
			if from, err := mail.ParseAddress(m.From); err != nil || from.Address != mailSender {
				t.Errorf("%s: %q is from %q; want %s", label, m.Subject, m.From, mailSender)
			}
			if len(m.Destination.Cc)+len(m.Destination.Bcc) != 0 {
				t.Errorf("%s: %q has cc %v bcc %v", label, m.Subject, m.Destination.Cc, m.Destination.Bcc)
			}
			if strings.HasPrefix(m.Subject, mailDigestPrefix+runID+" (apply)") {
				digests++
				if !slices.Equal(m.Destination.To, []string{mailSecurity}) || !strings.Contains(m.Body.Text, r.dir) {
					t.Errorf("%s: digest to %v:\n%s", label, m.Destination.To, m.Body.Text)
				}
				continue
			}
			w, ok := want[m.Subject]
			if !ok {
				t.Errorf("%s: unexpected message %q to %v", label, m.Subject, m.Destination.To)
				continue
			}
			delete(want, m.Subject)
			sent = append(sent, mailSent{m.Subject, m.Destination.To})
			if !slices.Equal(m.Destination.To, []string{w.to}) {
				t.Errorf("%s: %q to %v, want %s", label, m.Subject, m.Destination.To, w.to)
			}
			for _, s := range w.both {
				if !strings.Contains(m.Body.Text, s) || !strings.Contains(m.Body.HTML, s) {
					t.Errorf("%s: %q: the text or HTML body lacks %q:\n%s", label, m.Subject, s, m.Body.Text)
				}
			}
			// The SDK read the server's answer: the message ID it logged
			// is the one the server stored.
			if !strings.Contains(r.res.stderr, "message_id="+m.MessageID) {
				t.Errorf("%s: the log does not hold message ID %s of %q", label, m.MessageID, m.Subject)
			}
		}
		for subject, w := range want {
			t.Errorf("%s: no message %q to %s", label, subject, w.to)
		}
		if digests != 1 {
			t.Errorf("%s: %d digests of run %s, want 1", label, digests, runID)
		}
		return sent
	}

	// Day 0: new keys issued; their owners are told where the secret is.
	r := rotateMail(h, mailSender, "--apply")
	want := map[string]sesWant{}
	newKey := map[string]string{}
	for u, o := range owners {
		row := row(t, r.rep, old[u])
		if row.Action != "issue" || row.Result != "done" || row.NewAccessKeyID == "" {
			t.Fatalf("%s: action %q result %q new %q", u, row.Action, row.Result, row.NewAccessKeyID)
		}
		newKey[u] = row.NewAccessKeyID
		want["[keyrotor] New access key issued for "+u+" in "+o.where] = sesWant{
			to: o.to, both: []string{newKey[u], old[u], secretName(u), "aws secretsmanager get-secret-value --secret-id " + secretName(u)},
		}
	}
	sent := check("day 0", want, r)
	checkReported(t, "day 0", r.rep, sent, map[string]rotation.Event{"alice": rotation.EventIssued, "bob": rotation.EventIssued, "erin": rotation.EventIssued})
	for u := range owners {
		if st := mailState(t, h.sim, owners[u].account, u, old[u]); !st.Notified.Has(rotation.EventIssued) {
			t.Errorf("%s: state %s does not record the notice aws-ses-v2-local accepted", u, st)
		}
	}

	// 7d1h: the old keys are deactivated; their owners are told how to get
	// them back.
	h.sim.Clock().Set(h.sim.Now().Add(7*mailDay + time.Hour))
	r = rotateMail(h, mailSender, "--apply")
	want = map[string]sesWant{}
	for u, o := range owners {
		want["[keyrotor] Old access key "+old[u]+" of "+u+" in "+o.where+" was deactivated"] = sesWant{
			to: o.to, both: []string{old[u], newKey[u], secretName(u), "keyrotor reactivate --account " + o.account + " --user " + u + " --key " + old[u]},
		}
	}
	sent = check("7d1h", want, r)
	checkReported(t, "7d1h", r.rep, sent, map[string]rotation.Event{"alice": rotation.EventDeactivated, "bob": rotation.EventDeactivated, "erin": rotation.EventDeactivated})

	// Nothing reached awssim's SES: AWS_ENDPOINT_URL_SESV2 took precedence
	// over AWS_ENDPOINT_URL.
	if n := len(h.sim.Outbox()); n != 0 {
		t.Errorf("awssim's SES received %d messages; AWS_ENDPOINT_URL_SESV2 did not take precedence", n)
	}
	for _, c := range h.sim.Calls() {
		if c.Op == "SendEmail" {
			t.Errorf("awssim received %s", c.Action())
			break
		}
	}
	if out := ses.out.String(); strings.Contains(strings.ToLower(out), "error") {
		t.Errorf("aws-ses-v2-local logged an error:\n%s", out)
	}
}

// sesWant is an expected message in aws-ses-v2-local's store.
type sesWant struct {
	to   string
	both []string
}
