// Command awssim serves a simulated AWS organization on a loopback address,
// for demos and manual runs of keyrotor (or the AWS CLI) without AWS.
//
//	awssim --demo                                 # the built-in demo organization
//	awssim --scenario examples/scenario.yaml      # a scenario file
//	awssim --accounts 50 --users 100 --seed 7     # a generated organization
//	awssim --demo --rate-limit iam=5 --fault 'iam:ListUsers#3x2=500:ServiceFailure'
//
// It prints the environment to paste into a shell (endpoint, region, a root
// key of the security account, the rotation role's name and external ID),
// then serves until SIGINT or SIGTERM. See docs/awssim.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"keyrotor/internal/awssim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "awssim:", err)
		os.Exit(1)
	}
}

// options are the parsed command line.
type options struct {
	addr        string
	scenario    string
	demo        bool
	accounts    int
	users       int
	seed        uint64
	now         time.Time
	pageSize    int
	freezeClock bool
	verbose     bool
	controls    controlFlags
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var now string
	fs := flag.NewFlagSet("awssim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:4566", "loopback `address` to listen on (port 0 picks a free one)")
	fs.StringVar(&o.scenario, "scenario", "", "serve the scenario in `file` (see docs/awssim.md)")
	fs.BoolVar(&o.demo, "demo", false, "serve the built-in demo organization (the default)")
	fs.IntVar(&o.accounts, "accounts", 0, "serve a generated organization of `n` member accounts")
	fs.IntVar(&o.users, "users", 20, "with --accounts: IAM users per account")
	fs.Uint64Var(&o.seed, "seed", 1, "with --accounts: generator seed (same seed, same organization)")
	fs.StringVar(&now, "now", "", "start the simulated clock at this RFC 3339 `time` (default: the scenario's now, else the wall clock)")
	fs.IntVar(&o.pageSize, "page-size", 0, "default page size of list calls (default: the scenario's)")
	fs.BoolVar(&o.freezeClock, "freeze-clock", false, "keep the simulated clock still instead of following the wall clock")
	fs.BoolVar(&o.verbose, "verbose", false, "log every request on stderr")
	fs.Func("latency", "delay matching calls: `PATTERN=DURATION`, like iam:ListUsers=300ms, sts:*=1s or *=50ms (repeatable)", func(v string) error {
		l, err := parseLatency(v)
		if err == nil {
			o.controls.latency = append(o.controls.latency, l)
			o.controls.specs = append(o.controls.specs, "--latency "+v)
		}
		return err
	})
	fs.Func("rate-limit", "throttle each account's calls to a service: `SERVICE[/region]=PER_SECOND[:BURST]`, like iam=5:10 (repeatable)", func(v string) error {
		r, err := parseRateLimit(v)
		if err == nil {
			o.controls.rates = append(o.controls.rates, r)
			o.controls.specs = append(o.controls.specs, "--rate-limit "+v)
		}
		return err
	})
	fs.Func("fault", "break matching calls: `SERVICE:OP[@ACCOUNT][#N[xTIMES]]=ACTION`, ACTION one of STATUS[:CODE[:MESSAGE]], hang[:BOUND], unsupported, truncate, cut (repeatable; see docs/awssim.md)", func(v string) error {
		f, err := parseFault(v)
		if err == nil {
			o.controls.faults = append(o.controls.faults, f)
			o.controls.specs = append(o.controls.specs, "--fault "+v)
		}
		return err
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: awssim [--demo | --scenario FILE | --accounts N [--users M] [--seed S]] [flags]\n\n"+
			"Serves a simulated AWS organization (IAM, STS, Organizations, Secrets Manager, KMS, SES v2, S3)\n"+
			"on a loopback address and prints the environment to point AWS clients at it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	sources := 0
	for _, name := range []string{"demo", "scenario", "accounts"} {
		if set[name] {
			sources++
		}
	}
	if sources > 1 {
		return o, errors.New("choose one of --demo, --scenario and --accounts")
	}
	if (set["users"] || set["seed"]) && !set["accounts"] {
		return o, errors.New("--users and --seed go with --accounts")
	}
	if set["accounts"] && (o.accounts < 1 || o.users < 0) {
		return o, errors.New("--accounts must be at least 1 and --users at least 0")
	}
	if o.pageSize < 0 || o.pageSize > 1000 {
		return o, errors.New("--page-size must be between 1 and 1000")
	}
	if now != "" {
		t, err := time.Parse(time.RFC3339, now)
		if err != nil {
			return o, fmt.Errorf("--now %q is not an RFC 3339 time like 2026-11-26T06:00:00Z", now)
		}
		o.now = t.UTC()
	}
	if err := checkLoopback(o.addr); err != nil {
		return o, err
	}
	return o, nil
}

// checkLoopback refuses any address a machine other than this one could
// reach: the simulator accepts every credential it issued, to anyone.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--addr %q: awssim listens only on a loopback address such as 127.0.0.1", addr)
	}
	return nil
}

