package xlsxcheck

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Check tells "cannot run here" (ErrUnavailable, which tests may skip on)
// from "ran and found problems" (which they must not).
func TestCheckUnavailable(t *testing.T) {
	t.Run("no interpreter", func(t *testing.T) {
		defer func(p string) { interpreter = p }(interpreter)
		interpreter = filepath.Join(t.TempDir(), "python3")
		if _, err := Check(context.Background(), "r.xlsx", "r.json"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Check without an interpreter: %v, want ErrUnavailable", err)
		}
	})
	if _, err := os.Stat(Python); err != nil {
		t.Skipf("the remaining cases need %s: %v", Python, err)
	}
	t.Run("no openpyxl", func(t *testing.T) {
		// A module earlier on sys.path that fails to import hides apt's.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "openpyxl.py"), []byte("raise ImportError('hidden by the test')\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PYTHONPATH", dir)
		t.Setenv("PYTHONDONTWRITEBYTECODE", "1")
		_, err := Check(context.Background(), "r.xlsx", "r.json")
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "hidden by the test") {
			t.Errorf("Check without openpyxl: %v, want ErrUnavailable naming the import error", err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Check(context.Background(), filepath.Join(dir, "r.xlsx"), filepath.Join(dir, "r.json"))
		if errors.Is(err, ErrUnavailable) && !Required() {
			t.Skipf("openpyxl is missing: %v", err)
		}
		if err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("Check of missing files: %v, want a failure that is not ErrUnavailable", err)
		}
	})
}
