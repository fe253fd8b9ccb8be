package awssim

import (
	"encoding/json"
	"fmt"
)

// hubDefaultProduct is the product ARN of an account's own findings.
func hubDefaultProduct(region, account string) string {
	return fmt.Sprintf("arn:aws:securityhub:%s:%s:product/%s/default", region, account, account)
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
