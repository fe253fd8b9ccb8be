package yamlstrict

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Options tune Decode.
type Options struct {
	// Literals checks the string fields tagged `strict:"NAME"` with the
	// function of that name, which gets the field's node and returns its
	// literal text or an error that becomes the field's problem. The text
	// is kept in the Index (see Index.Literal).
	Literals map[string]func(ast.Node) (string, error)
}

// maxAliasExpansions is far more aliases than any real configuration uses.
const maxAliasExpansions = 1000

// utf8BOM is what Windows editors put in front of a UTF-8 file; YAML allows
// it, and without stripping it the first key would be "\ufeffregion".
var utf8BOM = []byte("\xef\xbb\xbf")

// standardTags are the YAML 1.2 core schema's tags. Any other tag ("!env
// X") is an error rather than silently read as literal text: a user who
// writes it expects it to do something.
var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!map": true, "!!seq": true, "!!binary": true, "!!timestamp": true, "!!merge": true,
}

// Decode decodes the single YAML document in data into dst, a pointer to a
// struct already holding the defaults: a key that is absent or null keeps
// its default. Every unknown key, wrong type and bad scalar is reported
// (errors joined, each an *Error named by file, line and field); the
// returned Index locates the fields for later validation.
func Decode(file string, data []byte, dst any, opts Options) (*Index, error) {
	idx := newIndex()
	data = bytes.TrimPrefix(data, utf8BOM)
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return idx, decoderError(file, nil, err)
	}
	var body ast.Node
	for i, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return idx, &Error{File: file, Line: nodeLine(doc.Body, i+1), Msg: "only one YAML document is allowed"}
		}
		body = doc.Body
	}
	if body == nil {
		return idx, nil
	}
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return idx, fmt.Errorf("yamlstrict: Decode needs a pointer to a struct, got %T", dst)
	}
	idx.rootLine = nodeLine(body, 1)
	sc := schemaCheck{file: file, idx: idx, opts: opts, tagged: map[*token.Token]bool{}}
	sc.walk(body, t.Elem(), "", "")
	if len(sc.errs) > 0 {
		// Decode what is sound, so that the caller can report its rule
		// violations with these: every problem at once, not the rules
		// only after the structure is fixed.
		if sc.prunable == len(sc.errs) {
			prune(body, sc.failed)
			// Not strict: the unknown keys are reported already.
			if yaml.NodeToValue(body, dst) == nil {
				idx.partial = true
				for _, e := range sc.errs {
					idx.broken = append(idx.broken, e.Field)
				}
			}
		}
		return idx, Join(sc.errs)
	}
	// The schema walk has already rejected unknown keys and wrong types;
	// strict decoding stays on so that anything it misses is still an
	// error rather than a silently ignored setting.
	if err := yaml.NodeToValue(body, dst, yaml.Strict()); err != nil {
		return idx, decoderError(file, idx, err)
	}
	return idx, nil
}

