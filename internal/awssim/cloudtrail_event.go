package awssim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The Event LookupEvents returns, with its CloudTrail record as JSON.

type ctResource struct {
	ResourceName string `json:"ResourceName,omitempty"`
	ResourceType string `json:"ResourceType,omitempty"`
}

type ctEvent struct {
	AccessKeyID     string       `json:"AccessKeyId,omitempty"`
	CloudTrailEvent string       `json:"CloudTrailEvent"`
	EventID         string       `json:"EventId"`
	EventName       string       `json:"EventName"`
	EventSource     string       `json:"EventSource"`
	EventTime       *EpochTime   `json:"EventTime"`
	ReadOnly        string       `json:"ReadOnly"`
	Resources       []ctResource `json:"Resources"`
	Username        string       `json:"Username,omitempty"`
}

type ctSessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	Arn         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

type ctSessionContext struct {
	SessionIssuer ctSessionIssuer   `json:"sessionIssuer"`
	Attributes    map[string]string `json:"attributes"`
}

type ctUserIdentity struct {
	Type           string            `json:"type"`
	PrincipalID    string            `json:"principalId"`
	Arn            string            `json:"arn,omitempty"`
	AccountID      string            `json:"accountId"`
	AccessKeyID    string            `json:"accessKeyId,omitempty"`
	UserName       string            `json:"userName,omitempty"`
	SessionContext *ctSessionContext `json:"sessionContext,omitempty"`
}

// ctRecord is a CloudTrail record, with its fields in CloudTrail's order.
type ctRecord struct {
	EventVersion       string          `json:"eventVersion"`
	UserIdentity       ctUserIdentity  `json:"userIdentity"`
	EventTime          string          `json:"eventTime"`
	EventSource        string          `json:"eventSource"`
	EventName          string          `json:"eventName"`
	AwsRegion          string          `json:"awsRegion"`
	SourceIPAddress    string          `json:"sourceIPAddress"`
	UserAgent          string          `json:"userAgent"`
	ErrorCode          string          `json:"errorCode,omitempty"`
	ErrorMessage       string          `json:"errorMessage,omitempty"`
	RequestParameters  json.RawMessage `json:"requestParameters"`
	ResponseElements   json.RawMessage `json:"responseElements"`
	RequestID          string          `json:"requestID"`
	EventID            string          `json:"eventID"`
	ReadOnly           bool            `json:"readOnly"`
	EventType          string          `json:"eventType"`
	ManagementEvent    bool            `json:"managementEvent"`
	RecipientAccountID string          `json:"recipientAccountId"`
	EventCategory      string          `json:"eventCategory"`
}

var jsonNull = json.RawMessage("null")

// ctRender turns a recorded event into LookupEvents' Event.
func (s *Sim) ctRender(e *trailEvent, account, region string) ctEvent {
	id := e.ident
	ui := ctUserIdentity{
		Type: id.kind, PrincipalID: id.principalID, Arn: id.arn, AccountID: id.accountID,
		AccessKeyID: e.accessKeyID,
	}
	switch id.kind {
	case "IAMUser":
		ui.UserName = id.userName
	case "AssumedRole":
		ui.SessionContext = &ctSessionContext{
			SessionIssuer: ctSessionIssuer{Type: "Role", PrincipalID: id.roleID, Arn: id.roleARN, AccountID: id.accountID, UserName: id.roleName},
			Attributes:    map[string]string{"mfaAuthenticated": "false"},
		}
	}
	rec := ctRecord{
		EventVersion: "1.09", UserIdentity: ui, EventTime: ISO(e.at()),
		EventSource: e.source, EventName: e.name, AwsRegion: region,
		SourceIPAddress: e.sourceIP, UserAgent: e.userAgent,
		ErrorCode: e.errCode(), ErrorMessage: e.errMsg(),
		RequestParameters: jsonNull, ResponseElements: jsonNull,
		RequestID: seqUUID(e.seq, 0x4e9), EventID: e.eventID(),
		ReadOnly: !IsWriteOp(e.name), EventType: "AwsApiCall", ManagementEvent: true,
		RecipientAccountID: account, EventCategory: "Management",
	}
	if len(e.params) > 0 {
		rec.RequestParameters = renderParams(e.params)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		// Every field is a string, bool or valid raw JSON.
		panic(fmt.Sprintf("awssim: encode CloudTrail record: %v", err))
	}
	ev := ctEvent{
		AccessKeyID: e.accessKeyID, CloudTrailEvent: string(b), EventID: rec.EventID,
		EventName: e.name, EventSource: e.source, EventTime: Epoch(e.at()),
		ReadOnly: strconv.FormatBool(rec.ReadOnly), Username: id.displayName(),
		Resources: []ctResource{},
	}
	for _, res := range e.resourceList() {
		ev.Resources = append(ev.Resources, ctResource{ResourceName: res.Name, ResourceType: res.Type})
	}
	return ev
}

// renderParams writes recorded parameters as a JSON object.
func renderParams(ps []trailParam) json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.key)
		b.Write(k)
		b.WriteByte(':')
		if _, err := strconv.ParseFloat(p.value, 64); p.number && err == nil {
			b.WriteString(p.value)
		} else {
			v, _ := json.Marshal(p.value)
			b.Write(v)
		}
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}
