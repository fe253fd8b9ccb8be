package awssim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Security Hub is emulated for what keyrotor does with it: importing its
// CIS 1.14 findings in ASFF from each member account (with the account's
// default product ARN), reading them back, and resolving them when fixed.
func init() {
	registerService(&service{
		name: "securityhub", proto: protoRESTJSON,
		throttleCode: "TooManyRequestsException", throttleHTTP: 429,
		deniedCode: "AccessDeniedException", deniedHTTP: 403,
		authCode: "UnrecognizedClientException", authHTTP: 403,
		route: hubRoute,
		ops: map[string]opHandler{
			"BatchImportFindings": hubBatchImportFindings,
			"GetFindings":         hubGetFindings,
			"BatchUpdateFindings": hubBatchUpdateFindings,
		},
	})
	// The limits the Security Hub API reference documents per account and
	// region.
	defaultOperationLimits["securityhub:BatchImportFindings"] = rateLimit{perSecond: 10, burst: 30}
	defaultOperationLimits["securityhub:BatchUpdateFindings"] = rateLimit{perSecond: 10, burst: 30}
	defaultOperationLimits["securityhub:GetFindings"] = rateLimit{perSecond: 3, burst: 6}
}

func hubRoute(method, path string) (string, bool) {
	switch {
	case method == http.MethodPost && path == "/findings/import":
		return "BatchImportFindings", true
	case method == http.MethodPost && path == "/findings":
		return "GetFindings", true
	case method == http.MethodPatch && path == "/findings/batchupdate":
		return "BatchUpdateFindings", true
	}
	return "", false
}

// Security Hub limits, from the API reference and the ASFF guide.
const (
	hubMaxBatch       = 100
	hubMaxFindingSize = 240 << 10
	hubMaxRequestSize = 6 << 20
	hubMaxResources   = 32
	hubSchemaVersion  = "2018-10-08"
)

// SecurityHubResource is a resource a finding is about.
type SecurityHubResource struct {
	Type, ID string
}

// SecurityHubFinding is a stored finding as tests inspect it: the fields
// keyrotor's assertions need, and the whole finding as GetFindings returns it.
type SecurityHubFinding struct {
	ID, ProductARN, GeneratorID, AwsAccountID, Region string
	Title, Description                                string
	Types                                             []string
	SeverityLabel                                     string
	// ComplianceStatus is "" when the finding has no Compliance.
	ComplianceStatus, RecordState, WorkflowStatus string
	// The ASFF timestamps, zero when absent.
	CreatedAt, UpdatedAt, FirstObservedAt, LastObservedAt time.Time
	Resources                                             []SecurityHubResource
	// ASFF is the finding's JSON as GetFindings returns it.
	ASFF json.RawMessage
}

// hubFinding is a stored finding: its JSON document, the source of truth,
// and an index of the fields filters, sorting and updates use.
type hubFinding struct {
	doc map[string]json.RawMessage
	idx asffFinding
	// customer are the fields BatchUpdateFindings set, which later imports
	// may no longer change.
	customer map[string]bool
}

type hubFindings struct {
	byKey map[string]*hubFinding // ProductArn + "\x00" + Id
	order []*hubFinding          // by first import
}

// hubStore is the simulator's Security Hub. It is guarded by Sim.mu.
type hubStore struct {
	// enabled overrides the default (enabled) per account and region; a
	// region of "" covers every region of the account.
	enabled  map[trailKey]bool
	findings map[trailKey]*hubFindings
}

func (s *Sim) hubLocked() *hubStore {
	if s.hub == nil {
		s.hub = &hubStore{enabled: map[trailKey]bool{}, findings: map[trailKey]*hubFindings{}}
	}
	return s.hub
}

func (h *hubStore) isEnabled(account, region string) bool {
	if on, ok := h.enabled[trailKey{account, region}]; ok {
		return on
	}
	if on, ok := h.enabled[trailKey{account, ""}]; ok {
		return on
	}
	return true
}

// SetSecurityHubEnabled turns Security Hub on or off in accountID and
// region ("" for every region). It is on everywhere by default; where it
// is off, its calls fail with InvalidAccessException. Findings already
// imported are kept.
func (s *Sim) SetSecurityHubEnabled(accountID, region string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustAccount(accountID)
	h := s.hubLocked()
	if region == "" {
		for k := range h.enabled {
			if k.account == accountID {
				delete(h.enabled, k)
			}
		}
	}
	h.enabled[trailKey{accountID, region}] = enabled
}

