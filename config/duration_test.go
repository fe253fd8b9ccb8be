package config

import (
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{" 0 ", 0},
		{"0d", 0},
		{"90d", 90 * day},
		{"7d", 7 * day},
		{"36h", 36 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"30m", 30 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"2d3h4m5s", 2*day + 3*time.Hour + 4*time.Minute + 5*time.Second},
		{"1.5h", 90 * time.Minute},
		{"500ms", 500 * time.Millisecond},
		{"1d500ms", day + 500*time.Millisecond},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tt.in, err)
			continue
		}
		if time.Duration(got) != tt.want {
			t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, time.Duration(got), tt.want)
		}
	}
}

func TestParseDurationRejects(t *testing.T) {
	tests := []struct {
		in, msg string
	}{
		{"", `bad duration ""`},
		{"9x", `bad duration "9x" (use e.g. 90d, 36h)`},
		{"90", `bad duration "90"`},
		{"d", `bad duration "d"`},
		{"1.5d", `bad duration "1.5d"`},
		{"12h1d", `bad duration "12h1d"`},
		{"1d-5h", `bad duration "1d-5h"`},
		{"1d+5h", `bad duration "1d+5h"`},
		{"+5d", `bad duration "+5d"`},
		{"90D", `bad duration "90D"`},
		{"ninety days", `bad duration "ninety days"`},
		{"-5d", `negative duration "-5d" not allowed`},
		{"-1h", `negative duration "-1h" not allowed`},
		{"999999999d", `too long`},
		{"106751d24h", `too long`},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err == nil {
			t.Errorf("ParseDuration(%q) = %v, want error", tt.in, time.Duration(got))
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseDuration(%q) error %q, want it to contain %q", tt.in, err, tt.msg)
		}
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{90 * day, "90d"},
		{36 * time.Hour, "1d12h"},
		{30 * time.Minute, "30m"},
		{time.Hour, "1h"},
		{day + time.Second, "1d1s"},
		{day + 500*time.Millisecond, "1d500ms"},
		{1500 * time.Millisecond, "1s500ms"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.d, got, tt.want)
		}
		back, err := ParseDuration(tt.want)
		if err != nil || time.Duration(back) != tt.d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v (round trip)", tt.want, time.Duration(back), err, tt.d)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	type doc struct {
		D Duration  `yaml:"d"`
		P *Duration `yaml:"p,omitempty"`
	}
	var v doc
	if err := yaml.Unmarshal([]byte("d: 1d12h\np: \"7d\"\n"), &v); err != nil {
		t.Fatal(err)
	}
	if time.Duration(v.D) != 36*time.Hour || v.P == nil || time.Duration(*v.P) != 7*day {
		t.Fatalf("decoded %+v", v)
	}

	out, err := yaml.Marshal(doc{D: Duration(90 * day)})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "d: 90d\n" {
		t.Errorf("marshal = %q, want %q", got, "d: 90d\n")
	}

	// A zero duration is written so that it reads back as zero.
	out, err = yaml.Marshal(doc{D: 0})
	if err != nil {
		t.Fatal(err)
	}
	var back doc
	back.D = Duration(time.Hour)
	if err := yaml.Unmarshal(out, &back); err != nil || back.D != 0 {
		t.Errorf("round trip of 0 via %q = %v, %v", out, back.D, err)
	}

	for _, bad := range []string{"d: 9x\n", "d: -3d\n", "d: [1d]\n", "d: 45\n"} {
		err := yaml.Unmarshal([]byte(bad), &v)
		if err == nil {
			t.Errorf("Unmarshal(%q) succeeded", bad)
			continue
		}
		if !strings.Contains(err.Error(), "line 1") {
			t.Errorf("Unmarshal(%q) error %q does not name the line", bad, err)
		}
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("2d")); err != nil || time.Duration(d) != 2*day {
		t.Fatalf("UnmarshalText(2d) = %v, %v", time.Duration(d), err)
	}
	if err := d.UnmarshalText([]byte("-2d")); err == nil {
		t.Error("UnmarshalText(-2d) succeeded")
	}
	b, err := Duration(36 * time.Hour).MarshalText()
	if err != nil || string(b) != "1d12h" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
	if _, err := Duration(-time.Hour).MarshalText(); err == nil {
		t.Error("MarshalText of a negative duration succeeded")
	}
}
