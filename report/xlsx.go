package report

import (
	"archive/zip"
	"cmp"
	"fmt"
	"io"
	"keyrotor/vocab"
	"maps"
	"slices"
	"strconv"
	"strings"
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

// WriteXLSX writes r as an Excel workbook: Summary (run, totals, findings,
// compliance by account with a bar chart), Accounts, Keys, Actions, Errors
// and Notifications. Every data sheet has a bold frozen header row, an
// autofilter, fixed column widths, real Excel dates and status colours.
// Every sheet declares its exact used range (<dimension>), which readers
// such as openpyxl in read-only mode trust to know where the data ends.
//
// Memory stays bounded whatever the number of keys: data sheets go through
// excelize's StreamWriter, which spills to a temporary file past 16 MiB, and
// the zip archive is written straight to w instead of into excelize's
// in-memory buffer. A worksheet over 4 GiB uncompressed (several million
// keys) would need the ZIP64 header fix that excelize applies only to its
// own buffer.
func WriteXLSX(w io.Writer, r *Report) error {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }() // removes the stream writers' temp files
	x := &xlsxWriter{f: f, r: r, styles: map[styleKey]int{}}
	if err := x.build(); err != nil {
		return fmt.Errorf("build XLSX report: %w", err)
	}
	// excelize hands its own buffer to the ZipWriter factory; giving it a
	// writer on w instead streams the archive, leaving that buffer empty.
	ew := &errWriter{w: w}
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(ew) })
	if err := f.Write(io.Discard); err != nil {
		return fmt.Errorf("write XLSX report: %w", err)
	}
	if ew.err != nil {
		return fmt.Errorf("write XLSX report: %w", ew.err)
	}
	return nil
}

// WriteXLSXFile writes the XLSX report to path through a temporary file in
// the same directory, renamed into place only once complete.
func WriteXLSXFile(path string, r *Report) error {
	return writeFileAtomic(path, func(w io.Writer) error { return WriteXLSX(w, r) })
}

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

