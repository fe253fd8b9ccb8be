package awssim

import (
	"bytes"
	"encoding/json"
	"strings"
)

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
