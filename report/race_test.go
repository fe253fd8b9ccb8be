//go:build race

package report

// raceEnabled lets tests that only push volume through excelize's
// single-goroutine code skip the race detector, which slows them tenfold.
const raceEnabled = true
