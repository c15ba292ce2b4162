package report

import (
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

func span(line, col, endLine, endCol int) diag.Finding {
	return diag.Finding{Span: diag.Span{File: "f.yaml", Start: diag.Pos{Line: line, Col: col}, End: diag.Pos{Line: endLine, Col: endCol}}}
}

func TestCaret(t *testing.T) {
	tests := []struct {
		name string
		line string
		f    diag.Finding
		want string
	}{
		{"point", "abcdef", span(1, 3, 1, 3), "  ^"},
		{"no end", "abcdef", span(1, 3, 0, 0), "  ^"},
		{"range", "abcdef", span(1, 2, 1, 5), " ^~~"},
		{"end before start", "abcdef", span(1, 4, 1, 2), "   ^"},
		{"first column", "abc", span(1, 1, 1, 4), "^~~"},
		{"tabs kept before the span", "\t\tx: y", span(1, 4, 1, 5), "\t\t ^"},
		{"tab inside the span", "a\tb", span(1, 1, 1, 4), "^\t~"},
		{"runes not bytes", "ÄÖÜ ✓x", span(1, 5, 1, 7), "    ^~"},
		{"multi-line runs to end of line", "key: value", span(1, 6, 3, 2), "     ^~~~~"},
		{"past the end of the line", "ab", span(1, 4, 1, 6), "   ^~"},
		{"multi-line from past the end", "ab", span(1, 4, 2, 1), "   ^"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := caret(tt.line, tt.f); got != tt.want {
				t.Errorf("caret(%q, %v) = %q, want %q", tt.line, tt.f.Span, got, tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	f := func(s diag.Severity) diag.Finding {
		return diag.Finding{Check: "a/b", Severity: s, Span: diag.At("x.yaml", 1, 1)}
	}
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{"nothing", Input{}, "no findings in 0 files"},
		{"clean", Input{Files: []string{"a", "b"}}, "no findings in 2 files"},
		{"one", Input{Files: []string{"x.yaml"}, Findings: []diag.Finding{f(diag.Error)}}, "1 finding (1 error) in 1 file"},
		{
			"each severity, highest first",
			Input{Files: []string{"x.yaml", "y.yaml"}, Findings: []diag.Finding{f(diag.Info), f(diag.Warning), f(diag.Warning), f(diag.Error), f(diag.Fatal), f(diag.Info)}},
			"6 findings (1 fatal, 1 error, 2 warnings, 2 info) in 2 files",
		},
		{"files named only by findings count", Input{Findings: []diag.Finding{f(diag.Warning)}}, "1 finding (1 warning) in 1 file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summary(tt.in); got != tt.want {
				t.Errorf("summary = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTextContext(t *testing.T) {
	src := source.NewFile("f.yaml", []byte("a: 1\n\tb: [x, y]\n"))
	with := func(f diag.Finding) Input {
		f.Check, f.Severity, f.Message = "a/b", diag.Warning, "msg"
		return Input{Findings: []diag.Finding{f}, Source: func(p string) *source.File {
			if p == "f.yaml" {
				return src
			}
			return nil
		}}
	}
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{
			"source line and caret",
			with(span(2, 5, 2, 11)),
			"f.yaml:2:5: warning: msg [a/b]\n    \tb: [x, y]\n    \t   ^~~~~~\n",
		},
		{
			"no column: line without caret",
			with(span(2, 0, 0, 0)),
			"f.yaml:2:0: warning: msg [a/b]\n    \tb: [x, y]\n",
		},
		{
			"line past the end of the file",
			with(span(9, 1, 0, 0)),
			"f.yaml:9:1: warning: msg [a/b]\n",
		},
		{
			"no source",
			Input{Findings: with(span(1, 1, 1, 2)).Findings},
			"f.yaml:1:1: warning: msg [a/b]\n",
		},
		{
			"source without the file",
			Input{Findings: with(span(1, 1, 1, 2)).Findings, Source: func(string) *source.File { return nil }},
			"f.yaml:1:1: warning: msg [a/b]\n",
		},
		{
			"file-level",
			with(diag.Finding{Span: diag.Span{File: "f.yaml"}, Hint: "h"}),
			"f.yaml: warning: msg [a/b]\n  hint: h\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := string(render(t, "text", tt.in, Options{}))
			got, _, _ := strings.Cut(out, "1 finding")
			if got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestNoExcerptOfBinary: a file that is not text (a NUL byte, invalid
// UTF-8) may be anything a link or a stray binary put there; no format
// quotes a line of it, whichever check reports it.
func TestNoExcerptOfBinary(t *testing.T) {
	for name, src := range map[string]string{
		"nul":          "groups:\n- name: tok-5a5a \x00\n",
		"invalid utf8": "groups:\n- name: tok-5a5a \xff\xfe\n",
		"far from it":  "\x00\ngroups:\n- name: tok-5a5a\n",
	} {
		t.Run(name, func(t *testing.T) {
			f := source.NewFile("rules/x.yaml", []byte(src))
			in := Input{
				Findings: []diag.Finding{
					{Check: "yaml/syntax", Severity: diag.Fatal, Span: diag.At("rules/x.yaml", 2, 1), Message: "file is not UTF-8 text"},
					{Check: "rules/other", Severity: diag.Error, Span: diag.Span{File: "rules/x.yaml", Start: diag.Pos{Line: 2, Col: 3}, End: diag.Pos{Line: 2, Col: 9}}, Message: "m"},
				},
				Source: func(string) *source.File { return f },
			}
			for _, format := range Formats() {
				var b strings.Builder
				if err := Write(&b, format, in, Options{}); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(b.String(), "tok-5a5a") {
					t.Errorf("%s quotes the file:\n%s", format, b.String())
				}
			}
		})
	}
}
