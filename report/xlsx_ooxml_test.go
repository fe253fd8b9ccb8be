package report

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"keyrotor/test/xlsxcheck"
	"keyrotor/vocab"
)

// This file reads the workbooks WriteXLSX writes without excelize: as OOXML
// through archive/zip and encoding/xml here, and through openpyxl in
// read-only mode (test/xlsxcheck), which, like many consumers, reads only
// the used range each sheet declares.

// sheetExtent is one worksheet as its XML has it: the used range it
// declares and the cells actually present.
type sheetExtent struct {
	name      string // sheet name in xl/workbook.xml
	part      string // zip entry, e.g. xl/worksheets/sheet3.xml
	dimension string // <dimension ref>, "" when absent
	rows      int    // <row> elements
	// Bounds of the <c> elements present (1-based); zero when there are none.
	minCol, minRow, maxCol, maxRow int
}

// cells is the range the cells present span, in A1 style.
func (e sheetExtent) cells() string {
	if e.maxRow == 0 {
		return ""
	}
	return columnName(e.minCol) + strconv.Itoa(e.minRow) + ":" + columnName(e.maxCol) + strconv.Itoa(e.maxRow)
}

// readSheetExtents lists every sheet of the workbook in workbook order,
// following xl/workbook.xml and its relationships to each worksheet part,
// and fails if the archive holds a worksheet part that no sheet names.
func readSheetExtents(t testing.TB, data []byte) []sheetExtent {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open XLSX as zip: %v", err)
	}
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	decodeZipXML(t, zr, "xl/workbook.xml", &wb)
	var rels struct {
		Rel []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	decodeZipXML(t, zr, "xl/_rels/workbook.xml.rels", &rels)
	targets := map[string]string{}
	for _, r := range rels.Rel {
		if strings.HasPrefix(r.Target, "/") {
			targets[r.ID] = strings.TrimPrefix(r.Target, "/")
		} else {
			targets[r.ID] = path.Join("xl", r.Target)
		}
	}
	var out []sheetExtent
	named := map[string]bool{}
	for _, s := range wb.Sheets {
		part, ok := targets[s.RID]
		if !ok {
			t.Fatalf("sheet %q: relationship %q not in xl/_rels/workbook.xml.rels", s.Name, s.RID)
		}
		named[part] = true
		e := scanSheet(t, zr, part)
		e.name = s.Name
		out = append(out, e)
	}
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "xl/worksheets/") && strings.HasSuffix(f.Name, ".xml") && !named[f.Name] {
			t.Errorf("worksheet part %s is not a sheet of xl/workbook.xml", f.Name)
		}
	}
	return out
}

func decodeZipXML(t testing.TB, zr *zip.Reader, name string, v any) {
	t.Helper()
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatalf("open %s in XLSX: %v", name, err)
	}
	defer func() { _ = rc.Close() }()
	if err := xml.NewDecoder(rc).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

// scanSheet streams one worksheet part token by token, so that a sheet of
// many rows is never held in memory as a tree.
func scanSheet(t testing.TB, zr *zip.Reader, part string) sheetExtent {
	t.Helper()
	rc, err := zr.Open(part)
	if err != nil {
		t.Fatalf("open %s in XLSX: %v", part, err)
	}
	defer func() { _ = rc.Close() }()
	e := sheetExtent{part: part}
	dec := xml.NewDecoder(rc)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return e
		}
		if err != nil {
			t.Fatalf("%s: %v", part, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "dimension":
			e.dimension = attr(se, "ref")
		case "row":
			e.rows++
		case "c":
			ref := attr(se, "r")
			col, row, err := parseCellRef(ref)
			if err != nil {
				t.Fatalf("%s: cell %q: %v", part, ref, err)
			}
			if e.maxRow == 0 {
				e.minCol, e.minRow = col, row
			}
			e.minCol, e.minRow = min(e.minCol, col), min(e.minRow, row)
			e.maxCol, e.maxRow = max(e.maxCol, col), max(e.maxRow, row)
		}
	}
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// parseCellRef splits an A1-style reference into 1-based column and row.
func parseCellRef(ref string) (col, row int, err error) {
	i := 0
	for i < len(ref) && ref[i] >= 'A' && ref[i] <= 'Z' {
		col = col*26 + int(ref[i]-'A'+1)
		i++
	}
	row, err = strconv.Atoi(ref[i:])
	if i == 0 || i > 3 || err != nil || row < 1 {
		return 0, 0, fmt.Errorf("not an A1-style cell reference")
	}
	return col, row, nil
}

func columnName(col int) string {
	var b []byte
	for ; col > 0; col = (col - 1) / 26 {
		b = append([]byte{byte('A' + (col-1)%26)}, b...)
	}
	return string(b)
}

