package report

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// oneFile returns an input whose findings all point into path, holding src.
func oneFile(path, src string, findings ...diag.Finding) Input {
	f := source.NewFile(path, []byte(src))
	return Input{Findings: diag.Sort(findings), Files: []string{path}, Source: func(p string) *source.File {
		if p == path {
			return f
		}
		return nil
	}}
}

func at(file string, line, col, endCol int) diag.Finding {
	return diag.Finding{Check: "a/b", Severity: diag.Error, Message: "msg",
		Span: diag.Span{File: file, Start: diag.Pos{Line: line, Col: col}, End: diag.Pos{Line: line, Col: endCol}}}
}

// excerpt returns the quoted source line and the caret line of the text
// report of in, which must hold one finding.
func excerpt(t *testing.T, in Input) (line, marker string) {
	t.Helper()
	lines := strings.Split(string(render(t, "text", in, Options{})), "\n")
	if len(lines) < 4 {
		t.Fatalf("no excerpt in %q", lines)
	}
	return strings.TrimPrefix(lines[1], sourceIndent), strings.TrimPrefix(lines[2], sourceIndent)
}

// TestTextExcerptWindow checks that a long line is quoted as a window
// around the finding, marked with ellipses where it is cut, and that the
// caret stays under the character the finding starts at.
func TestTextExcerptWindow(t *testing.T) {
	long := strings.Repeat("a", 300) + "XYZ" + strings.Repeat("b", 300)
	tests := []struct {
		name       string
		line       string
		col, end   int
		want       string // the characters from the caret on
		head, tail bool   // an ellipsis at the start, at the end
	}{
		{"middle", long, 301, 304, "XYZ", true, true},
		{"start", long, 1, 2, "aaa", false, true},
		{"end", long, 603, 604, "b", true, false},
		{"past the end", long, 700, 701, "", true, false},
		{"span longer than the window", long, 290, 600, "aaaaaaaaaaaXYZ", true, true},
		{"multi-byte", strings.Repeat("é", 300) + "XYZ" + strings.Repeat("ü", 300), 301, 304, "XYZ", true, true},
		{"tabs", strings.Repeat("\t", 300) + "XYZ" + strings.Repeat("\t", 300), 301, 302, "XYZ", true, true},
		{"short line whole", "key: XYZ", 6, 9, "XYZ", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := oneFile("f.yaml", "first: 1\n"+tt.line+"\nlast: 1\n", at("f.yaml", 2, tt.col, tt.end))
			line, marker := excerpt(t, in)
			if n := utf8.RuneCountInString(line); n > excerptWidth+2 {
				t.Errorf("excerpt is %d characters, over %d", n, excerptWidth+2)
			}
			if got := strings.HasPrefix(line, "…"); got != tt.head {
				t.Errorf("ellipsis at the start: %t, want %t\n%q", got, tt.head, line)
			}
			if got := strings.HasSuffix(line, "…"); got != tt.tail {
				t.Errorf("ellipsis at the end: %t, want %t\n%q", got, tt.tail, line)
			}
			caretAt := utf8.RuneCountInString(marker[:strings.IndexByte(marker, '^')])
			under := []rune(line)[min(caretAt, utf8.RuneCountInString(line)):]
			if !strings.HasPrefix(string(under), tt.want) {
				t.Errorf("caret is under %q, want %q\n%q\n%q", string(under), tt.want, line, marker)
			}
			if strings.Trim(marker, " \t^~") != "" {
				t.Errorf("caret line %q holds more than blanks and markers", marker)
			}
			if n := utf8.RuneCountInString(marker); n > excerptWidth+2 {
				t.Errorf("caret line is %d characters, over %d", n, excerptWidth+2)
			}
		})
	}
}