// Findings returns a copy of the findings stored in accountID and region,
// in the order they were first imported.
func (s *Sim) Findings(accountID, region string) []SecurityHubFinding {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.hubLocked().findings[trailKey{accountID, region}]
	if fs == nil {
		return nil
	}
	out := make([]SecurityHubFinding, 0, len(fs.order))
	for _, f := range fs.order {
		out = append(out, f.export())
	}
	return out
}

func (f *hubFinding) export() SecurityHubFinding {
	x := f.idx
	sf := SecurityHubFinding{
		ID: str(x.ID), ProductARN: str(x.ProductArn), GeneratorID: str(x.GeneratorID),
		AwsAccountID: str(x.AwsAccountID), Region: str(x.Region), Title: str(x.Title),
		Description: str(x.Description), Types: append([]string(nil), x.Types...),
		SeverityLabel: x.severityLabel(), ComplianceStatus: x.complianceStatus(),
		RecordState: str(x.RecordState), WorkflowStatus: x.workflowStatus(),
		CreatedAt: asffTime(x.CreatedAt), UpdatedAt: asffTime(x.UpdatedAt),
		FirstObservedAt: asffTime(x.FirstObservedAt), LastObservedAt: asffTime(x.LastObservedAt),
	}
	for _, r := range x.Resources {
		sf.Resources = append(sf.Resources, SecurityHubResource{Type: str(r.Type), ID: str(r.ID)})
	}
	sf.ASFF, _ = json.Marshal(f.doc)
	return sf
}

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

// hubDefaultProduct is the product ARN of an account's own findings.
func hubDefaultProduct(region, account string) string {
	return fmt.Sprintf("arn:aws:securityhub:%s:%s:product/%s/default", region, account, account)
}

// hubSubscribed fails a call in an account and region where Security Hub
// is off.
func hubSubscribed(r *Request) error {
	if !r.Sim.hubLocked().isEnabled(r.Account.ID, r.Region) {
		return apiErr(401, "InvalidAccessException", "Account %s is not subscribed to AWS Security Hub", r.Account.ID)
	}
	return nil
}

func hubInvalidInput(format string, args ...any) error {
	return apiErr(400, "InvalidInputException", format, args...)
}

func (r *Request) hubFindingsLocked() *hubFindings {
	h := r.Sim.hubLocked()
	k := trailKey{r.Account.ID, r.Region}
	fs := h.findings[k]
	if fs == nil {
		fs = &hubFindings{byKey: map[string]*hubFinding{}}
		h.findings[k] = fs
	}
	return fs
}

