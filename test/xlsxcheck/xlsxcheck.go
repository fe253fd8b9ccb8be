// Package xlsxcheck runs check.py, which reads a keyrotor XLSX report with
// openpyxl in read-only mode and compares it with the JSON report of the same
// run. Tests use it so that every workbook keyrotor writes is read back by a
// reader other than excelize, which wrote it, and one that trusts each
// sheet's declared used range as many spreadsheet consumers do.
package xlsxcheck

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Python is the interpreter check.py runs under: Debian's, where apt's
// python3-openpyxl installs. A python3 found first on PATH (pyenv, say) does
// not see apt's packages.
const Python = "/usr/bin/python3"

// interpreter is Python, replaced by tests of the missing-interpreter case.
var interpreter = Python

// RequireEnv names the environment variable that, set to "1", tells tests to
// fail rather than skip when Python or openpyxl is missing. .ci/run sets it
// after installing python3-openpyxl.
const RequireEnv = "KEYROTOR_REQUIRE_OPENPYXL"

// ErrUnavailable is returned, wrapped, when Python or openpyxl is missing.
var ErrUnavailable = errors.New("python3 with openpyxl is not available (Debian: apt-get install python3-openpyxl)")

// exitNoOpenpyxl is check.py's exit status when it cannot import openpyxl.
const exitNoOpenpyxl = 3

//go:embed check.py
var script []byte

// Check runs check.py on the workbook at xlsxPath against the JSON report
// at jsonPath and returns what it printed: each sheet's declared used range
// when they agree, and each disagreement in the error when they do not. It
// waits at most two minutes.
func Check(ctx context.Context, xlsxPath, jsonPath string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// "-" reads the program from stdin, so the embedded script runs as is
	// wherever the test binary runs.
	cmd := exec.CommandContext(ctx, interpreter, "-", xlsxPath, jsonPath)
	cmd.Stdin = bytes.NewReader(script)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := stdout.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrPermission):
		return out, fmt.Errorf("run %s: %w: %w", interpreter, ErrUnavailable, err)
	case errors.As(err, &exit) && exit.ExitCode() == exitNoOpenpyxl:
		return out, fmt.Errorf("%w: %s", ErrUnavailable, strings.TrimSpace(stderr.String()))
	case ctx.Err() != nil:
		return out, fmt.Errorf("check %s with openpyxl: %w", xlsxPath, ctx.Err())
	default:
		return out, fmt.Errorf("check %s with openpyxl against %s: %w:\n%s", xlsxPath, jsonPath, err, strings.TrimSpace(stderr.String()))
	}
}

// Required reports whether the environment demands the check (RequireEnv
// is "1"), so that a missing openpyxl is a failure, not a skip.
func Required() bool { return os.Getenv(RequireEnv) == "1" }
