// Package yamlstrict decodes a YAML document into a Go struct strictly:
// every unknown key, wrong type and bad scalar is reported at once, each
// located by file, line and dotted field path ("accounts[0].policy.max_key_age"),
// and an Index maps field paths to lines so that later validation can
// locate its own errors the same way.
//
// It exists because goccy/go-yaml's strict mode stops at the first problem
// and names tokens, not settings; an operator fixing a configuration at
// 3 a.m. wants every problem, named the way the file spells it.
package yamlstrict

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a YAML file, located by file, line and the dotted
// field path.
type Error struct {
	File  string // file name as given to Decode
	Line  int    // 1-based line; 0 only when the YAML library gave no position
	Field string // dotted path such as "accounts[0].id"; empty for syntax errors
	Msg   string // what is wrong and, where possible, what would be right
}

// Error formats the problem as FILE:LINE: FIELD: MSG.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors returns every *Error in err, which may be a single *Error or
// several joined with errors.Join.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if ce, ok := err.(*Error); ok {
			out = append(out, ce)
			return
		}
		if multi, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range multi.Unwrap() {
				walk(e)
			}
			return
		}
		walk(errors.Unwrap(err))
	}
	walk(err)
	return out
}

// Sort orders errs by line, then field, as a reader meets them in the file.
func Sort(errs []*Error) {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Field < errs[j].Field
	})
}

// Join returns one error for errs, sorted by line: the *Error itself when
// there is one, errors.Join otherwise, nil when there is none.
func Join(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	Sort(errs)
	if len(errs) == 1 {
		return errs[0]
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}
