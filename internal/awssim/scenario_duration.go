package awssim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Duration is a span of time written with an optional day count in front of
// a Go duration: "120d", "36h", "2d12h", "90m". Scenarios use it for key ages
// and last uses.
type Duration time.Duration

// Days returns a Duration of n days.
func Days(n int) Duration { return Duration(time.Duration(n) * 24 * time.Hour) }

// Ago returns a pointer to d, for ScenarioKey.LastUsed.
func Ago(d Duration) *Duration { return &d }

// scnNeverUsed is what "last_used: never" decodes to until ParseScenario turns
// it into a nil pointer: a Duration cannot nil the pointer that holds it.
const scnNeverUsed = Duration(math.MinInt64)

// String formats d as ParseDuration reads it back: "120d", "2d12h", "36m".
func (d Duration) String() string {
	td := time.Duration(d)
	days := td / (24 * time.Hour)
	if td < 0 || days == 0 {
		return scnTrimZeroUnits(td.String())
	}
	rest := td - days*24*time.Hour
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, scnTrimZeroUnits(rest.String()))
}

// scnTrimZeroUnits drops the zero minutes and seconds time.Duration.String
// writes after larger units ("12h0m0s" -> "12h").
func scnTrimZeroUnits(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ParseDuration reads "120d", "36h", "2d12h" or any Go duration; a number
// of days comes first. Negative spans are refused.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	var total time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil || n > scnMaxDays {
			return 0, fmt.Errorf("%q is not a duration like 120d, 36h or 2d12h", s)
		}
		total = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return Duration(total), nil
		}
	}
	if s == "0" {
		return Duration(total), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("%q is not a duration like 120d, 36h or 2d12h", s)
	}
	return Duration(total + d), nil
}

// scnMaxDays keeps day counts far from time.Duration's overflow (292 years).
const scnMaxDays = 100 * 366

// UnmarshalYAML reads a Duration, or "never" for a key that was never used.
// The error carries the node's position, which goccy/go-yaml does not add
// to errors from custom unmarshalers.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	v := node.GetToken().Value
	if v == "never" {
		*d = scnNeverUsed
		return nil
	}
	p, err := ParseDuration(v)
	if err != nil {
		return &yaml.SyntaxError{Message: err.Error(), Token: node.GetToken()}
	}
	*d = p
	return nil
}

// MarshalYAML writes d as ParseDuration reads it.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
