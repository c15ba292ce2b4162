package report

import (
	"strings"
	"unicode/utf8"
)

// The JUnit and checkstyle formats are written by hand rather than with
// encoding/xml so that their layout (attribute order, indentation, empty
// elements) is fixed and readable in a diff.

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// xmlAttr escapes s for a double-quoted attribute value. Tabs and line
// breaks become character references, which attribute normalisation keeps.
func xmlAttr(s string) string { return xmlEscape(s, true) }

// xmlText escapes s for element content, keeping tabs and newlines.
func xmlText(s string) string { return xmlEscape(s, false) }

func xmlEscape(s string, attr bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			r = utf8.RuneError // invalid UTF-8: write U+FFFD, which XML allows
		}
		i += w
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"' && attr:
			b.WriteString("&quot;")
		case r == '\'' && attr:
			b.WriteString("&apos;")
		case r == '\r':
			b.WriteString("&#xD;")
		case (r == '\n' || r == '\t') && attr:
			if r == '\n' {
				b.WriteString("&#xA;")
			} else {
				b.WriteString("&#x9;")
			}
		case !xmlChar(r):
			// XML 1.0 cannot carry this character even as a reference.
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// xmlChar reports whether r is in XML 1.0's Char production.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		0x20 <= r && r <= 0xD7FF ||
		0xE000 <= r && r <= 0xFFFD ||
		0x10000 <= r && r <= 0x10FFFF
}
