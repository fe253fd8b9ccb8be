package yamlstrict

import (
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Index maps the field paths written in a document to their lines, and
// decoder tokens back to field paths, so that every error can name both.
type Index struct {
	lines     map[string]int
	tokens    map[*token.Token]string
	positions map[[2]int]string
	rootLine  int
	// literals holds the literal text of every field with a `strict` tag,
	// by path.
	literals map[string]string
	// partial and broken: see Partial and Broken.
	partial bool
	broken  []string
}

func newIndex() *Index {
	return &Index{
		lines:     map[string]int{},
		tokens:    map[*token.Token]string{},
		positions: map[[2]int]string{},
		literals:  map[string]string{},
		rootLine:  1,
	}
}

// Has reports whether path was written in the file.
func (x *Index) Has(path string) bool {
	_, ok := x.lines[path]
	return ok
}

// LineOf returns the line of path, or of its nearest written ancestor when
// path itself was left out (a missing field is reported where its parent
// is).
func (x *Index) LineOf(path string) int {
	for path != "" {
		if l, ok := x.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return x.rootLine
}

// Literal returns the literal text written for a field with a `strict`
// struct tag: YAML reads an unquoted 000000000001 as the number 1, and the
// decoder would hand the struct "1".
func (x *Index) Literal(path string) (string, bool) {
	s, ok := x.literals[path]
	return s, ok
}

// add records path. A scalar is located by its value (which may sit on a
// later line than its key in a block scalar); a mapping or list by its key.
func (x *Index) add(path string, key *token.Token, value ast.Node) {
	line := 0
	if key != nil {
		line = key.Position.Line
	}
	value = Unwrap(value)
	switch value.(type) {
	case nil, *ast.NullNode, *ast.MappingNode, *ast.SequenceNode:
	default:
		if tok := value.GetToken(); tok != nil && tok.Position != nil {
			line = tok.Position.Line
		}
	}
	if line == 0 {
		line = nodeLine(value, 0)
	}
	if line > 0 {
		x.lines[path] = line
	}
	for _, tok := range []*token.Token{key, nodeToken(value)} {
		if tok == nil {
			continue
		}
		if _, ok := x.tokens[tok]; !ok {
			x.tokens[tok] = path
		}
		if tok.Position != nil {
			pos := [2]int{tok.Position.Line, tok.Position.Column}
			if _, ok := x.positions[pos]; !ok {
				x.positions[pos] = path
			}
		}
	}
}

// pathOf returns the field path of a token the decoder complained about.
func (x *Index) pathOf(tok *token.Token) string {
	if p, ok := x.tokens[tok]; ok {
		return p
	}
	if tok != nil && tok.Position != nil {
		return x.positions[[2]int{tok.Position.Line, tok.Position.Column}]
	}
	return ""
}

// Partial tells whether Decode, having found problems, still decoded the
// rest of the document: each field with a problem keeps its default (a
// list item with one is empty), so that the caller can check the rules on
// everything else and report all problems at once.
func (x *Index) Partial() bool { return x.partial }

// Broken tells whether path, or a field it is part of, had a problem
// Decode reported: a rule checked on its default would only repeat it.
func (x *Index) Broken(path string) bool {
	for _, b := range x.broken {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

// BrokenWithin tells whether path or any field inside it had a problem.
func (x *Index) BrokenWithin(path string) bool {
	for _, b := range x.broken {
		if b == path || strings.HasPrefix(b, path+".") || strings.HasPrefix(b, path+"[") {
			return true
		}
	}
	return false
}