// loadScenario picks the scenario the flags ask for.
func loadScenario(o options) (*awssim.Scenario, error) {
	var sc *awssim.Scenario
	switch {
	case o.scenario != "":
		var err error
		if sc, err = awssim.LoadScenario(o.scenario); err != nil {
			return nil, err
		}
	case o.accounts > 0:
		sc = awssim.Generate(awssim.GenOptions{Accounts: o.accounts, UsersPerAccount: o.users, Seed: o.seed})
	default:
		sc = awssim.DemoScenario()
	}
	if !o.now.IsZero() {
		sc.Now = o.now
	}
	if o.pageSize > 0 {
		sc.PageSize = o.pageSize
	}
	return sc, nil
}

// run is the whole command: it returns when ctx ends (after a graceful
// shutdown) or when the server cannot start.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	sc, err := loadScenario(o)
	if err != nil {
		return err
	}
	sim, sd, err := sc.Build()
	if err != nil {
		return fmt.Errorf("build the simulated organization: %w", err)
	}
	o.controls.apply(sim)

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	// "localhost" passed the flag check by name; make sure it resolved to loopback.
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		_ = ln.Close()
		return fmt.Errorf("listen on %s: %s is not a loopback address", o.addr, ln.Addr())
	}
	endpoint := "http://" + ln.Addr().String()

	srv := &http.Server{Handler: logRequests(sim, log), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	writeExports(stdout, endpoint, sd)
	suspended := 0
	for _, a := range sc.Accounts {
		if a.Status == awssim.StatusSuspended {
			suspended++
		}
	}
	fmt.Fprintf(stderr, "awssim: %s serves %d accounts (%d suspended), %d users, %d access keys; security account %s, clock %s; Ctrl-C stops\n",
		endpoint, sd.Accounts, suspended, sd.Users, sd.Keys, sd.SecurityAccountID, sim.Now().Format(time.RFC3339))
	if len(o.controls.specs) > 0 {
		fmt.Fprintf(stderr, "awssim: armed %s\n", strings.Join(o.controls.specs, " "))
	}

	if !o.freezeClock {
		go followWallClock(ctx, sim.Clock())
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", endpoint, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	calls := sim.Calls()
	writes := 0
	for _, c := range calls {
		if c.IsWrite() {
			writes++
		}
	}
	fmt.Fprintf(stderr, "awssim: stopped after %d requests (%d writes)\n", len(calls), writes)
	return nil
}

// writeExports prints the shell lines that point the AWS SDKs, the CLI and
// keyrotor at the simulator as the security account.
func writeExports(w io.Writer, endpoint string, sd awssim.Seeded) {
	fmt.Fprintln(w, "unset AWS_SESSION_TOKEN AWS_PROFILE")
	for _, kv := range [][2]string{
		{"AWS_ENDPOINT_URL", endpoint},
		{"AWS_REGION", sd.Region},
		{"AWS_DEFAULT_REGION", sd.Region}, // AWS CLI v1 reads only this one
		{"AWS_ACCESS_KEY_ID", sd.Central.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", sd.Central.SecretAccessKey},
		{"KEYROTOR_ROLE_NAME", sd.RoleName},
		{"KEYROTOR_EXTERNAL_ID", sd.ExternalID},
	} {
		fmt.Fprintf(w, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// followWallClock moves the simulated clock along with real time, so that
// sessions expire and new keys get current dates during a long manual run.
func followWallClock(ctx context.Context, c *awssim.Clock) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.Advance(now.Sub(last))
			last = now
		}
	}
}

// logRequests logs each request's service, operation, caller key, status
// and duration at debug level. It never logs bodies, which hold secrets.
func logRequests(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		service, keyID := credentialScope(r.Header.Get("Authorization"))
		op := operation(r)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("service", service), slog.String("op", op), slog.String("key", keyID),
			slog.Int("status", rec.status), slog.Duration("took", time.Since(start)))
	})
}

// credentialScope reads the service and access key ID from a SigV4
// Authorization header.
func credentialScope(auth string) (service, keyID string) {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", ""
	}
	cred, _, _ := strings.Cut(rest, ",")
	f := strings.Split(cred, "/")
	if len(f) != 5 {
		return "", ""
	}
	return f[3], f[0]
}

// operation names the API call: the JSON protocols' target, the query
// protocols' Action, or the REST method and path.
func operation(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		_, op, _ := strings.Cut(t, ".")
		return op
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err == nil {
			if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
				return form.Get("Action")
			}
		}
	}
	return r.Method + " " + r.URL.Path
}

// statusRecorder remembers the response status. It passes Hijack through:
// the simulator hijacks connections to inject cut-connection faults.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	s.status = 0
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
