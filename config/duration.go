package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"keyrotor/internal/yamlstrict"
)

// day is the unit rotation policies are written in. It is a fixed 24
// hours: key ages are compared against UTC timestamps, so calendar days and
// daylight-saving shifts do not apply.
const day = 24 * time.Hour

// Duration is a non-negative time.Duration that accepts whole days ("90d")
// in addition to Go duration syntax, because rotation policies are written
// in days and "2160h" hides the number that auditors look for. It is written
// back in the same form (90d, 1d12h, 30m, 0).
type Duration time.Duration

// ParseDuration parses a non-negative duration: "0", an optional number of
// whole days followed by an optional Go duration ("90d", "1d12h", "36h",
// "30m", "1h30m"). Negative values, a bare number other than 0, and
// fractional days are rejected.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("negative duration %q not allowed", s)
	}
	bad := fmt.Errorf("bad duration %q (use e.g. 90d, 36h)", s)
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, bad
	}
	rest := s
	var total time.Duration
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i > 0 && s[i] == 'd' {
		days, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || days > int64(math.MaxInt64/day) {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total = time.Duration(days) * day
		rest = s[i+1:]
	}
	if rest != "" {
		// time.ParseDuration would accept a sign here ("1d-5h"); a sign in
		// the middle is garbage, not arithmetic.
		if rest[0] < '0' || rest[0] > '9' {
			return 0, bad
		}
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, bad
		}
		if d > math.MaxInt64-total {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total += d
	}
	return Duration(total), nil
}

// String formats d as whole days followed by the remaining hours, minutes
// and seconds, omitting zero units: 90d, 1d12h, 30m, 0. Sub-second parts
// are kept in Go syntax so that ParseDuration(d.String()) == d.
func (d Duration) String() string {
	v := time.Duration(d)
	if v == 0 {
		return "0"
	}
	if v < 0 {
		// Only reachable by converting a negative time.Duration by hand;
		// keep it readable rather than pretending it is valid.
		return time.Duration(d).String()
	}
	var b strings.Builder
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := v / u.unit; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.suffix)
			v -= n * u.unit
		}
	}
	if v > 0 {
		b.WriteString(v.String())
	}
	return b.String()
}

// UnmarshalYAML decodes a duration from a YAML scalar. It reads the node
// rather than bytes so that the error can point at the value's position.
// A null value leaves d unchanged, so that defaults survive "key:" lines.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	node = yamlstrict.Unwrap(node)
	var text string
	switch n := node.(type) {
	case nil, *ast.NullNode:
		return nil
	case *ast.StringNode:
		text = n.Value
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode, *ast.BoolNode:
		text = n.GetToken().Value
	default:
		return yamlstrict.NewValueError(node, "want "+Duration(0).YAMLKind()+", got "+yamlstrict.Describe(node))
	}
	v, err := ParseDuration(text)
	if err != nil {
		return yamlstrict.NewValueError(node, err.Error())
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration in the same day-based form it is read in.
func (d Duration) MarshalYAML() (any, error) {
	if d < 0 {
		return nil, fmt.Errorf("negative duration %s cannot be written", time.Duration(d))
	}
	return d.String(), nil
}

// UnmarshalText lets Duration be used with flag.TextVar and JSON.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText writes the duration as String does.
func (d Duration) MarshalText() ([]byte, error) {
	if d < 0 {
		return nil, fmt.Errorf("negative duration %s cannot be written", time.Duration(d))
	}
	return []byte(d.String()), nil
}

// YAMLKind describes the YAML a Duration is written as, for type errors.
func (Duration) YAMLKind() string { return "a duration such as 90d or 36h" }
