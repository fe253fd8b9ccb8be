package awssim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go/middleware"

	"keyrotor/internal/awssim"
)

// hubWorld is an organization with a member account that imports findings.
type hubWorld struct {
	*iamWorld
}

func newHubWorld(t *testing.T, opts ...awssim.Option) hubWorld {
	t.Helper()
	w := newIAMWorld(t, opts...)
	w.sim.SetOperationRateLimit("securityhub:BatchImportFindings", 0, 0)
	w.sim.SetOperationRateLimit("securityhub:GetFindings", 0, 0)
	return hubWorld{w}
}

func (w hubWorld) hub(c awssim.Credentials, region string, opts ...func(*securityhub.Options)) *securityhub.Client {
	cfg := stableCfg(w.url, c)
	cfg.Region = region
	return securityhub.NewFromConfig(cfg, append([]func(*securityhub.Options){func(o *securityhub.Options) { o.RetryMaxAttempts = 1 }}, opts...)...)
}

// noClientValidation lets requests the SDK would refuse reach the
// simulator, to test its own validation.
func noClientValidation(o *securityhub.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		_, err := s.Initialize.Remove("OperationInputValidation")
		return err
	})
}

func defaultProduct(region, account string) string {
	return fmt.Sprintf("arn:aws:securityhub:%s:%s:product/%s/default", region, account, account)
}

// cisFinding is a keyrotor-like CIS 1.14 finding about one access key.
func cisFinding(region, account, id string, updated time.Time, status shtypes.ComplianceStatus) shtypes.AwsSecurityFinding {
	at := updated.UTC().Format(time.RFC3339)
	return shtypes.AwsSecurityFinding{
		SchemaVersion: aws.String("2018-10-08"),
		Id:            aws.String(id),
		ProductArn:    aws.String(defaultProduct(region, account)),
		GeneratorId:   aws.String("keyrotor/cis-1.14"),
		AwsAccountId:  aws.String(account),
		Types:         []string{"Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"},
		CreatedAt:     aws.String("2026-11-01T06:00:00Z"),
		UpdatedAt:     aws.String(at),
		Severity:      &shtypes.Severity{Label: shtypes.SeverityLabelMedium},
		Title:         aws.String("Access key older than 90 days"),
		Description:   aws.String("An IAM access key has not been rotated in 90 days."),
		Resources:     []shtypes.Resource{{Type: aws.String("AwsIamAccessKey"), Id: aws.String("AKIA" + strings.ToUpper(id))}},
		Compliance:    &shtypes.Compliance{Status: status},
	}
}

func importFindings(t *testing.T, c *securityhub.Client, fs ...shtypes.AwsSecurityFinding) *securityhub.BatchImportFindingsOutput {
	t.Helper()
	out, err := c.BatchImportFindings(context.Background(), &securityhub.BatchImportFindingsInput{Findings: fs})
	if err != nil {
		t.Fatalf("BatchImportFindings: %v", err)
	}
	return out
}

func getAll(t *testing.T, c *securityhub.Client, in *securityhub.GetFindingsInput) []shtypes.AwsSecurityFinding {
	t.Helper()
	var out []shtypes.AwsSecurityFinding
	p := securityhub.NewGetFindingsPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("GetFindings: %v", err)
		}
		out = append(out, page.Findings...)
	}
	return out
}

