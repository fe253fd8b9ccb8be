package awssim

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
)

// Organizations error statuses follow the service model (the SDK's
// response snapshots): missing things are 404, bad input 400.
func orgNotInUse() error {
	return apiErr(404, "AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
}

func orgInvalidInput(format string, args ...any) error {
	return apiErr(400, "InvalidInputException", format, args...)
}

type orgListInput struct {
	AccountID  string  `json:"AccountId"`
	ParentID   *string `json:"ParentId"`
	ChildType  string  `json:"ChildType"`
	NextToken  *string `json:"NextToken"`
	MaxResults *int32  `json:"MaxResults"`
}

type orgAccount struct {
	Arn             string     `json:"Arn"`
	Email           string     `json:"Email"`
	ID              string     `json:"Id"`
	JoinedMethod    string     `json:"JoinedMethod"`
	JoinedTimestamp *EpochTime `json:"JoinedTimestamp,omitempty"`
	Name            string     `json:"Name"`
	State           string     `json:"State"`
	Status          string     `json:"Status"`
}

type orgOrganization struct {
	Arn                  string `json:"Arn"`
	AvailablePolicyTypes []any  `json:"AvailablePolicyTypes"`
	FeatureSet           string `json:"FeatureSet"`
	ID                   string `json:"Id"`
	MasterAccountArn     string `json:"MasterAccountArn"`
	MasterAccountEmail   string `json:"MasterAccountEmail"`
	MasterAccountID      string `json:"MasterAccountId"`
}

type orgRoot struct {
	Arn         string `json:"Arn"`
	ID          string `json:"Id"`
	Name        string `json:"Name"`
	PolicyTypes []any  `json:"PolicyTypes"`
}

type orgOU struct {
	Arn  string `json:"Arn"`
	ID   string `json:"Id"`
	Name string `json:"Name"`
}

type orgChild struct {
	ID   string `json:"Id"`
	Type string `json:"Type"`
}

// orgMember returns the organization when the caller's account belongs to it.
func orgMember(r *Request) (*Organization, error) {
	org := r.Sim.org
	if org == nil || !r.Sim.inOrgLocked(r.Account) {
		return nil, orgNotInUse()
	}
	return org, nil
}

// orgReader returns the organization when the caller may use the
// Organizations read APIs: the management account or a delegated admin.
func orgReader(r *Request) (*Organization, error) {
	org, err := orgMember(r)
	if err != nil {
		return nil, err
	}
	if r.Account.ID != org.ManagementAccount && !org.DelegatedAdmins[r.Account.ID] {
		return nil, apiErr(403, "AccessDeniedException", "You don't have permissions to access this resource.")
	}
	return org, nil
}

// orgAccountsLocked returns the organization's member accounts by ID.
// Standalone accounts are not in it.
func (s *Sim) orgAccountsLocked() []*Account {
	var out []*Account
	for _, a := range s.accounts {
		if s.inOrgLocked(a) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func toOrgAccount(org *Organization, a *Account) orgAccount {
	method := "CREATED"
	if a.ID == org.ManagementAccount {
		// The management account reports INVITED, as in AWS.
		method = "INVITED"
	}
	return orgAccount{
		Arn:   fmt.Sprintf("arn:aws:organizations::%s:account/%s/%s", org.ManagementAccount, org.ID, a.ID),
		Email: a.Email, ID: a.ID, Name: a.Name,
		JoinedMethod: method, JoinedTimestamp: Epoch(a.JoinedAt),
		State: a.Status, Status: a.Status,
	}
}

func toOrgAccounts(org *Organization, as []*Account) []orgAccount {
	out := make([]orgAccount, 0, len(as))
	for _, a := range as {
		out = append(out, toOrgAccount(org, a))
	}
	return out
}

func orgDescribeOrganization(r *Request) (any, error) {
	// Any member account may describe its organization.
	org, err := orgMember(r)
	if err != nil {
		return nil, err
	}
	mgmt := r.Sim.accounts[org.ManagementAccount]
	return struct {
		Organization orgOrganization `json:"Organization"`
	}{orgOrganization{
		Arn: org.ARN, AvailablePolicyTypes: []any{}, FeatureSet: "ALL", ID: org.ID,
		MasterAccountArn:   fmt.Sprintf("arn:aws:organizations::%s:account/%s/%s", org.ManagementAccount, org.ID, org.ManagementAccount),
		MasterAccountEmail: mgmt.Email, MasterAccountID: org.ManagementAccount,
	}}, nil
}

func orgDescribeAccount(r *Request) (any, error) {
	org, err := orgReader(r)
	if err != nil {
		return nil, err
	}
	var in orgListInput
	if err := r.DecodeJSON(&in); err != nil {
		return nil, err
	}
	if !accountIDRe.MatchString(in.AccountID) {
		return nil, orgInvalidInput("You provided a value that does not match the required pattern.")
	}
	a := r.Sim.accounts[in.AccountID]
	if a == nil || !r.Sim.inOrgLocked(a) {
		return nil, apiErr(404, "AccountNotFoundException", "You specified an account that doesn't exist.")
	}
	return struct {
		Account orgAccount `json:"Account"`
	}{toOrgAccount(org, a)}, nil
}

type orgAccountsPage struct {
	Accounts  []orgAccount `json:"Accounts"`
	NextToken *string      `json:"NextToken,omitempty"`
}

func orgListAccounts(r *Request) (any, error) {
	org, in, _, size, err := orgListRequest(r, false)
	if err != nil {
		return nil, err
	}
	page, next, err := orgPage(r.Sim.orgAccountsLocked(), accountKey, "ListAccounts", in.NextToken, size)
	if err != nil {
		return nil, err
	}
	return orgAccountsPage{Accounts: toOrgAccounts(org, page), NextToken: next}, nil
}

func orgListAccountsForParent(r *Request) (any, error) {
	org, in, parent, size, err := orgListRequest(r, true)
	if err != nil {
		return nil, err
	}
	page, next, err := orgPage(r.Sim.accountsUnderLocked(parent), accountKey,
		"ListAccountsForParent/"+parent, in.NextToken, size)
	if err != nil {
		return nil, err
	}
	return orgAccountsPage{Accounts: toOrgAccounts(org, page), NextToken: next}, nil
}

func orgListRoots(r *Request) (any, error) {
	org, in, _, size, err := orgListRequest(r, false)
	if err != nil {
		return nil, err
	}
	roots := []orgRoot{{
		Arn: fmt.Sprintf("arn:aws:organizations::%s:root/%s/%s", org.ManagementAccount, org.ID, org.RootID),
		ID:  org.RootID, Name: "Root", PolicyTypes: []any{},
	}}
	page, next, err := orgPage(roots, func(x orgRoot) string { return x.ID }, "ListRoots", in.NextToken, size)
	if err != nil {
		return nil, err
	}
	return struct {
		NextToken *string   `json:"NextToken,omitempty"`
		Roots     []orgRoot `json:"Roots"`
	}{next, page}, nil
}

func orgListOUsForParent(r *Request) (any, error) {
	org, in, parent, size, err := orgListRequest(r, true)
	if err != nil {
		return nil, err
	}
	page, next, err := orgPage(ousUnder(org, parent), func(o *OU) string { return o.ID },
		"ListOrganizationalUnitsForParent/"+parent, in.NextToken, size)
	if err != nil {
		return nil, err
	}
	out := make([]orgOU, 0, len(page))
	for _, o := range page {
		out = append(out, orgOU{Arn: o.ARN, ID: o.ID, Name: o.Name})
	}
	return struct {
		NextToken           *string `json:"NextToken,omitempty"`
		OrganizationalUnits []orgOU `json:"OrganizationalUnits"`
	}{next, out}, nil
}

func orgListChildren(r *Request) (any, error) {
	org, in, parent, size, err := orgListRequest(r, true)
	if err != nil {
		return nil, err
	}
	var children []orgChild
	switch in.ChildType {
	case "ACCOUNT":
		for _, a := range r.Sim.accountsUnderLocked(parent) {
			children = append(children, orgChild{ID: a.ID, Type: in.ChildType})
		}
	case "ORGANIZATIONAL_UNIT":
		for _, o := range ousUnder(org, parent) {
			children = append(children, orgChild{ID: o.ID, Type: in.ChildType})
		}
	default:
		return nil, orgInvalidInput("1 validation error detected: Value '%s' at 'childType' failed to satisfy constraint: Member must satisfy enum value set: [ACCOUNT, ORGANIZATIONAL_UNIT]", in.ChildType)
	}
	page, next, err := orgPage(children, func(c orgChild) string { return c.ID },
		"ListChildren/"+in.ChildType+"/"+parent, in.NextToken, size)
	if err != nil {
		return nil, err
	}
	if page == nil {
		page = []orgChild{}
	}
	return struct {
		Children  []orgChild `json:"Children"`
		NextToken *string    `json:"NextToken,omitempty"`
	}{page, next}, nil
}

// orgListRequest is the common start of every list call: the caller may
// read the organization, the input parses, the ParentId (when the call
// takes one) names the root or an OU, and MaxResults is in range.
func orgListRequest(r *Request, withParent bool) (org *Organization, in orgListInput, parent string, size int, err error) {
	if org, err = orgReader(r); err != nil {
		return nil, in, "", 0, err
	}
	if err = r.DecodeJSON(&in); err != nil {
		return nil, in, "", 0, err
	}
	if withParent {
		if parent, err = orgParent(org, in.ParentID); err != nil {
			return nil, in, "", 0, err
		}
	}
	if size, err = orgPageSize(r, in.MaxResults); err != nil {
		return nil, in, "", 0, err
	}
	return org, in, parent, size, nil
}

// orgParent validates a ParentId: the root or an existing OU.
func orgParent(org *Organization, id *string) (string, error) {
	if id == nil || *id == "" {
		return "", orgInvalidInput("You must specify a value for ParentId.")
	}
	if *id == org.RootID {
		return *id, nil
	}
	if _, ok := org.OUs[*id]; ok {
		return *id, nil
	}
	return "", apiErr(404, "ParentNotFoundException", "We can't find a root or OU with the ParentId that you specified.")
}

func (s *Sim) accountsUnderLocked(parent string) []*Account {
	var out []*Account
	for _, a := range s.orgAccountsLocked() {
		if a.ParentID == parent {
			out = append(out, a)
		}
	}
	return out
}

func ousUnder(org *Organization, parent string) []*OU {
	var out []*OU
	for _, o := range org.OUs {
		if o.ParentID == parent {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func accountKey(a *Account) string { return a.ID }

// orgPageSize validates MaxResults (1 to 20 in Organizations) and applies
// the simulator's default page size.
func orgPageSize(r *Request, max *int32) (int, error) {
	if max == nil {
		return r.PageSize(0), nil
	}
	if *max < 1 || *max > 20 {
		return 0, orgInvalidInput("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 20", *max)
	}
	return r.PageSize(int(*max)), nil
}

func orgPage[T any](items []T, key func(T) string, scope string, token *string, size int) ([]T, *string, error) {
	page, next, ok := cursorPage(items, key, scope, token, size)
	if !ok {
		return nil, nil, orgInvalidInput("The specified NextToken is invalid.")
	}
	return page, next, nil
}

// cursorPage returns the page of items (sorted ascending by key) that
// follows the one token points after. A token remembers the last key
// returned rather than an offset, so accounts added or removed between
// pages neither repeat nor vanish. scope ties a token to the listing that
// issued it; ok is false for a token from elsewhere.
func cursorPage[T any](items []T, key func(T) string, scope string, token *string, size int) (page []T, next *string, ok bool) {
	size = max(size, 1)
	start := 0
	if token != nil && *token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(*token)
		if err != nil {
			return nil, nil, false
		}
		sc, last, found := strings.Cut(string(raw), "\x00")
		if !found || sc != scope {
			return nil, nil, false
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > last })
	}
	end := min(start+size, len(items))
	page = items[start:end]
	if end < len(items) {
		t := base64.RawURLEncoding.EncodeToString([]byte(scope + "\x00" + key(items[end-1])))
		next = &t
	}
	return page, next, true
}
