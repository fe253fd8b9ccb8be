package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "reports") // created on demand
	r := finalized()
	paths, err := WriteFiles(dir, r, []string{FormatJSON, FormatXLSX, FormatCSV, FormatJSON})
	if err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	want := []string{
		filepath.Join(dir, "keyrotor-apply-20261126T060000Z.json"),
		filepath.Join(dir, "keyrotor-apply-20261126T060000Z.xlsx"),
		filepath.Join(dir, "keyrotor-apply-20261126T060000Z.csv"),
	}
	if !slices.Equal(paths, want) {
		t.Errorf("paths = %q, want %q", paths, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d entries in %s, want 3 (no temp files left)", len(entries), dir)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != filePerm {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), os.FileMode(filePerm))
		}
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := ReadJSON(f); err != nil {
		t.Errorf("written JSON does not read back: %v", err)
	}
}

func TestWriteFilesRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	badMode := finalized()
	badMode.Run.Mode = "../../etc"
	noStart := finalized()
	noStart.Run.Started = time.Time{}
	for name, tc := range map[string]struct {
		r       *Report
		formats []string
	}{
		"no format":      {finalized(), nil},
		"unknown format": {finalized(), []string{FormatJSON, "pdf"}},
		"unsafe mode":    {badMode, []string{FormatJSON}},
		"no start time":  {noStart, []string{FormatJSON}},
	} {
		if _, err := WriteFiles(dir, tc.r, tc.formats); err == nil {
			t.Errorf("%s: WriteFiles succeeded", name)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused writes left %d files", len(entries))
	}
}

// TestWriteFileAtomicLeavesNothingOnFailure simulates a writer dying half
// way: no file under the report's name, no temp file.
func TestWriteFileAtomicLeavesNothingOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	boom := errors.New("boom")
	err := writeFileAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(bytes.Repeat([]byte("x"), 1000)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed write left %d entries", len(entries))
	}

	// An earlier complete report under the name survives a failed rewrite.
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = writeFileAtomic(path, func(w io.Writer) error { _, _ = w.Write([]byte("half")); return boom })
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("file now holds %q, want the old complete content", got)
	}
}