func TestSecurityHubImportAndGet(t *testing.T) {
	w := newHubWorld(t)
	c := w.hub(w.root, "us-east-1")
	now := w.sim.Now()
	out := importFindings(t, c,
		cisFinding("us-east-1", iamMemberID, "k1", now, shtypes.ComplianceStatusFailed),
		cisFinding("us-east-1", iamMemberID, "k2", now, shtypes.ComplianceStatusPassed))
	if aws.ToInt32(out.SuccessCount) != 2 || aws.ToInt32(out.FailedCount) != 0 || len(out.FailedFindings) != 0 {
		t.Fatalf("import: %d ok, %d failed %+v", aws.ToInt32(out.SuccessCount), aws.ToInt32(out.FailedCount), out.FailedFindings)
	}
	got := getAll(t, c, &securityhub.GetFindingsInput{})
	if len(got) != 2 {
		t.Fatalf("%d findings", len(got))
	}
	f := got[0]
	if aws.ToString(f.Id) != "k1" || aws.ToString(f.Region) != "us-east-1" || aws.ToString(f.ProductName) != "Default" ||
		aws.ToString(f.CompanyName) != "Personal" || f.RecordState != shtypes.RecordStateActive ||
		f.Workflow == nil || f.Workflow.Status != shtypes.WorkflowStatusNew || f.Compliance.Status != shtypes.ComplianceStatusFailed {
		t.Errorf("finding = %+v", f)
	}
	if f.Severity.Label != shtypes.SeverityLabelMedium || aws.ToInt32(f.Severity.Normalized) != 40 {
		t.Errorf("severity = %+v", f.Severity)
	}
	if f.FindingProviderFields == nil || f.FindingProviderFields.Severity.Label != shtypes.SeverityLabelMedium || len(f.FindingProviderFields.Types) != 1 {
		t.Errorf("FindingProviderFields = %+v", f.FindingProviderFields)
	}
	if f.ProductFields["aws/securityhub/FindingId"] != defaultProduct("us-east-1", iamMemberID)+"/k1" || aws.ToString(f.ProcessedAt) == "" {
		t.Errorf("ProductFields = %v, ProcessedAt %q", f.ProductFields, aws.ToString(f.ProcessedAt))
	}

	// The accessor shows the same, and the whole document reads back.
	stored := w.sim.Findings(iamMemberID, "us-east-1")
	if len(stored) != 2 || stored[0].ID != "k1" || stored[0].ComplianceStatus != "FAILED" || stored[0].WorkflowStatus != "NEW" ||
		!stored[0].UpdatedAt.Equal(now.Truncate(time.Second)) || stored[0].Resources[0] != (awssim.SecurityHubResource{Type: "AwsIamAccessKey", ID: "AKIAK1"}) {
		t.Fatalf("Findings = %+v", stored)
	}
	var doc map[string]any
	if err := json.Unmarshal(stored[0].ASFF, &doc); err != nil || doc["Title"] != "Access key older than 90 days" {
		t.Fatalf("ASFF = %s (%v)", stored[0].ASFF, err)
	}
	// CloudTrail records the import as a write, without the findings.
	var imports int
	for _, e := range w.sim.TrailEvents(iamMemberID, "us-east-1") {
		if e.EventSource == "securityhub.amazonaws.com" && e.EventName == "BatchImportFindings" && !e.ReadOnly && len(e.RequestParameters) == 0 {
			imports++
		}
	}
	if imports != 1 {
		t.Errorf("%d BatchImportFindings events recorded, want 1", imports)
	}
	// Findings live per region.
	if got := getAll(t, w.hub(w.root, "eu-west-1"), &securityhub.GetFindingsInput{}); len(got) != 0 {
		t.Fatalf("eu-west-1 holds %d findings", len(got))
	}
}