func (x *xlsxWriter) build() error {
	var err error
	if x.header, err = x.f.NewStyle(&excelize.Style{
		Font:   &excelize.Font{Bold: true},
		Fill:   excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Border: []excelize.Border{{Type: "bottom", Color: "808080", Style: 1}},
	}); err != nil {
		return fmt.Errorf("create header style: %w", err)
	}
	if x.bold, err = x.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		return fmt.Errorf("create bold style: %w", err)
	}
	if x.title, err = x.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}}); err != nil {
		return fmt.Errorf("create title style: %w", err)
	}
	if err := x.f.SetSheetName(x.f.GetSheetName(0), sheetSummary); err != nil {
		return fmt.Errorf("name the summary sheet: %w", err)
	}
	for _, name := range []string{sheetAccounts, sheetKeys, sheetActions, sheetErrors, sheetNotifications} {
		if _, err := x.f.NewSheet(name); err != nil {
			return fmt.Errorf("add sheet %s: %w", name, err)
		}
	}
	steps := []struct {
		sheet string
		write func() error
	}{
		{sheetSummary, x.summary},
		{sheetAccounts, x.accounts},
		{sheetKeys, x.keys},
		{sheetActions, x.actions},
		{sheetErrors, x.errors},
		{sheetNotifications, x.notifications},
	}
	for _, s := range steps {
		if err := s.write(); err != nil {
			return fmt.Errorf("write sheet %s: %w", s.sheet, err)
		}
	}
	return nil
}

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
		if err := s.add([]any{a.AccountID, a.Name, a.OU, a.Status, a.Users, a.Keys, a.Findings, a.CompliancePct, a.Error}, accountLook(a)); err != nil {
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

// summarySheet writes cells of the small Summary sheet in excelize's normal
// mode and keeps the first error. It tracks the last row and column it
// wrote, for the sheet's used range: excelize's normal mode never updates
// the "A1" it starts every sheet with.
type summarySheet struct {
	x      *xlsxWriter
	err    error
	maxRow int
	maxCol int
}

func (s *summarySheet) set(col string, row int, v any, l look, style int) {
	if s.err != nil {
		return
	}
	ref := col + strconv.Itoa(row)
	if style == 0 {
		c, err := s.x.cell(v, l)
		if err != nil {
			s.err = err
			return
		}
		if cell, ok := c.(excelize.Cell); ok {
			style, v = cell.StyleID, cell.Value
		}
	}
	if v == nil && style == 0 {
		return // no cell at all
	}
	if v != nil {
		if s.err = s.x.f.SetCellValue(sheetSummary, ref, v); s.err != nil {
			return
		}
	}
	if style != 0 {
		if s.err = s.x.f.SetCellStyle(sheetSummary, ref, ref, style); s.err != nil {
			return
		}
	}
	c, r, err := excelize.CellNameToCoordinates(ref)
	if err != nil {
		s.err = err
		return
	}
	s.maxCol, s.maxRow = max(s.maxCol, c), max(s.maxRow, r)
}

// Summary layout: label/value pairs in A:B, the compliance-by-account table
// in D:I from row 4, and the chart from K4.
const (
	summaryTableTop = 4
	summaryChartAt  = "K4"
)

func (x *xlsxWriter) summary() error {
	r := x.r
	s := &summarySheet{x: x}
	s.set("A", 1, "keyrotor compliance report", look{}, x.title)

	row := 3
	section := func(title string) {
		s.set("A", row, title, look{}, x.header)
		s.set("B", row, nil, look{}, x.header)
		row++
	}
	pair := func(label string, v any) {
		s.set("A", row, label, look{}, 0)
		s.set("B", row, v, look{}, 0)
		row++
	}
	counts := func(title string, m map[string]int) {
		row++
		section(title)
		if len(m) == 0 {
			pair("(none)", nil)
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			pair(k, m[k])
		}
	}

	section("Run")
	pair("Run ID", r.Run.ID)
	pair("Mode", r.Run.Mode)
	pair("keyrotor version", r.Run.Version)
	pair("Started (UTC)", timeValue(r.Run.Started))
	pair("Ended (UTC)", timeValue(r.Run.Ended))
	pair("Interrupted", yesNo(r.Run.Interrupted))
	pair("Notifications enabled", yesNo(r.Run.Notify))
	pair("Accounts targeted", len(r.Run.AccountsTargets))
	pair("Max key age (days)", days(r.Run.Policy.MaxKeyAgeDays))
	pair("Unused after (days)", days(r.Run.Policy.UnusedAfterDays))
	pair("Deactivate after (days)", days(r.Run.Policy.DeactivateAfterDays))
	pair("Delete after (days)", days(r.Run.Policy.DeleteAfterDays))

	row++
	section("Totals")
	sum := r.Summary
	pair("Accounts OK", sum.AccountsOK)
	pair("Accounts failed", sum.AccountsFailed)
	pair("Accounts skipped", sum.AccountsSkipped)
	pair("Users", sum.Users)
	pair("Keys", sum.Keys)
	pair("Active keys", sum.ActiveKeys)
	pair("Exempt keys", sum.ExemptKeys)
	pair("Compliant keys", sum.CompliantKeys)
	pair("Compliance %", sum.CompliancePct)

	counts("Findings by ID", sum.Findings)
	counts("Actions", stringCounts(sum.Actions))
	counts("Results", stringCounts(sum.Results))

	s.set("D", summaryTableTop-1, "Compliance by account", look{}, x.bold)
	tableCols := []string{"D", "E", "F", "G", "H", "I"}
	for i, t := range []string{"Account ID", "Account name", "Status", "Keys", "Findings", "Compliance %"} {
		s.set(tableCols[i], summaryTableTop, t, look{}, x.header)
	}
	allNamed := len(r.Accounts) > 0
	for i := range r.Accounts {
		a := &r.Accounts[i]
		allNamed = allNamed && a.Name != ""
		for j, v := range []any{a.AccountID, a.Name, a.Status, a.Keys, a.Findings, a.CompliancePct} {
			s.set(tableCols[j], summaryTableTop+1+i, v, accountLook(a), 0)
		}
	}
	if s.err != nil {
		return s.err
	}
	if err := setDimension(x.f, sheetSummary, s.maxCol, s.maxRow); err != nil {
		return err
	}
	for col, width := range map[string]float64{"A": 26, "B": 28, "C": 3, "D": 15, "E": 24, "F": 10, "G": 8, "H": 10, "I": 14} {
		if err := x.f.SetColWidth(sheetSummary, col, col, width); err != nil {
			return err
		}
	}
	if len(r.Accounts) == 0 {
		return nil // a chart over an empty range is a broken chart
	}
	categories := "D"
	if allNamed {
		categories = "E"
	}
	first, last := summaryTableTop+1, summaryTableTop+len(r.Accounts)
	rng := func(col string) string { return fmt.Sprintf("%s!$%s$%d:$%s$%d", sheetSummary, col, first, col, last) }
	lo, hi := 0.0, 100.0
	return x.f.AddChart(sheetSummary, summaryChartAt, &excelize.Chart{
		Type: excelize.Bar,
		Series: []excelize.ChartSeries{{
			Name:       fmt.Sprintf("%s!$I$%d", sheetSummary, summaryTableTop),
			Categories: rng(categories),
			Values:     rng("I"),
		}},
		Title:  excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Compliance % by account"}}},
		Legend: excelize.ChartLegend{Position: "none"},
		// Bar charts draw the first category at the bottom; reversing puts
		// the accounts in table order, top to bottom.
		XAxis:     excelize.ChartAxis{ReverseOrder: true},
		YAxis:     excelize.ChartAxis{Minimum: &lo, Maximum: &hi, MajorGridLines: true},
		Dimension: excelize.ChartDimension{Width: 640, Height: chartHeight(len(r.Accounts))},
	})
}

// chartHeight gives each account a readable bar, within Excel's patience.
func chartHeight(accounts int) uint {
	return uint(min(max(120+20*accounts, 260), 4000))
}

// days shows whole days without the percentage format that cell gives to
// every float.
func days(d float64) any {
	if d == float64(int(d)) {
		return int(d)
	}
	return strconv.FormatFloat(d, 'f', -1, 64)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
