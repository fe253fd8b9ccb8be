package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/schollz/progressbar/v3"

	"keyrotor/config"
	"keyrotor/internal/awsclient"
	"keyrotor/internal/interrupt"
	"keyrotor/internal/logging"
	"keyrotor/job"
	"keyrotor/report"
)

// globalFlags are the flags every command shares, and the Env they run in.
type globalFlags struct {
	env       *Env
	config    string
	logFormat string
	logLevel  string
	profile   string
	timeouts  awsclient.Timeouts
	stopGrace time.Duration
}

// logger builds the run's logger from the flags, and has it say what a
// stop request (Ctrl-C, SIGTERM) does.
func (g *globalFlags) logger() (*slog.Logger, error) {
	log, err := logging.New(g.env.Stderr, logging.Options{Format: g.logFormat, Level: g.logLevel, Terminal: g.env.terminal()})
	if err != nil {
		return nil, usageError{err}
	}
	if st := g.env.Stop; st != nil {
		st.SetGrace(g.stopGrace)
		st.OnRequest(func(e interrupt.Event) {
			if e.Abort {
				log.Warn("stopping now: steps still in flight are cut short; the report says what was done, and the next run recovers the rest",
					"signal", e.Reason)
				return
			}
			log.Warn("stopping: no new account or step starts; steps in flight may finish, then the report is written; signal again to stop at once",
				"signal", e.Reason, "grace", e.Grace.String())
		})
	}
	return log, nil
}

// session is what every command that talks to AWS starts from.
type session struct {
	log  *slog.Logger
	conf *config.Config
	aws  aws.Config
}

// setup builds the logger, reads accounts.yaml with the environment's
// overrides, and loads the central account's AWS configuration, mapping
// each failure to its exit code.
func (g *globalFlags) setup(ctx context.Context) (session, error) {
	log, err := g.logger()
	if err != nil {
		return session{}, err
	}
	conf, err := config.Load(g.config)
	if err != nil {
		return session{}, usageError{err}
	}
	for _, w := range conf.Warnings {
		log.Warn("configuration", "warning", w.Error())
	}
	overrides, err := conf.ApplyEnv(g.env.Getenv)
	if err != nil {
		return session{}, usageError{err}
	}
	for _, o := range overrides {
		log.Info("configuration overridden from the environment", "variable", o.Variable, "field", o.Field)
	}
	awsCfg, err := awsclient.Load(ctx, awsclient.Options{
		Profile: g.profile, Region: conf.Region, Extra: g.env.AWSOptions, Timeouts: g.timeouts, Logger: log,
		// +1: the credential report is fetched beside the per-account pool.
		InFlight: max(1, conf.Concurrency.Accounts) * (max(1, conf.Concurrency.PerAccount) + 1),
	})
	if err != nil {
		return session{}, errCode(ExitFailed, err)
	}
	return session{log: log, conf: conf, aws: awsCfg}, nil
}

// jobError maps a job's error to its exit code.
func jobError(err error) error {
	if errors.Is(err, job.ErrBadInput) {
		return usageError{err}
	}
	return errCode(ExitFailed, err)
}

// summary shows a finished run: a table for people, or one structured
// record with --log-format json, so that a scheduler's log pipeline gets
// nothing but JSON lines on stderr.
func (g *globalFlags) summary(log *slog.Logger) func(*report.Report, []string) {
	return func(rep *report.Report, files []string) {
		if g.jsonLogs() {
			report.LogSummary(log, rep, files)
			return
		}
		_ = report.WriteSummary(g.env.Stderr, rep, report.SummaryOptions{Files: files})
	}
}

// jsonLogs tells whether stderr takes JSON records only.
func (g *globalFlags) jsonLogs() bool { return g.logFormat == logging.FormatJSON }

// say tells people something on stderr: a line of text, or an info record
// with --log-format json.
func (g *globalFlags) say(log *slog.Logger, msg string, attrs ...any) {
	if g.jsonLogs() {
		log.Info(msg, attrs...)
		return
	}
	line := msg
	for i := 0; i+1 < len(attrs); i += 2 {
		line += fmt.Sprintf(" %v", attrs[i+1])
	}
	fmt.Fprintln(g.env.Stderr, line)
}

// progress reports accounts done: a bar on a terminal, log lines otherwise.
func (g *globalFlags) progress(log *slog.Logger) func(done, total int) {
	if g.env.terminal() && g.logFormat == logging.FormatText {
		var bar *progressbar.ProgressBar
		return func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total,
					progressbar.OptionSetWriter(g.env.Stderr),
					progressbar.OptionSetDescription("accounts"),
					progressbar.OptionShowCount(),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionClearOnFinish(),
				)
			}
			_ = bar.Set(done)
		}
	}
	last := time.Now()
	return func(done, total int) {
		step := max(1, total/10)
		if done == total || done%step == 0 || time.Since(last) > 10*time.Second {
			last = time.Now()
			log.Info("progress", "accounts_done", done, "accounts_total", total)
		}
	}
}