func TestSecurityHubReimportUpdatesInPlace(t *testing.T) {
	w := newHubWorld(t)
	c := w.hub(w.root, "us-east-1")
	ctx := context.Background()
	t0 := w.sim.Now()
	importFindings(t, c, cisFinding("us-east-1", iamMemberID, "k1", t0, shtypes.ComplianceStatusFailed))

	// The customer takes the finding in hand.
	id := shtypes.AwsSecurityFindingIdentifier{Id: aws.String("k1"), ProductArn: aws.String(defaultProduct("us-east-1", iamMemberID))}
	up, err := c.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
		FindingIdentifiers: []shtypes.AwsSecurityFindingIdentifier{id, {Id: aws.String("nope"), ProductArn: id.ProductArn}},
		Workflow:           &shtypes.WorkflowUpdate{Status: shtypes.WorkflowStatusNotified},
		Note:               &shtypes.NoteUpdate{Text: aws.String("owner told"), UpdatedBy: aws.String("secops")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.ProcessedFindings) != 1 || len(up.UnprocessedFindings) != 1 || aws.ToString(up.UnprocessedFindings[0].ErrorCode) != "FindingNotFound" {
		t.Fatalf("BatchUpdateFindings = %+v", up)
	}

	// The provider's update: same (ProductArn, Id), later UpdatedAt.
	f := cisFinding("us-east-1", iamMemberID, "k1", t0.Add(time.Hour), shtypes.ComplianceStatusPassed)
	f.Title = aws.String("Access key rotated")
	f.Workflow = &shtypes.Workflow{Status: shtypes.WorkflowStatusSuppressed} // not the provider's to change
	importFindings(t, c, f)
	got := w.sim.Findings(iamMemberID, "us-east-1")
	if len(got) != 1 {
		t.Fatalf("%d findings after a re-import, want 1", len(got))
	}
	if got[0].Title != "Access key rotated" || got[0].ComplianceStatus != "PASSED" || got[0].WorkflowStatus != "NOTIFIED" ||
		!got[0].UpdatedAt.Equal(t0.Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("after update: %+v", got[0])
	}
	if !strings.Contains(string(got[0].ASFF), "owner told") {
		t.Errorf("the customer's note was lost: %s", got[0].ASFF)
	}

	// UpdatedAt may not go back.
	stale := cisFinding("us-east-1", iamMemberID, "k1", t0, shtypes.ComplianceStatusFailed)
	out := importFindings(t, c, stale)
	if aws.ToInt32(out.FailedCount) != 1 || aws.ToString(out.FailedFindings[0].Id) != "k1" || aws.ToString(out.FailedFindings[0].ErrorCode) != "InvalidInput" {
		t.Fatalf("older UpdatedAt: %+v", out)
	}
	if w.sim.Findings(iamMemberID, "us-east-1")[0].ComplianceStatus != "PASSED" {
		t.Fatal("an older update was applied")
	}

	// Failing again reopens the finding: NOTIFIED goes back to NEW.
	importFindings(t, c, cisFinding("us-east-1", iamMemberID, "k1", t0.Add(2*time.Hour), shtypes.ComplianceStatusFailed))
	if st := w.sim.Findings(iamMemberID, "us-east-1")[0].WorkflowStatus; st != "NEW" {
		t.Fatalf("workflow after failing again = %s, want NEW", st)
	}

	// Archiving is the provider's: RecordState follows the import.
	arch := cisFinding("us-east-1", iamMemberID, "k1", t0.Add(3*time.Hour), shtypes.ComplianceStatusPassed)
	arch.RecordState = shtypes.RecordStateArchived
	importFindings(t, c, arch)
	archived := getAll(t, c, &securityhub.GetFindingsInput{Filters: &shtypes.AwsSecurityFindingFilters{
		RecordState: []shtypes.StringFilter{{Value: aws.String("ARCHIVED"), Comparison: shtypes.StringFilterComparisonEquals}},
	}})
	if len(archived) != 1 {
		t.Fatalf("%d archived findings", len(archived))
	}
}