// decoderError locates an error from goccy/go-yaml.
func decoderError(file string, idx *Index, err error) error {
	var ye interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if !errors.As(err, &ye) || ye.GetToken() == nil || ye.GetToken().Position == nil {
		return &Error{File: file, Msg: err.Error()}
	}
	tok := ye.GetToken()
	ce := &Error{File: file, Line: tok.Position.Line, Msg: ye.GetMessage()}
	if idx != nil {
		ce.Field = idx.pathOf(tok)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && te.DstType != nil {
		ce.Msg = fmt.Sprintf("want %s, got %s", describeGoKind(te.DstType), describeToken(tok))
	}
	return ce
}

// schemaCheck walks the YAML tree against the Go types, reporting every
// unknown key, wrong type and bad scalar with its path and line, and filling
// the index used by later validation.
type schemaCheck struct {
	file    string
	idx     *Index
	opts    Options
	errs    []*Error
	anchors map[string]ast.Node
	// tagged remembers the tags already judged, so that a node reached
	// twice (through a merge key) is reported once.
	tagged map[*token.Token]bool
	// viaAlias is the line of the alias or merge key being expanded: a
	// problem inside is reported where the value is used, since that is
	// the path it is wrong for.
	viaAlias int
	// aliasBudget bounds alias expansion, so that a document of nested
	// aliases ("billion laughs") fails fast instead of exploding.
	aliasBudget int
	// failed are the nodes of the problems fail reported, prunable how
	// many problems have one: the rest (alias and merge key misuse) leave
	// no sound document to decode.
	failed   map[ast.Node]bool
	prunable int
}

func (s *schemaCheck) fail(n ast.Node, path, format string, args ...any) {
	line := s.viaAlias
	if line == 0 {
		line = nodeLine(n, s.idx.LineOf(path))
	}
	s.errs = append(s.errs, &Error{File: s.file, Line: line, Field: path, Msg: fmt.Sprintf(format, args...)})
	if n != nil && path != "" {
		if s.failed == nil {
			s.failed = map[ast.Node]bool{}
		}
		s.failed[n] = true
		s.prunable++
	}
}

// index records path for later validation. Inside an expanded alias the
// tokens belong to the anchor's own path, so only the line of use is kept,
// and a key written explicitly next to a merge key wins.
func (s *schemaCheck) index(path string, key *token.Token, value ast.Node) {
	if s.viaAlias == 0 {
		s.idx.add(path, key, value)
		return
	}
	if !s.idx.Has(path) {
		s.idx.lines[path] = s.viaAlias
	}
}

// expanding runs f with problems located at line, unless an outer alias
// already set the location.
func (s *schemaCheck) expanding(line int, f func()) {
	if s.aliasBudget++; s.aliasBudget > maxAliasExpansions {
		if s.aliasBudget == maxAliasExpansions+1 {
			s.errs = append(s.errs, &Error{File: s.file, Line: line, Msg: fmt.Sprintf("more than %d alias expansions", maxAliasExpansions)})
		}
		return
	}
	if s.viaAlias != 0 {
		f()
		return
	}
	s.viaAlias = line
	f()
	s.viaAlias = 0
}

// resolve looks through anchors (recording them) and tags (rejecting
// non-standard ones). An alias is returned as is, for the caller to expand.
func (s *schemaCheck) resolve(n ast.Node, path string) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			if s.anchors == nil {
				s.anchors = map[string]ast.Node{}
			}
			s.anchors[nodeToken(v.Name).Value] = v.Value
			n = v.Value
		case *ast.TagNode:
			if tok := v.Start; tok != nil && !s.tagged[tok] {
				s.tagged[tok] = true
				if !standardTags[tok.Value] {
					s.fail(v, path, "unknown YAML tag %s (only the standard tags such as !!str are supported; write the value itself)", tok.Value)
					// The value under a tag keyrotor does not know means
					// nothing here: report the tag alone.
					return nil
				}
			} else if tok != nil && !standardTags[tok.Value] {
				return nil
			}
			n = v.Value
		default:
			return n
		}
	}
}

// anchored returns the node an alias refers to, or nil when the alias is
// undefined (the decoder then reports it).
func (s *schemaCheck) anchored(a *ast.AliasNode) ast.Node {
	if tok := nodeToken(a.Value); tok != nil {
		return s.anchors[tok.Value]
	}
	return nil
}

