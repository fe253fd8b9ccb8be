package report

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"keyrotor/vocab"
)

// Report file formats accepted by WriteFiles.
const (
	FormatJSON = "json"
	FormatXLSX = "xlsx"
	FormatCSV  = "csv"
)

// Formats lists every format WriteFiles accepts, in the order a run writes
// them; accounts.yaml and the --format flag are checked against it.
var Formats = []string{FormatJSON, FormatXLSX, FormatCSV}

// fileTimeLayout is the UTC timestamp in report file names.
const fileTimeLayout = "20060102T150405Z"

// Permissions of report files and of the directory WriteFiles creates.
// Reports hold no secret, but key IDs and user names are not for everyone.
const (
	filePerm = 0o640
	dirPerm  = 0o750
)

var writers = map[string]func(io.Writer, *Report) error{
	FormatJSON: WriteJSON,
	FormatXLSX: WriteXLSX,
	FormatCSV:  WriteCSV,
}

// FileName returns the name WriteFiles gives the report in one format:
// keyrotor-<mode>-<run start, UTC, 20060102T150405Z>.<format>.
func FileName(r *Report, format string) string {
	return fmt.Sprintf("keyrotor-%s-%s.%s", r.Run.Mode, r.Run.Started.UTC().Format(fileTimeLayout), format)
}

// WriteFiles writes the report into dir (created if missing) once per
// format, named by FileName, and returns the paths written, in the order of
// formats. The time in the names is the run's start, so all files of one
// run share it. Each file is written to a temporary file in dir and renamed
// into place when complete, so a crash never leaves half a report under a
// report's name.
//
// Formats and the run's mode and start are checked before anything is
// written. On a write error the paths of the files already in place are
// returned with the error.
func WriteFiles(dir string, r *Report, formats []string) ([]string, error) {
	if len(formats) == 0 {
		return nil, errors.New("write report files: no format given")
	}
	for _, f := range formats {
		if writers[f] == nil {
			return nil, fmt.Errorf("write report files: unknown format %q (want %s)", f, strings.Join(Formats, ", "))
		}
	}
	if !slices.Contains(vocab.Modes, r.Run.Mode) {
		return nil, fmt.Errorf("write report files: run mode %q is not one of %q", r.Run.Mode, vocab.Modes)
	}
	if r.Run.Started.IsZero() {
		return nil, errors.New("write report files: run start time is not set")
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("create report directory: %w", err)
	}
	var paths []string
	for i, f := range formats {
		if slices.Contains(formats[:i], f) {
			continue
		}
		path := filepath.Join(dir, FileName(r, f))
		write := writers[f]
		if err := writeFileAtomic(path, func(w io.Writer) error { return write(w, r) }); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// writeFileAtomic writes path through a temporary file in the same
// directory: synced, given its final permissions and renamed over path only
// after write succeeded, then the directory is synced so the rename itself
// survives a crash.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(filePerm); err != nil {
		return fmt.Errorf("set permissions of %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename temporary file to %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to sync it: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// WriteXLSXFile writes the XLSX report to path through a temporary file in
// the same directory, renamed into place only once complete.
func WriteXLSXFile(path string, r *Report) error {
	return writeFileAtomic(path, func(w io.Writer) error { return WriteXLSX(w, r) })
}
