package report

import (
	"slices"
	"unicode/utf8"

	"github.com/obsctl/obsctl/internal/diag"
)

// bound returns fs with every message and hint cut to maxMessage
// characters, so that a finding quoting a huge value (a 100 KB alert
// name, a minified line) costs each format a bounded number of bytes. fs
// itself is copied only when a finding changes.
func bound(fs []diag.Finding) []diag.Finding {
	out := fs
	for i, f := range fs {
		msg, hint := cut(f.Message), cut(f.Hint)
		if msg == f.Message && hint == f.Hint {
			continue
		}
		if &out[0] == &fs[0] {
			out = slices.Clone(fs)
		}
		out[i].Message, out[i].Hint = msg, hint
	}
	return out
}

// cut shortens s to maxMessage characters by dropping its middle: the
// start says what is wrong and the end, often, where or why.
func cut(s string) string {
	if len(s) <= maxMessage || utf8.RuneCountInString(s) <= maxMessage {
		return s
	}
	r := []rune(s)
	head, tail := maxMessage*3/4, maxMessage/4-1
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}