// estateReport is an apply run over an estate of n keys spread across 25
// accounts, with something on every sheet: a failed and a skipped account,
// failed keys, and notifications sent and failed.
func estateReport(n int) *Report {
	const accounts = 25
	r := &Report{Run: Run{ID: "estate", Started: now, Ended: now.Add(time.Minute), Mode: vocab.ModeApply, Notify: true,
		Policy: Policy{MaxKeyAgeDays: 90, UnusedAfterDays: 45, DeactivateAfterDays: 7, DeleteAfterDays: 7}}}
	for a := range accounts {
		id := fmt.Sprintf("%012d", 200000000000+a)
		r.Run.AccountsTargets = append(r.Run.AccountsTargets, id)
		r.Accounts = append(r.Accounts, Account{AccountID: id, Name: fmt.Sprintf("team-%02d", a), OU: "ou-workloads", Status: vocab.AccountOK, Users: n / accounts})
	}
	r.Accounts = append(r.Accounts,
		Account{AccountID: "299999999998", Name: "denied", OU: "ou-legacy", Status: vocab.AccountError,
			Error: "assume role in 299999999998: AccessDenied"},
		Account{AccountID: "299999999999", Name: "closed", OU: "ou-legacy", Status: vocab.AccountSkipped, Error: "account is SUSPENDED"})
	r.Run.AccountsTargets = append(r.Run.AccountsTargets, "299999999998")
	for i := range n {
		a := r.Accounts[i%accounts]
		k := Key{AccountID: a.AccountID, AccountName: a.Name, User: fmt.Sprintf("user-%05d", i/2),
			AccessKeyID: fmt.Sprintf("AKIAESTATE%010d", i), Status: vocab.KeyActive, Created: daysAgo(i % 150),
			AgeDays: i % 150, PlannedAction: vocab.ActionNone}
		if i%3 != 0 {
			k.LastUsed, k.LastUsedService, k.LastUsedRegion = ptr(daysAgo(i%5)), "s3", "eu-west-1"
		}
		switch {
		case i%97 == 0:
			k.Exempt, k.ExemptReason, k.PlannedAction = true, "tag keyrotor:exempt=true", vocab.ActionExempt
		case k.AgeDays >= 90 && i%13 == 0:
			k.PlannedAction, k.Action, k.Result, k.Reason = vocab.ActionIssue, vocab.ActionIssue, vocab.ResultFailed, "create access key: LimitExceeded"
		case k.AgeDays >= 90:
			k.PlannedAction, k.Action, k.Result = vocab.ActionIssue, vocab.ActionIssue, vocab.ResultDone
			k.NewAccessKeyID = fmt.Sprintf("AKIANEWKEY%010d", i)
			k.SecretName, k.RotationState = "keyrotor/"+k.AccountID+"/"+k.User, "issued"
			note := Notification{AccountID: k.AccountID, User: k.User, AccessKeyID: k.AccessKeyID, Event: "issued",
				To: []string{k.User + "@example.com"}, Subject: "Your new AWS access key", Result: vocab.NotifySent}
			if i%7 == 0 {
				note.Result, note.Error = vocab.NotifyFailed, "send mail: MessageRejected"
			}
			r.Notifications = append(r.Notifications, note)
		}
		r.Keys = append(r.Keys, k)
	}
	r.Finalize()
	return r
}

// estateKeys is the size of the estate case: enough for every sheet to run
// to hundreds of rows, and fewer under the race detector, which slows
// excelize's single-goroutine writing tenfold.
var estateKeys = map[bool]int{false: 2500, true: 300}[raceEnabled]

// xlsxCases are reports that between them give every sheet rows, and every
// sheet no rows.
func xlsxCases() map[string]func() *Report {
	return map[string]func() *Report{
		"fixture": finalized,
		"empty": func() *Report {
			r := &Report{Run: Run{ID: "empty", Mode: vocab.ModeAudit, Started: now, Ended: now}}
			r.Finalize()
			return r
		},
		"estate": func() *Report { return estateReport(estateKeys) },
	}
}

// TestWriteXLSXDimensions checks that every sheet declares the used range
// its cells span: readers that trust <dimension> (openpyxl read-only,
// streaming importers) read nothing outside it.
func TestWriteXLSXDimensions(t *testing.T) {
	for name, mk := range xlsxCases() {
		t.Run(name, func(t *testing.T) {
			r := mk()
			sheets := readSheetExtents(t, writeXLSX(t, r))
			if len(sheets) != 6 {
				t.Errorf("%d sheets, want 6", len(sheets))
			}
			for _, s := range sheets {
				if s.cells() == "" || s.minCol != 1 || s.minRow != 1 {
					t.Errorf("%s (%s): cells span %q, want a range from A1", s.name, s.part, s.cells())
				}
				if s.dimension != s.cells() {
					t.Errorf("%s (%s): <dimension ref=%q>, but its cells span %s", s.name, s.part, s.dimension, s.cells())
				}
			}
			// The data sheets' extents follow from the report, not only
			// from the XML: one header row plus one row per item.
			want := map[string]string{
				sheetAccounts:      "A1:I" + strconv.Itoa(1+len(r.Accounts)),
				sheetKeys:          "A1:V" + strconv.Itoa(1+len(r.Keys)),
				sheetNotifications: "A1:H" + strconv.Itoa(1+len(r.Notifications)),
			}
			for _, s := range sheets {
				if w, ok := want[s.name]; ok && s.dimension != w {
					t.Errorf("%s: <dimension ref=%q>, want %s", s.name, s.dimension, w)
				}
			}
		})
	}
}

