package report

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
	"time"
)

func TestWriteCSV(t *testing.T) {
	r := finalized()
	r.Keys[0].User = "=HYPERLINK(1)" // IAM allows '=' in user names
	var buf bytes.Buffer
	if err := WriteCSV(&buf, r); err != nil {
		t.Fatalf("WriteCSV: %v", err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("read CSV back: %v", err)
	}
	if len(rows) != 1+len(r.Keys) {
		t.Fatalf("%d rows, want header + %d keys", len(rows), len(r.Keys))
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"account_id", "access_key_id", "created", "last_used", "findings", "planned_action", "result", "new_access_key_id"} {
		if _, ok := col[name]; !ok {
			t.Errorf("header %q lacks %q", rows[0], name)
		}
	}
	first := rows[1]
	if got := first[col["created"]]; got != r.Keys[0].Created.Format(time.RFC3339) {
		t.Errorf("created = %q, want RFC 3339 %q", got, r.Keys[0].Created.Format(time.RFC3339))
	}
	if _, err := time.Parse(time.RFC3339, first[col["created"]]); err != nil {
		t.Errorf("created is not RFC 3339: %v", err)
	}
	if got := first[col["last_used"]]; got != "" {
		t.Errorf("never-used key has last_used %q, want empty", got)
	}
	if got := first[col["findings"]]; got != "stale_key, unused_key" {
		t.Errorf("findings = %q", got)
	}
	if got := first[col["user"]]; got != "'=HYPERLINK(1)" {
		t.Errorf("user = %q, want the formula neutralized", got)
	}
	var ids []string
	for _, row := range rows[1:] {
		ids = append(ids, row[col["access_key_id"]])
	}
	want := []string{keyAlice1, keyAlice2, keyBob, keyDave, keyErin, keyCI}
	if !slices.Equal(ids, want) {
		t.Errorf("key order %q, want %q", ids, want)
	}
}
