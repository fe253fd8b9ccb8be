// Package logging builds keyrotor's slog logger: text for people (access
// key IDs masked to their last four characters, and each record clearing a
// progress bar's line on a terminal) or JSON lines for schedulers, where
// the full key ID is what an analyst searches for.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"keyrotor/report"
)

// Formats of New.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Options configure New.
type Options struct {
	// Format is FormatText or FormatJSON.
	Format string
	// Level is debug, info, warn or error.
	Level string
	// Terminal tells that w is a terminal where a progress bar may be
	// drawn: text records then clear the bar's line first.
	Terminal bool
}

// New returns the logger writing to w, or an error naming the bad option.
func New(w io.Writer, o Options) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.Level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch o.Format {
	case FormatText:
		// Text logs are read on terminals and pasted into tickets.
		opts.ReplaceAttr = maskKeyIDs
		if o.Terminal {
			w = clearLineWriter{w}
		}
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", o.Format)
}

// maskKeyIDs is a slog ReplaceAttr that masks access key IDs in string
// values, including those inside error messages.
func maskKeyIDs(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if v := a.Value.String(); report.MaskKeyIDs(v) != v {
			return slog.String(a.Key, report.MaskKeyIDs(v))
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			if v := err.Error(); report.MaskKeyIDs(v) != v {
				return slog.String(a.Key, report.MaskKeyIDs(v))
			}
		}
	}
	return a
}

// clearLineWriter clears the terminal line before each log record, so a
// record does not start in the middle of the progress bar; the bar redraws
// itself below it on its next update.
type clearLineWriter struct{ w io.Writer }

func (c clearLineWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, "\r\x1b[K"); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
