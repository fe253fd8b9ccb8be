package report

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// WriteCSV writes one row per key under a header row of the keys' JSON field
// names, dates in RFC 3339 UTC and findings joined with ", ".
//
// Text that a spreadsheet would run as a formula (a leading =, +, -, @, tab
// or carriage return; IAM user names may start with several of these) is
// prefixed with a single quote, as OWASP advises against CSV injection.
func WriteCSV(w io.Writer, r *Report) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	row := make([]string, len(keyColumns))
	for i, c := range keyColumns {
		row[i] = c.name
	}
	if err := cw.Write(row); err != nil {
		return fmt.Errorf("write CSV header: %w", err)
	}
	for i := range r.Keys {
		k := &r.Keys[i]
		for j, c := range keyColumns {
			row[j] = csvField(c.value(k))
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write CSV row for key %d: %w", i+1, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write CSV report: %w", err)
	}
	return nil
}

func csvField(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return neutralizeFormula(v)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	default:
		return neutralizeFormula(fmt.Sprint(v))
	}
}

func neutralizeFormula(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
