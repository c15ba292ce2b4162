package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
)

// MaxFileSize bounds what a loader reads from one file. Larger files are
// reported rather than parsed: nothing in an observability repo is
// legitimately this large, and a stray binary or log must not exhaust memory.
const MaxFileSize = 32 << 20

// File is the content of one source file with a lazily built line index.
type File struct {
	// Path is the slash-separated path shown in findings: as the user
	// named the repo or file, so that editors and CI can open it.
	Path string
	// Rel is the path relative to the repo root, the same wherever the
	// repo is checked out; compiled output is named from it. It equals
	// Path for files named on the command line outside the repo.
	Rel   string
	Src   []byte
	lines []int // byte offset at which each line starts
	// notText caches NotText: 0 not computed yet, else 1 + the offset of
	// the first byte that is not text, or -1 for text.
	notText int
}

// NewFile returns a File for src.
func NewFile(path string, src []byte) *File {
	return &File{Path: path, Rel: path, Src: src}
}

// NotText returns the offset of the first byte that makes the file not
// text (an invalid UTF-8 sequence or a NUL byte) and true; or 0 and false
// for a file that is text.
func (f *File) NotText() (int, bool) {
	if f.notText == 0 {
		f.notText = -1
		if !utf8.Valid(f.Src) || bytes.IndexByte(f.Src, 0) >= 0 {
			f.notText = 1 + firstInvalid(f.Src)
		}
	}
	if f.notText < 0 {
		return 0, false
	}
	return f.notText - 1, true
}

// Text reports whether the file is text: valid UTF-8 without NUL bytes.
// Reporters show no excerpt of a file that is not: it may be a binary, or
// anything a link pointed at.
func (f *File) Text() bool {
	_, bad := f.NotText()
	return !bad
}

func (f *File) index() {
	if f.lines != nil {
		return
	}
	f.lines = make([]int, 1, 1+bytes.Count(f.Src, []byte{'\n'}))
	if bytes.HasPrefix(f.Src, bom) {
		f.lines[0] = len(bom) // the parser counts columns after it
	}
	if !hasRareBreaks(f.Src) {
		// The common file: LF breaks only, found a word at a time.
		for i := 0; ; {
			j := bytes.IndexByte(f.Src[i:], '\n')
			if j < 0 {
				return
			}
			i += j + 1
			f.lines = append(f.lines, i)
		}
	}
	for i := 0; i < len(f.Src); i++ {
		if w := breakAt(f.Src, i); w > 0 {
			i += w - 1
			f.lines = append(f.lines, i+1)
		}
	}
}

// hasRareBreaks reports whether src may hold a break other than LF: a CR,
// or the first byte of NEL, LS or PS.
func hasRareBreaks(src []byte) bool {
	return bytes.IndexByte(src, '\r') >= 0 || bytes.IndexByte(src, 0xC2) >= 0 || bytes.IndexByte(src, 0xE2) >= 0
}

var bom = []byte("\ufeff")

// breakAt returns the length of the line break at src[i], or 0. The YAML
// parser counts lines with every break YAML 1.1 knows, so the file must
// too, or a finding the parser places on line 3 may not exist here: a lone
// carriage return (old Mac files), CRLF as one break, and the Unicode
// breaks NEL, LS and PS.
func breakAt(src []byte, i int) int {
	switch src[i] {
	case '\n':
		return 1
	case '\r':
		if i+1 < len(src) && src[i+1] == '\n' {
			return 2
		}
		return 1
	case 0xC2:
		if i+1 < len(src) && src[i+1] == 0x85 {
			return 2
		}
	case 0xE2:
		if i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xA8 || src[i+2] == 0xA9) {
			return 3
		}
	}
	return 0
}

// lineRunes returns the length of line n in characters, without
// allocating the line.
func (f *File) lineRunes(n int) int {
	f.index()
	if n < 1 || n > len(f.lines) {
		return 0
	}
	start, end := f.lines[n-1], len(f.Src)
	if n < len(f.lines) {
		end = f.lines[n]
	}
	line := bytes.TrimRight(f.Src[start:end], "\r\n")
	return utf8.RuneCount(line)
}

// NumLines returns how many lines the file has.
func (f *File) NumLines() int {
	f.index()
	return len(f.lines)
}

// Line returns line n (1-based) without its line break, or "" when n is
// out of range.
func (f *File) Line(n int) string {
	f.index()
	if n < 1 || n > len(f.lines) {
		return ""
	}
	start := f.lines[n-1]
	end := start
	for end < len(f.Src) && breakAt(f.Src, end) == 0 {
		end++
	}
	return string(f.Src[start:end])
}

