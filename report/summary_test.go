package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteSummary(t *testing.T) {
	r := finalized()
	var buf bytes.Buffer
	if err := WriteSummary(&buf, r, SummaryOptions{Files: []string{"/reports/keyrotor-apply-20261126T060000Z.xlsx"}}); err != nil {
		t.Fatalf("WriteSummary: %v", err)
	}
	out := buf.String()
	t.Logf("summary:\n%s", out)

	// No access key ID in full, wherever it came from: a key's own field,
	// a failure reason, an account's error text.
	for _, id := range []string{keyAlice1, keyAlice2, keyAliceNew, keyBob, keyCI, keyDave, keyErin, keyInError} {
		if strings.Contains(out, id) {
			t.Errorf("summary shows access key ID %s in full", id)
		}
	}
	for _, want := range []string{
		"keyrotor apply run run-1, started 2026-11-26T06:00:00Z, took 3m2s",
		"2 ok, 1 failed, 1 skipped (4 targeted)",
		"50.0% (2 of 4 active, non-exempt keys have no stale_key finding)",
		"stale_key   3",
		"unused_key  2",
		"failed   1",
		"333333333333  legacy   error    assume role in 333333333333: AccessDenied: user with key …AMPL is not allowed",
		"444444444444  sandbox  skipped  account is SUSPENDED",
		"111111111111  bob  …0001  deactivate  deactivate …0001: AccessDenied",
		"/reports/keyrotor-apply-20261126T060000Z.xlsx",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

func TestWriteSummaryCapsLists(t *testing.T) {
	r := bigReport(3000) // 30 failed keys
	var buf bytes.Buffer
	if err := WriteSummary(&buf, r, SummaryOptions{MaxLines: 5}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := strings.Count(out, "LimitExceeded"); n != 5 {
		t.Errorf("%d failed keys listed, want 5", n)
	}
	if !strings.Contains(out, "... and 25 more") {
		t.Errorf("summary does not count the failed keys it leaves out:\n%s", out)
	}
	if strings.Contains(out, "AKIA") {
		t.Errorf("summary shows an unmasked key ID:\n%s", out)
	}
}

func TestMaskKeyID(t *testing.T) {
	for in, want := range map[string]string{
		"AKIAIOSFODNN7EXAMPLE": "…MPLE",
		"ABCD":                 "…",
		"":                     "",
	} {
		if got := MaskKeyID(in); got != want {
			t.Errorf("MaskKeyID(%q) = %q, want %q", in, got, want)
		}
	}
	if got := maskText("tag keyrotor:AKIAIOSFODNN7EXAMPLE\nnew=ASIAIOSFODNN7EXAMPLF"); got != "tag keyrotor:…MPLE new=…MPLF" {
		t.Errorf("maskText = %q", got)
	}
}
