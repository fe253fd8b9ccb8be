package awssim

import (
	"encoding/json"
	"net/http"
	"time"
)

// Security Hub is emulated for what keyrotor does with it: importing its
// CIS 1.14 findings in ASFF from each member account (with the account's
// default product ARN), reading them back, and resolving them when fixed.

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

// Security Hub's request limits, from the API reference.
const (
	hubMaxBatch       = 100
	hubMaxFindingSize = 240 << 10
	hubMaxRequestSize = 6 << 20
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

// hubKey names one account's Security Hub in one region.
type hubKey struct{ account, region string }

// hubStore is the simulator's Security Hub. It is guarded by Sim.mu.
type hubStore struct {
	// enabled overrides the default (enabled) per account and region; a
	// region of "" covers every region of the account.
	enabled  map[hubKey]bool
	findings map[hubKey]*hubFindings
}

func (s *Sim) hubLocked() *hubStore {
	return simState(s, "securityhub", func() *hubStore {
		return &hubStore{enabled: map[hubKey]bool{}, findings: map[hubKey]*hubFindings{}}
	})
}

func (h *hubStore) isEnabled(account, region string) bool {
	if on, ok := h.enabled[hubKey{account, region}]; ok {
		return on
	}
	if on, ok := h.enabled[hubKey{account, ""}]; ok {
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
	h.enabled[hubKey{accountID, region}] = enabled
}

// Findings returns a copy of the findings stored in accountID and region,
// in the order they were first imported.
func (s *Sim) Findings(accountID, region string) []SecurityHubFinding {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.hubLocked().findings[hubKey{accountID, region}]
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

func (f *hubFinding) reindex() {
	b, _ := json.Marshal(f.doc)
	f.idx = asffFinding{}
	_ = json.Unmarshal(b, &f.idx)
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
	k := hubKey{r.Account.ID, r.Region}
	fs := h.findings[k]
	if fs == nil {
		fs = &hubFindings{byKey: map[string]*hubFinding{}}
		h.findings[k] = fs
	}
	return fs
}
