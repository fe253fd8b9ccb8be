package yamlstrict

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// level is a scalar with its own YAML syntax ("low", "high"), as
// config.Duration is.
type level int

func (l *level) UnmarshalYAML(n ast.Node) error {
	text, ok := ScalarText(n)
	switch {
	case !ok:
		return NewValueError(n, "want "+level(0).YAMLKind()+", got "+Describe(n))
	case text == "low":
		*l = 1
	case text == "high":
		*l = 2
	default:
		return NewValueError(n, fmt.Sprintf("bad level %q", text))
	}
	return nil
}

func (level) YAMLKind() string { return "a level such as low or high" }

type limits struct {
	Count int    `yaml:"count"`
	Level *level `yaml:"level,omitempty"`
}

type doc struct {
	Name   string   `yaml:"name"`
	ID     string   `yaml:"id" strict:"digits"`
	Tags   []string `yaml:"tags"`
	On     bool     `yaml:"on"`
	Limits limits   `yaml:"limits"`
	Items  []limits `yaml:"items"`
}

var opts = Options{Literals: map[string]func(ast.Node) (string, error){
	"digits": func(n ast.Node) (string, error) {
		text, ok := ScalarText(n)
		if !ok || strings.Trim(text, "0123456789") != "" {
			return "", fmt.Errorf("want digits, got %s", Describe(n))
		}
		return text, nil
	},
}}

func lines(ls ...string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }

