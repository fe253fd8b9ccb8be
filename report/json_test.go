package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"keyrotor/vocab"
)

const schemaPath = "../docs/report-schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat() // date-time is only an annotation in 2020-12 otherwise
	abs, err := filepath.Abs(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(abs)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	return sch
}

func validateJSON(t *testing.T, sch *jsonschema.Schema, doc []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("parse written JSON: %v", err)
	}
	return sch.Validate(inst)
}

func writeJSON(t *testing.T, r *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	return buf.Bytes()
}

func TestWriteJSONMatchesMarshalIndent(t *testing.T) {
	for name, r := range map[string]*Report{
		"fixture":     finalized(),
		"empty":       func() *Report { r := &Report{}; r.Finalize(); return r }(),
		"unfinalized": {Run: Run{Mode: vocab.ModeAudit}}, // nil lists are written as null
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, '\n')
			if got := writeJSON(t, r); !bytes.Equal(got, want) {
				t.Errorf("WriteJSON differs from MarshalIndent:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := finalized()
	out := writeJSON(t, r)
	back, err := ReadJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("ReadJSON: %v", err)
	}
	if again := writeJSON(t, back); !bytes.Equal(again, out) {
		t.Errorf("write-read-write changed the report:\n%s\nwant\n%s", again, out)
	}
	if back.Keys[0].Created.IsZero() || back.Keys[0].LastUsed != nil {
		t.Errorf("first key's times not preserved: %+v", back.Keys[0])
	}
	if !reflect.DeepEqual(back.Summary, r.Summary) {
		t.Errorf("Summary = %+v, want %+v", back.Summary, r.Summary)
	}
}

func TestWriteJSONMatchesSchema(t *testing.T) {
	sch := compileSchema(t)
	// Use every enumerated value so the schema's enums and Go's agree.
	r := fixture()
	reasons := vocab.Reasons()
	for i := range max(len(vocab.Actions), len(reasons)) {
		r.Keys = append(r.Keys, Key{AccountID: "555555555555", User: "enum", AccessKeyID: fmt.Sprintf("AKIAENUM%012d", i),
			Status: vocab.KeyStatuses[i%len(vocab.KeyStatuses)], Created: now,
			PlannedAction: vocab.Actions[i%len(vocab.Actions)], Action: vocab.Actions[i%len(vocab.Actions)],
			Result: vocab.Results[i%len(vocab.Results)], ReasonCode: reasons[i%len(reasons)], Fix: "aws iam list-access-keys"})
	}
	for _, n := range vocab.NotifyResults {
		r.Notifications = append(r.Notifications, Notification{AccountID: "555555555555", Event: "test", Result: n})
	}
	for _, m := range vocab.Modes {
		r.Run.Mode = m
		r.Finalize()
		if err := validateJSON(t, sch, writeJSON(t, r)); err != nil {
			t.Errorf("mode %s: WriteJSON output does not match %s:\n%v", m, schemaPath, err)
		}
		if err := r.Validate(); err != nil {
			t.Errorf("mode %s: Validate: %v", m, err)
		}
	}
}

// TestSchemaRejects proves the schema test can fail: each mutation breaks
// one rule and must be refused by both the schema and ReadJSON.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	good := writeJSON(t, finalized())
	tests := []struct {
		name     string
		from, to string
	}{
		{"unknown field", `"schema_version": "2",`, `"schema_version": "2", "extra": 1,`},
		{"other schema version", `"schema_version": "2"`, `"schema_version": "1"`},
		{"bad account status", `"status": "skipped"`, `"status": "maybe"`},
		{"bad planned action", `"planned_action": "issue"`, `"planned_action": "rotate"`},
		{"bad result", `"result": "done"`, `"result": "ok"`},
		{"unknown reason code", `"result": "done"`, `"result": "done", "reason_code": "because"`},
		{"bad date", `"started": "2026-11-26T06:00:00Z"`, `"started": "yesterday"`},
		{"bad account id", `"account_id": "222222222222"`, `"account_id": "dev"`},
		{"a figure for an account not seen", `"findings": 0,
      "compliance_pct": null`, `"findings": 0,
      "compliance_pct": 100`},
		{"no figure for an account seen", `"compliance_pct": 33.3`, `"compliance_pct": null`},
		{"error status without error", `"status": "error",
      "error": "assume role in 333333333333: AccessDenied: user with key AKIAIOSFODNN7EXAMPL is not allowed",`, `"status": "error",`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(tt.from)) {
				t.Fatalf("fixture JSON lacks %q", tt.from)
			}
			bad := bytes.Replace(good, []byte(tt.from), []byte(tt.to), 1)
			if err := validateJSON(t, sch, bad); err == nil {
				t.Errorf("schema accepted a report with %s", tt.name)
			}
			if _, err := ReadJSON(bytes.NewReader(bad)); err == nil {
				t.Errorf("ReadJSON accepted a report with %s", tt.name)
			}
		})
	}
}

func TestReadJSONRejectsTrailingData(t *testing.T) {
	good := writeJSON(t, finalized())
	if _, err := ReadJSON(bytes.NewReader(append(good, []byte("{}")...))); err == nil {
		t.Error("ReadJSON accepted trailing data")
	}
	if _, err := ReadJSON(strings.NewReader("")); err == nil {
		t.Error("ReadJSON accepted an empty input")
	}
}

