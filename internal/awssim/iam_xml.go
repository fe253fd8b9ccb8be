package awssim

import (
	"bytes"
	"encoding/xml"
	"slices"
	"time"
)

// IAM's XML shapes (element names as in the IAM API reference).
//
// ListUsers, ListAccessKeys and GetGroup answer with rawXML built by the
// append* functions below: Users (members shaped as iamUserXML without
// Tags) or AccessKeyMetadata (members with UserName, AccessKeyId, Status,
// CreateDate), then IsTruncated and Marker.

type iamUserXML struct {
	Path             string      `xml:"Path,omitempty"`
	UserName         string      `xml:"UserName,omitempty"`
	UserID           string      `xml:"UserId"`
	Arn              string      `xml:"Arn"`
	CreateDate       string      `xml:"CreateDate"`
	PasswordLastUsed string      `xml:"PasswordLastUsed,omitempty"`
	Tags             *iamTagList `xml:"Tags,omitempty"`
}

// iamTagList is a pointer in iamUserXML so that users without tags (and
// every user in a list call) carry no Tags element at all, as in AWS.
type iamTagList struct {
	Member []Tag `xml:"member"`
}

type iamGroupXML struct {
	Path       string `xml:"Path"`
	GroupName  string `xml:"GroupName"`
	GroupID    string `xml:"GroupId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

type iamGetUserResult struct {
	User iamUserXML `xml:"User"`
}

type iamAccessKeyXML struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	CreateDate      string `xml:"CreateDate"`
}

type iamCreateAccessKeyResult struct {
	AccessKey iamAccessKeyXML `xml:"AccessKey"`
}

type iamAccessKeyLastUsedXML struct {
	LastUsedDate string `xml:"LastUsedDate,omitempty"`
	ServiceName  string `xml:"ServiceName"`
	Region       string `xml:"Region"`
}

type iamGetAccessKeyLastUsedResult struct {
	UserName          string                  `xml:"UserName"`
	AccessKeyLastUsed iamAccessKeyLastUsedXML `xml:"AccessKeyLastUsed"`
}

type iamListUserTagsResult struct {
	Tags        []Tag  `xml:"Tags>member"`
	IsTruncated bool   `xml:"IsTruncated"`
	Marker      string `xml:"Marker,omitempty"`
}

type iamListGroupsForUserResult struct {
	Groups      []iamGroupXML `xml:"Groups>member"`
	IsTruncated bool          `xml:"IsTruncated"`
	Marker      string        `xml:"Marker,omitempty"`
}

type iamListAccountAliasesResult struct {
	AccountAliases []string `xml:"AccountAliases>member"`
	IsTruncated    bool     `xml:"IsTruncated"`
	Marker         string   `xml:"Marker,omitempty"`
}

// userXML renders a user as GetUser returns it: with its tags, which list
// calls leave out (see appendUserMember).
func userXML(u *User) iamUserXML {
	x := iamUserXML{Path: u.Path, UserName: u.Name, UserID: u.ID, Arn: u.ARN, CreateDate: ISO(u.Created)}
	if len(u.Tags) > 0 {
		x.Tags = &iamTagList{Member: slices.Clone(u.Tags)}
	}
	return x
}

func groupXML(g *Group) iamGroupXML {
	return iamGroupXML{Path: g.Path, GroupName: g.Name, GroupID: g.ID, Arn: g.ARN, CreateDate: ISO(g.Created)}
}

// appendText appends s escaped as XML character data, as encoding/xml
// escapes it; plain ASCII (nearly every name and ARN) is copied as is.
func appendText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '<' || c == '>' || c == '&' || c == '\'' || c == '"' {
			var buf bytes.Buffer
			_ = xml.EscapeText(&buf, []byte(s))
			return append(b, buf.Bytes()...)
		}
	}
	return append(b, s...)
}

func appendElem(b []byte, name, text string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendText(b, text)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

func appendTimeElem(b []byte, name string, t time.Time) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendISO(b, t)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// appendISO appends t as ISO(t) formats it; time.AppendFormat's layout
// parsing showed up in the list calls' profile.
func appendISO(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		return append(b, ISO(t)...)
	}
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = append(b, byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T')
	b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':')
	return append(b, byte('0'+s/10), byte('0'+s%10), 'Z')
}

// appendUserMember renders a user as list calls return it (no tags).
func appendUserMember(b []byte, u *User) []byte {
	b = append(b, "<member>"...)
	b = appendElem(b, "Path", u.Path)
	b = appendElem(b, "UserName", u.Name)
	b = appendElem(b, "UserId", u.ID)
	b = appendElem(b, "Arn", u.ARN)
	b = appendTimeElem(b, "CreateDate", u.Created)
	return append(b, "</member>"...)
}

func appendKeyMember(b []byte, userName string, k *AccessKey) []byte {
	b = append(b, "<member>"...)
	if userName != "" {
		b = appendElem(b, "UserName", userName)
	}
	b = appendElem(b, "AccessKeyId", k.ID)
	b = appendElem(b, "Status", k.Status)
	b = appendTimeElem(b, "CreateDate", k.Created)
	return append(b, "</member>"...)
}

func appendPageEnd(b []byte, next string) []byte {
	if next == "" {
		return append(b, "<IsTruncated>false</IsTruncated>"...)
	}
	b = append(b, "<IsTruncated>true</IsTruncated>"...)
	return appendElem(b, "Marker", next)
}
