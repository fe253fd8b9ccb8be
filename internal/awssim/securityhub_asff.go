package awssim

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The AWS Security Finding Format as Security Hub checks it on import.

// ASFF's own limits.
const (
	hubMaxResources  = 32
	hubSchemaVersion = "2018-10-08"
)

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func asffTime(p *string) time.Time {
	if p == nil {
		return time.Time{}
	}
	t, _ := parseASFFTime(*p)
	return t
}

// parseASFFTime reads an ASFF timestamp (RFC 3339, with or without
// fractional seconds).
func parseASFFTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

// asffFinding is the part of an ASFF finding the simulator reads.
type asffFinding struct {
	SchemaVersion   *string  `json:"SchemaVersion"`
	ID              *string  `json:"Id"`
	ProductArn      *string  `json:"ProductArn"`
	GeneratorID     *string  `json:"GeneratorId"`
	AwsAccountID    *string  `json:"AwsAccountId"`
	Types           []string `json:"Types"`
	CreatedAt       *string  `json:"CreatedAt"`
	UpdatedAt       *string  `json:"UpdatedAt"`
	FirstObservedAt *string  `json:"FirstObservedAt"`
	LastObservedAt  *string  `json:"LastObservedAt"`
	Severity        *struct {
		Label      *string  `json:"Label"`
		Normalized *float64 `json:"Normalized"`
		Original   *string  `json:"Original"`
	} `json:"Severity"`
	Title       *string `json:"Title"`
	Description *string `json:"Description"`
	Resources   []struct {
		Type *string `json:"Type"`
		ID   *string `json:"Id"`
	} `json:"Resources"`
	Compliance *struct {
		Status *string `json:"Status"`
	} `json:"Compliance"`
	RecordState *string `json:"RecordState"`
	Workflow    *struct {
		Status *string `json:"Status"`
	} `json:"Workflow"`
	FindingProviderFields *struct {
		Types    []string `json:"Types"`
		Severity *struct {
			Label    *string `json:"Label"`
			Original *string `json:"Original"`
		} `json:"Severity"`
	} `json:"FindingProviderFields"`
	Region      *string `json:"Region"`
	ProductName *string `json:"ProductName"`
	CompanyName *string `json:"CompanyName"`
}

func (x *asffFinding) severityLabel() string {
	if x.Severity != nil && x.Severity.Label != nil {
		return *x.Severity.Label
	}
	return ""
}

func (x *asffFinding) complianceStatus() string {
	if x.Compliance != nil {
		return str(x.Compliance.Status)
	}
	return ""
}

func (x *asffFinding) workflowStatus() string {
	if x.Workflow != nil {
		return str(x.Workflow.Status)
	}
	return ""
}

