package report

import (
	"strings"
	"unicode/utf8"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// excerpter quotes source lines for the text format. It quotes a window
// of excerptWidth characters around a finding, never a whole line, and
// reads only that window: a minified file is one line of megabytes, with
// thousands of findings on it. Findings come sorted, so it walks on along
// a line from where the last finding was rather than from the line's
// start.
type excerpter struct {
	in   Input
	file string
	src  *source.File
	text bool // src is UTF-8 text without NUL bytes: quotable
	// The byte offset off of column col of line line, where the last
	// walk ended.
	line, col, off int
}

// excerpt returns the window of f's line to print and f with its span
// moved into the window, or false when there is nothing to quote: no
// source, no such line, or a file that is not text.
func (e *excerpter) excerpt(f diag.Finding) (string, diag.Finding, bool) {
	if e.in.Source == nil || f.Start.IsZero() {
		return "", f, false
	}
	if f.File != e.file || e.line == 0 && e.src == nil {
		e.file, e.src, e.line = f.File, e.in.Source(f.File), 0
		e.text = e.src != nil && e.src.Text()
	}
	if !e.text || f.Start.Line < 1 || f.Start.Line > e.src.NumLines() {
		return "", f, false
	}
	src := e.src.Src
	start := e.src.Offset(diag.Pos{Line: f.Start.Line, Col: 1})
	col := max(f.Start.Col, 1)

	// Walk to the finding's column, or to the end of the line if it is
	// past it: c is then the column just after the last character.
	off, c := start, 1
	if e.line == f.Start.Line && e.col <= col {
		off, c = e.off, e.col
	}
	for c < col {
		w := runeWidth(src, off)
		if w == 0 {
			break
		}
		off += w
		c++
	}
	e.line, e.col, e.off = f.Start.Line, c, off

	// Half the window before the column, the rest after it; a line that
	// ends early gives its room to the left.
	left, before := off, 0
	back := func(limit int) {
		for before < limit && left > start {
			_, w := utf8.DecodeLastRune(src[start:left])
			left -= w
			before++
		}
	}
	back(excerptWidth / 2)
	right, after := off, 0
	for before+after < excerptWidth {
		w := runeWidth(src, right)
		if w == 0 {
			break
		}
		right += w
		after++
	}
	back(excerptWidth - after)

	var b strings.Builder
	shift := c - before - 1 // columns before the window
	if left > start {
		b.WriteString("…")
		shift--
	}
	window := src[left:right]
	if e.in.mask != nil {
		window = e.in.mask.window(f.File, f.Start.Line, src, start, left, right)
	}
	b.WriteString(sanitize(string(window)))
	if runeWidth(src, right) > 0 {
		b.WriteString("…")
	}
	line := b.String()
	width := utf8.RuneCountInString(line)

	g := f
	if f.Start.Col >= 1 {
		// A column past the line's end is shown just after it.
		g.Start.Col = min(f.Start.Col-shift, width+1)
		if f.End.Line == f.Start.Line && !f.End.IsZero() {
			g.End.Col = max(min(f.End.Col-shift, width+1), 1)
		}
	}
	return line, g, true
}

// runeWidth returns the width in bytes of the character at src[i], or 0
// at the end of src or at a line break: every break YAML knows, as
// source.File counts lines.
func runeWidth(src []byte, i int) int {
	if i >= len(src) {
		return 0
	}
	switch c := src[i]; {
	case c == '\n' || c == '\r':
		return 0
	case c < utf8.RuneSelf:
		return 1
	}
	r, w := utf8.DecodeRune(src[i:])
	if r == '\u0085' || r == '\u2028' || r == '\u2029' {
		return 0
	}
	return w
}

// sanitize replaces, character for character, what would drive a
// terminal rather than show on it: control characters but the tab
// (escape sequences start with ESC), the C1 controls, the marks that
// reorder bidirectional text, and bytes that are not UTF-8. A file or a
// message can hold any of them; the report must only show them.
func sanitize(s string) string {
	i := strings.IndexFunc(s, unsafeRune)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		if unsafeRune(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	switch {
	case r == '\t':
		return false
	case r < 0x20, 0x7f <= r && r < 0xa0:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, 0x202a <= r && r <= 0x202e, 0x2066 <= r && r <= 0x2069:
		return true
	}
	return r == utf8.RuneError
}