// Offset returns the byte offset of p, clamped to the file.
func (f *File) Offset(p diag.Pos) int {
	f.index()
	if p.Line < 1 {
		return 0
	}
	if p.Line > len(f.lines) {
		return len(f.Src)
	}
	off := f.lines[p.Line-1]
	for col := 1; col < p.Col && off < len(f.Src) && breakAt(f.Src, off) == 0; col++ {
		_, w := utf8.DecodeRune(f.Src[off:])
		off += w
	}
	return off
}

// Pos returns the position of byte offset off.
func (f *File) Pos(off int) diag.Pos {
	f.index()
	off = max(0, min(off, len(f.Src)))
	lo, hi := 0, len(f.lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if f.lines[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	start := f.lines[lo]
	off = max(off, start) // inside a byte order mark
	if off < len(f.Src) && !utf8.RuneStart(f.Src[off]) {
		// An offset inside a multi-byte character is on that character.
		for k := 1; k <= utf8.UTFMax-1 && off-k >= start; k++ {
			if utf8.RuneStart(f.Src[off-k]) {
				if r, w := utf8.DecodeRune(f.Src[off-k:]); r != utf8.RuneError && w > k {
					off -= k
				}
				break
			}
		}
	}
	return diag.Pos{Line: lo + 1, Col: 1 + utf8.RuneCount(f.Src[start:off])}
}

// At returns a span covering one position of the file.
func (f *File) At(line, col int) diag.Span { return diag.At(f.Path, line, col) }

// Whole returns a span for findings about the file as a whole.
func (f *File) Whole() diag.Span { return diag.At(f.Path, 1, 1) }

// Span returns the span of a YAML node: for a scalar the token itself
// (quotes included), for a collection its first line.
func (f *File) Span(n *yaml.Node) diag.Span {
	if n == nil {
		return f.Whole()
	}
	start := diag.Pos{Line: n.Line, Col: n.Column}
	if start.Line < 1 || start.Line > f.NumLines() {
		// The parser places what it meets at the end of a file without a
		// final line break (the null of a bare "---") on a line after it.
		start = f.Pos(f.Offset(start))
	}
	end := start
	switch n.Kind {
	case yaml.ScalarNode:
		end = f.scalarEnd(n)
	case yaml.AliasNode:
		end.Col += 1 + utf8.RuneCountInString(n.Value)
	default:
		end = diag.Pos{Line: start.Line, Col: 1 + f.lineRunes(start.Line)}
	}
	return diag.Span{File: f.Path, Start: start, End: end}
}

func (f *File) scalarEnd(n *yaml.Node) diag.Pos {
	if p, ok := f.verbatimEnd(n); ok {
		return p
	}
	switch n.Style &^ yaml.TaggedStyle { // a written tag adds its own bit
	case yaml.LiteralStyle, yaml.FoldedStyle:
		v := n.Value
		for len(v) > 0 && v[len(v)-1] == '\n' {
			v = v[:len(v)-1]
		}
		return f.ScalarPos(n, len(v))
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		off := f.Offset(f.ScalarPos(n, len(n.Value)))
		return f.Pos(min(off+1, len(f.Src))) // after the closing quote
	default:
		return f.ScalarPos(n, len(n.Value))
	}
}

// verbatimEnd is the fast path of scalarEnd for the common one-line value
// written exactly as it decodes (no escapes, folding or properties): its
// end is its start plus its length. It checks the source rather than
// assuming, so any other value takes the full walk.
func (f *File) verbatimEnd(n *yaml.Node) (diag.Pos, bool) {
	if n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 || strings.IndexByte(n.Value, '\n') >= 0 {
		return diag.Pos{}, false
	}
	var quote byte
	switch n.Style {
	case 0:
	case yaml.DoubleQuotedStyle:
		quote = '"'
	case yaml.SingleQuotedStyle:
		quote = '\''
	default:
		return diag.Pos{}, false
	}
	if n.Line < 1 || n.Line > f.NumLines() {
		return diag.Pos{}, false
	}
	off := f.Offset(diag.Pos{Line: n.Line, Col: n.Column})
	v, src := n.Value, f.Src[off:]
	width := len(v)
	if quote != 0 {
		if len(src) < len(v)+2 || src[0] != quote || src[len(v)+1] != quote {
			return diag.Pos{}, false
		}
		src, width = src[1:], len(v)+2
	}
	if len(src) < len(v) || string(src[:len(v)]) != v {
		return diag.Pos{}, false
	}
	cols := width
	if !isASCII(v) {
		cols = width - len(v) + utf8.RuneCountInString(v)
	}
	return diag.Pos{Line: n.Line, Col: n.Column + cols}, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

var yamlLineRE = regexp.MustCompile(`line (\d+)(?:, column (\d+))?`)

// ErrTooLarge is returned, wrapped, for files over MaxFileSize.
var ErrTooLarge = errors.New("file too large")

// ParseYAML decodes every document of the file into nodes. On a syntax
// error it returns the documents decoded before it and a finding positioned
// at the line the parser names.
func (f *File) ParseYAML(check string) ([]*yaml.Node, *diag.Finding) {
	if len(f.Src) > MaxFileSize {
		return nil, &diag.Finding{
			Check: check, Severity: diag.Fatal, Span: f.Whole(),
			Message: fmt.Sprintf("file is %d bytes, over the %d byte limit", len(f.Src), MaxFileSize),
			Hint:    "rule and config files are text; is this file in the right folder?",
		}
	}
	if off, bad := f.NotText(); bad {
		return nil, &diag.Finding{
			Check: check, Severity: diag.Fatal, Span: diag.Span{File: f.Path, Start: f.Pos(off), End: f.Pos(off)},
			Message: "file is not UTF-8 text",
			Hint:    "YAML files must be UTF-8 text without NUL bytes",
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(f.Src))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return docs, f.yamlError(check, err, f.problemLine(err))
		}
		docs = append(docs, &n)
	}
	if i, fd := f.quoteRunsOn(check, docs); fd != nil {
		// What the open quote swallowed is not what the file says: only
		// the documents before it are read.
		return docs[:i], fd
	}
	return docs, nil
}

// problemLine finds the line a YAML syntax error is really on. The parser
// names the line where the enclosing collection started ("while parsing a
// block mapping at line 3"), which may be far above the mistake; the first
// prefix of the file that fails with the same message ends at the mistake.
// This costs a few parses, on the error path only.
func (f *File) problemLine(err error) int {
	want := stripLine(err.Error())
	lo := 1
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		lo, _ = strconv.Atoi(m[1])
	}
	hi := f.NumLines()
	if lo > hi {
		return 0
	}
	fails := func(k int) bool {
		end := len(f.Src)
		if k < f.NumLines() {
			end = f.lines[k]
		}
		dec := yaml.NewDecoder(bytes.NewReader(f.Src[:end]))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				return false
			}
			if err != nil {
				return stripLine(err.Error()) == want
			}
		}
	}
	if !fails(hi) {
		return 0
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func stripLine(msg string) string { return yamlLineRE.ReplaceAllString(msg, "") }

func (f *File) yamlError(check string, err error, problem int) *diag.Finding {
	msg := err.Error()
	span := f.Whole()
	if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil || problem > 0 {
		line := problem
		if m != nil && line == 0 {
			line, _ = strconv.Atoi(msg[m[2]:m[3]])
		}
		col := 1
		if m != nil && m[4] >= 0 && line == problem {
			col, _ = strconv.Atoi(msg[m[4]:m[5]])
		}
		line = max(1, min(line, f.NumLines()))
		span = diag.Span{File: f.Path, Start: diag.Pos{Line: line, Col: col},
			End: diag.Pos{Line: line, Col: 1 + utf8.RuneCountInString(f.Line(line))}}
		if m != nil {
			// Drop the "yaml: line N:" prefix: the position says it.
			msg = msg[:m[0]] + msg[m[1]:]
		}
	}
	msg = cleanYAMLMessage(msg)
	if msg == eosInQuote {
		// The file ends inside a quoted value: the parser names the line
		// it starts on (the next one, for the file's first line).
		if q, ok := f.openQuoteBefore(f.NumLines() + 1); ok {
			return &diag.Finding{Check: check, Severity: diag.Fatal,
				Span:    diag.Span{File: f.Path, Start: q, End: diag.Pos{Line: q.Line, Col: q.Col + 1}},
				Message: "YAML syntax: the quote opened here is never closed", Hint: "close the quote on this line"}
		}
	} else if q, ok := f.openQuoteBefore(span.Start.Line); ok {
		// The error is where the value of a quote left open ends.
		return &diag.Finding{Check: check, Severity: diag.Fatal,
			Span:    diag.Span{File: f.Path, Start: q, End: diag.Pos{Line: q.Line, Col: q.Col + 1}},
			Message: fmt.Sprintf("YAML syntax: the quote opened here is not closed on its line; the value runs on to line %d, where the parser fails: %s", span.Start.Line, msg),
			Hint:    "close the quote on this line"}
	}
	return &diag.Finding{Check: check, Severity: diag.Fatal, Span: span,
		Message: "YAML syntax: " + msg}
}

var prefixRE = regexp.MustCompile(`^(yaml: )?(: )?`)

func cleanYAMLMessage(msg string) string {
	msg = prefixRE.ReplaceAllString(msg, "")
	msg = string(bytes.TrimSpace([]byte(msg)))
	msg = string(bytes.TrimPrefix([]byte(msg), []byte(": ")))
	if msg == "" {
		msg = "invalid YAML"
	}
	return msg
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, w := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && w <= 1 || r == 0 {
			return i
		}
		i += w
	}
	return 0
}
