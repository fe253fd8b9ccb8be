package logging

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const keyID = "AKIAIOSFODNN7EXAMPLE"

func TestTextMasksKeyIDs(t *testing.T) {
	var b strings.Builder
	log, err := New(&b, Options{Format: FormatText, Level: "info"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("step", "key", keyID, "err", errors.New("delete "+keyID+": AccessDenied"))
	out := b.String()
	if strings.Contains(out, keyID) || strings.Count(out, "…MPLE") != 2 {
		t.Errorf("text log does not mask the key ID: %s", out)
	}
	if strings.HasPrefix(out, "\r\x1b[K") {
		t.Error("line clearing without a terminal")
	}
	b.Reset()
	log, _ = New(&b, Options{Format: FormatText, Level: "info", Terminal: true})
	log.Info("x")
	if !strings.HasPrefix(b.String(), "\r\x1b[K") {
		t.Error("on a terminal a record does not clear the progress bar's line")
	}
}

func TestJSONKeepsKeyIDs(t *testing.T) {
	var b strings.Builder
	log, err := New(&b, Options{Format: FormatJSON, Level: "debug"})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("step", "key", keyID)
	var rec map[string]any
	if err := json.Unmarshal([]byte(b.String()), &rec); err != nil || rec["key"] != keyID {
		t.Errorf("JSON record %q (%v): want the full key ID", b.String(), err)
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := New(&strings.Builder{}, Options{Format: "xml", Level: "info"}); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("format xml: %v", err)
	}
	if _, err := New(&strings.Builder{}, Options{Format: FormatText, Level: "loud"}); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("level loud: %v", err)
	}
}