func TestDecodeKeepsDefaultsAndLiterals(t *testing.T) {
	d := doc{Name: "default", Limits: limits{Count: 3}}
	idx, err := Decode("f.yaml", lines("id: 000000000001", "tags: [a, b]", "limits:", "  level: high", "name:"), &d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "default" || d.Limits.Count != 3 || d.Limits.Level == nil || *d.Limits.Level != 2 {
		t.Errorf("decoded %+v", d)
	}
	if id, ok := idx.Literal("id"); !ok || id != "000000000001" {
		t.Errorf("Literal(id) = %q, %v; want the digits as written", id, ok)
	}
	if !idx.Has("limits.level") || idx.Has("limits.count") || idx.LineOf("limits.level") != 4 || idx.LineOf("limits.count") != 3 {
		t.Errorf("index: has(level)=%v has(count)=%v line(level)=%d line(count)=%d",
			idx.Has("limits.level"), idx.Has("limits.count"), idx.LineOf("limits.level"), idx.LineOf("limits.count"))
	}
}

func TestDecodeReportsEveryProblemAtOnce(t *testing.T) {
	src := lines(
		"nmae: x",         // 1: typo
		"id: abc",         // 2: literal check
		"on: maybe",       // 3: bool
		"limits:",         // 4
		"  count: [1]",    // 5: int
		"  level: medium", // 6: custom scalar
		"items:",          // 7
		"  - count: 1",    // 8
		"    colour: red", // 9: unknown, no suggestion
		"tags: !env TAGS", // 10: unknown tag
	)
	var d doc
	_, err := Decode("f.yaml", src, &d, opts)
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Error())
	}
	want := []string{
		`f.yaml:1: nmae: unknown field (did you mean "name"?)`,
		`f.yaml:2: id: want digits, got string "abc"`,
		`f.yaml:3: on: want true or false, got string "maybe"`,
		`f.yaml:5: limits.count: want a whole number, got a list`,
		`f.yaml:6: limits.level: bad level "medium"`,
		`f.yaml:9: items[0].colour: unknown field (valid: count, level)`,
		`f.yaml:10: tags: unknown YAML tag !env (only the standard tags such as !!str are supported; write the value itself)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDecodePartial: with problems, the rest of the document still
// decodes (each bad field at its default, a bad list item empty, in its
// place), and Broken names the fields that had one, so that a caller can
// check its rules on the rest and report every problem at once.
func TestDecodePartial(t *testing.T) {
	d := doc{Name: "default", Limits: limits{Count: 3}}
	src := lines(
		"name: kept",
		"on: maybe",
		"base: &b {count: 7}",
		"limits: {<<: *b, level: medium}",
		"items:",
		"  - count: x",
		"  - count: 2",
		"    colour: red",
		"tags: [a, !env B, c]",
	)
	idx, err := Decode("f.yaml", src, &d, opts)
	if err == nil || !idx.Partial() {
		t.Fatalf("Decode = %v, partial %v; want errors and a partial decode", err, idx.Partial())
	}
	if d.Name != "kept" || d.On || d.Limits.Count != 7 || d.Limits.Level != nil ||
		len(d.Items) != 2 || d.Items[0].Count != 0 || d.Items[1].Count != 2 ||
		!reflect.DeepEqual(d.Tags, []string{"a", "", "c"}) {
		t.Errorf("partial decode %+v", d)
	}
	for path, want := range map[string]bool{
		"on": true, "limits.level": true, "items[0].count": true, "items[0]": false, "items[1].colour": true,
		"items[1].count": false, "tags[1]": true, "tags[0]": false, "name": false, "base": true, "base.count": true,
	} {
		if got := idx.Broken(path); got != want {
			t.Errorf("Broken(%q) = %v, want %v", path, got, want)
		}
	}
	if !idx.BrokenWithin("items") || idx.BrokenWithin("name") {
		t.Error("BrokenWithin")
	}
	// Without problems there is nothing partial about it.
	if idx, err := Decode("f.yaml", lines("name: x"), &d, opts); err != nil || idx.Partial() {
		t.Errorf("clean document: %v, partial %v", err, idx.Partial())
	}
	// An alias bomb leaves no document to decode.
	var b strings.Builder
	b.WriteString("items:\n  - &a0 {count: 1}\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "  - &a%d {<<: [*a%d, *a%d]}\n", i, i-1, i-1)
	}
	if idx, _ := Decode("f.yaml", []byte(b.String()), &doc{}, opts); idx.Partial() {
		t.Error("an alias bomb decoded partially")
	}
}

func TestDecodeStripsByteOrderMark(t *testing.T) {
	var d doc
	if _, err := Decode("f.yaml", append([]byte("\xef\xbb\xbf"), lines("name: x")...), &d, opts); err != nil || d.Name != "x" {
		t.Errorf("Decode with BOM = %+v, %v", d, err)
	}
}

func TestDecodeAcceptsStandardTagsAndMergeKeys(t *testing.T) {
	var d doc
	src := lines("base: &b {count: 2}", "name: !!str 12", "limits:", "  <<: *b", "  level: low")
	_, err := Decode("f.yaml", src, &d, opts)
	// "base" is not a field: the error proves merges are still checked
	// key by key while the rest decodes.
	if es := Errors(err); len(es) != 1 || es[0].Field != "base" {
		t.Fatalf("errors = %v, want only the unknown field base", err)
	}
	src = lines("name: !!str 12", "x: &b {count: 2}")
	if _, err := Decode("f.yaml", src, &d, opts); err == nil {
		t.Fatal("unknown key x accepted")
	}
	d = doc{}
	src = lines("items:", "  - &b {count: 2}", "  - <<: *b", "    level: low")
	if _, err := Decode("f.yaml", src, &d, opts); err != nil || len(d.Items) != 2 || d.Items[1].Count != 2 {
		t.Errorf("merge: %+v, %v", d.Items, err)
	}
}

func TestDecodeRefusesMultipleDocumentsAndAliasBombs(t *testing.T) {
	var d doc
	_, err := Decode("f.yaml", lines("name: a", "---", "name: b"), &d, opts)
	if err == nil || !strings.Contains(err.Error(), "only one YAML document") {
		t.Errorf("two documents: %v", err)
	}
	var b strings.Builder
	b.WriteString("items:\n  - &a0 {count: 1}\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "  - &a%d {<<: [*a%d, *a%d]}\n", i, i-1, i-1)
	}
	_, err = Decode("f.yaml", []byte(b.String()), &d, opts)
	if err == nil || !strings.Contains(err.Error(), "alias expansions") {
		t.Errorf("alias bomb: %v", err)
	}
}

func TestDecodeRejectsNonStruct(t *testing.T) {
	var m map[string]any
	if _, err := Decode("f.yaml", lines("a: 1"), &m, opts); err == nil {
		t.Error("Decode into a map accepted")
	}
}

// TestDecoderErrorsAreLocated covers the strict decoder that backs up the
// schema walk: its errors must carry the same file, line and field.
func TestDecoderErrorsAreLocated(t *testing.T) {
	tests := []struct {
		name  string
		src   []byte
		line  int
		field string
		msg   string
	}{
		{"scalar for int", lines("name: x", "limits:", "  count: many"), 3, "limits.count", `want a whole number, got "many"`},
		{"mapping for string", lines("name:", "  a: 1"), 2, "name", "want a string, got a mapping"},
		{"unknown field", lines("limits:", "  count: 1", "  bogus: 1"), 3, "limits.bogus", `unknown field "bogus"`},
		{"bad level", lines("limits:", "  level: medium"), 2, "limits.level", `bad level "medium"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parser.ParseBytes(tt.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			body := f.Docs[0].Body
			idx := newIndex()
			sc := &schemaCheck{file: "f.yaml", idx: idx, opts: opts, tagged: map[*token.Token]bool{}}
			sc.walk(body, reflect.TypeFor[doc](), "", "")
			decodeErr := yaml.NodeToValue(body, &doc{}, yaml.Strict())
			if decodeErr == nil {
				t.Fatal("decoder accepted the document")
			}
			var ce *Error
			if !errors.As(decoderError("f.yaml", idx, decodeErr), &ce) {
				t.Fatalf("not an *Error: %v", decodeErr)
			}
			if ce.File != "f.yaml" || ce.Line != tt.line || ce.Field != tt.field || !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("got %v, want f.yaml:%d: %s: ...%s...", ce, tt.line, tt.field, tt.msg)
			}
		})
	}
}

func TestErrorFormatting(t *testing.T) {
	e := &Error{File: "f.yaml", Line: 3, Field: "a.b", Msg: "bad"}
	if e.Error() != "f.yaml:3: a.b: bad" {
		t.Errorf("Error() = %q", e.Error())
	}
	if (&Error{File: "f.yaml", Msg: "syntax"}).Error() != "f.yaml: syntax" {
		t.Error("Error() without line and field")
	}
	joined := Join([]*Error{{File: "f", Line: 9, Msg: "b"}, {File: "f", Line: 2, Msg: "a"}})
	if es := Errors(fmt.Errorf("load: %w", joined)); len(es) != 2 || es[0].Line != 2 {
		t.Errorf("Errors(Join) = %v", es)
	}
	if Join(nil) != nil {
		t.Error("Join(nil) != nil")
	}
}
