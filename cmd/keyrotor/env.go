package main

import (
	"io"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"golang.org/x/term"

	"keyrotor/internal/interrupt"
)

// Env is everything a command takes from the world outside its flags. main
// builds it from the process; tests build their own, so that they can run
// side by side with their own clocks and simulators.
type Env struct {
	Stdout, Stderr io.Writer
	// Now is the clock.
	Now func() time.Time
	// Getenv reads the environment (KEYROTOR_* overrides and the
	// AWS_ENDPOINT_URL_S3 hint).
	Getenv func(string) string
	// AWSOptions are appended to the SDK's load options for the central
	// account's configuration, after keyrotor's own.
	AWSOptions []func(*awsconfig.LoadOptions) error
	// Stop is the run's two-stage stop, whose Context the command runs
	// under; main requests it on SIGINT and SIGTERM. nil: the context
	// passed to run is all there is.
	Stop *interrupt.Stop
}

// terminal tells whether stderr is a terminal, where progress bars and
// line clearing make sense.
func (e *Env) terminal() bool {
	f, ok := e.Stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