func TestSecurityHubImportValidation(t *testing.T) {
	w := newHubWorld(t)
	c := w.hub(w.root, "us-east-1", noClientValidation)
	ctx := context.Background()
	now := w.sim.Now()
	good := func(id string) shtypes.AwsSecurityFinding {
		return cisFinding("us-east-1", iamMemberID, id, now, shtypes.ComplianceStatusFailed)
	}
	cases := []struct {
		name   string
		mutate func(f *shtypes.AwsSecurityFinding)
		want   string
	}{
		{"no title", func(f *shtypes.AwsSecurityFinding) { f.Title = nil }, "'Title'"},
		{"empty description", func(f *shtypes.AwsSecurityFinding) { f.Description = aws.String("") }, "'Description'"},
		{"schema", func(f *shtypes.AwsSecurityFinding) { f.SchemaVersion = aws.String("2020-01-01") }, "SchemaVersion"},
		{"no generator", func(f *shtypes.AwsSecurityFinding) { f.GeneratorId = nil }, "'GeneratorId'"},
		{"no types", func(f *shtypes.AwsSecurityFinding) { f.Types = nil }, "'Types'"},
		{"bad type", func(f *shtypes.AwsSecurityFinding) { f.Types = []string{"Keys/Old"} }, "namespace"},
		{"no severity", func(f *shtypes.AwsSecurityFinding) { f.Severity = nil }, "'Severity'"},
		{"bad label", func(f *shtypes.AwsSecurityFinding) { f.Severity = &shtypes.Severity{Label: "URGENT"} }, "Severity.Label"},
		{"bad time", func(f *shtypes.AwsSecurityFinding) { f.UpdatedAt = aws.String("yesterday") }, "UpdatedAt"},
		{"no resources", func(f *shtypes.AwsSecurityFinding) { f.Resources = nil }, "'Resources'"},
		{"resource id", func(f *shtypes.AwsSecurityFinding) {
			f.Resources = []shtypes.Resource{{Type: aws.String("AwsIamAccessKey")}}
		}, "'Id'"},
		{"too many resources", func(f *shtypes.AwsSecurityFinding) {
			f.Resources = nil
			for i := range 33 {
				f.Resources = append(f.Resources, shtypes.Resource{Type: aws.String("AwsIamAccessKey"), Id: aws.String(fmt.Sprint(i))})
			}
		}, "32"},
		{"compliance", func(f *shtypes.AwsSecurityFinding) { f.Compliance = &shtypes.Compliance{Status: "MAYBE"} }, "Compliance.Status"},
		{"record state", func(f *shtypes.AwsSecurityFinding) { f.RecordState = "DELETED" }, "RecordState"},
	}
	batch := []shtypes.AwsSecurityFinding{good("ok-1")}
	for i, tc := range cases {
		f := good(fmt.Sprintf("bad-%d", i))
		tc.mutate(&f)
		batch = append(batch, f)
	}
	batch = append(batch, good("ok-2"))
	// Types may come from FindingProviderFields, Severity as Normalized only.
	fpf := good("ok-3")
	fpf.Types, fpf.Severity = nil, &shtypes.Severity{Normalized: aws.Int32(75)}
	fpf.FindingProviderFields = &shtypes.FindingProviderFields{Types: []string{"Effects/Data Exposure"}}
	batch = append(batch, fpf)
	out, err := c.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: batch})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.SuccessCount) != 3 || aws.ToInt32(out.FailedCount) != int32(len(cases)) {
		t.Fatalf("%d ok, %d failed: %+v", aws.ToInt32(out.SuccessCount), aws.ToInt32(out.FailedCount), out.FailedFindings)
	}
	for i, tc := range cases {
		ff := out.FailedFindings[i]
		if aws.ToString(ff.Id) != fmt.Sprintf("bad-%d", i) || aws.ToString(ff.ErrorCode) != "InvalidInput" || !strings.Contains(aws.ToString(ff.ErrorMessage), tc.want) {
			t.Errorf("%s: failed finding %s %s %q, want a message with %s", tc.name, aws.ToString(ff.Id), aws.ToString(ff.ErrorCode), aws.ToString(ff.ErrorMessage), tc.want)
		}
	}
	for _, f := range w.sim.Findings(iamMemberID, "us-east-1") {
		if f.ID == "ok-3" && (f.SeverityLabel != "HIGH" || len(f.Types) != 1) {
			t.Errorf("ok-3 = %+v", f)
		}
	}

	// Request errors: batch size.
	var inv *shtypes.InvalidInputException
	if _, err := c.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: []shtypes.AwsSecurityFinding{}}); !errors.As(err, &inv) {
		t.Errorf("empty batch: err = %v", err)
	}
	var big []shtypes.AwsSecurityFinding
	for i := range 101 {
		big = append(big, good(fmt.Sprint("b", i)))
	}
	if _, err := c.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: big}); !errors.As(err, &inv) || iamHTTPStatus(err) != 400 {
		t.Errorf("101 findings: err = %v", err)
	}
}

func TestSecurityHubOnlyTheAccountsOwnFindings(t *testing.T) {
	w := newHubWorld(t)
	c := w.hub(w.root, "us-east-1")
	ctx := context.Background()
	now := w.sim.Now()
	other := cisFinding("us-east-1", iamMgmtID, "x", now, shtypes.ComplianceStatusFailed)
	foreignAccount := cisFinding("us-east-1", iamMemberID, "y", now, shtypes.ComplianceStatusFailed)
	foreignAccount.AwsAccountId = aws.String(iamMgmtID)
	otherRegion := cisFinding("eu-west-1", iamMemberID, "z", now, shtypes.ComplianceStatusFailed)
	for name, f := range map[string]shtypes.AwsSecurityFinding{"another account's product": other, "another account's id": foreignAccount, "another region's product": otherRegion} {
		_, err := c.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: []shtypes.AwsSecurityFinding{
			cisFinding("us-east-1", iamMemberID, "fine", now, shtypes.ComplianceStatusFailed), f,
		}})
		if iamErrCode(err) != "AccessDeniedException" || iamHTTPStatus(err) != 403 || !strings.Contains(err.Error(), aws.ToString(f.ProductArn)) {
			t.Errorf("%s: err = %v, want AccessDeniedException naming the product", name, err)
		}
	}
	if n := len(w.sim.Findings(iamMemberID, "us-east-1")); n != 0 {
		t.Fatalf("a refused batch imported %d findings", n)
	}
}

