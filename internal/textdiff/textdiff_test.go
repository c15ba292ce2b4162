package textdiff

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestDiffHunks(t *testing.T) {
	lines := func(s string) []string { return SplitLines(s) }
	for _, tc := range []struct {
		name string
		a, b string
		want string
	}{
		{"same", "a\nb\n", "a\nb\n", ""},
		{"all added", "", "a\nb\n", "@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{"all removed", "a\nb\n", "", "@@ -1,2 +0,0 @@\n-a\n-b\n"},
		{
			"one change with context",
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			"@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			"changes far apart make two hunks",
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve\n",
			"@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+twelve\n",
		},
		{
			"changes close together share a hunk",
			"1\n2\n3\n4\n5\n6\n7\n", "one\n2\n3\n4\n5\n6\nseven\n",
			"@@ -1,7 +1,7 @@\n-1\n+one\n 2\n 3\n 4\n 5\n 6\n-7\n+seven\n",
		},
		{"insertion", "a\nc\n", "a\nb\nc\n", "@@ -1,2 +1,3 @@\n a\n+b\n c\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(Hunks(lines(tc.a), lines(tc.b), 3), "")
			if got != tc.want {
				t.Errorf("diff\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestEditScript checks on random texts that the edit script turns a into
// b and is as short as a longest common subsequence allows.
func TestEditScript(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	text := func() []string {
		out := make([]string, r.IntN(12))
		for i := range out {
			out[i] = string(rune('a' + r.IntN(4)))
		}
		return out
	}
	for i := range 2000 {
		a, b := text(), text()
		es := editScript(a, b)
		var ga, gb []string
		edits := 0
		for _, e := range es {
			if e.op != '+' {
				ga = append(ga, e.text)
			}
			if e.op != '-' {
				gb = append(gb, e.text)
			}
			if e.op != ' ' {
				edits++
			}
		}
		if strings.Join(ga, "") != strings.Join(a, "") || strings.Join(gb, "") != strings.Join(b, "") {
			t.Fatalf("case %d: script %v does not turn %q into %q", i, es, a, b)
		}
		if want := len(a) + len(b) - 2*lcs(a, b); edits != want {
			t.Fatalf("case %d: %d edits from %q to %q, want %d", i, edits, a, b, want)
		}
	}
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				dp[i][j] = dp[i-1][j-1] + 1
			} else {
				dp[i][j] = max(dp[i-1][j], dp[i][j-1])
			}
		}
	}
	return dp[len(a)][len(b)]
}

// TestEditScriptLarge: a large text with many scattered changes stays
// correct past the edit bound.
func TestEditScriptLarge(t *testing.T) {
	var a, b []string
	for i := range 20000 {
		a = append(a, "line "+string(rune('a'+i%26))+"\n")
		if i%3 == 0 {
			b = append(b, "changed\n")
		} else {
			b = append(b, a[i])
		}
	}
	var ga, gb strings.Builder
	for _, e := range editScript(a, b) {
		if e.op != '+' {
			ga.WriteString(e.text)
		}
		if e.op != '-' {
			gb.WriteString(e.text)
		}
	}
	if ga.String() != strings.Join(a, "") || gb.String() != strings.Join(b, "") {
		t.Fatal("the script does not turn a into b")
	}
}
