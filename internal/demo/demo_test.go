package demo_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/internal/demo"
	"keyrotor/report"
)

// TestDemo runs the whole demo as `keyrotor demo` does: it says up front
// which account is broken on purpose (issue 11: its ERROR lines were
// unexplained while the demo exited 0), and finishes without error because
// nothing else failed.
func TestDemo(t *testing.T) {
	t.Parallel()
	var stderr awssimtest.SyncBuffer
	log := slog.New(slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	out := t.TempDir()
	err := demo.Run(context.Background(), demo.Options{
		Out: out, Stderr: &stderr, Logger: log, Version: "test",
		Summary: func(rep *report.Report, files []string) {
			_ = report.WriteSummary(&stderr, rep, report.SummaryOptions{Files: files})
		},
	})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr.String())
	}
	text := stderr.String()
	for _, want := range []string{
		"Note: legacy-prod (410000000005) is broken on purpose (its rotation role does not trust the security account)",
		"The demo expects it and exits 0.",
		"== 4/4 rotate --apply",
		"The only failures were those of the accounts broken on purpose.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	// The note comes before the first ERROR line it explains.
	if n, e := strings.Index(text, "is broken on purpose"), strings.Index(text, "level=ERROR"); e >= 0 && n > e {
		t.Errorf("the ERROR line comes before the note that explains it:\n%s", text)
	}
	if m, _ := filepath.Glob(filepath.Join(out, "4-delete", "*.json")); len(m) != 1 {
		t.Errorf("phase 4 reports: %v", m)
	}
	checkDemoHold(t, out)
}

// checkDemoHold: the demo's held two-key user, grace, is mailed once that
// her key is held, with the fix, and every digest lists her key (issue 13).
func checkDemoHold(t *testing.T, out string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(out, "mail", "*.eml"))
	var held, digests, listed int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := string(b)
		switch {
		case strings.Contains(m, "To: grace@example.com") && strings.Contains(m, "is held: two keys already"):
			held++
			if !strings.Contains(m, "To resolve it, run") || !strings.Contains(m, "aws iam update-access-key --user-name grace") {
				t.Errorf("grace's hold notice lacks the fix:\n%s", m)
			}
		case strings.Contains(m, "Subject: [keyrotor] Run "):
			digests++
			if strings.Contains(m, "user grace key ") && strings.Contains(m, ": two_keys (two keys already)") {
				listed++
			}
		}
	}
	if held != 1 || digests == 0 || listed != digests {
		t.Errorf("grace: %d hold notices (want 1), listed in %d of %d digests", held, listed, digests)
	}
}

// TestDemoJSON: with --log-format json the demo's story is JSON records
// too, so that stderr holds nothing else (issue 11: banners and tables
// were plain text).
func TestDemoJSON(t *testing.T) {
	t.Parallel()
	var stderr awssimtest.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	err := demo.Run(context.Background(), demo.Options{
		Out: t.TempDir(), AuditOnly: true, JSON: true, Stderr: &stderr, Logger: log, Version: "test",
		Summary: func(rep *report.Report, files []string) { report.LogSummary(log, rep, files) },
	})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr.String())
	}
	msgs := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Errorf("stderr line is not JSON: %q", sc.Text())
			continue
		}
		msgs[rec["msg"].(string)] = true
	}
	for _, m := range []string{"demo starting", "demo account broken on purpose", "demo phase", "account failed", "demo finished"} {
		if !msgs[m] {
			t.Errorf("no %q record:\n%s", m, stderr.String())
		}
	}
}