var (
	hubSeverityLabels = []string{"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
	hubCompliance     = []string{"PASSED", "WARNING", "FAILED", "NOT_AVAILABLE"}
	hubRecordStates   = []string{"ACTIVE", "ARCHIVED"}
	hubWorkflow       = []string{"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"}
	// hubTypeNamespaces are the namespaces of ASFF finding types
	// (namespace/category/classifier).
	hubTypeNamespaces = []string{"Software and Configuration Checks", "TTPs", "Effects", "Unusual Behaviors", "Sensitive Data Identifications"}
	hubAccountIDRe    = regexp.MustCompile(`^\d{12}$`)
)

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// hubNotASFF is the FailedFinding message Security Hub gives a finding
// that breaks the format.
func hubNotASFF(format string, args ...any) string {
	return "Finding does not adhere to Amazon Finding Format. " + fmt.Sprintf(format, args...)
}

// validate checks a finding against the ASFF rules Security Hub enforces
// at import, returning the FailedFinding message ("" when valid).
func (x *asffFinding) validate() string {
	required := []struct {
		name string
		v    *string
		max  int
	}{
		{"SchemaVersion", x.SchemaVersion, 0}, {"Id", x.ID, 512}, {"ProductArn", x.ProductArn, 2048},
		{"GeneratorId", x.GeneratorID, 512}, {"AwsAccountId", x.AwsAccountID, 0},
		{"CreatedAt", x.CreatedAt, 0}, {"UpdatedAt", x.UpdatedAt, 0},
		{"Title", x.Title, 256}, {"Description", x.Description, 1024},
	}
	for _, f := range required {
		if f.v == nil || strings.TrimSpace(*f.v) == "" {
			return hubNotASFF("data should have required property '%s'", f.name)
		}
		if f.max > 0 && len(*f.v) > f.max {
			return hubNotASFF("data.%s should NOT be longer than %d characters", f.name, f.max)
		}
	}
	if *x.SchemaVersion != hubSchemaVersion {
		return hubNotASFF("data.SchemaVersion should be equal to %q", hubSchemaVersion)
	}
	if !hubAccountIDRe.MatchString(*x.AwsAccountID) {
		return hubNotASFF("data.AwsAccountId should match pattern \"^\\d{12}$\"")
	}
	for _, t := range []struct {
		name string
		v    *string
	}{{"CreatedAt", x.CreatedAt}, {"UpdatedAt", x.UpdatedAt}, {"FirstObservedAt", x.FirstObservedAt}, {"LastObservedAt", x.LastObservedAt}} {
		if t.v == nil {
			continue
		}
		if _, err := parseASFFTime(*t.v); err != nil {
			return hubNotASFF("data.%s should match format \"date-time\"", t.name)
		}
	}
	types := x.Types
	if len(types) == 0 && x.FindingProviderFields != nil {
		types = x.FindingProviderFields.Types
	}
	if len(types) == 0 {
		return hubNotASFF("data should have required property 'Types' or 'FindingProviderFields.Types'")
	}
	if len(types) > 50 {
		return hubNotASFF("data.Types should NOT have more than 50 items")
	}
	for _, t := range types {
		ns, _, _ := strings.Cut(t, "/")
		if !oneOf(ns, hubTypeNamespaces) {
			return hubNotASFF("data.Types %q should be namespace/category/classifier with a namespace of %s", t, strings.Join(hubTypeNamespaces, ", "))
		}
	}
	var label string
	var labelSet, normSet bool
	if x.Severity != nil {
		if x.Severity.Label != nil {
			label, labelSet = *x.Severity.Label, true
		}
		if n := x.Severity.Normalized; n != nil {
			if *n < 0 || *n > 100 || *n != float64(int(*n)) {
				return hubNotASFF("data.Severity.Normalized should be an integer between 0 and 100")
			}
			normSet = true
		}
	}
	if !labelSet && x.FindingProviderFields != nil && x.FindingProviderFields.Severity != nil && x.FindingProviderFields.Severity.Label != nil {
		label, labelSet = *x.FindingProviderFields.Severity.Label, true
	}
	if !labelSet && !normSet {
		return hubNotASFF("data should have required property 'Severity' with a Label or Normalized")
	}
	if labelSet && !oneOf(label, hubSeverityLabels) {
		return hubNotASFF("data.Severity.Label should be equal to one of the allowed values: %s", strings.Join(hubSeverityLabels, ", "))
	}
	if len(x.Resources) == 0 {
		return hubNotASFF("data should have required property 'Resources'")
	}
	if len(x.Resources) > hubMaxResources {
		return hubNotASFF("data.Resources should NOT have more than %d items", hubMaxResources)
	}
	for i, r := range x.Resources {
		if r.Type == nil || *r.Type == "" {
			return hubNotASFF("data.Resources[%d] should have required property 'Type'", i)
		}
		if r.ID == nil || *r.ID == "" {
			return hubNotASFF("data.Resources[%d] should have required property 'Id'", i)
		}
	}
	for _, e := range []struct {
		name    string
		v       *string
		allowed []string
	}{
		{"Compliance.Status", ptrIf(x.Compliance != nil, func() *string { return x.Compliance.Status }), hubCompliance},
		{"RecordState", x.RecordState, hubRecordStates},
		{"Workflow.Status", ptrIf(x.Workflow != nil, func() *string { return x.Workflow.Status }), hubWorkflow},
	} {
		if e.v != nil && !oneOf(*e.v, e.allowed) {
			return hubNotASFF("data.%s should be equal to one of the allowed values: %s", e.name, strings.Join(e.allowed, ", "))
		}
	}
	return ""
}

func ptrIf(ok bool, f func() *string) *string {
	if !ok {
		return nil
	}
	return f()
}

// hubLabelFor and hubNormalizedFor convert between Severity.Label and
// Severity.Normalized as Security Hub does.
func hubLabelFor(n float64) string {
	switch {
	case n == 0:
		return "INFORMATIONAL"
	case n < 40:
		return "LOW"
	case n < 70:
		return "MEDIUM"
	case n < 90:
		return "HIGH"
	}
	return "CRITICAL"
}

func hubNormalizedFor(label string) int {
	return map[string]int{"INFORMATIONAL": 0, "LOW": 1, "MEDIUM": 40, "HIGH": 70, "CRITICAL": 90}[label]
}