func TestSecurityHubMustBeEnabled(t *testing.T) {
	w := newHubWorld(t)
	ctx := context.Background()
	w.sim.SetSecurityHubEnabled(iamMemberID, "", false)
	w.sim.SetSecurityHubEnabled(iamMemberID, "eu-west-1", true)
	c := w.hub(w.root, "us-east-1")
	var ia *shtypes.InvalidAccessException
	_, err := c.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: []shtypes.AwsSecurityFinding{
		cisFinding("us-east-1", iamMemberID, "k1", w.sim.Now(), shtypes.ComplianceStatusFailed)}})
	if !errors.As(err, &ia) || iamHTTPStatus(err) != 401 || !strings.Contains(err.Error(), "not subscribed") {
		t.Fatalf("import with Security Hub off: err = %v", err)
	}
	if _, err := c.GetFindings(ctx, &securityhub.GetFindingsInput{}); !errors.As(err, &ia) {
		t.Fatalf("get with Security Hub off: err = %v", err)
	}
	eu := w.hub(w.root, "eu-west-1")
	importFindings(t, eu, cisFinding("eu-west-1", iamMemberID, "k1", w.sim.Now(), shtypes.ComplianceStatusFailed))
	w.sim.SetSecurityHubEnabled(iamMemberID, "", true)
	if _, err := c.GetFindings(ctx, &securityhub.GetFindingsInput{}); err != nil {
		t.Fatalf("after enabling: %v", err)
	}
}

