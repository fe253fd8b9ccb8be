package report

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"keyrotor/vocab"
)

func openXLSX(t testing.TB, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reopen XLSX: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func writeXLSX(t testing.TB, r *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, r); err != nil {
		t.Fatalf("WriteXLSX: %v", err)
	}
	return buf.Bytes()
}

func TestWriteXLSX(t *testing.T) {
	r := finalized()
	data := writeXLSX(t, r)
	f := openXLSX(t, data)

	wantSheets := []string{sheetSummary, sheetAccounts, sheetKeys, sheetActions, sheetErrors, sheetNotifications}
	if got := f.GetSheetList(); !slices.Equal(got, wantSheets) {
		t.Fatalf("sheets = %q, want %q", got, wantSheets)
	}

	keyTitles := make([]string, len(keyColumns))
	for i, c := range keyColumns {
		keyTitles[i] = c.title
	}
	var actionTitles []string
	for _, c := range pickKeyColumns(actionColumnNames) {
		actionTitles = append(actionTitles, c.title)
	}
	dataSheets := []struct {
		name   string
		header []string
		rows   int // data rows, header excluded
	}{
		{sheetAccounts, []string{"Account ID", "Account name", "OU", "Status", "Users", "Keys", "Findings", "Compliance %", "Error"}, 4},
		{sheetKeys, keyTitles, 6},
		// alice's issue, bob's deactivate, dave's delete; not none/exempt.
		{sheetActions, actionTitles, 3},
		// legacy account, bob's failed deactivation.
		{sheetErrors, []string{"Kind", "Account ID", "Account name", "User", "Access key ID", "Action", "Error"}, 2},
		{sheetNotifications, []string{"Account ID", "User", "Access key ID", "Event", "To", "Subject", "Result", "Error"}, 2},
	}
	filters := map[string]string{}
	for _, d := range f.GetDefinedName() {
		if d.Name == "_xlnm._FilterDatabase" {
			filters[d.Scope] = d.RefersTo
		}
	}
	for _, ds := range dataSheets {
		t.Run(ds.name, func(t *testing.T) {
			rows, err := f.GetRows(ds.name)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1+ds.rows {
				t.Errorf("%d rows, want header + %d", len(rows), ds.rows)
			}
			if len(rows) == 0 || !slices.Equal(rows[0], ds.header) {
				t.Errorf("header = %q, want %q", rows[0], ds.header)
			}
			panes, err := f.GetPanes(ds.name)
			if err != nil {
				t.Fatal(err)
			}
			if !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
				t.Errorf("panes = %+v, want the header row frozen", panes)
			}
			lastCol, _ := excelize.ColumnNumberToName(len(ds.header))
			wantFilter := "'" + ds.name + "'!$A$1:$" + lastCol + "$" + strconv.Itoa(1+ds.rows)
			if got := strings.ReplaceAll(filters[ds.name], "$", ""); got != strings.ReplaceAll(wantFilter, "$", "") {
				t.Errorf("autofilter = %q, want %q", filters[ds.name], wantFilter)
			}
			hs, _ := f.GetCellStyle(ds.name, "A1")
			if st, err := f.GetStyle(hs); err != nil || st.Font == nil || !st.Font.Bold {
				t.Errorf("header style %d not bold: %+v, %v", hs, st, err)
			}
			if w, _ := f.GetColWidth(ds.name, "A"); w != 15 && w != 9 {
				t.Errorf("column A width %v, want a set width", w)
			}
		})
	}

	// Keys are in Finalize's order; bob's row is the third data row.
	rows, _ := f.GetRows(sheetKeys)
	if rows[3][3] != keyBob {
		t.Fatalf("Keys row 4 is %q, want bob's key", rows[3][3])
	}
	checkLook := func(cell, wantFill, wantFont string) {
		t.Helper()
		id, err := f.GetCellStyle(sheetKeys, cell)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.GetStyle(id)
		if err != nil {
			t.Fatal(err)
		}
		var gotFill, gotFont string
		if len(st.Fill.Color) > 0 {
			gotFill = st.Fill.Color[0]
		}
		if st.Font != nil {
			gotFont = st.Font.Color
		}
		if !strings.EqualFold(gotFill, wantFill) || !strings.EqualFold(gotFont, wantFont) {
			t.Errorf("%s: fill %q font %q, want fill %q font %q", cell, gotFill, gotFont, wantFill, wantFont)
		}
	}
	checkLook("C2", "FFC7CE", "006100") // alice's stale key, rotated: red fill, green text
	checkLook("C3", "", "")             // alice's fresh key: plain
	checkLook("C4", "FFC7CE", "9C0006") // bob: stale, failed
	checkLook("C6", "FFEB9C", "")       // erin: unused
	checkLook("C7", "D9D9D9", "")       // svc-ci: exempt
	checkLook("H3", "", "")             // alice's fresh key's last use is a plain date

	// Dates are numbers with a date format, not text.
	created, err := f.GetCellValue(sheetKeys, "F2", excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	serial, err := strconv.ParseFloat(created, 64)
	if err != nil {
		t.Fatalf("Created is %q, want an Excel date serial", created)
	}
	if got, _ := excelize.ExcelDateToTime(serial, false); !got.Equal(r.Keys[0].Created) {
		t.Errorf("Created = %v, want %v", got, r.Keys[0].Created)
	}
	ds, _ := f.GetCellStyle(sheetKeys, "F2")
	if st, _ := f.GetStyle(ds); st == nil || st.CustomNumFmt == nil || !strings.Contains(*st.CustomNumFmt, "yyyy") {
		t.Errorf("Created cell style %+v has no date format", st)
	}
	if v, _ := f.GetCellValue(sheetKeys, "H4"); !strings.HasPrefix(v, daysAgo(2).Format("2006-01-02")) {
		t.Errorf("bob's last use shows %q", v)
	}

	// Summary: title, totals and the compliance table.
	if v, _ := f.GetCellValue(sheetSummary, "A1"); v != "keyrotor compliance report" {
		t.Errorf("Summary!A1 = %q", v)
	}
	summaryRows, _ := f.GetRows(sheetSummary)
	pairs := map[string]string{}
	for _, row := range summaryRows {
		if len(row) >= 2 {
			pairs[row[0]] = row[1]
		}
	}
	for label, want := range map[string]string{"Keys": "6", "Compliance %": "50.0", "Accounts failed": "1", "stale_key": "3", "Max key age (days)": "90", "Mode": "apply"} {
		if pairs[label] != want {
			t.Errorf("Summary %q = %q, want %q", label, pairs[label], want)
		}
	}
	if v, _ := f.GetCellValue(sheetSummary, "I6"); v != "100.0" {
		t.Errorf("compliance of dev (Summary!I6) = %q, want 100.0", v)
	}
	// The failed and the skipped account: their keys were not seen.
	for _, ref := range []string{"I7", "I8"} {
		if v, _ := f.GetCellValue(sheetSummary, ref); v != "n/a" {
			t.Errorf("compliance of an account not seen (Summary!%s) = %q, want n/a", ref, v)
		}
	}
	if pairs["Accounts not seen"] != "2" {
		t.Errorf("Summary 'Accounts not seen' = %q, want 2", pairs["Accounts not seen"])
	}
	if v, _ := f.GetCellValue(sheetSummary, "D5"); v != "111111111111" {
		t.Errorf("first table row account = %q", v)
	}

	// The chart exists and plots the table's compliance column.
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var chart string
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(zf.Name, "xl/charts/chart"):
			chart = string(b)
		case strings.HasPrefix(zf.Name, "xl/worksheets/sheet"):
			if !colsAscending(b) {
				t.Errorf("%s: <col> elements missing or not ascending", zf.Name)
			}
		}
	}
	if !strings.Contains(chart, "barChart>") || !strings.Contains(chart, "Summary!$I$5:$I$8") {
		t.Errorf("no bar chart over Summary!$I$5:$I$8 in the workbook: %.300s", chart)
	}
}