func TestParseCellRef(t *testing.T) {
	for ref, want := range map[string][2]int{"A1": {1, 1}, "T5356": {20, 5356}, "AA10": {27, 10}, "XFD1048576": {16384, 1048576}} {
		col, row, err := parseCellRef(ref)
		if err != nil || col != want[0] || row != want[1] {
			t.Errorf("parseCellRef(%q) = %d, %d, %v; want %v", ref, col, row, err, want)
		}
		if got := columnName(col) + strconv.Itoa(row); got != ref {
			t.Errorf("columnName round trip of %q gave %q", ref, got)
		}
	}
	for _, bad := range []string{"", "1", "A", "A0", "a1", "ABCD1", "A-1"} {
		if _, _, err := parseCellRef(bad); err == nil {
			t.Errorf("parseCellRef(%q) accepted", bad)
		}
	}
}

// checkWithOpenpyxl runs test/xlsxcheck's openpyxl reader on a workbook and
// its JSON report. It skips when /usr/bin/python3 or openpyxl is missing,
// unless xlsxcheck.RequireEnv demands the check (as .ci/run does).
func checkWithOpenpyxl(t *testing.T, xlsxPath, jsonPath string) (string, error) {
	t.Helper()
	out, err := xlsxcheck.Check(context.Background(), xlsxPath, jsonPath)
	if errors.Is(err, xlsxcheck.ErrUnavailable) {
		if xlsxcheck.Required() {
			t.Fatalf("%s=1 but the openpyxl check cannot run: %v", xlsxcheck.RequireEnv, err)
		}
		t.Skipf("skipping the openpyxl read-back: %v", err)
	}
	return out, err
}

// TestXLSXReadByOpenpyxl writes each case's JSON and XLSX reports and has
// openpyxl, in read-only mode, compare the workbook with the JSON: sheets,
// header cells, row counts and each row's identifying cells through the
// declared used range, then that range against the cells present.
func TestXLSXReadByOpenpyxl(t *testing.T) {
	for name, mk := range xlsxCases() {
		t.Run(name, func(t *testing.T) {
			paths, err := WriteFiles(t.TempDir(), mk(), []string{FormatJSON, FormatXLSX})
			if err != nil {
				t.Fatal(err)
			}
			out, err := checkWithOpenpyxl(t, paths[1], paths[0])
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("openpyxl read-only sees:\n%s", out)
		})
	}
}

// TestOpenpyxlCheckCatchesUndeclaredRows shows the openpyxl check fails on
// the workbook the field report was about: every sheet declaring "A1".
func TestOpenpyxlCheckCatchesUndeclaredRows(t *testing.T) {
	dir := t.TempDir()
	paths, err := WriteFiles(dir, finalized(), []string{FormatJSON, FormatXLSX})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "a1.xlsx")
	if err := os.WriteFile(broken, rewriteDimensions(t, data, `<dimension ref="A1"/>`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = checkWithOpenpyxl(t, broken, paths[0])
	if err == nil {
		t.Fatal("the openpyxl check passed a workbook whose sheets all declare A1")
	}
	for _, want := range []string{"Keys: 1 rows read through the declared range A1:A1, want 7", "Summary: declared used range A1:A1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("check output lacks %q:\n%v", want, err)
		}
	}
}

// TestOpenpyxlCheckCatchesFalseGreen shows the openpyxl check fails on a
// workbook that shows a compliance figure for accounts whose keys were not
// seen, as every sheet did before schema version 2.
func TestOpenpyxlCheckCatchesFalseGreen(t *testing.T) {
	dir := t.TempDir()
	r := finalized()
	paths, err := WriteFiles(dir, r, []string{FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	green := *r
	green.Accounts = slices.Clone(r.Accounts)
	hundred := 100.0
	for i := range green.Accounts {
		if green.Accounts[i].CompliancePct == nil {
			green.Accounts[i].CompliancePct = &hundred
		}
	}
	broken := filepath.Join(dir, "green.xlsx")
	if err := WriteXLSXFile(broken, &green); err != nil {
		t.Fatal(err)
	}
	_, err = checkWithOpenpyxl(t, broken, paths[0])
	if err == nil {
		t.Fatal("the openpyxl check passed a workbook showing 100% for accounts that were not seen")
	}
	for _, want := range []string{"Accounts: row 4", "'Compliance %': 'n/a'", "Summary: compliance table lists"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("check output lacks %q:\n%v", want, err)
		}
	}
}

var dimensionElement = regexp.MustCompile(`<dimension [^>]*(/>|></dimension>)`)

// rewriteDimensions copies an XLSX, replacing each worksheet's dimension
// element with repl.
func rewriteDimensions(t *testing.T, data []byte, repl string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(f.Name, "xl/worksheets/sheet") {
			if !dimensionElement.Match(b) {
				t.Fatalf("%s has no dimension element", f.Name)
			}
			b = dimensionElement.ReplaceAll(b, []byte(repl))
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