func TestSecurityHubGetFindingsFilters(t *testing.T) {
	w := newHubWorld(t)
	c := w.hub(w.root, "us-east-1")
	now := w.sim.Now()
	var fs []shtypes.AwsSecurityFinding
	for i, st := range []shtypes.ComplianceStatus{"FAILED", "PASSED", "FAILED", "WARNING", "NOT_AVAILABLE"} {
		f := cisFinding("us-east-1", iamMemberID, fmt.Sprintf("key-%d", i), now, st)
		if i == 4 {
			f.GeneratorId = aws.String("other/check")
			f.Resources = append(f.Resources, shtypes.Resource{Type: aws.String("AwsIamUser"), Id: aws.String("arn:aws:iam::" + iamMemberID + ":user/bob")})
		}
		if i == 3 {
			f.RecordState = shtypes.RecordStateArchived
		}
		fs = append(fs, f)
	}
	importFindings(t, c, fs...)
	sf := func(v string, cmp shtypes.StringFilterComparison) shtypes.StringFilter {
		return shtypes.StringFilter{Value: aws.String(v), Comparison: cmp}
	}
	const (
		eq, pre       = shtypes.StringFilterComparisonEquals, shtypes.StringFilterComparisonPrefix
		neq, preNotEq = shtypes.StringFilterComparisonNotEquals, shtypes.StringFilterComparisonPrefixNotEquals
	)
	cases := []struct {
		name    string
		filters shtypes.AwsSecurityFindingFilters
		want    string
	}{
		{"none", shtypes.AwsSecurityFindingFilters{}, "key-0 key-1 key-2 key-3 key-4"},
		{"id", shtypes.AwsSecurityFindingFilters{Id: []shtypes.StringFilter{sf("key-2", eq)}}, "key-2"},
		{"id or", shtypes.AwsSecurityFindingFilters{Id: []shtypes.StringFilter{sf("key-2", eq), sf("key-4", eq)}}, "key-2 key-4"},
		{"compliance", shtypes.AwsSecurityFindingFilters{ComplianceStatus: []shtypes.StringFilter{sf("FAILED", eq)}}, "key-0 key-2"},
		{"compliance not", shtypes.AwsSecurityFindingFilters{ComplianceStatus: []shtypes.StringFilter{sf("FAILED", neq), sf("PASSED", neq)}}, "key-3 key-4"},
		{"record state", shtypes.AwsSecurityFindingFilters{RecordState: []shtypes.StringFilter{sf("ACTIVE", eq)}}, "key-0 key-1 key-2 key-4"},
		{"product", shtypes.AwsSecurityFindingFilters{ProductArn: []shtypes.StringFilter{sf(defaultProduct("us-east-1", iamMemberID), eq)}}, "key-0 key-1 key-2 key-3 key-4"},
		{"account", shtypes.AwsSecurityFindingFilters{AwsAccountId: []shtypes.StringFilter{sf(iamMgmtID, eq)}}, ""},
		{"generator prefix", shtypes.AwsSecurityFindingFilters{GeneratorId: []shtypes.StringFilter{sf("keyrotor/", pre)}}, "key-0 key-1 key-2 key-3"},
		{"generator prefix not", shtypes.AwsSecurityFindingFilters{GeneratorId: []shtypes.StringFilter{sf("keyrotor/", preNotEq)}}, "key-4"},
		{"resource type", shtypes.AwsSecurityFindingFilters{ResourceType: []shtypes.StringFilter{sf("AwsIamUser", eq)}}, "key-4"},
		{"resource type not", shtypes.AwsSecurityFindingFilters{ResourceType: []shtypes.StringFilter{sf("AwsIamUser", neq)}}, "key-0 key-1 key-2 key-3"},
		{"resource id prefix", shtypes.AwsSecurityFindingFilters{ResourceId: []shtypes.StringFilter{sf("AKIAKEY-1", pre)}}, "key-1"},
		{"not equals is exact", shtypes.AwsSecurityFindingFilters{Id: []shtypes.StringFilter{sf("key-", neq)}}, "key-0 key-1 key-2 key-3 key-4"},
		{"prefix then not", shtypes.AwsSecurityFindingFilters{Id: []shtypes.StringFilter{sf("key-", pre), sf("key-0", neq), sf("key-1", neq)}}, "key-2 key-3 key-4"},
		{"fields are and-ed", shtypes.AwsSecurityFindingFilters{
			ComplianceStatus: []shtypes.StringFilter{sf("FAILED", eq)}, Id: []shtypes.StringFilter{sf("key-2", eq)}}, "key-2"},
		{"workflow", shtypes.AwsSecurityFindingFilters{WorkflowStatus: []shtypes.StringFilter{sf("NEW", eq)}}, "key-0 key-1 key-2 key-3 key-4"},
	}
	for _, tc := range cases {
		got := getAll(t, c, &securityhub.GetFindingsInput{Filters: &tc.filters})
		var ids []string
		for _, f := range got {
			ids = append(ids, aws.ToString(f.Id))
		}
		if strings.Join(ids, " ") != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, ids, tc.want)
		}
	}

	ctx := context.Background()
	var inv *shtypes.InvalidInputException
	for name, flt := range map[string]shtypes.AwsSecurityFindingFilters{
		"equals and not equals": {Id: []shtypes.StringFilter{sf("a", eq), sf("b", neq)}},
		"contains":              {Title: []shtypes.StringFilter{sf("key", shtypes.StringFilterComparisonContains)}},
		"unimplemented field":   {NoteText: []shtypes.StringFilter{sf("x", eq)}},
	} {
		if _, err := c.GetFindings(ctx, &securityhub.GetFindingsInput{Filters: &flt}); !errors.As(err, &inv) {
			t.Errorf("%s: err = %v, want InvalidInputException", name, err)
		}
	}
}

