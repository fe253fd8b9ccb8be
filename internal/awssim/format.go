package awssim

import (
	"hash/fnv"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Formats every layer of the simulator shares: timestamps as the wire
// protocols write them, the shapes of AWS identifiers, and the alphabets
// of the IDs and secrets it generates. Nothing here knows the simulator.

// ISO formats a time as the query protocols do.
func ISO(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// EpochTime encodes as seconds since the epoch, the JSON protocols' timestamp format.
type EpochTime time.Time

// MarshalJSON implements json.Marshaler.
func (t EpochTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	return []byte(strconv.FormatFloat(float64(tt.UnixMilli())/1000, 'f', 3, 64)), nil
}

// Epoch converts a time for a JSON response (nil for the zero time).
func Epoch(t time.Time) *EpochTime {
	if t.IsZero() {
		return nil
	}
	e := EpochTime(t)
	return &e
}

// rootARN is the ARN of an account's root user, which policies also use
// to name the whole account.
func rootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

var (
	accountIDRe    = regexp.MustCompile(`^\d{12}$`)
	userNameRe     = regexp.MustCompile(`^[\w+=,.@-]+$`)
	roleARNRe      = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role(/(?:[\w+=,.@-]+/)*)?([\w+=,.@-]{1,64})$`)
	iamEntityARNRe = regexp.MustCompile(`^arn:aws:iam::(\d{12}):(user|role|group)(/(?:[\x21-\x7e]*/)?)?([\w+=,.@-]{1,128})$`)
)

// Alphabets of the IDs and secrets the simulator generates.
const (
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	lowerAlnum  = "abcdefghijklmnopqrstuvwxyz0123456789"
	secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// stableID derives an IAM-style ID from a name, for entities whose IDs
// must not depend on the simulator's seed.
func stableID(name string, n int) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	x := h.Sum64()
	b := make([]byte, n)
	for i := range b {
		b[i] = upperAlnum[x%uint64(len(upperAlnum))]
		x = x/uint64(len(upperAlnum)) ^ uint64(i)*0x9e3779b97f4a7c15
	}
	return string(b)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
