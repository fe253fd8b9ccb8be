package yamlstrict

import (
	"fmt"
	"slices"
	"strings"
)

// unknownFieldMessage suggests the closest valid key for a likely typo, and
// lists the valid keys otherwise.
func unknownFieldMessage(name string, valid []string) string {
	best, bestDist := "", 1<<30
	for _, v := range valid {
		d := editDistance(strings.ToLower(name), v)
		if d < bestDist {
			best, bestDist = v, d
		}
	}
	if best != "" && (bestDist <= 2 || bestDist*3 <= len(best)) {
		return fmt.Sprintf("unknown field (did you mean %q?)", best)
	}
	// "max_age" for "max_key_age": every word of the typo is in one key.
	if words := strings.Split(strings.ToLower(name), "_"); len(words) > 1 {
		for _, v := range valid {
			keyWords := strings.Split(v, "_")
			if !slices.ContainsFunc(words, func(w string) bool { return !slices.Contains(keyWords, w) }) {
				return fmt.Sprintf("unknown field (did you mean %q?)", v)
			}
		}
	}
	return "unknown field (valid: " + strings.Join(valid, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
