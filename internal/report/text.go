package report

import (
	"bufio"
	"fmt"
	"slices"
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
//
// The source line is a window of excerptWidth characters around the
// finding, and only maxPerCheck findings of each check in each file are
// printed: after a file's findings, a line counts the rest of each check,
//
//	... and 7,950 more dashboards/datasource findings in dashboards/many.json
//
// so that a minified file with thousands of findings on one line reads in
// a screen, not in gigabytes. The summary counts every finding.
func writeText(w *bufio.Writer, in Input, opts Options) error {
	p := palette{on: opts.Color}
	ex := excerpter{in: in}
	printed := map[string]int{} // by check, in the current file
	flush := func(file string) {
		checks := make([]string, 0, len(printed))
		for c, n := range printed {
			if n > maxPerCheck {
				checks = append(checks, c)
			}
		}
		slices.Sort(checks)
		for _, c := range checks {
			rest := printed[c] - maxPerCheck
			line := fmt.Sprintf("... and %s more %s %s", thousands(rest), c, pluralWord(rest, "finding", "findings"))
			if file != "" {
				line += " in " + file
			}
			w.WriteString(sanitize(line) + "\n")
		}
		clear(printed)
	}
	for i, f := range in.Findings {
		if i > 0 && f.File != in.Findings[i-1].File {
			flush(in.Findings[i-1].File)
		}
		printed[f.Check]++
		if printed[f.Check] > maxPerCheck {
			continue
		}
		// The check closes the first line, which stays parseable as
		// file:line:col: even when the message runs over several lines.
		first, rest, _ := strings.Cut(f.Message, "\n")
		fmt.Fprintf(w, "%s: %s: %s [%s]\n", p.paint(bold, sanitize(f.Span.String())), p.severity(f.Severity), sanitize(first), f.Check)
		for _, line := range strings.Split(rest, "\n") {
			if line != "" {
				w.WriteString("  " + sanitize(line) + "\n")
			}
		}
		if f.Secret {
			// The span holds a secret: no source line, no caret, no hint.
			continue
		}
		if line, shifted, ok := ex.excerpt(f); ok {
			w.WriteString(sourceIndent + line + "\n")
			if f.Start.Col >= 1 {
				w.WriteString(sourceIndent + p.paint(green, caret(line, shifted)) + "\n")
			}
		}
		if f.Hint != "" {
			fmt.Fprintf(w, "  hint: %s\n", sanitize(f.Hint))
		}
	}
	if n := len(in.Findings); n > 0 {
		flush(in.Findings[n-1].File)
	}
	w.WriteString(summary(in) + "\n")
	return nil
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

func pluralWord(n int, one, multiple string) string {
	if n == 1 {
		return one
	}
	return multiple
}

// thousands writes n with a comma between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
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
