package awssim

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Reading scenarios from YAML, strictly and with file:line errors, and the
// built-in demo.

// LoadScenario reads and parses a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return ParseScenario(path, data)
}

// ParseScenario parses a scenario strictly: unknown keys, values of the
// wrong type and invalid values are errors naming file:line.
func ParseScenario(file string, data []byte) (*Scenario, error) {
	var sc Scenario
	if err := yaml.UnmarshalWithOptions(data, &sc, yaml.Strict()); err != nil {
		return nil, scnYAMLError(file, err)
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, scnYAMLError(file, err)
	}
	idx := scnIndexFile(f)
	if len(idx.errs) > 0 {
		return nil, scnFormatErrors(file, idx.errs, idx.lines)
	}
	sc.resolveNever()
	if errs := sc.validate(); len(errs) > 0 {
		return nil, scnFormatErrors(file, errs, idx.lines)
	}
	return &sc, nil
}

// scnYAMLError turns a goccy/go-yaml error into "file:line:col: message".
func scnYAMLError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return fmt.Errorf("%s:%d:%d: %s", file, p.Line, p.Column, ye.GetMessage())
	}
	return fmt.Errorf("%s: %w", file, err)
}

// scnFileIndex maps YAML paths to lines and holds the errors found while
// walking the file.
type scnFileIndex struct {
	lines map[string]int
	errs  []scnFieldError
}

// scnTimestampPath matches the paths of the fields decoded as time.Time, whose
// bad values goccy/go-yaml silently decodes as the zero time.
var scnTimestampPath = regexp.MustCompile(`^\$\.now$|\.keys\[\d+\]\.created$`)

type scnIndexVisitor struct{ idx *scnFileIndex }

func (v scnIndexVisitor) Visit(n ast.Node) ast.Visitor {
	p := n.GetPath()
	if _, seen := v.idx.lines[p]; !seen && p != "" {
		v.idx.lines[p] = n.GetToken().Position.Line
	}
	if mv, ok := n.(*ast.MappingValueNode); ok && scnTimestampPath.MatchString(p) && mv.Value.Type() != ast.NullType {
		s := mv.Value.GetToken().Value
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			if _, err := time.Parse(time.DateOnly, s); err != nil {
				v.idx.errs = append(v.idx.errs, scnFieldError{p, fmt.Sprintf("%q is not an RFC 3339 time like 2026-11-26T06:00:00Z", s)})
			}
		}
	}
	return v
}

func scnIndexFile(f *ast.File) *scnFileIndex {
	idx := &scnFileIndex{lines: map[string]int{}}
	for _, d := range f.Docs {
		ast.Walk(scnIndexVisitor{idx}, d)
	}
	return idx
}

// resolveNever turns the "never" sentinel into the nil LastUsed it means.
func (sc *Scenario) resolveNever() {
	fix := func(a *ScenarioAccount) {
		for j := range a.RootKeys {
			if k := &a.RootKeys[j]; k.LastUsed != nil && *k.LastUsed == scnNeverUsed {
				k.LastUsed = nil
			}
		}
		for i := range a.Users {
			for j := range a.Users[i].Keys {
				if k := &a.Users[i].Keys[j]; k.LastUsed != nil && *k.LastUsed == scnNeverUsed {
					k.LastUsed = nil
				}
			}
		}
	}
	fix(&sc.Organization.ManagementAccount)
	fix(&sc.Organization.SecurityAccount)
	for i := range sc.Accounts {
		fix(&sc.Accounts[i])
	}
}

//go:embed scenarios/demo.yaml
var scnDemoYAML []byte

// DemoScenario returns the built-in demo: an organization of 14 accounts in
// three OUs with about 200 users covering every case keyrotor handles. Its
// Now is zero, so Build starts the clock at the wall clock; set Now first
// for reproducible IDs and dates.
func DemoScenario() *Scenario {
	sc, err := ParseScenario("scenarios/demo.yaml", scnDemoYAML)
	if err != nil {
		// The file is embedded and tested; failing here is a build defect.
		panic(fmt.Sprintf("awssim: built-in demo scenario: %v", err))
	}
	return sc
}
