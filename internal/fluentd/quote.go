package fluentd

import (
	"fmt"
	"strings"
	"unicode"
)

// fluentQuote returns s as a single-quoted Fluentd config value.
//
// In Fluentd's v1 config syntax a double-quoted string evaluates embedded
// Ruby (#{...}) when the file is read, and an unquoted value that starts
// with [ or { is read as JSON. A single-quoted string does neither: it
// knows exactly two escapes, \' and \\, and ends at the first unescaped
// quote. It cannot span lines, so a line break or other control character
// is refused rather than escaped; validation refuses them before this.
func fluentQuote(s string) (string, error) {
	if hasControl(s) {
		return "", fmt.Errorf("%q contains a line break or control character", s)
	}
	return "'" + fluentEscaper.Replace(s) + "'", nil
}

var fluentEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// rubyString returns s as a Ruby double-quoted string literal in which
// every byte outside a small safe set is written as \xNN. The literal
// therefore holds no raw quote (it cannot end early), no # (it cannot
// interpolate), no $, { or } (record_transformer cannot see a second
// ${...} placeholder in it), no ' and no line break (it stays inside one
// single-quoted Fluentd value). Its value is exactly s, byte for byte.
func rubyString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if rubySafe(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func rubySafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(" ._:/@+=,-", c) >= 0
}

// rubyArray returns a Ruby array literal of the strings.
func rubyArray(list []string) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = rubyString(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// commentText makes s safe for the rest of a comment line: every control
// character and Unicode line or paragraph separator becomes a space, so
// that the text cannot end the comment and start a directive.
func commentText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
}
