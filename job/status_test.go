package job

import (
	"testing"

	"keyrotor/report"
	"keyrotor/vocab"
)

func TestStatus(t *testing.T) {
	finding := report.Key{Findings: []report.Finding{{ID: "stale_key"}}}
	exemptFinding := report.Key{Exempt: true, Findings: []report.Finding{{ID: "stale_key"}}}
	tests := []struct {
		name           string
		rep            report.Report
		failOnFindings bool
		want           Status
	}{
		{"clean", report.Report{}, true, StatusOK},
		{"findings, not asked to fail", report.Report{Keys: []report.Key{finding}}, false, StatusOK},
		{"findings, asked to fail", report.Report{Keys: []report.Key{finding}}, true, StatusFindings},
		{"only exempt findings", report.Report{Keys: []report.Key{exemptFinding}}, true, StatusOK},
		{"a failed account outranks findings", report.Report{Keys: []report.Key{finding}, Summary: report.Summary{AccountsFailed: 1}}, true, StatusPartial},
		{"a failed step", report.Report{Summary: report.Summary{Results: map[vocab.Result]int{vocab.ResultFailed: 1}}}, false, StatusPartial},
		{"interrupted", report.Report{Run: report.Run{Interrupted: true}}, false, StatusPartial},
	}
	for _, tt := range tests {
		rep := tt.rep
		if got := (Result{Report: &rep}).Status(tt.failOnFindings); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
}
