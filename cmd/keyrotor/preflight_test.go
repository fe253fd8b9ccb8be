package main

import (
	"os"
	"strings"
	"testing"

	"keyrotor/deploy"
	"keyrotor/internal/awssim"
)

// pfMail turns mail on in the harness's accounts.yaml, sending from an
// address of example.com.
const pfMail = `notifications:
  enabled: true
  sender: keyrotor@example.com
  security_team: [security@example.com]
`

// rewriteConfig replaces old by new in the harness's accounts.yaml.
func rewriteConfig(t *testing.T, h *harness, old, new string) {
	t.Helper()
	b, err := os.ReadFile(h.config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("accounts.yaml has no %q:\n%s", old, b)
	}
	if err := os.WriteFile(h.config, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pfRow returns the table line of account in preflight's output.
func pfRow(t *testing.T, out, account string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, account+" ") {
			return l
		}
	}
	t.Fatalf("no line for %s in:\n%s", account, out)
	return ""
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	const notifOff = "notifications:\n  enabled: false\n"
	for _, tt := range []struct {
		name   string
		policy string
		drop   []string
		// config rewrites accounts.yaml: old, new.
		config [2]string
		verify bool // verify example.com in SES
		// fault, if set, breaks a call (iam:SimulatePrincipalPolicy,
		// ses:GetEmailIdentity).
		fault   *awssim.Fault
		args    []string
		code    int
		central string // the central line's text, "" for no line
		member  string // the member line's text
	}{
		{name: "rotation policy, apply, mail on", policy: deploy.MemberRotationPolicy, config: [2]string{notifOff, pfMail}, verify: true,
			code: ExitOK, central: "ready: SES identity example.com verified for sending in us-east-1",
			member: "ready: role assumed, 17 permissions allowed, IAM readable, secrets under keyrotor/"},
		{name: "sender not checkable (no GetEmailIdentity): a warning", policy: deploy.MemberRotationPolicy, config: [2]string{notifOff, pfMail},
			fault: &awssim.Fault{Service: "ses", Op: "GetEmailIdentity", Kind: awssim.FaultUnsupported},
			code:  ExitOK, central: "ready: WARNING: sender not checked (the endpoint does not implement GetEmailIdentity",
			member: "ready: role assumed, 17 permissions allowed"},
		{name: "sender not verified", policy: deploy.MemberRotationPolicy, config: [2]string{notifOff, pfMail},
			code: ExitPartial, central: "NOT READY: no SES identity for keyrotor@example.com or example.com in us-east-1",
			member: "ready: role assumed"},
		{name: "audit needs no mail", policy: deploy.MemberReadOnlyPolicy, config: [2]string{notifOff, pfMail}, args: []string{"--mode", "audit"},
			code: ExitOK, member: "ready: role assumed, 8 permissions allowed"},
		{name: "read-only policy, apply", policy: deploy.MemberReadOnlyPolicy,
			code: ExitPartial, member: "NOT READY: role arn:aws:iam::333333333333:role/KeyrotorRotationRole cannot rotate: missing iam:CreateAccessKey, iam:UpdateAccessKey, iam:DeleteAccessKey, iam:TagUser, iam:UntagUser, secretsmanager:CreateSecret, secretsmanager:PutSecretValue, secretsmanager:TagResource, secretsmanager:PutResourcePolicy (read-only deployment?); nothing was changed"},
		{name: "one read missing", policy: deploy.MemberRotationPolicy, drop: []string{"iam:ListUserTags"}, args: []string{"--mode", "audit"},
			code: ExitPartial, member: "NOT READY: role arn:aws:iam::333333333333:role/KeyrotorRotationRole cannot audit: missing iam:ListUserTags; nothing was changed"},
		{name: "cannot simulate: the reads decide", policy: deploy.MemberRotationPolicy, drop: []string{"iam:SimulatePrincipalPolicy"},
			code: ExitOK, member: "ready: role assumed, permissions not simulated (iam:SimulatePrincipalPolicy denied), IAM readable"},
		// Issue 11: an endpoint without SimulatePrincipalPolicy was NOT
		// READY everywhere, after ten attempts per account.
		{name: "simulator unsupported (LocalStack): a warning, one call", policy: deploy.MemberRotationPolicy,
			fault: &awssim.Fault{Service: "iam", Op: "SimulatePrincipalPolicy", Kind: awssim.FaultUnsupported},
			code:  ExitOK, member: "ready: role assumed, WARNING: permissions not checked (check permissions of arn:aws:iam::333333333333:role/KeyrotorRotationRole: iam:SimulatePrincipalPolicy is unavailable here: InternalFailure: API action 'SimulatePrincipalPolicy' for service 'iam' not yet implemented), IAM readable"},
		{name: "simulator answers 500 (moto): a warning, one call", policy: deploy.MemberRotationPolicy,
			fault: &awssim.Fault{Service: "iam", Op: "SimulatePrincipalPolicy", Code: "InternalError", Status: 500, Message: "not implemented", Times: -1},
			code:  ExitOK, member: "ready: role assumed, WARNING: permissions not checked"},
		{name: "cannot simulate nor list users", policy: deploy.MemberRotationPolicy, drop: []string{"iam:SimulatePrincipalPolicy", "iam:ListUsers"},
			code: ExitPartial, member: "NOT READY: list users in 333333333333: AccessDenied"},
		{name: "secrets outside keyrotor/", policy: deploy.MemberRotationPolicy,
			config: [2]string{"secrets:\n", "secrets:\n  name_template: \"iam-keys/{{.AccountID}}/{{.UserName}}\"\n"},
			code:   ExitPartial, member: `NOT READY: secret name "iam-keys/333333333333/example-user" is outside keyrotor/*`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := lpHarness(t, tt.policy, tt.drop...)
			if tt.config[0] != "" {
				rewriteConfig(t, h, tt.config[0], tt.config[1])
			}
			if tt.verify {
				h.sim.VerifyEmailIdentity(h.seeded.SecurityAccountID, h.seeded.Region, "example.com")
			}
			if tt.fault != nil {
				h.sim.InjectFault(*tt.fault)
			}
			r := h.runAt(append([]string{"preflight"}, tt.args...)...)
			if tt.fault != nil && tt.fault.Op == "SimulatePrincipalPolicy" {
				for account, n := range simulateCalls(h.sim) {
					if n != 1 {
						t.Errorf("%d SimulatePrincipalPolicy calls in %s, want one, answered once", n, account)
					}
				}
			}
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "ACCOUNT") {
				t.Errorf("no table header:\n%s", r.stdout)
			}
			if line := pfRow(t, r.stdout, lpMember); !strings.Contains(line, "prod") || !strings.Contains(line, "Workloads") ||
				!strings.Contains(line, tt.member) {
				t.Errorf("member line %q\nwant it to contain %q", line, tt.member)
			}
			if tt.central != "" {
				if line := pfRow(t, r.stdout, "central"); !strings.Contains(line, tt.central) {
					t.Errorf("central line %q\nwant it to contain %q", line, tt.central)
				}
			} else if strings.Contains(r.stdout, "\ncentral ") {
				t.Errorf("a central line without mail:\n%s", r.stdout)
			}
			if tt.code != ExitOK && !strings.Contains(r.stderr, "not ready") {
				t.Errorf("stderr does not say what is not ready:\n%s", r.stderr)
			}
			if w := h.sim.WriteCalls(); len(w) != 0 {
				t.Errorf("preflight made %d write calls, first %s", len(w), w[0].Action())
			}
		})
	}
}

