package report

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/xuri/excelize/v2"

	"keyrotor/vocab"
)

// streamSheet writes one data sheet through a StreamWriter. excelize wants
// column widths and panes before the first row, rows in ascending order, and
// the autofilter set on the worksheet before Flush, which writes it out.
type streamSheet struct {
	x     *xlsxWriter
	name  string
	sw    *excelize.StreamWriter
	ncols int
	rows  int // data rows declared in the sheet's dimension
	row   int
	cells []any
}

// newStreamSheet starts a data sheet of the given column titles and widths
// that will hold rows data rows below its header.
//
// The sheet's <dimension> (its used range, which openpyxl's read-only mode
// and other streaming readers trust to know where the data ends) is written
// by NewStreamWriter as the first thing in the sheet, and excelize never
// revisits it: left alone it says "A1", so the range must be set here,
// before the stream starts. The callers know their row counts up front
// because the whole report is in memory; close checks the count held.
func (x *xlsxWriter) newStreamSheet(name string, titles []string, widths []float64, rows int) (*streamSheet, error) {
	if err := setDimension(x.f, name, len(titles), 1+rows); err != nil {
		return nil, err
	}
	sw, err := x.f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	// StreamWriter.SetColWidth puts each new column before those already
	// set and nothing sorts them later, while Excel wants <col> elements in
	// ascending order: so set them from the last column to the first.
	for i := len(widths) - 1; i >= 0; i-- {
		if err := sw.SetColWidth(i+1, i+1, widths[i]); err != nil {
			return nil, err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{
		Freeze:      true,
		YSplit:      1,
		TopLeftCell: "A2",
		ActivePane:  "bottomLeft",
		Selection:   []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	}); err != nil {
		return nil, err
	}
	header := make([]any, len(titles))
	for i, t := range titles {
		header[i] = excelize.Cell{StyleID: x.header, Value: t}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return nil, err
	}
	return &streamSheet{x: x, name: name, sw: sw, ncols: len(titles), rows: rows, row: 1, cells: make([]any, len(titles))}, nil
}

// setDimension declares the used range of sheet as A1 to the cell at
// (cols, rows).
func setDimension(f *excelize.File, sheet string, cols, rows int) error {
	last, err := excelize.CoordinatesToCellName(cols, rows)
	if err != nil {
		return fmt.Errorf("used range of %d columns and %d rows: %w", cols, rows, err)
	}
	if err := f.SetSheetDimension(sheet, "A1:"+last); err != nil {
		return fmt.Errorf("set used range A1:%s: %w", last, err)
	}
	return nil
}

func (s *streamSheet) add(vals []any, l look) error {
	s.row++
	for i, v := range vals {
		c, err := s.x.cell(v, l)
		if err != nil {
			return err
		}
		s.cells[i] = c
	}
	ref, err := excelize.CoordinatesToCellName(1, s.row)
	if err != nil {
		return err
	}
	return s.sw.SetRow(ref, s.cells[:len(vals)])
}

func (s *streamSheet) close() error {
	if s.row != 1+s.rows {
		// The dimension written at the top of the sheet would be wrong.
		return fmt.Errorf("wrote %d data rows, declared %d in the used range", s.row-1, s.rows)
	}
	last, err := excelize.CoordinatesToCellName(s.ncols, s.row)
	if err != nil {
		return err
	}
	if err := s.x.f.AutoFilter(s.name, "A1:"+last, nil); err != nil {
		return err
	}
	return s.sw.Flush()
}

// keyLook colours a key's row: grey when exempt, else red for a stale key
// and amber for an unused one; red text when its action failed, green when
// done.
func keyLook(k *Key) look {
	var l look
	switch {
	case k.Exempt:
		l.fill = fillGrey
	case hasFinding(k, FindingStaleKey):
		l.fill = fillRed
	case hasFinding(k, FindingUnusedKey):
		l.fill = fillAmber
	}
	switch k.Result {
	case vocab.ResultFailed:
		l.font = fontRed
	case vocab.ResultDone:
		l.font = fontGreen
	}
	return l
}

func accountLook(a *Account) look {
	switch a.Status {
	case vocab.AccountError:
		return look{font: fontRed}
	case vocab.AccountSkipped:
		return look{fill: fillGrey}
	}
	return look{}
}

func (x *xlsxWriter) keySheet(name string, cols []keyColumn, include func(*Key) bool) error {
	titles := make([]string, len(cols))
	widths := make([]float64, len(cols))
	for i, c := range cols {
		titles[i], widths[i] = c.title, c.width
	}
	rows := 0
	for i := range x.r.Keys {
		if include(&x.r.Keys[i]) {
			rows++
		}
	}
	s, err := x.newStreamSheet(name, titles, widths, rows)
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	for i := range x.r.Keys {
		k := &x.r.Keys[i]
		if !include(k) {
			continue
		}
		for j, c := range cols {
			vals[j] = c.value(k)
		}
		if err := s.add(vals, keyLook(k)); err != nil {
			return fmt.Errorf("key %d: %w", i+1, err)
		}
	}
	return s.close()
}

func (x *xlsxWriter) keys() error {
	return x.keySheet(sheetKeys, keyColumns, func(*Key) bool { return true })
}

func (x *xlsxWriter) actions() error {
	return x.keySheet(sheetActions, pickKeyColumns(actionColumnNames), isActionRow)
}

func (x *xlsxWriter) accounts() error {
	s, err := x.newStreamSheet(sheetAccounts,
		[]string{"Account ID", "Account name", "OU", "Status", "Users", "Keys", "Findings", "Compliance %", "Error"},
		[]float64{15, 24, 24, 10, 8, 8, 10, 13, 60}, len(x.r.Accounts))
	if err != nil {
		return err
	}
	for i := range x.r.Accounts {
		a := &x.r.Accounts[i]
		if err := s.add([]any{a.AccountID, a.Name, a.OU, a.Status, a.Users, a.Keys, a.Findings, complianceValue(a.CompliancePct), a.Error}, accountLook(a)); err != nil {
			return err
		}
	}
	return s.close()
}

// errors lists failed accounts, then keys whose action failed.
func (x *xlsxWriter) errors() error {
	rows := 0
	for i := range x.r.Accounts {
		if isErrorAccount(&x.r.Accounts[i]) {
			rows++
		}
	}
	for i := range x.r.Keys {
		if isErrorKey(&x.r.Keys[i]) {
			rows++
		}
	}
	s, err := x.newStreamSheet(sheetErrors,
		[]string{"Kind", "Account ID", "Account name", "User", "Access key ID", "Action", "Error"},
		[]float64{9, 15, 24, 24, 24, 12, 80}, rows)
	if err != nil {
		return err
	}
	red := look{font: fontRed}
	for i := range x.r.Accounts {
		a := &x.r.Accounts[i]
		if !isErrorAccount(a) {
			continue
		}
		if err := s.add([]any{"account", a.AccountID, a.Name, nil, nil, nil, a.Error}, red); err != nil {
			return err
		}
	}
	for i := range x.r.Keys {
		k := &x.r.Keys[i]
		if !isErrorKey(k) {
			continue
		}
		action := cmp.Or(k.Action, k.PlannedAction)
		if err := s.add([]any{"key", k.AccountID, k.AccountName, k.User, k.AccessKeyID, action, k.Reason}, red); err != nil {
			return err
		}
	}
	return s.close()
}

// isErrorAccount and isErrorKey pick the rows of the Errors sheet.
func isErrorAccount(a *Account) bool { return a.Status == vocab.AccountError }

func isErrorKey(k *Key) bool { return k.Result == vocab.ResultFailed }

func (x *xlsxWriter) notifications() error {
	s, err := x.newStreamSheet(sheetNotifications,
		[]string{"Account ID", "User", "Access key ID", "Event", "To", "Subject", "Result", "Error"},
		[]float64{15, 24, 24, 16, 32, 48, 10, 60}, len(x.r.Notifications))
	if err != nil {
		return err
	}
	for i := range x.r.Notifications {
		n := &x.r.Notifications[i]
		var l look
		switch n.Result {
		case vocab.NotifyFailed:
			l.font = fontRed
		case vocab.NotifySent:
			l.font = fontGreen
		}
		if err := s.add([]any{n.AccountID, n.User, n.AccessKeyID, n.Event, strings.Join(n.To, ", "), n.Subject, n.Result, n.Error}, l); err != nil {
			return err
		}
	}
	return s.close()
}