func TestWriteXLSXEmptyReport(t *testing.T) {
	r := &Report{Run: Run{Mode: vocab.ModeAudit, Started: now}}
	r.Finalize()
	f := openXLSX(t, writeXLSX(t, r))
	rows, err := f.GetRows(sheetKeys)
	if err != nil || len(rows) != 1 {
		t.Errorf("empty Keys sheet: %d rows, %v; want the header only", len(rows), err)
	}
}

// TestWriteXLSXSpillsToDisk writes enough keys for excelize's stream writer
// to move its 16 MiB buffer to a temp file, and checks every row arrives.
// Rows are counted in the sheet's XML: excelize's reader would take a
// minute under the race detector.
func TestWriteXLSXSpillsToDisk(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("writes 20k keys; too slow for -short and -race")
	}
	const n = 20000
	r := bigReport(n)
	data := writeXLSX(t, r)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open("xl/worksheets/sheet3.xml") // Keys is the third sheet
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	sheet, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sheet[:min(len(sheet), 1<<16)], []byte(">Rotation state<")) {
		t.Fatalf("sheet3.xml is not the Keys sheet")
	}
	if !colsAscending(sheet) {
		t.Errorf("<col> elements are not in ascending order: Excel would repair the file")
	}
	if got := bytes.Count(sheet, []byte("<row ")); got != n+1 {
		t.Errorf("Keys sheet has %d rows, want %d", got, n+1)
	}
	if want := []byte(`<dimension ref="A1:V20001">`); !bytes.Contains(sheet[:min(len(sheet), 1<<13)], want) {
		t.Errorf("Keys sheet does not start by declaring its used range %s", want)
	}
	lastKey := []byte(">" + r.Keys[n-1].AccessKeyID + "<")
	if !bytes.Contains(sheet[len(sheet)*9/10:], lastKey) {
		t.Errorf("last key %s not at the end of the sheet", r.Keys[n-1].AccessKeyID)
	}
}

