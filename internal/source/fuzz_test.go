package source

import (
	"bytes"
	"regexp"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/fuzzseed"
)

// maxSeed caps a seed's size: the fuzzer minimizes every new input it
// finds, and on large inputs it spends its time doing that. The embedded
// default repo and the lint fixtures are real inputs of every shape
// obsctl reads.
const maxSeed = 1 << 10

var seedPatterns = []string{
	"../../rules/*.yaml",
	"../../obsctl.yaml",
	"../config/testdata/*.yaml",
	"../lint/testdata/*.yaml",
	"../lint/testdata/*/*/*.yaml",
	"../lint/testdata/corpus/*.yaml",
}

// lastCol returns the last column a position on line n may have: just
// past the line's text, or on the line feed of a CRLF break.
func lastCol(f *File, n int) int {
	c := utf8.RuneCountInString(f.Line(n)) + 1
	if end := f.Offset(diag.Pos{Line: n, Col: c}); end+1 < len(f.Src) && f.Src[end] == '\r' && f.Src[end+1] == '\n' {
		c++
	}
	return c
}

// checkPos fails unless p is a position of f: a line of the file and a
// column on it or just past its end.
func checkPos(t *testing.T, f *File, what string, p diag.Pos) {
	t.Helper()
	if p.Line < 1 || p.Line > f.NumLines() {
		t.Fatalf("%s: line %d outside 1..%d", what, p.Line, f.NumLines())
	}
	if p.Col < 1 || p.Col > lastCol(f, p.Line) {
		t.Fatalf("%s: column %d outside 1..%d on line %d %q", what, p.Col, lastCol(f, p.Line), p.Line, f.Line(p.Line))
	}
}

// FuzzParseYAML parses any bytes. ParseYAML must not panic, and a finding
// it returns must be a well-formed yaml/syntax finding that starts on a line
// of the file.
func FuzzParseYAML(f *testing.F) {
	fuzzseed.FilesUpTo(f, maxSeed, seedPatterns...)
	for _, s := range []string{
		"", " \n\t\n", "a: 1\n b: 2\n", "a:\n\t- b\n", "a: 'x\n", "a: [1, 2\n", "a: {b: 1\n",
		"a: &a [*a]\n", "a: *nope\n", "<<: {a: 1}\n", "---\n...\n---\na: 1\n", "\ufeffa: 1\n",
		"a: 1\r\nb: [\r\n", "a: \x01\n", "a: 1\x00\n", "a: \xff\n", "a: b: c\n", "- [[[[[[[[[[\n",
		"a: |\n  x\n b\n", "%YAML 1.2\n---\na: 1\n", "? [a, b]\n: c\n", "a: !!int x\n", "a: \"\\q\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file := NewFile("fuzz.yaml", src)
		docs, fd := file.ParseYAML("yaml/syntax")
		if fd == nil {
			return
		}
		if fd.File != "fuzz.yaml" || fd.Check != "yaml/syntax" || fd.Severity != diag.Fatal || fd.Message == "" {
			t.Fatalf("malformed finding %+v", *fd)
		}
		checkPos(t, file, "finding start", fd.Start)
		if !fd.End.IsZero() && fd.End.Before(fd.Start) {
			t.Fatalf("finding ends at %+v before its start %+v", fd.End, fd.Start)
		}
		for _, d := range docs {
			if d == nil {
				t.Fatal("nil document before the error")
			}
		}
	})
}

// scalars returns the scalar nodes under n, not following aliases (an
// alias may point at its own ancestor).
func scalars(n *yaml.Node, out []*yaml.Node) []*yaml.Node {
	if n.Kind == yaml.ScalarNode {
		return append(out, n)
	}
	for _, c := range n.Content {
		out = scalars(c, out)
	}
	return out
}

// FuzzScalarPos maps every offset of every scalar of a fuzzed YAML file
// back to the file. Every answer must be a position of the file; offsets
// in order must map to positions in order; and where the scalar is written
// as is (any style but a double-quoted one with escapes), a letter or
// digit must map to the same letter or digit in the source.
func FuzzScalarPos(f *testing.F) {
	fuzzseed.FilesUpTo(f, maxSeed, seedPatterns...)
	for _, s := range []string{
		"expr: up == 0\n",
		"expr: \"up{job=\\\"a\\\"} > 1\"\n",
		"expr: 'up{job=''a''} > 1'\n",
		"x:\n  expr: |\n    sum(rate(a[5m]))\n      / on() b\n",
		"expr: >\n  sum(a)\n  > 3\n",
		"expr: >-\n  sum(a)\n\n  > 3\n",
		"expr: |2\n    indented(a)\n",
		"expr: sum(a)\n  > 3\n",
		"expr: \"sum(a)\n  > 3\"\n",
		"expr: \"a\\\n   b \\x41\\u00e9\\U0001F600 \\N\\_\\L\\P\"\n",
		"expr: é + x\n",
		"expr: |\n  a\n\n  or b\n",
		"expr: a\r\n  or b\r\n",
		"expr: &e sum(a)\n",
		"expr: !!str 1\n",
		"- [a, 'b', \"c\", {d: e}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<11 {
			return // the mapping is linear; long inputs only slow the fuzzer
		}
		file := NewFile("fuzz.yaml", src)
		docs, fd := file.ParseYAML("yaml/syntax")
		if fd != nil {
			return
		}
		// The scalar walkers know the line feed and CRLF only: with the
		// rarer breaks, positions stay in the file but may drift.
		exact := !oddBreakRE.Match(src)
		var ns []*yaml.Node
		for _, d := range docs {
			ns = scalars(d, ns)
		}
		for _, n := range ns[:min(len(ns), 8)] {
			sp := file.Span(n)
			checkPos(t, file, "span start", sp.Start)
			checkPos(t, file, "span end", sp.End)
			// Escapes decode to other bytes than they are written with.
			literal := exact && (n.Style&yaml.DoubleQuotedStyle == 0 || !bytes.Contains(src, []byte{'\\'}))
			var prev diag.Pos
			for off := 0; off <= min(len(n.Value), 128); off++ {
				p := file.ScalarPos(n, off)
				checkPos(t, file, "ScalarPos", p)
				if off > 0 && p.Before(prev) {
					t.Fatalf("scalar %q: offset %d maps to %+v, before offset %d at %+v", n.Value, off, p, off-1, prev)
				}
				prev = p
				if literal && off < len(n.Value) && isAlnum(n.Value[off]) {
					if at := file.Offset(p); at >= len(src) || src[at] != n.Value[off] {
						t.Fatalf("scalar %q (style %v): offset %d (%q) maps to %+v, which holds %q", n.Value, n.Style, off, n.Value[off], p, src[min(at, len(src)-1)])
					}
				}
			}
		}
	})
}

var oddBreakRE = regexp.MustCompile("\r[^\n]|\r$|\u0085|\u2028|\u2029")

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
