package awsclient

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/logging"
)

// slogLogger is the SDK's logging.Logger writing into a slog.Logger, so that
// with --log-format json the SDK's warnings are JSON records like every
// other line on stderr, instead of the plain text the SDK's default logger
// prints there.
type slogLogger struct {
	log *slog.Logger
	ctx context.Context
}

var (
	_ logging.Logger        = slogLogger{}
	_ logging.ContextLogger = slogLogger{}
)

// Logf implements logging.Logger.
func (l slogLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelInfo
	switch c {
	case logging.Warn:
		level = slog.LevelWarn
	case logging.Debug:
		level = slog.LevelDebug
	}
	ctx := l.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	l.log.Log(ctx, level, "AWS SDK", "sdk_message", fmt.Sprintf(format, v...))
}

// WithContext implements logging.ContextLogger.
func (l slogLogger) WithContext(ctx context.Context) logging.Logger {
	return slogLogger{log: l.log, ctx: ctx}
}

// sdkLogger returns the SDK logger for log and the SDK's client log mode:
// retries are logged when log takes debug records. A nil log discards
// everything.
func sdkLogger(log *slog.Logger) (logging.Logger, aws.ClientLogMode) {
	if log == nil {
		return logging.Nop{}, 0
	}
	var mode aws.ClientLogMode
	if log.Enabled(context.Background(), slog.LevelDebug) {
		mode = aws.LogRetries
	}
	return slogLogger{log: log}, mode
}