type hubFailed struct {
	ID           string `json:"Id"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// hubImportFields are what BatchImportFindings may not change once a
// finding exists: the customer's workflow fields.
var hubImportFields = []string{"Note", "UserDefinedFields", "VerificationState", "Workflow", "WorkflowState"}

func hubBatchImportFindings(r *Request) (any, error) {
	if len(r.Body) > hubMaxRequestSize {
		return nil, hubInvalidInput("The request is larger than 6 MB.")
	}
	var in struct {
		Findings []json.RawMessage `json:"Findings"`
	}
	if err := r.DecodeJSON(&in); err != nil {
		return nil, err
	}
	if len(in.Findings) == 0 || len(in.Findings) > hubMaxBatch {
		return nil, hubInvalidInput("Findings must hold 1 to %d findings, got %d.", hubMaxBatch, len(in.Findings))
	}
	if err := hubSubscribed(r); err != nil {
		return nil, err
	}
	type item struct {
		doc map[string]json.RawMessage
		idx asffFinding
		bad string
	}
	items := make([]item, len(in.Findings))
	own := hubDefaultProduct(r.Region, r.Account.ID)
	for i, raw := range in.Findings {
		it := &items[i]
		if json.Unmarshal(raw, &it.doc) != nil || json.Unmarshal(raw, &it.idx) != nil {
			it.bad = hubNotASFF("data should be object")
			continue
		}
		if len(raw) > hubMaxFindingSize {
			it.bad = "Finding size exceeds 240 KB."
			continue
		}
		if it.doc == nil {
			it.bad = hubNotASFF("data should be object")
			continue
		}
		if it.bad = it.idx.validate(); it.bad != "" {
			continue
		}
		// Only the account a finding is about may import it, under its own
		// default product; anything else is refused for the whole batch,
		// as Security Hub does.
		product := *it.idx.ProductArn
		if err := r.Authorize(product); err != nil {
			return nil, err
		}
		if product != own || *it.idx.AwsAccountID != r.Account.ID {
			return nil, apiErr(403, "AccessDeniedException",
				"User: %s is not authorized to perform: securityhub:BatchImportFindings on resource: %s", r.Cred.PrincipalARN, product)
		}
	}
	fs := r.hubFindingsLocked()
	out := struct {
		FailedCount    int         `json:"FailedCount"`
		SuccessCount   int         `json:"SuccessCount"`
		FailedFindings []hubFailed `json:"FailedFindings"`
	}{FailedFindings: []hubFailed{}}
	for _, it := range items {
		if it.bad == "" {
			it.bad = fs.upsert(r, it.doc, it.idx)
		}
		if it.bad != "" {
			out.FailedCount++
			out.FailedFindings = append(out.FailedFindings, hubFailed{ID: str(it.idx.ID), ErrorCode: "InvalidInput", ErrorMessage: it.bad})
			continue
		}
		out.SuccessCount++
	}
	return out, nil
}

// upsert stores a valid finding, creating it or updating it in place, and
// returns the FailedFinding message when the update is refused.
func (fs *hubFindings) upsert(r *Request, doc map[string]json.RawMessage, idx asffFinding) string {
	key := *idx.ProductArn + "\x00" + *idx.ID
	old := fs.byKey[key]
	if old != nil {
		oldAt, newAt := asffTime(old.idx.UpdatedAt), asffTime(idx.UpdatedAt)
		if newAt.Before(oldAt) {
			return fmt.Sprintf("UpdatedAt %s is earlier than the stored finding's UpdatedAt %s.", *idx.UpdatedAt, *old.idx.UpdatedAt)
		}
	}
	hubServerFields(r, doc, idx)
	if old == nil {
		f := &hubFinding{doc: doc, customer: map[string]bool{}}
		f.reindex()
		fs.byKey[key] = f
		fs.order = append(fs.order, f)
		return ""
	}
	// The customer's workflow fields survive a provider's update, and so
	// do the fields the customer set with BatchUpdateFindings.
	for _, k := range hubImportFields {
		if v, ok := old.doc[k]; ok {
			doc[k] = v
		} else {
			delete(doc, k)
		}
	}
	for k := range old.customer {
		if v, ok := old.doc[k]; ok {
			doc[k] = v
		}
	}
	// Security Hub reopens a finding that comes back: NOTIFIED or RESOLVED
	// go back to NEW when the record is reactivated or compliance fails.
	newState := "ACTIVE"
	if idx.RecordState != nil {
		newState = *idx.RecordState
	}
	if wf := old.idx.workflowStatus(); wf == "NOTIFIED" || wf == "RESOLVED" {
		reactivated := str(old.idx.RecordState) == "ARCHIVED" && newState == "ACTIVE"
		failedAgain := old.idx.complianceStatus() == "PASSED" && oneOf(idx.complianceStatus(), []string{"FAILED", "WARNING", "NOT_AVAILABLE"})
		if reactivated || failedAgain {
			doc["Workflow"] = json.RawMessage(`{"Status":"NEW"}`)
			doc["WorkflowState"] = json.RawMessage(`"NEW"`)
		}
	}
	old.doc = doc
	old.reindex()
	return ""
}

// hubServerFields adds what Security Hub itself sets on an imported finding.
func hubServerFields(r *Request, doc map[string]json.RawMessage, idx asffFinding) {
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		doc[k] = b
	}
	set("Region", r.Region)
	set("ProductName", "Default")
	set("CompanyName", "Personal")
	set("ProcessedAt", r.Now.UTC().Format("2006-01-02T15:04:05.000Z"))
	if idx.RecordState == nil {
		set("RecordState", "ACTIVE")
	}
	if _, ok := doc["Workflow"]; !ok {
		set("Workflow", map[string]string{"Status": "NEW"})
	}
	if _, ok := doc["WorkflowState"]; !ok {
		set("WorkflowState", "NEW")
	}
	// Severity carries both its label and its normalized score.
	var sev map[string]json.RawMessage
	_ = json.Unmarshal(doc["Severity"], &sev)
	if sev == nil {
		sev = map[string]json.RawMessage{}
	}
	label := idx.severityLabel()
	if label == "" && idx.FindingProviderFields != nil && idx.FindingProviderFields.Severity != nil {
		label = str(idx.FindingProviderFields.Severity.Label)
	}
	if label == "" && idx.Severity != nil && idx.Severity.Normalized != nil {
		label = hubLabelFor(*idx.Severity.Normalized)
	}
	sev["Label"], _ = json.Marshal(label)
	if _, ok := sev["Normalized"]; !ok {
		sev["Normalized"], _ = json.Marshal(hubNormalizedFor(label))
	}
	set("Severity", sev)
	// FindingProviderFields mirrors the provider's severity and types.
	var fpf map[string]json.RawMessage
	_ = json.Unmarshal(doc["FindingProviderFields"], &fpf)
	if fpf == nil {
		fpf = map[string]json.RawMessage{}
	}
	if _, ok := fpf["Severity"]; !ok {
		fpf["Severity"], _ = json.Marshal(map[string]string{"Label": label})
	}
	types := idx.Types
	if len(types) == 0 && idx.FindingProviderFields != nil {
		types = idx.FindingProviderFields.Types
	}
	if _, ok := fpf["Types"]; !ok {
		fpf["Types"], _ = json.Marshal(types)
	}
	if _, ok := doc["Types"]; !ok {
		set("Types", types)
	}
	set("FindingProviderFields", fpf)
	var pf map[string]string
	_ = json.Unmarshal(doc["ProductFields"], &pf)
	if pf == nil {
		pf = map[string]string{}
	}
	pf["aws/securityhub/FindingId"] = *idx.ProductArn + "/" + *idx.ID
	pf["aws/securityhub/ProductName"] = "Default"
	pf["aws/securityhub/CompanyName"] = "Personal"
	set("ProductFields", pf)
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

func (f *hubFinding) reindex() {
	b, _ := json.Marshal(f.doc)
	f.idx = asffFinding{}
	_ = json.Unmarshal(b, &f.idx)
}

// ---- GetFindings ----

type hubStringFilter struct {
	Value      *string `json:"Value"`
	Comparison string  `json:"Comparison"`
}

type hubSortCriterion struct {
	Field     *string `json:"Field"`
	SortOrder string  `json:"SortOrder"`
}

// hubFilterFields are the string filters the simulator evaluates, each with
// the values of a finding it compares.
var hubFilterFields = map[string]func(x *asffFinding) []string{
	"Id":               func(x *asffFinding) []string { return one(x.ID) },
	"ProductArn":       func(x *asffFinding) []string { return one(x.ProductArn) },
	"AwsAccountId":     func(x *asffFinding) []string { return one(x.AwsAccountID) },
	"GeneratorId":      func(x *asffFinding) []string { return one(x.GeneratorID) },
	"Title":            func(x *asffFinding) []string { return one(x.Title) },
	"Region":           func(x *asffFinding) []string { return one(x.Region) },
	"ProductName":      func(x *asffFinding) []string { return one(x.ProductName) },
	"CompanyName":      func(x *asffFinding) []string { return one(x.CompanyName) },
	"RecordState":      func(x *asffFinding) []string { return one(x.RecordState) },
	"ComplianceStatus": func(x *asffFinding) []string { return nonEmpty(x.complianceStatus()) },
	"WorkflowStatus":   func(x *asffFinding) []string { return nonEmpty(x.workflowStatus()) },
	"SeverityLabel":    func(x *asffFinding) []string { return nonEmpty(x.severityLabel()) },
	"Type":             func(x *asffFinding) []string { return x.Types },
	"ResourceId": func(x *asffFinding) []string {
		var out []string
		for _, r := range x.Resources {
			out = append(out, str(r.ID))
		}
		return out
	},
	"ResourceType": func(x *asffFinding) []string {
		var out []string
		for _, r := range x.Resources {
			out = append(out, str(r.Type))
		}
		return out
	},
}

// hubSortFields are the fields GetFindings can sort by here.
var hubSortFields = map[string]func(x *asffFinding) string{
	"Id": func(x *asffFinding) string { return str(x.ID) }, "ProductArn": func(x *asffFinding) string { return str(x.ProductArn) },
	"GeneratorId": func(x *asffFinding) string { return str(x.GeneratorID) }, "AwsAccountId": func(x *asffFinding) string { return str(x.AwsAccountID) },
	"Title": func(x *asffFinding) string { return str(x.Title) }, "RecordState": func(x *asffFinding) string { return str(x.RecordState) },
	"ComplianceStatus": (*asffFinding).complianceStatus, "WorkflowStatus": (*asffFinding).workflowStatus,
	"SeverityLabel":   func(x *asffFinding) string { return strconv.Itoa(hubNormalizedFor(x.severityLabel())) },
	"CreatedAt":       func(x *asffFinding) string { return sortableTime(x.CreatedAt) },
	"UpdatedAt":       func(x *asffFinding) string { return sortableTime(x.UpdatedAt) },
	"FirstObservedAt": func(x *asffFinding) string { return sortableTime(x.FirstObservedAt) },
	"LastObservedAt":  func(x *asffFinding) string { return sortableTime(x.LastObservedAt) },
}

func one(p *string) []string {
	if p == nil {
		return nil
	}
	return []string{*p}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func sortableTime(p *string) string {
	t := asffTime(p)
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02T15:04:05.000000000Z")
}

// hubFilter is one field's filters, checked for the combinations Security
// Hub refuses.
type hubFilter struct {
	field     string
	values    func(x *asffFinding) []string
	pos, neg  []hubStringFilter
	hasEquals bool
	hasNegEq  bool
}

func hubParseFilters(raw json.RawMessage) ([]hubFilter, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, apiErr(400, "SerializationException", "cannot parse Filters: %v", err)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []hubFilter
	for _, name := range names {
		values, ok := hubFilterFields[name]
		if !ok {
			return nil, hubInvalidInput("awssim does not implement the GetFindings filter %s.", name)
		}
		var list []hubStringFilter
		if err := json.Unmarshal(m[name], &list); err != nil {
			return nil, hubInvalidInput("Filters.%s must be a list of string filters.", name)
		}
		if len(list) > 20 {
			return nil, hubInvalidInput("Filters.%s has more than 20 values.", name)
		}
		f := hubFilter{field: name, values: values}
		for _, sf := range list {
			if sf.Value == nil {
				return nil, hubInvalidInput("Filters.%s: a string filter needs a Value.", name)
			}
			switch sf.Comparison {
			case "EQUALS":
				f.hasEquals = true
				f.pos = append(f.pos, sf)
			case "PREFIX":
				f.pos = append(f.pos, sf)
			case "NOT_EQUALS", "PREFIX_NOT_EQUALS":
				f.hasNegEq = true
				f.neg = append(f.neg, sf)
			case "CONTAINS", "NOT_CONTAINS", "CONTAINS_WORD":
				return nil, hubInvalidInput("Filters.%s: GetFindings does not support the %s comparison.", name, sf.Comparison)
			default:
				return nil, hubInvalidInput("Filters.%s: invalid comparison %q.", name, sf.Comparison)
			}
		}
		if f.hasEquals && f.hasNegEq {
			return nil, hubInvalidInput("Filters.%s: EQUALS cannot be combined with NOT_EQUALS or PREFIX_NOT_EQUALS on the same field.", name)
		}
		out = append(out, f)
	}
	return out, nil
}

// matches applies one field's filters: any EQUALS or PREFIX may match,
// and every NOT_EQUALS and PREFIX_NOT_EQUALS must hold.
func (f hubFilter) matches(x *asffFinding) bool {
	vals := f.values(x)
	hit := func(sf hubStringFilter, v string) bool {
		switch sf.Comparison {
		case "EQUALS", "NOT_EQUALS":
			return v == *sf.Value
		default:
			return strings.HasPrefix(v, *sf.Value)
		}
	}
	if len(f.pos) > 0 {
		ok := false
		for _, sf := range f.pos {
			for _, v := range vals {
				if hit(sf, v) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	for _, sf := range f.neg {
		for _, v := range vals {
			if hit(sf, v) {
				return false
			}
		}
	}
	return true
}

func hubGetFindings(r *Request) (any, error) {
	var in struct {
		Filters      json.RawMessage    `json:"Filters"`
		SortCriteria []hubSortCriterion `json:"SortCriteria"`
		MaxResults   *int               `json:"MaxResults"`
		NextToken    *string            `json:"NextToken"`
	}
	if err := r.DecodeJSON(&in); err != nil {
		return nil, err
	}
	filters, err := hubParseFilters(in.Filters)
	if err != nil {
		return nil, err
	}
	for _, sc := range in.SortCriteria {
		if sc.Field == nil || hubSortFields[*sc.Field] == nil {
			return nil, hubInvalidInput("awssim cannot sort findings by %q.", str(sc.Field))
		}
		if sc.SortOrder != "" && sc.SortOrder != "asc" && sc.SortOrder != "desc" {
			return nil, hubInvalidInput("SortOrder must be asc or desc, got %q.", sc.SortOrder)
		}
	}
	requested := 0
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			return nil, hubInvalidInput("MaxResults must be between 1 and 100, got %d.", *in.MaxResults)
		}
		requested = *in.MaxResults
	}
	if err := hubSubscribed(r); err != nil {
		return nil, err
	}
	sortRaw, _ := json.Marshal(in.SortCriteria)
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s|%s", r.Account.ID, r.Region, bytes.TrimSpace(in.Filters), sortRaw)
	fp := strconv.FormatUint(h.Sum64(), 36)
	offset := 0
	if in.NextToken != nil {
		offset, err = hubParseToken(*in.NextToken, fp)
		if err != nil {
			return nil, err
		}
	}
	var matched []*hubFinding
	for _, f := range r.hubFindingsLocked().order {
		ok := true
		for _, flt := range filters {
			if !flt.matches(&f.idx) {
				ok = false
				break
			}
		}
		if ok {
			matched = append(matched, f)
		}
	}
	if len(in.SortCriteria) > 0 {
		sort.SliceStable(matched, func(i, j int) bool {
			for _, sc := range in.SortCriteria {
				key := hubSortFields[*sc.Field]
				a, b := key(&matched[i].idx), key(&matched[j].idx)
				if a == b {
					continue
				}
				if sc.SortOrder == "desc" {
					return a > b
				}
				return a < b
			}
			return false
		})
	}
	size := r.PageSize(requested)
	if requested == 0 && size > 100 {
		size = 100
	}
	out := struct {
		Findings  []map[string]json.RawMessage `json:"Findings"`
		NextToken *string                      `json:"NextToken,omitempty"`
	}{Findings: []map[string]json.RawMessage{}}
	if offset > len(matched) {
		offset = len(matched)
	}
	end := min(offset+size, len(matched))
	for _, f := range matched[offset:end] {
		out.Findings = append(out.Findings, f.doc)
	}
	if end < len(matched) {
		tok := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("v1|%d|%s", end, fp)))
		out.NextToken = &tok
	}
	return out, nil
}

func hubParseToken(tok, fp string) (int, error) {
	bad := hubInvalidInput("Invalid NextToken.")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, bad
	}
	f := strings.Split(string(raw), "|")
	if len(f) != 3 || f[0] != "v1" || f[2] != fp {
		return 0, bad
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 0 {
		return 0, bad
	}
	return n, nil
}

// ---- BatchUpdateFindings ----

type hubFindingIdentifier struct {
	ID         *string `json:"Id"`
	ProductArn *string `json:"ProductArn"`
}

// hubUpdatable are the fields BatchUpdateFindings sets, by request name.
var hubUpdatable = []string{"Confidence", "Criticality", "Note", "RelatedFindings", "Severity", "Types", "UserDefinedFields", "VerificationState", "Workflow"}

// hubVerificationStates are ASFF's VerificationState values.
var hubVerificationStates = []string{"UNKNOWN", "TRUE_POSITIVE", "FALSE_POSITIVE", "BENIGN_POSITIVE"}

func hubBatchUpdateFindings(r *Request) (any, error) {
	var in map[string]json.RawMessage
	if err := r.DecodeJSON(&in); err != nil {
		return nil, err
	}
	var ids []hubFindingIdentifier
	if err := json.Unmarshal(in["FindingIdentifiers"], &ids); err != nil || len(ids) == 0 || len(ids) > hubMaxBatch {
		return nil, hubInvalidInput("FindingIdentifiers must hold 1 to %d findings.", hubMaxBatch)
	}
	var typed struct {
		Note *struct {
			Text      *string `json:"Text"`
			UpdatedBy *string `json:"UpdatedBy"`
		} `json:"Note"`
		Severity *struct {
			Label      *string  `json:"Label"`
			Normalized *float64 `json:"Normalized"`
		} `json:"Severity"`
		Workflow *struct {
			Status *string `json:"Status"`
		} `json:"Workflow"`
		VerificationState *string `json:"VerificationState"`
	}
	if err := r.DecodeJSON(&typed); err != nil {
		return nil, err
	}
	if n := typed.Note; n != nil && (n.Text == nil || n.UpdatedBy == nil || *n.Text == "" || *n.UpdatedBy == "") {
		return nil, hubInvalidInput("Note needs Text and UpdatedBy.")
	}
	if w := typed.Workflow; w != nil && (w.Status == nil || !oneOf(*w.Status, hubWorkflow)) {
		return nil, hubInvalidInput("Workflow.Status must be one of %s.", strings.Join(hubWorkflow, ", "))
	}
	if s := typed.Severity; s != nil && s.Label != nil && !oneOf(*s.Label, hubSeverityLabels) {
		return nil, hubInvalidInput("Severity.Label must be one of %s.", strings.Join(hubSeverityLabels, ", "))
	}
	if v := typed.VerificationState; v != nil && !oneOf(*v, hubVerificationStates) {
		return nil, hubInvalidInput("VerificationState must be one of %s.", strings.Join(hubVerificationStates, ", "))
	}
	if err := hubSubscribed(r); err != nil {
		return nil, err
	}
	type unprocessed struct {
		FindingIdentifier hubFindingIdentifier `json:"FindingIdentifier"`
		ErrorCode         string               `json:"ErrorCode"`
		ErrorMessage      string               `json:"ErrorMessage"`
	}
	out := struct {
		ProcessedFindings   []hubFindingIdentifier `json:"ProcessedFindings"`
		UnprocessedFindings []unprocessed          `json:"UnprocessedFindings"`
	}{ProcessedFindings: []hubFindingIdentifier{}, UnprocessedFindings: []unprocessed{}}
	fs := r.hubFindingsLocked()
	for _, id := range ids {
		f := fs.byKey[str(id.ProductArn)+"\x00"+str(id.ID)]
		if f == nil {
			out.UnprocessedFindings = append(out.UnprocessedFindings, unprocessed{id, "FindingNotFound", "Finding Not Found"})
			continue
		}
		if err := r.Authorize(str(id.ProductArn)); err != nil {
			return nil, err
		}
		for _, k := range hubUpdatable {
			v, ok := in[k]
			if !ok || string(bytes.TrimSpace(v)) == "null" {
				continue
			}
			switch k {
			case "Note":
				var note map[string]any
				_ = json.Unmarshal(v, &note)
				note["UpdatedAt"] = r.Now.UTC().Format("2006-01-02T15:04:05.000Z")
				v, _ = json.Marshal(note)
			case "Severity":
				var sev map[string]json.RawMessage
				_ = json.Unmarshal(f.doc["Severity"], &sev)
				var upd map[string]json.RawMessage
				_ = json.Unmarshal(v, &upd)
				if sev == nil {
					sev = map[string]json.RawMessage{}
				}
				for kk, vv := range upd {
					sev[kk] = vv
				}
				// Label and Normalized stay in step, as Security Hub keeps them.
				switch {
				case typed.Severity != nil && typed.Severity.Label != nil:
					sev["Normalized"], _ = json.Marshal(hubNormalizedFor(*typed.Severity.Label))
				case typed.Severity != nil && typed.Severity.Normalized != nil:
					sev["Label"], _ = json.Marshal(hubLabelFor(*typed.Severity.Normalized))
				}
				v, _ = json.Marshal(sev)
			}
			f.doc[k] = v
			f.customer[k] = true
		}
		// Updates by customers leave UpdatedAt, the provider's field, alone.
		f.reindex()
		out.ProcessedFindings = append(out.ProcessedFindings, id)
	}
	return out, nil
}
