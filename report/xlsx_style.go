package report

import (
	"fmt"
	"io"
	"time"

	"github.com/xuri/excelize/v2"
)

// Sheet names of the XLSX report, in workbook order.
const (
	sheetSummary       = "Summary"
	sheetAccounts      = "Accounts"
	sheetKeys          = "Keys"
	sheetActions       = "Actions"
	sheetErrors        = "Errors"
	sheetNotifications = "Notifications"
)

// errWriter remembers the first write error, which excelize's zip loop may
// overwrite with a later nil.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// Cell looks: a fill for the row's compliance state and a font colour for
// its outcome.
type fill uint8

const (
	fillNone  fill = iota
	fillRed        // stale_key
	fillAmber      // unused_key
	fillGrey       // exempt, skipped
)

var fillColors = map[fill]string{fillRed: "FFC7CE", fillAmber: "FFEB9C", fillGrey: "D9D9D9"}

type font uint8

const (
	fontPlain font = iota
	fontRed        // failed, error
	fontGreen      // done, sent
)

var fontColors = map[font]string{fontRed: "9C0006", fontGreen: "006100"}

// kind is the number format a cell needs.
type kind uint8

const (
	kindText kind = iota
	kindDate
	kindPct
)

type look struct {
	fill fill
	font font
}

type styleKey struct {
	look
	kind kind
}

type xlsxWriter struct {
	f      *excelize.File
	r      *Report
	styles map[styleKey]int
	header int
	bold   int
	title  int
}

// style returns the style ID for a look and kind, creating it on first use;
// 0 (excelize's default) is the plain text style.
func (x *xlsxWriter) style(k styleKey) (int, error) {
	if id, ok := x.styles[k]; ok {
		return id, nil
	}
	st := &excelize.Style{}
	if c, ok := fillColors[k.fill]; ok {
		st.Fill = excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{c}}
	}
	if c, ok := fontColors[k.font]; ok {
		st.Font = &excelize.Font{Color: c}
	}
	switch k.kind {
	case kindDate:
		f := "yyyy-mm-dd hh:mm:ss"
		st.CustomNumFmt = &f
	case kindPct:
		f := "0.0"
		st.CustomNumFmt = &f
	}
	id := 0
	if k != (styleKey{}) {
		var err error
		if id, err = x.f.NewStyle(st); err != nil {
			return 0, fmt.Errorf("create cell style: %w", err)
		}
	}
	x.styles[k] = id
	return id, nil
}

// cell turns a column value into what StreamWriter.SetRow and SetSheetRow
// take. Percentages arrive as float64 and get one decimal.
func (x *xlsxWriter) cell(v any, l look) (any, error) {
	k := styleKey{look: l}
	switch t := v.(type) {
	case string:
		if t == "" {
			v = nil // a blank cell, not an empty inline string
		}
	case time.Time:
		k.kind = kindDate
		v = t.UTC()
	case float64:
		k.kind = kindPct
	}
	id, err := x.style(k)
	if err != nil {
		return nil, err
	}
	if id == 0 {
		return v, nil
	}
	// A styled nil writes a blank cell that still shows the row's fill.
	return excelize.Cell{StyleID: id, Value: v}, nil
}
