package preflight

import (
	"errors"
	"strings"
	"testing"
)

func TestWriteTable(t *testing.T) {
	rows := []Row{
		{Account: CentralRow, Name: "SES sender", Result: "ready: verified"},
		{Account: "333333333333", Name: "prod", OU: "Workloads", Result: "ready: role assumed"},
		{Account: "444444444444", Name: "dev", Result: "NOT READY: assume role: AccessDenied", NotReady: true},
		{Account: "555555555555", Name: "old", Result: "skipped: account is SUSPENDED"},
	}
	var b strings.Builder
	err := WriteTable(&b, rows, 2)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "ACCOUNT") || !strings.Contains(lines[3], "444444444444  dev         -          NOT READY") {
		t.Errorf("table:\n%s", b.String())
	}
	var nr *NotReadyError
	if !errors.As(err, &nr) || err.Error() != "1 of 2 accounts are not ready" {
		t.Errorf("err = %v, want 1 of 2 accounts not ready", err)
	}
	rows[0].NotReady = true
	if err := WriteTable(&b, rows, 2); err == nil || err.Error() != "the central account is not ready; 1 of 2 accounts are not ready" {
		t.Errorf("err = %v", err)
	}
	if err := WriteTable(&b, rows[1:2], 1); err != nil {
		t.Errorf("all ready: %v", err)
	}
}
