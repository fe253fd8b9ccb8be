package report

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/xuri/excelize/v2"
)

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
	pair("Compliance %", complianceValue(sum.CompliancePct))
	pair("Accounts not seen", sum.AccountsUnseen)

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
		for j, v := range []any{a.AccountID, a.Name, a.Status, a.Keys, a.Findings, complianceValue(a.CompliancePct)} {
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