func TestSecurityHubGetFindingsPagesAndSorts(t *testing.T) {
	w := newHubWorld(t)
	c := w.hub(w.root, "us-east-1")
	ctx := context.Background()
	now := w.sim.Now()
	var fs []shtypes.AwsSecurityFinding
	for _, id := range []string{"c", "a", "e", "b", "d"} {
		fs = append(fs, cisFinding("us-east-1", iamMemberID, id, now, shtypes.ComplianceStatusFailed))
	}
	importFindings(t, c, fs...)
	sortDesc := []shtypes.SortCriterion{{Field: aws.String("Id"), SortOrder: shtypes.SortOrderDescending}}
	p := securityhub.NewGetFindingsPaginator(c, &securityhub.GetFindingsInput{SortCriteria: sortDesc, MaxResults: aws.Int32(2)})
	var ids []string
	pages := 0
	var token *string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if pages == 1 {
			token = page.NextToken
		}
		for _, f := range page.Findings {
			ids = append(ids, aws.ToString(f.Id))
		}
	}
	if strings.Join(ids, "") != "edcba" || pages != 3 {
		t.Fatalf("ids %v in %d pages", ids, pages)
	}
	// Without SortCriteria, findings come in import order.
	if got := getAll(t, c, &securityhub.GetFindingsInput{}); aws.ToString(got[0].Id) != "c" {
		t.Errorf("first finding %s", aws.ToString(got[0].Id))
	}
	var inv *shtypes.InvalidInputException
	if _, err := c.GetFindings(ctx, &securityhub.GetFindingsInput{NextToken: token}); !errors.As(err, &inv) {
		t.Errorf("token without its sort: err = %v", err)
	}
	if _, err := c.GetFindings(ctx, &securityhub.GetFindingsInput{NextToken: aws.String("junk")}); !errors.As(err, &inv) {
		t.Errorf("junk token: err = %v", err)
	}
	for _, n := range []int32{0, 101} {
		if _, err := c.GetFindings(ctx, &securityhub.GetFindingsInput{MaxResults: aws.Int32(n)}); !errors.As(err, &inv) {
			t.Errorf("MaxResults %d: err = %v", n, err)
		}
	}
	if _, err := c.GetFindings(ctx, &securityhub.GetFindingsInput{SortCriteria: []shtypes.SortCriterion{{Field: aws.String("Colour")}}}); !errors.As(err, &inv) {
		t.Errorf("bad sort field: err = %v", err)
	}
}

func TestSecurityHubThrottlesImports(t *testing.T) {
	w := newHubWorld(t)
	ctx := context.Background()
	w.sim.SetOperationRateLimit("securityhub:BatchImportFindings", 0.001, 2)
	c := w.hub(w.root, "us-east-1")
	in := &securityhub.BatchImportFindingsInput{Findings: []shtypes.AwsSecurityFinding{
		cisFinding("us-east-1", iamMemberID, "k1", w.sim.Now(), shtypes.ComplianceStatusFailed)}}
	for i := range 2 {
		if _, err := c.BatchImportFindings(ctx, in); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := c.BatchImportFindings(ctx, in)
	iamWantError(t, err, "TooManyRequestsException", 429)
	// GetFindings has a bucket of its own, and so has another region.
	if _, err := c.GetFindings(ctx, &securityhub.GetFindingsInput{}); err != nil {
		t.Errorf("GetFindings: %v", err)
	}
	eu := &securityhub.BatchImportFindingsInput{Findings: []shtypes.AwsSecurityFinding{
		cisFinding("eu-west-1", iamMemberID, "k1", w.sim.Now(), shtypes.ComplianceStatusFailed)}}
	if _, err := w.hub(w.root, "eu-west-1").BatchImportFindings(ctx, eu); err != nil {
		t.Errorf("other region: %v", err)
	}
}

func TestSecurityHubAllowList(t *testing.T) {
	w := newHubWorld(t)
	ctx := context.Background()
	product := defaultProduct("us-east-1", iamMemberID)
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Reporter", TrustedPrincipals: []string{iamMgmtID},
		AllowedActions:   []string{"securityhub:BatchImportFindings", "securityhub:GetFindings"},
		ResourcePrefixes: map[string][]string{"securityhub:BatchImportFindings": {product}}})
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Reader", TrustedPrincipals: []string{iamMgmtID},
		AllowedActions: []string{"securityhub:GetFindings"}})
	f := cisFinding("us-east-1", iamMemberID, "k1", w.sim.Now(), shtypes.ComplianceStatusFailed)
	reporter := w.hub(w.sim.SessionCredentials(iamMemberID, "Reporter", "r", time.Hour), "us-east-1")
	importFindings(t, reporter, f)
	reader := w.hub(w.sim.SessionCredentials(iamMemberID, "Reader", "r", time.Hour), "us-east-1")
	if got := getAll(t, reader, &securityhub.GetFindingsInput{}); len(got) != 1 {
		t.Fatalf("reader sees %d findings", len(got))
	}
	_, err := reader.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: []shtypes.AwsSecurityFinding{f}})
	if iamErrCode(err) != "AccessDeniedException" || iamHTTPStatus(err) != 403 || !strings.Contains(err.Error(), "securityhub:BatchImportFindings") {
		t.Fatalf("reader imports: err = %v", err)
	}
}
