package rotation

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// credentialReport is the part of an IAM credential report the inventory
// uses: per user, the last use of each access key slot.
type credentialReport struct {
	generated time.Time
	users     map[string]reportUser
}

// reportUser is one user's row of the credential report.
type reportUser struct {
	arn   string
	slots []reportSlot
}

// reportSlot is one access_key_N_* column group of a row. The report names
// keys by slot, not by ID; a slot is tied to a key through its creation time
// (last_rotated), which IAM sets when the key is created.
type reportSlot struct {
	rotated  time.Time
	lastUsed *time.Time
	service  string
	region   string
}

// reportNA is the credential report's "no value" marker; for a key's last
// use it means the key was never used.
const reportNA = "N/A"

// parseCredentialReport parses the CSV of a credential report generated at
// generated. Columns are found by header name, so added or reordered
// columns do not break it; the slots are access_key_1, access_key_2, ... as
// far as the header has them.
func parseCredentialReport(content []byte, generated time.Time) (*credentialReport, error) {
	r := csv.NewReader(bytes.NewReader(content))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read credential report header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	userCol, ok := col["user"]
	if !ok {
		return nil, errors.New("credential report has no user column")
	}
	arnCol, hasARN := col["arn"]
	type slotCols struct{ rotated, used, service, region int }
	var slots []slotCols
	for n := 1; ; n++ {
		p := fmt.Sprintf("access_key_%d_", n)
		rot, ok1 := col[p+"last_rotated"]
		used, ok2 := col[p+"last_used_date"]
		if !ok1 || !ok2 {
			break
		}
		sc := slotCols{rotated: rot, used: used, service: -1, region: -1}
		if i, ok := col[p+"last_used_service"]; ok {
			sc.service = i
		}
		if i, ok := col[p+"last_used_region"]; ok {
			sc.region = i
		}
		slots = append(slots, sc)
	}
	if len(slots) == 0 {
		return nil, errors.New("credential report has no access key columns")
	}
	rep := &credentialReport{generated: generated.UTC(), users: map[string]reportUser{}}
	field := func(rec []string, i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read credential report: %w", err)
		}
		name := field(rec, userCol)
		if name == "" {
			continue
		}
		ru := reportUser{}
		if hasARN {
			ru.arn = field(rec, arnCol)
		}
		for n, sc := range slots {
			rotated, err := parseReportTime(field(rec, sc.rotated))
			if err != nil {
				return nil, fmt.Errorf("credential report line %d, access_key_%d_last_rotated: %w", line, n+1, err)
			}
			slot := reportSlot{rotated: rotated}
			if !rotated.IsZero() {
				used, err := parseReportTime(field(rec, sc.used))
				if err != nil {
					return nil, fmt.Errorf("credential report line %d, access_key_%d_last_used_date: %w", line, n+1, err)
				}
				if !used.IsZero() {
					slot.lastUsed = &used
					slot.service = reportValue(field(rec, sc.service))
					slot.region = reportValue(field(rec, sc.region))
				}
			}
			ru.slots = append(ru.slots, slot)
		}
		rep.users[name] = ru
	}
	return rep, nil
}

// parseReportTime parses an ISO 8601 report timestamp; N/A (and the other
// placeholders IAM writes) give the zero time.
func parseReportTime(v string) (time.Time, error) {
	switch v {
	case "", reportNA, "no_information", "not_supported":
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q", v)
	}
	return t.UTC(), nil
}

// reportValue maps the report's N/A to "".
func reportValue(v string) string {
	if v == reportNA {
		return ""
	}
	return v
}

// lastUsed answers the last use of key k of user u from the report, with
// ok=false when the report cannot tell: the key was created at or after the
// report was generated, the user is not in it (or is another user of the
// same name), or no single slot was created in the same second as k.
func (rep *credentialReport) lastUsed(u User, k Key) (used *time.Time, service, region string, ok bool) {
	if rep == nil || !k.Created.Before(rep.generated) {
		return nil, "", "", false
	}
	ru, found := rep.users[u.Name]
	if !found || (ru.arn != "" && u.ARN != "" && ru.arn != u.ARN) {
		return nil, "", "", false
	}
	created := k.Created.UTC().Truncate(time.Second)
	match := -1
	for i, s := range ru.slots {
		if s.rotated.IsZero() || !s.rotated.Truncate(time.Second).Equal(created) {
			continue
		}
		if match >= 0 {
			// Two keys created in the same second: which slot is which
			// cannot be told, so neither is trusted.
			return nil, "", "", false
		}
		match = i
	}
	if match < 0 {
		return nil, "", "", false
	}
	s := ru.slots[match]
	if s.lastUsed != nil {
		t := *s.lastUsed
		used = &t
	}
	return used, s.service, s.region, true
}
