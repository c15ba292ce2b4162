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

// A quote left open is the YAML mistake whose error lands farthest from
// it: the value runs on to the next quote of the file, which closes it,
// and the parser fails there, lines below, or not at all when what
// follows still parses (a receiver named "pager\n - name: other").
// Either way the finding belongs at the quote.

// keyRE matches a line that starts with a plain mapping key.
var keyRE = regexp.MustCompile(`^[^\s#'"\[\]{},&*!|>%@` + "`" + `-][^:#]*:(\s|$)`)

// eosInQuote is the parser's message for a file that ends inside a
// quoted scalar; its line is the line the scalar starts on.
const eosInQuote = "found unexpected end of stream"

// openQuoteBefore returns the position of a quoted value that is still
// open at the start of line (NumLines()+1 for the end of the file): the
// reason for a syntax error the parser reports on that line or after. The
// file's lines before line are parsed alone; only when that ends inside a
// quoted scalar is there one.
func (f *File) openQuoteBefore(line int) (diag.Pos, bool) {
	if line < 2 || line > f.NumLines()+1 {
		return diag.Pos{}, false
	}
	end := len(f.Src) // line is one past the last: the whole file
	if line <= f.NumLines() {
		end = f.lines[line-1]
	}
	dec := yaml.NewDecoder(bytes.NewReader(f.Src[:end]))
	var err error
	for {
		var n yaml.Node
		if err = dec.Decode(&n); err != nil {
			break
		}
	}
	if err == nil || errors.Is(err, io.EOF) || cleanYAMLMessage(stripLine(err.Error())) != eosInQuote {
		return diag.Pos{}, false
	}
	// The parser names the line the scalar starts on, except on the
	// first line, where it names the end instead.
	candidates := []int{1}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		q, _ := strconv.Atoi(m[1])
		candidates = append([]int{q}, candidates...)
	}
	for _, q := range candidates {
		if q >= 1 && q < line {
			if col := openQuoteColumn(f.Line(q)); col > 0 {
				return diag.Pos{Line: q, Col: col}, true
			}
		}
	}
	return diag.Pos{}, false
}

// openQuoteColumn returns the column of the quote that opens a quoted
// scalar left open at the end of line, or 0. It reads the line as YAML
// does well enough for that: indicators, keys, flow collections, plain
// scalars (whose quotes are text) and comments.
func openQuoteColumn(line string) int {
	i := 0
	valueStart := true // at a place where a value may start
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return 0 // a comment runs to the end of the line
		case valueStart && (c == '"' || c == '\''):
			end := closingQuote(line, i)
			if end < 0 {
				return 1 + utf8.RuneCountInString(line[:i])
			}
			i, valueStart = end+1, false
		case c == '-' || c == '?' || c == ':':
			// An indicator when followed by a space or the line's end.
			if i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t' {
				i, valueStart = i+1, true
				continue
			}
			if valueStart {
				i = plainEnd(line, i)
				valueStart = false
				continue
			}
			i++
		case c == '[' || c == '{' || c == ',':
			i, valueStart = i+1, true
		case c == ']' || c == '}':
			i, valueStart = i+1, false
		default:
			if valueStart {
				i = plainEnd(line, i)
				valueStart = false
				continue
			}
			i++
		}
	}
	return 0
}

// closingQuote returns the index of the quote closing the one at
// line[open], or -1 when the line ends first.
func closingQuote(line string, open int) int {
	q := line[open]
	for j := open + 1; j < len(line); j++ {
		switch {
		case q == '"' && line[j] == '\\':
			j++ // an escape
		case line[j] == q && q == '\'' && j+1 < len(line) && line[j+1] == '\'':
			j++ // '' is a quote inside single quotes
		case line[j] == q:
			return j
		}
	}
	return -1
}

