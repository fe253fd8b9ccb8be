package main

import (
	"testing"

	"keyrotor/internal/awssim"
)

func TestHarnessAuditSmoke(t *testing.T) {
	sc := awssim.Generate(awssim.GenOptions{Accounts: 3, UsersPerAccount: 5, Seed: 7})
	h := newHarness(t, sc, "")
	// This test takes the path a user takes: the SDK's standard
	// environment variables.
	h.useProcessEnv()
	res := h.runAt("audit")
	if res.code != ExitOK {
		t.Fatalf("audit exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	rep := h.latestReport("")
	if len(rep.Keys) == 0 {
		t.Fatal("no keys in report")
	}
	h.assertNoSecrets(res.stdout, res.stderr)
}
