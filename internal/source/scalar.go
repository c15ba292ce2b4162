package source

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
)

// ScalarPos maps byte offset off of the decoded value of scalar node n to
// the position in the file where that byte was written. It replays YAML's
// scalar decoding (indentation stripping for block scalars, line folding,
// quote escapes), so an error at offset 37 of a multi-line expr lands on
// the line and column the user sees in their editor.
func (f *File) ScalarPos(n *yaml.Node, off int) diag.Pos {
	start := f.skipProperties(f.Offset(diag.Pos{Line: n.Line, Col: n.Column}))
	var raw int
	switch n.Style &^ yaml.TaggedStyle { // a written tag adds its own bit
	case yaml.LiteralStyle, yaml.FoldedStyle:
		raw = f.blockOffset(n, start, off)
	case yaml.SingleQuotedStyle:
		raw = f.flowOffset(start+1, off, '\'')
	case yaml.DoubleQuotedStyle:
		raw = f.flowOffset(start+1, off, '"')
	default:
		raw = f.flowOffset(start, off, 0)
	}
	return f.Pos(raw)
}

// skipProperties returns where the scalar token starting at or after byte
// i begins. A node's position is that of its first property, so an anchor
// (&name) or tag (!!str) written before the value is skipped, together
// with the space, comments and line breaks after it.
func (f *File) skipProperties(i int) int {
	src := f.Src
	for i < len(src) && (src[i] == '&' || src[i] == '!') {
		if src[i] == '&' {
			// An anchor name may end at an indicator, as in &a:b.
			for i++; i < len(src) && isAnchorByte(src[i]); i++ {
			}
		} else {
			for i < len(src) && !isSpace(src[i]) {
				i++
			}
		}
		for i < len(src) && (isSpace(src[i]) || src[i] == '#') {
			if src[i] == '#' {
				for i < len(src) && src[i] != '\n' {
					i++
				}
				continue
			}
			i++
		}
	}
	return i
}

func isAnchorByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '-'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// blockOffset walks the literal or folded block scalar n whose indicator is
// at byte start. Each content line decodes to its text without the
// indentation and one line break, except that a folded scalar drops the
// break before a run of empty lines between two lines that are not more
// indented (the empty lines give the newlines).
func (f *File) blockOffset(n *yaml.Node, start, off int) int {
	src := f.Src
	i := start
	for i < len(src) && src[i] != '\n' {
		i++
	}
	if i < len(src) {
		i++
	}
	indent := blockIndent(src[i:], n.Value)
	folded := n.Style&yaml.FoldedStyle != 0
	decoded := 0
	prevNormal, blanks := false, 0
	for i < len(src) {
		end := i
		for end < len(src) && src[end] != '\n' {
			end++
		}
		line := bytes.TrimSuffix(src[i:end], []byte{'\r'})
		lead := 0
		for lead < len(line) && line[lead] == ' ' {
			lead++
		}
		empty := lead == len(line) && (indent < 0 || len(line) <= indent)
		if !empty && lead < indent {
			break // the block ended
		}
		content := 0
		if !empty {
			content = len(line) - max(indent, 0)
			prevNormal, blanks = isNormal(line, indent), 0
		} else {
			if folded && prevNormal && blanks == 0 && nextNormal(src[min(end+1, len(src)):], indent) {
				decoded-- // the break before the empty lines folds away
			}
			blanks++
		}
		if off <= decoded+content {
			return i + min(len(line), max(indent, 0)) + (off - decoded)
		}
		decoded += content + 1
		i = end + 1
	}
	return min(i, len(src))
}

// isNormal reports whether a content line of a block scalar with the given
// indentation starts with text rather than more indentation: only breaks
// between such lines fold.
func isNormal(line []byte, indent int) bool {
	return indent >= 0 && len(line) > indent && line[indent] != ' ' && line[indent] != '\t'
}

// nextNormal reports whether the first content line of body (the lines
// after a run of empty lines) is normal and still inside the block.
func nextNormal(body []byte, indent int) bool {
	for len(body) > 0 {
		line, rest, _ := bytes.Cut(body, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if lead := len(line) - len(bytes.TrimLeft(line, " ")); lead < len(line) || len(line) > indent {
			return lead == indent && isNormal(line, indent) // a line indented less ends the block
		}
		body = rest
	}
	return false
}

// blockIndent returns the indentation of the block scalar whose content
// lines start body and whose decoded value is value, or -1 when it has no
// content line. The first content line's indentation less the spaces it
// keeps in the value is the indentation, whether it was detected or given
// with an indentation indicator (|2).
func blockIndent(body []byte, value string) int {
	k := 0 // empty lines before the first content line
	for len(body) > 0 {
		line, rest, _ := bytes.Cut(body, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		lead := 0
		for lead < len(line) && line[lead] == ' ' {
			lead++
		}
		if lead < len(line) {
			lines := strings.SplitN(value, "\n", k+2)
			if k >= len(lines) {
				return lead
			}
			kept := len(lines[k]) - len(strings.TrimLeft(lines[k], " "))
			return max(0, lead-kept)
		}
		k++
		body = rest
	}
	return -1
}

// flowOffset walks a plain (quote == 0) or quoted flow scalar starting at
// byte i, counting decoded bytes until off is reached.
func (f *File) flowOffset(i, off int, quote byte) int {
	src := f.Src
	decoded := 0
	for i < len(src) && decoded < off {
		c := src[i]
		switch {
		case quote != 0 && c == quote && !(quote == '\'' && i+1 < len(src) && src[i+1] == '\''):
			return i
		case quote == '\'' && c == '\'':
			decoded++
			i += 2
		case quote == '"' && c == '\\' && i+1 < len(src):
			rawLen, decLen := escapeLen(src[i+1:])
			decoded += decLen
			i += 1 + rawLen
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			j := i
			for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r') {
				j++
			}
			if j < len(src) && src[j] == '\n' {
				// A line break, with the whitespace around it, folds to one
				// space, or to one newline per blank line that follows.
				breaks := 0
				for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r' || src[j] == '\n') {
					if src[j] == '\n' {
						breaks++
					}
					j++
				}
				decoded += max(1, breaks-1)
				i = j
				continue
			}
			decoded += j - i
			i = j
		default:
			_, w := utf8.DecodeRune(src[i:])
			decoded += w
			i += w
		}
	}
	return i
}

// escapeLen returns the raw length after the backslash and the number of
// decoded bytes of one double-quoted escape sequence.
func escapeLen(b []byte) (raw, dec int) {
	if len(b) == 0 {
		return 0, 0
	}
	hex := 0
	switch b[0] {
	case 'x':
		hex = 2
	case 'u':
		hex = 4
	case 'U':
		hex = 8
	case '\n':
		// An escaped line break joins the lines and drops the indentation.
		j := 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		return j, 0
	case 'N', '_':
		return 1, 2 // U+0085 and U+00A0 are two bytes in UTF-8
	case 'L', 'P':
		return 1, 3
	default:
		return 1, 1
	}
	if len(b) < 1+hex {
		return len(b), 1
	}
	var r rune
	for _, c := range b[1 : 1+hex] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		}
	}
	if hex == 2 {
		return 3, 1
	}
	return 1 + hex, utf8.RuneLen(r)
}
