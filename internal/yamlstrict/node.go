package yamlstrict

import (
	"fmt"
	"reflect"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// NodeUnmarshaler is goccy/go-yaml's NodeUnmarshaler. Decode calls it
// itself during its schema walk so that every bad scalar is reported, not
// just the first one the decoder meets.
type NodeUnmarshaler interface {
	UnmarshalYAML(ast.Node) error
}

// Kinder is implemented by types that describe the YAML they are decoded
// from ("a duration such as 90d or 36h"), for type errors.
type Kinder interface {
	YAMLKind() string
}

// ValueError is a bad scalar value, for NodeUnmarshaler implementations. It
// carries the token so that Decode can name the line, and implements the
// same GetToken/GetMessage pair as goccy/go-yaml's own errors.
type ValueError struct {
	tok *token.Token
	msg string
}

// NewValueError reports that node n holds a bad value; msg says why.
func NewValueError(n ast.Node, msg string) *ValueError {
	return &ValueError{tok: nodeToken(n), msg: msg}
}

func (e *ValueError) Error() string {
	if e.tok != nil && e.tok.Position != nil {
		return fmt.Sprintf("line %d: %s", e.tok.Position.Line, e.msg)
	}
	return e.msg
}

// GetToken returns the token of the offending value.
func (e *ValueError) GetToken() *token.Token { return e.tok }

// GetMessage returns the message without a position.
func (e *ValueError) GetMessage() string { return e.msg }

// Unwrap looks through anchors and explicit tags ("!!str") to the value
// they decorate.
func Unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

// Describe names a node's kind and value for error messages, e.g.
// `string "many"`, `a list`.
func Describe(n ast.Node) string {
	n = Unwrap(n)
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("string %q", v.Value)
	case *ast.LiteralNode:
		return fmt.Sprintf("string %q", v.Value.Value)
	case *ast.IntegerNode:
		return "integer " + v.GetToken().Value
	case *ast.FloatNode:
		return "number " + v.GetToken().Value
	case *ast.BoolNode:
		return "boolean " + v.GetToken().Value
	case *ast.AliasNode:
		return "an alias"
	default:
		if tok := n.GetToken(); tok != nil {
			return fmt.Sprintf("%q", tok.Value)
		}
		return n.Type().String()
	}
}

// ScalarText returns the literal text of a scalar node (a number's digits
// as written), or false for anything else.
func ScalarText(n ast.Node) (string, bool) {
	switch v := Unwrap(n).(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.IntegerNode, *ast.FloatNode:
		return v.GetToken().Value, true
	}
	return "", false
}

func nodeToken(n ast.Node) *token.Token {
	if n == nil {
		return nil
	}
	return n.GetToken()
}

// nodeLine returns n's line, or def when n has no position.
func nodeLine(n ast.Node, def int) int {
	if tok := nodeToken(Unwrap(n)); tok != nil && tok.Position != nil && tok.Position.Line > 0 {
		return tok.Position.Line
	}
	return def
}

// describeToken names the value starting at tok, for decoder errors that
// carry only a token.
func describeToken(tok *token.Token) string {
	switch tok.Type {
	case token.MappingValueType, token.MappingStartType, token.MappingKeyType:
		return "a mapping"
	case token.SequenceEntryType, token.SequenceStartType:
		return "a list"
	}
	return fmt.Sprintf("%q", tok.Value)
}

// describeGoKind names the YAML shape that a Go type is decoded from.
func describeGoKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if k, ok := reflect.Zero(t).Interface().(Kinder); ok {
		return k.YAMLKind()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.String()
}