func TestSchemaDocumentsEveryField(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	check := func(def string, props map[string]json.RawMessage, v any) {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if _, ok := props[name]; !ok {
				t.Errorf("schema %s lacks field %q of %s", def, name, typ.Name())
			}
		}
		if len(props) != typ.NumField() {
			t.Errorf("schema %s has %d properties, %s has %d fields", def, len(props), typ.Name(), typ.NumField())
		}
	}
	check("root", doc.Properties, Report{})
	for def, v := range map[string]any{"run": Run{}, "policy": Policy{}, "summary": Summary{}, "account": Account{},
		"key": Key{}, "finding": Finding{}, "notification": Notification{}} {
		check(def, doc.Defs[def].Properties, v)
	}
}

func TestMerge(t *testing.T) {
	full := finalized()
	// Shard 1 has prod and legacy, shard 2 dev and sandbox; both list prod
	// identically, as a re-run shard would.
	shard := func(ids ...string) *Report {
		r := fixture()
		r.Run.ID = "run-" + ids[0]
		keep := func(id string) bool {
			for _, x := range ids {
				if x == id {
					return true
				}
			}
			return false
		}
		var accts []Account
		for _, a := range r.Accounts {
			if keep(a.AccountID) {
				accts = append(accts, a)
			}
		}
		var keys []Key
		for _, k := range r.Keys {
			if keep(k.AccountID) {
				keys = append(keys, k)
			}
		}
		var notes []Notification
		for _, n := range r.Notifications {
			if keep(n.AccountID) {
				notes = append(notes, n)
			}
		}
		r.Accounts, r.Keys, r.Notifications = accts, keys, notes
		r.Finalize()
		return r
	}
	a := shard("111111111111", "333333333333")
	b := shard("222222222222", "444444444444", "111111111111")
	b.Run.Started = now.Add(-time.Minute)
	b.Run.Interrupted = true
	before := writeJSON(t, b)

	m, err := Merge(a, b)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if !bytes.Equal(writeJSON(t, b), before) {
		t.Error("Merge modified its input")
	}
	if !reflect.DeepEqual(m.Accounts, full.Accounts) {
		t.Errorf("merged Accounts =\n%+v\nwant\n%+v", m.Accounts, full.Accounts)
	}
	if !reflect.DeepEqual(m.Keys, full.Keys) {
		t.Errorf("merged Keys differ from the unsharded report's")
	}
	if !reflect.DeepEqual(m.Notifications, full.Notifications) {
		t.Errorf("merged Notifications = %+v, want %+v", m.Notifications, full.Notifications)
	}
	if !reflect.DeepEqual(m.Summary, full.Summary) {
		t.Errorf("merged Summary =\n%+v\nwant\n%+v", m.Summary, full.Summary)
	}
	if m.Run.ID != "run-111111111111+run-222222222222" || !m.Run.Started.Equal(b.Run.Started) || !m.Run.Interrupted {
		t.Errorf("merged Run = %+v", m.Run)
	}

	// The same account with different content is refused.
	c := shard("111111111111")
	c.Keys[0].AgeDays++
	if _, err := Merge(a, c); err == nil || !strings.Contains(err.Error(), "111111111111") {
		t.Errorf("Merge of conflicting shards: err = %v, want an error naming the account", err)
	}

	// Reports that are not shards of one run are refused.
	d := shard("222222222222")
	d.Run.Mode = vocab.ModeAudit
	if _, err := Merge(a, d); err == nil {
		t.Error("Merge accepted an audit and an apply report")
	}
	e := shard("222222222222")
	e.SchemaVersion = "0"
	if _, err := Merge(a, e); err == nil {
		t.Error("Merge accepted another schema version")
	}
	if _, err := Merge(); err == nil {
		t.Error("Merge of nothing succeeded")
	}
}

func TestMergeRoundTripThroughJSON(t *testing.T) {
	// Times decoded from two files carry distinct locations; an account in
	// both must still compare equal.
	r1, err := ReadJSON(bytes.NewReader(writeJSON(t, finalized())))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := ReadJSON(bytes.NewReader(writeJSON(t, finalized())))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Merge(r1, r2)
	if err != nil {
		t.Fatalf("Merge of a report with itself: %v", err)
	}
	if !bytes.Equal(writeJSON(t, m), writeJSON(t, r1)) {
		t.Error("a report merged with itself changed")
	}
}

// TestSchemaEnumsMatchVocab ties every enumeration of the schema to the
// values package vocab defines, both ways.
func TestSchemaEnumsMatchVocab(t *testing.T) {
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var sch struct {
		Defs map[string]struct {
			Enum       []string `json:"enum"`
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &sch); err != nil {
		t.Fatal(err)
	}
	strs := func(vs any) []string {
		var out []string
		switch v := vs.(type) {
		case []vocab.Reason:
			for _, x := range v {
				out = append(out, string(x))
			}
		case []vocab.Action:
			for _, x := range v {
				out = append(out, string(x))
			}
		case []vocab.Result:
			for _, x := range v {
				out = append(out, string(x))
			}
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	for name, c := range map[string]struct{ got, want []string }{
		"key.reason_code": {sorted(sch.Defs["key"].Properties["reason_code"].Enum), strs(vocab.Reasons())},
		"action":          {sorted(sch.Defs["action"].Enum), strs(vocab.Actions)},
		"result":          {sorted(sch.Defs["result"].Enum), strs(vocab.Results)},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("schema %s enum = %q\nvocab has %q", name, c.got, c.want)
		}
	}
}
