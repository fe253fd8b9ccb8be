// Package archtest checks the shape of the code base: each file small
// enough to read, and no two files of a package that need each other, so a
// reader can follow each file from top to bottom.
package archtest

import (
	"fmt"
	"go/ast"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// maxLines is the most lines a non-test source file may have.
const maxLines = 600

func load(t *testing.T) []*packages.Package {
	t.Helper()
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
		Dir:  "../..",
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Fatalf("%s: %v", p.PkgPath, e)
		}
	}
	return pkgs
}

func TestFileSize(t *testing.T) {
	for _, p := range load(t) {
		for _, f := range p.GoFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(b), "\n"); n > maxLines {
				t.Errorf("%s has %d lines, more than %d: split it where a reader would", rel(f), n, maxLines)
			}
		}
	}
}

// TestNoFileCycles fails when two files of a package use each other's
// declarations, directly or through other files.
func TestNoFileCycles(t *testing.T) {
	for _, p := range load(t) {
		deps := fileDeps(p)
		for _, scc := range cycles(deps) {
			var names []string
			for _, f := range scc {
				names = append(names, filepath.Base(f))
			}
			var why []string
			for _, a := range scc {
				for _, b := range scc {
					if u := deps[a][b]; u != "" {
						why = append(why, fmt.Sprintf("%s uses %s of %s", filepath.Base(a), u, filepath.Base(b)))
					}
				}
			}
			slices.Sort(why)
			t.Errorf("%s: files %s need each other: %s", p.PkgPath, strings.Join(names, ", "), strings.Join(why, "; "))
		}
	}
}

// fileDeps maps each non-test file of p to the files whose package-level
// declarations (methods and fields included) it uses, with one example.
func fileDeps(p *packages.Package) map[string]map[string]string {
	deps := map[string]map[string]string{}
	fileOf := func(pos token.Pos) string { return p.Fset.Position(pos).Filename }
	for _, f := range p.Syntax {
		from := fileOf(f.Pos())
		deps[from] = map[string]string{}
		ast.Inspect(f, func(n ast.Node) bool {
			id, ok := n.(*ast.Ident)
			if !ok {
				return true
			}
			obj := p.TypesInfo.Uses[id]
			if obj == nil || obj.Pkg() != p.Types || !obj.Pos().IsValid() {
				return true
			}
			// Only package-level names, methods and fields count, not
			// locals.
			if obj.Parent() != nil && obj.Parent() != p.Types.Scope() {
				return true
			}
			to := fileOf(obj.Pos())
			if to != from && deps[from][to] == "" {
				deps[from][to] = obj.Name()
			}
			return true
		})
	}
	return deps
}

// cycles returns the strongly connected components with more than one file
// (Tarjan's algorithm).
func cycles(deps map[string]map[string]string) [][]string {
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range sortedKeys(deps[v]) {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			if len(scc) > 1 {
				slices.Sort(scc)
				out = append(out, scc)
			}
		}
	}
	for _, v := range sortedKeys(deps) {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func rel(f string) string {
	if r, err := filepath.Rel("../..", f); err == nil {
		return r
	}
	return f
}