// walk checks n against t. literal is the field's `strict` tag, naming an
// Options.Literals check.
func (s *schemaCheck) walk(n ast.Node, t reflect.Type, path, literal string) {
	n = s.resolve(n, path)
	switch v := n.(type) {
	case nil, *ast.NullNode:
		// Null keeps the default, as the decoder does.
		return
	case *ast.AliasNode:
		if target := s.anchored(v); target != nil {
			s.expanding(nodeLine(v, s.idx.LineOf(path)), func() { s.walk(target, t, path, literal) })
		}
		return
	}
	if literal != "" && t.Kind() == reflect.String {
		check := s.opts.Literals[literal]
		if check == nil {
			s.fail(n, path, "internal error: no check for strict:%q", literal)
			return
		}
		text, err := check(n)
		if err != nil {
			s.fail(n, path, "%s", err)
			return
		}
		s.idx.literals[path] = text
		return
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[NodeUnmarshaler]()) {
		u := reflect.New(t).Interface().(NodeUnmarshaler)
		if err := u.UnmarshalYAML(n); err != nil {
			msg := err.Error()
			var ve *ValueError
			if errors.As(err, &ve) {
				msg = ve.msg
			}
			s.fail(n, path, "%s", msg)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		s.walk(n, t.Elem(), path, literal)
	case reflect.Struct:
		entries, ok := mappingEntries(n)
		if !ok {
			s.fail(n, path, "want a mapping, got %s", Describe(n))
			return
		}
		s.mapping(entries, t, path, map[string]bool{})
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			s.fail(n, path, "want a list, got %s", Describe(n))
			return
		}
		for i, item := range seq.Values {
			ip := path + "[" + strconv.Itoa(i) + "]"
			s.index(ip, nil, item)
			s.walk(item, t.Elem(), ip, literal)
		}
	case reflect.String:
		switch n.(type) {
		case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
			s.fail(n, path, "want a string, got %s", Describe(n))
		}
	case reflect.Bool:
		if _, ok := n.(*ast.BoolNode); !ok {
			s.fail(n, path, "want true or false, got %s", Describe(n))
		}
	case reflect.Int, reflect.Int64:
		if _, ok := n.(*ast.IntegerNode); !ok {
			if sn, isStr := n.(*ast.StringNode); isStr && sn.Token.Type != token.DoubleQuoteType &&
				sn.Token.Type != token.SingleQuoteType && strings.Trim(sn.Value, "0123456789-") == "" {
				// goccy/go-yaml reads an integer it cannot hold as a string.
				s.fail(n, path, "%s is too large", sn.Value)
				return
			}
			s.fail(n, path, "want a whole number, got %s", Describe(n))
		}
	}
}

// mapping checks the entries of a mapping decoded into struct type t.
// Merge keys ("<<: *defaults") are expanded after the explicit keys, which
// override them; written records the keys already seen.
func (s *schemaCheck) mapping(entries []*ast.MappingValueNode, t reflect.Type, path string, written map[string]bool) {
	fields := structFields(t)
	var merges []*ast.MappingValueNode
	for _, mv := range entries {
		if _, merge := mv.Key.(*ast.MergeKeyNode); merge {
			merges = append(merges, mv)
			continue
		}
		name := keyText(mv.Key)
		if written[name] {
			continue
		}
		written[name] = true
		kp := childPath(path, name)
		s.index(kp, mv.Key.GetToken(), mv.Value)
		f, ok := fields.byName[name]
		if !ok {
			s.fail(mv.Key, kp, "%s", unknownFieldMessage(name, fields.names))
			continue
		}
		s.walk(mv.Value, f.Type, kp, f.Tag.Get("strict"))
	}
	for _, mv := range merges {
		line := nodeLine(mv.Key, s.idx.LineOf(path))
		// The value of a merge key is a mapping, an alias of one, or a
		// list of those; earlier ones win.
		sources := []ast.Node{s.resolve(mv.Value, path)}
		if seq, ok := sources[0].(*ast.SequenceNode); ok {
			sources = seq.Values
		}
		for _, src := range sources {
			src = s.resolve(src, path)
			if a, ok := src.(*ast.AliasNode); ok {
				src = s.anchored(a)
			}
			entries, ok := mappingEntries(s.resolve(src, path))
			if !ok {
				if src != nil {
					s.errs = append(s.errs, &Error{File: s.file, Line: line, Field: path, Msg: "merge key (<<) needs a mapping, got " + Describe(src)})
				}
				continue
			}
			s.expanding(line, func() { s.mapping(entries, t, path, written) })
		}
	}
}

func childPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// mappingEntries returns the entries of a mapping node.
func mappingEntries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

func keyText(k ast.MapKeyNode) string {
	if s, ok := Unwrap(k).(*ast.StringNode); ok {
		return s.Value
	}
	if tok := k.GetToken(); tok != nil {
		return tok.Value
	}
	return k.String()
}

type fieldSet struct {
	byName map[string]reflect.StructField
	names  []string
}

// structFields lists the YAML keys of t's fields, in declaration order.
func structFields(t reflect.Type) fieldSet {
	fs := fieldSet{byName: map[string]reflect.StructField{}}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fs.byName[name] = f
		fs.names = append(fs.names, name)
	}
	return fs
}
