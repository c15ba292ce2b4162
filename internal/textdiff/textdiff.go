// Package textdiff computes line diffs: Myers' shortest edit script and
// unified-diff hunks with context, as obsctl diff prints them. It is a small
// helper of one purpose, kept apart so the release's diff and tests share it.
package textdiff

import (
	"fmt"
	"strings"
)

// Unified returns the unified diff of two texts with three lines of
// context under "--- from" and "+++ to" headers, or "" when they are the
// same.
func Unified(from, to, a, b string) string {
	hunks := Hunks(SplitLines(a), SplitLines(b), 3)
	if len(hunks) == 0 {
		return ""
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, to)
	for _, h := range hunks {
		out.WriteString(h)
	}
	return out.String()
}

// SplitLines splits s into lines that each end with "\n".
func SplitLines(s string) []string {
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	lines := strings.SplitAfter(s, "\n")
	return lines[:len(lines)-1]
}

// edit is one line of an edit script: kept (' '), deleted ('-') or
// inserted ('+').
type edit struct {
	op   byte
	text string
}

// maxEdits bounds the search for the shortest edit script: past it, the
// changed middle of the two texts shows as deleted then inserted whole. The
// search costs memory quadratic in the number of edits.
const maxEdits = 2000

// editScript returns a shortest edit script from a to b (Myers' algorithm)
// after taking off the lines they start and end with in common.
func editScript(a, b []string) []edit {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var out []edit
	for _, l := range a[:pre] {
		out = append(out, edit{' ', l})
	}
	out = append(out, myers(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		out = append(out, edit{' ', l})
	}
	return out
}

func myers(a, b []string) []edit {
	n, m := len(a), len(b)
	whole := func() []edit {
		out := make([]edit, 0, n+m)
		for _, l := range a {
			out = append(out, edit{'-', l})
		}
		for _, l := range b {
			out = append(out, edit{'+', l})
		}
		return out
	}
	if n == 0 || m == 0 {
		return whole()
	}
	limit := min(n+m, maxEdits)
	off := limit + 1
	v := make([]int, 2*off+1)
	// trace[d] is v around diagonals -d-1..d+1 before step d.
	var trace [][]int
	for d := 0; d <= limit; d++ {
		trace = append(trace, append([]int(nil), v[off-d-1:off+d+2]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(trace, a, b, d)
			}
		}
	}
	return whole()
}

func backtrack(trace [][]int, a, b []string, dEnd int) []edit {
	x, y := len(a), len(b)
	var rev []edit
	for d := dEnd; d > 0; d-- {
		v := trace[d]
		at := func(k int) int { return v[k+d+1] }
		k := x - y
		var pk int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := at(pk)
		py := px - pk
		for x > px && y > py {
			rev = append(rev, edit{' ', a[x-1]})
			x--
			y--
		}
		if x == px {
			rev = append(rev, edit{'+', b[y-1]})
			y--
		} else {
			rev = append(rev, edit{'-', a[x-1]})
			x--
		}
	}
	for x > 0 && y > 0 {
		rev = append(rev, edit{' ', a[x-1]})
		x--
		y--
	}
	out := make([]edit, len(rev))
	for i, e := range rev {
		out[len(rev)-1-i] = e
	}
	return out
}

// Hunks returns the unified diff hunks from a to b with ctx lines of
// context, each with its "@@ -l,n +l,n @@" header. Lines end with "\n".
func Hunks(a, b []string, ctx int) []string {
	es := editScript(a, b)
	var hunks []string
	i := 0
	for i < len(es) {
		for i < len(es) && es[i].op == ' ' {
			i++
		}
		if i == len(es) {
			break
		}
		// A hunk runs from ctx lines before this change to ctx lines
		// after the last change closer than 2*ctx to the one before.
		start := max(0, i-ctx)
		end := i
		for j := i; j < len(es); j++ {
			if es[j].op != ' ' {
				end = j
				continue
			}
			if j-end > 2*ctx {
				break
			}
		}
		stop := min(len(es), end+ctx+1)
		// Line numbers of the hunk's first line in a and b.
		la, lb := 1, 1
		for _, e := range es[:start] {
			if e.op != '+' {
				la++
			}
			if e.op != '-' {
				lb++
			}
		}
		var na, nb int
		var body strings.Builder
		for _, e := range es[start:stop] {
			if e.op != '+' {
				na++
			}
			if e.op != '-' {
				nb++
			}
			body.WriteByte(e.op)
			body.WriteString(e.text)
		}
		if na == 0 {
			la--
		}
		if nb == 0 {
			lb--
		}
		hunks = append(hunks, fmt.Sprintf("@@ -%d,%d +%d,%d @@\n%s", la, na, lb, nb, body.String()))
		i = stop
	}
	return hunks
}
