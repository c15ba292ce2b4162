package report

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// sourceIndent sets the quoted source line and its caret off from the
// location line.
const sourceIndent = "    "

// The text report is read by a person, on a terminal or in a CI log, and
// must stay readable (and small) whatever the files hold.
const (
	// excerptWidth is how many characters of a source line are quoted: a
	// window around the finding, not the whole of a minified line.
	excerptWidth = 160
	// maxPerCheck is how many findings of one check in one file are
	// printed; the rest are counted.
	maxPerCheck = 50
	// maxMessage is how many characters of a message any format keeps: a
	// message that quotes a huge value is cut in its middle.
	maxMessage = 1024
)

// writeText writes one block per finding and a summary line:
//
//	rules/a.yaml:3:5: error: message [rules/check]
//	  further lines of the message, if any
//	    the source line
//	    ^~~~
//	  hint: the hint
func writeText(b *bytes.Buffer, in Input, opts Options) error {
	p := palette{on: opts.Color}
	for _, f := range in.Findings {
		// The check closes the first line, which stays parseable as
		// file:line:col: even when the message runs over several lines.
		first, rest, _ := strings.Cut(f.Message, "\n")
		fmt.Fprintf(b, "%s: %s: %s [%s]\n", p.paint(bold, f.Span.String()), p.severity(f.Severity), first, f.Check)
		for _, line := range strings.Split(rest, "\n") {
			if line != "" {
				b.WriteString("  " + line + "\n")
			}
		}
		if f.Secret {
			// The span holds a secret: no source line, no caret, no hint.
			continue
		}
		if line, ok := sourceLine(in, f); ok {
			b.WriteString(sourceIndent + line + "\n")
			if f.Start.Col >= 1 {
				b.WriteString(sourceIndent + p.paint(green, caret(line, f)) + "\n")
			}
		}
		if f.Hint != "" {
			fmt.Fprintf(b, "  hint: %s\n", f.Hint)
		}
	}
	b.WriteString(summary(in) + "\n")
	return nil
}

// sourceLine returns the line a finding starts on, when the source is at
// hand and has that line.
func sourceLine(in Input, f diag.Finding) (string, bool) {
	if in.Source == nil || f.Start.IsZero() {
		return "", false
	}
	src := in.Source(f.File)
	if src == nil || f.Start.Line > src.NumLines() {
		return "", false
	}
	return src.Line(f.Start.Line), true
}

// caret returns the marker line for f under line: '^' at the start column
// and '~' up to the end column, or to the end of the line when the span
// runs onto later lines. Columns count runes. Tabs before and inside the
// span are kept so that the marker lines up however wide the terminal
// draws a tab.
func caret(line string, f diag.Finding) string {
	runes := []rune(line)
	stop := f.Start.Col + 1 // exclusive column where the marker ends
	if e, ok := spanEnd(f); ok {
		if e.Line > f.Start.Line {
			stop = len(runes) + 1
		} else {
			stop = e.Col
		}
	}
	stop = max(stop, f.Start.Col+1)
	var b strings.Builder
	for col := 1; col < stop; col++ {
		switch {
		case col-1 < len(runes) && runes[col-1] == '\t' && col != f.Start.Col:
			b.WriteByte('\t')
		case col < f.Start.Col:
			b.WriteByte(' ')
		case col == f.Start.Col:
			b.WriteByte('^')
		default:
			b.WriteByte('~')
		}
	}
	return b.String()
}

// summary returns the closing line: "3 findings (1 error, 2 warnings) in
// 4 files", naming each severity that occurs, highest first, or "no
// findings in 4 files".
func summary(in Input) string {
	files := plural(len(in.files()), "file", "files")
	if len(in.Findings) == 0 {
		return "no findings in " + files
	}
	n := diag.Count(in.Findings)
	var parts []string
	for _, s := range []struct {
		sev           diag.Severity
		one, multiple string
	}{
		{diag.Fatal, "fatal", "fatal"},
		{diag.Error, "error", "errors"},
		{diag.Warning, "warning", "warnings"},
		{diag.Info, "info", "info"},
	} {
		if n[s.sev] > 0 {
			parts = append(parts, plural(n[s.sev], s.one, s.multiple))
		}
	}
	return fmt.Sprintf("%s (%s) in %s", plural(len(in.Findings), "finding", "findings"), strings.Join(parts, ", "), files)
}

func plural(n int, one, multiple string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, multiple)
}

// ANSI select graphic rendition codes used by the text format.
const (
	bold    = "1"
	red     = "31"
	boldRed = "1;31"
	green   = "32"
	yellow  = "33"
	cyan    = "36"
)

// palette paints text with ANSI colours when on.
type palette struct{ on bool }

func (p palette) paint(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p palette) severity(s diag.Severity) string {
	code := cyan
	switch s {
	case diag.Fatal:
		code = boldRed
	case diag.Error:
		code = red
	case diag.Warning:
		code = yellow
	}
	return p.paint(code, s.String())
}