// colsAscending reports whether a sheet's <col> elements are sorted, as the
// OOXML schema requires.
func colsAscending(sheet []byte) bool {
	last := 0
	for _, m := range colMinPattern.FindAllSubmatch(sheet, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		if n <= last {
			return false
		}
		last = n
	}
	return last > 0
}

var colMinPattern = regexp.MustCompile(`<col [^>]*\bmin="([0-9]+)"`)

func TestWriteXLSXFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.xlsx")
	if err := WriteXLSXFile(path, finalized()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	openXLSX(t, data)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the report", len(entries))
	}
}

// failingWriter fails after n bytes, like a full disk.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, os.ErrClosed
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteXLSXReportsWriteErrors(t *testing.T) {
	if err := WriteXLSX(&failingWriter{n: 1000}, finalized()); err == nil {
		t.Error("WriteXLSX to a failing writer succeeded")
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkWriteXLSX writes 100k keys. Allocations per key stay constant
// and peak heap stays far below the size of the workbook's XML, which
// shows that memory is bounded: rows stream to a temp file and the archive
// streams to the writer.
func BenchmarkWriteXLSX(b *testing.B) {
	const n = 100_000
	r := bigReport(n)
	runtime.GC()
	base := liveHeap()
	peak := sampleLiveHeap(b)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var out countingWriter
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out.n = 0
		if err := WriteXLSX(&out, r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	ops := float64(b.N)
	b.ReportMetric(float64(out.n)/n, "xlsx-bytes/key")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/ops/n, "alloc-bytes/key")
	b.ReportMetric(float64(peak()-base)/(1<<20), "peak-live-MiB-over-report")
}

// liveHeap is the heap marked live by the last GC: what a writer holds on
// to, without the garbage it has not yet collected.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleLiveHeap polls liveHeap until the returned function is called and
// returns the highest value seen. runtime/metrics does not stop the world,
// unlike ReadMemStats, so polling does not distort the benchmark much.
func sampleLiveHeap(b *testing.B) func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := liveHeap(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	stop := func() uint64 {
		once.Do(func() { close(done); wg.Wait() })
		return peak.Load()
	}
	b.Cleanup(func() { stop() })
	return stop
}
