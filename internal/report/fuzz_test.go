package report

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/obsctl/obsctl/internal/diag"
)

// FuzzTextExcerpt checks that the text report of findings anywhere in any
// file, a secret among them, never panics and never quotes a line longer
// than its window.
func FuzzTextExcerpt(f *testing.F) {
	f.Add("key: value\n", 1, 3, 1, 6, false)
	f.Add("a\tb: \"xoxb-112233445566-abcdefghijklmnopqrstuv\"\n", 1, 6, 1, 40, true)
	f.Add(strings.Repeat("é", 500)+"\r\nx\u2028y\n", 1, 400, 2, 1, false)
	f.Add("password: |\n  hunter2-hunter2\n", 2, 3, 1, 1, true)
	f.Fuzz(func(t *testing.T, src string, line, col, endLine, endCol int, isSecret bool) {
		fs := []diag.Finding{
			{Check: "a/b", Severity: diag.Error, Message: "m", Secret: isSecret,
				Span: diag.Span{File: "f", Start: diag.Pos{Line: line, Col: col}, End: diag.Pos{Line: endLine, Col: endCol}}},
			{Check: "a/b", Severity: diag.Warning, Message: "n",
				Span: diag.Span{File: "f", Start: diag.Pos{Line: line, Col: max(col, 1) + 1}, End: diag.Pos{Line: line, Col: col + 5}}},
		}
		in := oneFile("f", src, fs...)
		out := string(render(t, "text", in, Options{}))
		for _, l := range strings.Split(out, "\n") {
			if n := utf8.RuneCountInString(l); n > len(sourceIndent)+excerptWidth+2 && strings.HasPrefix(l, sourceIndent) {
				t.Fatalf("a quoted line of %d characters:\n%q", n, l)
			}
		}
	})
}