func TestPreflightRoleMissingAndBadMode(t *testing.T) {
	t.Parallel()
	sc, err := awssim.ParseScenario("preflight", []byte(lpScenarioYAML+`  - {id: "444444444444", name: dev, ou: Workloads, role: missing}
`))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, sc, "")
	r := h.runAt("preflight")
	if r.code != ExitPartial {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if line := pfRow(t, r.stdout, "444444444444"); !strings.Contains(line, "NOT READY: assume role arn:aws:iam::444444444444:role/KeyrotorRotationRole") {
		t.Errorf("line %q", line)
	}
	if line := pfRow(t, r.stdout, lpMember); !strings.Contains(line, "ready: ") || strings.Contains(line, "NOT READY") {
		t.Errorf("line %q", line)
	}
	if !strings.Contains(r.stderr, "1 of ") {
		t.Errorf("stderr: %s", r.stderr)
	}
	if r := h.run("preflight", "--mode", "plan"); r.code != ExitUsage || !strings.Contains(r.stderr, "want audit or apply") {
		t.Errorf("--mode plan: exit %d %s", r.code, r.stderr)
	}
}

// simulateCalls counts the simulator's SimulatePrincipalPolicy calls by
// account.
func simulateCalls(sim *awssim.Sim) map[string]int {
	n := map[string]int{}
	for _, c := range sim.Calls() {
		if c.Op == "SimulatePrincipalPolicy" {
			n[c.AccountID]++
		}
	}
	return n
}
