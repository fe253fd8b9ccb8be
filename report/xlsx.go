package report

import (
	"archive/zip"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"
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
