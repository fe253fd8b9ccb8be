package yamlstrict

import (
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// prune removes from the tree under n the values the schema check failed:
// a mapping entry whose value failed goes (its field keeps the default), a
// list item that failed becomes null (so later items keep their index, and
// so their paths and lines). Unknown keys stay, for the lenient decode of
// the pruned tree to skip: their values may hold anchors the rest uses.
func prune(n ast.Node, failed map[ast.Node]bool) {
	seen := map[ast.Node]bool{}
	var visit func(n ast.Node) ast.Node
	// visit prunes inside n and returns what should stand in its place:
	// n, or nil when n itself failed.
	visit = func(n ast.Node) ast.Node {
		if n == nil || seen[n] {
			return n
		}
		seen[n] = true
		if chainFailed(n, failed) {
			return nil
		}
		switch v := n.(type) {
		case *ast.AnchorNode:
			v.Value = orNull(visit(v.Value), v.Value)
		case *ast.TagNode:
			v.Value = orNull(visit(v.Value), v.Value)
		case *ast.MappingNode:
			kept := v.Values[:0]
			for _, mv := range v.Values {
				if entryFailed(mv, failed) {
					continue
				}
				mv.Value = orNull(visit(mv.Value), mv.Value)
				kept = append(kept, mv)
			}
			v.Values = kept
		case *ast.MappingValueNode:
			if entryFailed(v, failed) {
				return nil
			}
			v.Value = orNull(visit(v.Value), v.Value)
		case *ast.SequenceNode:
			for i, item := range v.Values {
				v.Values[i] = orNull(visit(item), item)
			}
		}
		return n
	}
	visit(n)
}

// entryFailed tells whether a mapping entry's value failed.
func entryFailed(mv *ast.MappingValueNode, failed map[ast.Node]bool) bool {
	return chainFailed(mv.Value, failed)
}

// chainFailed tells whether n, or the node under its anchors and tags,
// failed: the schema check reports a value where it resolved it.
func chainFailed(n ast.Node, failed map[ast.Node]bool) bool {
	for ; n != nil; n = decorated(n) {
		if failed[n] {
			return true
		}
	}
	return false
}

// decorated returns the node an anchor or a tag decorates, nil for any
// other node.
func decorated(n ast.Node) ast.Node {
	switch v := n.(type) {
	case *ast.AnchorNode:
		return v.Value
	case *ast.TagNode:
		return v.Value
	}
	return nil
}

// orNull returns n, or a null node in place of old when n is nil.
func orNull(n, old ast.Node) ast.Node {
	if n != nil {
		return n
	}
	var pos *token.Position
	if old != nil && old.GetToken() != nil {
		pos = old.GetToken().Position
	}
	return ast.Null(token.New("null", "null", pos))
}
