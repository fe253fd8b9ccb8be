package awssim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
)

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