// TestTextCapPerCheckAndFile checks that the text report prints at most
// maxPerCheck findings of one check in one file and counts the rest, while
// the machine formats keep them all.
func TestTextCapPerCheckAndFile(t *testing.T) {
	var fs []diag.Finding
	for i := range 8000 {
		fs = append(fs, at("dashboards/many.json", 1, 10+i, 11+i))
	}
	for i := range 3 {
		f := at("dashboards/many.json", 1, 20+i, 21+i)
		f.Check = "c/d"
		fs = append(fs, f)
	}
	other := at("dashboards/other.json", 1, 1, 2)
	fs = append(fs, other)
	in := oneFile("dashboards/many.json", strings.Repeat("x", 9000), fs...)
	in.Files = append(in.Files, "dashboards/other.json")

	out := string(render(t, "text", in, Options{}))
	for check, want := range map[string]int{"a/b": maxPerCheck, "c/d": 3} {
		re := regexp.MustCompile(`(?m)^dashboards/many\.json:1:\d+: error: msg \[` + check + `\]$`)
		if got := len(re.FindAllString(out, -1)); got != want {
			t.Errorf("%s: %d printed, want %d", check, got, want)
		}
	}
	for _, want := range []string{
		"... and 7,950 more a/b findings in dashboards/many.json\n",
		"dashboards/other.json:1:1: error: msg [a/b]\n",
		"8004 findings (8004 errors) in 2 files\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	if strings.Contains(out, "more c/d") {
		t.Error("counted the rest of a check under its cap")
	}
	for _, format := range []string{"json", "github", "sarif", "junit", "checkstyle", "gitlab"} {
		got := strings.Count(string(render(t, format, in, Options{})), "msg")
		if got < len(fs) {
			t.Errorf("%s: %d findings, want all %d", format, got, len(fs))
		}
	}
}

// TestMessageBounded checks that a message quoting a huge value is cut in
// every format, keeping its start and its end.
func TestMessageBounded(t *testing.T) {
	f := at("f.yaml", 1, 1, 2)
	f.Message = "alert \"" + strings.Repeat("A", 100_000) + "\" has no summary annotation"
	in := oneFile("f.yaml", "x: 1\n", f)
	for _, format := range Formats() {
		out := string(render(t, format, in, Options{}))
		if strings.Contains(out, strings.Repeat("A", maxMessage)) {
			t.Errorf("%s: %d characters or more of the quoted value", format, maxMessage)
		}
		if !strings.Contains(out, "has no summary annotation") || !strings.Contains(out, "AAAA") {
			t.Errorf("%s: the cut message lost its start or its end", format)
		}
	}
}

// TestTextControlCharacters checks that what a file or a message holds
// cannot drive the terminal: escape sequences and other control characters
// are shown, not sent, and the caret still lines up.
func TestTextControlCharacters(t *testing.T) {
	line := "summary: \"\x1b[2J\x1b]0;pwned\x07\u009b31m\u202eevil\" bad"
	f := at("f.yaml", 1, 36, 39)
	f.Message = "quoted \x1b[31mred\x1b[0m"
	in := oneFile("f.yaml", line+"\n", f)
	out := string(render(t, "text", in, Options{}))
	for _, c := range []string{"\x1b", "\x07", "\u009b", "\u202e"} {
		if strings.Contains(out, c) {
			t.Errorf("text report holds %q:\n%q", c, out)
		}
	}
	l, marker := excerpt(t, in)
	caretAt := utf8.RuneCountInString(marker[:strings.IndexByte(marker, '^')])
	if got := string([]rune(l)[caretAt:]); !strings.HasPrefix(got, "bad") {
		t.Errorf("caret is under %q, want \"bad\"\n%q\n%q", got, l, marker)
	}
}

// TestTextNotText checks that a line that is not UTF-8 text is not quoted.
func TestTextNotText(t *testing.T) {
	in := oneFile("f.yaml", "key: \xff\xfe\x00secret\n", at("f.yaml", 1, 6, 7))
	out := string(render(t, "text", in, Options{}))
	if strings.Contains(out, "secret") || strings.Contains(out, "\xff") {
		t.Errorf("quoted a line that is not text:\n%q", out)
	}
}

func ExampleWrite_capped() {
	var fs []diag.Finding
	for i := range 52 {
		fs = append(fs, diag.Finding{Check: "dashboards/datasource", Severity: diag.Error,
			Span: diag.At("dashboards/many.json", 1, 1+i), Message: fmt.Sprintf("finding %d", i)})
	}
	var b strings.Builder
	_ = Write(&b, "text", Input{Findings: fs}, Options{})
	lines := strings.Split(b.String(), "\n")
	fmt.Println(strings.Join(lines[len(lines)-4:], "\n"))
	// Output:
	// dashboards/many.json:1:50: error: finding 49 [dashboards/datasource]
	// ... and 2 more dashboards/datasource findings in dashboards/many.json
	// 52 findings (52 errors) in 1 file
}
