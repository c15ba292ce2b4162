// Package spell suggests the name a user probably meant: the closest
// valid key, check or receiver to a misspelt one. Loaders and checks use
// it for their "did you mean" hints.
package spell

import "strings"

// Closest returns the candidate nearest to s (ignoring case) when it is
// close enough to be a likely misspelling, else "". Ties go to the
// earliest candidate, so callers that pass a sorted list get a stable hint.
func Closest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+1
	ls := strings.ToLower(s)
	for _, c := range candidates {
		// The lengths alone bound the distance from below: a long
		// unknown key costs nothing against short names.
		lc := strings.ToLower(c)
		if abs(len(ls)-len(lc)) >= bestD {
			continue
		}
		if d := distance(ls, lc); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Distance is the Levenshtein edit distance between a and b, ignoring
// case.
func Distance(a, b string) int { return distance(strings.ToLower(a), strings.ToLower(b)) }

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	var buf [2][64]int // no allocation for the usual short names
	prev, cur := buf[0][:0], buf[1][:0]
	if len(b)+1 > len(buf[0]) {
		prev, cur = make([]int, 0, len(b)+1), make([]int, 0, len(b)+1)
	}
	prev, cur = prev[:len(b)+1], cur[:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