// plainEnd returns where a plain scalar starting at line[i] ends: at ": ",
// " #", or a flow indicator (which only ends it inside a flow collection,
// but a quote is not what follows one either way).
func plainEnd(line string, i int) int {
	for j := i; j < len(line); j++ {
		switch line[j] {
		case ':':
			if j+1 == len(line) || line[j+1] == ' ' || line[j+1] == '\t' {
				return j
			}
		case '#':
			if line[j-1] == ' ' || line[j-1] == '\t' {
				return j
			}
		case ',', ']', '}':
			return j
		}
	}
	return len(line)
}

// quoteRunsOn looks in docs for a quoted value whose later lines are
// indented less than its key, or as much and look like a key or a list
// item: YAML does not allow the first, and the parser takes both, but
// either is what a quote left open leaves, the value swallowing the
// lines up to the next quote. It returns the index of the document
// holding the first such value and a finding at its quote.
func (f *File) quoteRunsOn(check string, docs []*yaml.Node) (int, *diag.Finding) {
	for i, d := range docs {
		if fd := f.quotesIn(check, d, -1, 0); fd != nil {
			return i, fd
		}
	}
	return 0, nil
}

// quotesIn walks n, whose parent block collection is indented by indent
// (-1 for none), depth levels down.
func (f *File) quotesIn(check string, n *yaml.Node, indent, depth int) *diag.Finding {
	if n == nil || depth > 10000 {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if fd := f.quotesIn(check, c, -1, depth+1); fd != nil {
				return fd
			}
		}
	case yaml.MappingNode:
		if n.Style&yaml.FlowStyle != 0 {
			return nil // a flow collection's lines are free
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if fd := f.quotesIn(check, v, k.Column-1, depth+1); fd != nil {
				return fd
			}
		}
	case yaml.SequenceNode:
		if n.Style&yaml.FlowStyle != 0 {
			return nil
		}
		for _, c := range n.Content {
			if fd := f.quotesIn(check, c, n.Column-1, depth+1); fd != nil {
				return fd
			}
		}
	case yaml.ScalarNode:
		if indent >= 0 && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return f.quoteIndent(check, n, indent)
		}
	}
	return nil
}

// quoteIndent checks the later lines of the quoted scalar n, whose key or
// list item is indented by indent.
func (f *File) quoteIndent(check string, n *yaml.Node, indent int) *diag.Finding {
	if n.Line < 1 || n.Line > f.NumLines() {
		return nil
	}
	start := f.Offset(diag.Pos{Line: n.Line, Col: n.Column})
	if start >= len(f.Src) || (f.Src[start] != '"' && f.Src[start] != '\'') {
		return nil // a tag or anchor first: not worth the walk
	}
	q := f.Src[start]
	line := n.Line
	for j := start + 1; j < len(f.Src); j++ {
		c := f.Src[j]
		switch {
		case q == '"' && c == '\\':
			j++
			continue
		case c == q && q == '\'' && j+1 < len(f.Src) && f.Src[j+1] == '\'':
			j++
			continue
		case c == q:
			return nil
		}
		w := breakAt(f.Src, j)
		if w == 0 {
			continue
		}
		j += w - 1
		line++
		text := f.Line(line)
		rest := strings.TrimLeft(text, " ")
		if rest == "" || rest[0] == '\t' {
			continue
		}
		in := len(text) - len(rest)
		looksLikeKey := strings.HasPrefix(rest, "- ") || keyRE.MatchString(rest)
		if in < indent || in == indent && looksLikeKey {
			return &diag.Finding{Check: check, Severity: diag.Fatal,
				Span:    diag.Span{File: f.Path, Start: diag.Pos{Line: n.Line, Col: n.Column}, End: diag.Pos{Line: n.Line, Col: n.Column + 1}},
				Message: fmt.Sprintf("YAML syntax: the quoted value opened here runs on to line %d, which is not indented more than its key: is its closing quote missing?", line),
				Hint:    "close the quote on this line; a value that goes on over several lines is indented more than its key"}
		}
	}
	return nil
}
