package report

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/secret"
)

// secretMask replaces a secret value in a message.
const secretMask = "****"

// masker hides secret values in everything a report prints: in the
// source lines the text format quotes and in every message and hint of
// every format, whichever check wrote them. A secret is what the secret
// scanner finds in the files, and what a finding marked Secret spans. It
// does not depend on secrets/plaintext running: a check that is switched
// off still must not get its secrets printed by another.
type masker struct {
	// hide holds, by file and line, the byte ranges of the line to hide;
	// an end of -1 runs to the end of the line.
	hide map[string]map[int][]byteRange
	// needles are the secret values, indexed by their first four bytes,
	// to find them in messages.
	needles map[[4]byte][]string
	// short are the values under four bytes, which only a Secret
	// finding can name: looked for whole.
	short []string
}

type byteRange struct{ start, end int }

// newMasker scans the files of in for secrets.
func newMasker(in Input) *masker {
	m := &masker{hide: map[string]map[int][]byteRange{}, needles: map[[4]byte][]string{}}
	if len(in.Findings) == 0 {
		return m // nothing is quoted
	}
	if in.Source != nil {
		for _, path := range in.files() {
			src := in.Source(path)
			if src == nil {
				continue
			}
			for _, h := range secret.Scan(src.Src) {
				m.add(path, h.Line, byteRange{h.Start, h.End}, string(h.Text[h.Start:h.End]))
			}
		}
	}
	for _, f := range in.Findings {
		if f.Secret {
			m.addSpan(in, f)
		}
	}
	return m
}

func (m *masker) add(file string, line int, r byteRange, value string) {
	lines := m.hide[file]
	if lines == nil {
		lines = map[int][]byteRange{}
		m.hide[file] = lines
	}
	lines[line] = append(lines[line], r)
	value = strings.Trim(value, `"'`)
	switch {
	case len(value) >= 4:
		k := key4(value)
		if !slices.Contains(m.needles[k], value) {
			m.needles[k] = append(m.needles[k], value)
		}
	case value != "" && !slices.Contains(m.short, value):
		m.short = append(m.short, value)
	}
}

// addSpan hides what a Secret finding spans.
func (m *masker) addSpan(in Input, f diag.Finding) {
	if f.Start.IsZero() || in.Source == nil {
		return
	}
	src := in.Source(f.File)
	if src == nil || f.Start.Line < 1 || f.Start.Line > src.NumLines() {
		return
	}
	end := f.End
	if end.IsZero() || !f.Start.Before(end) {
		end = diag.Pos{Line: f.Start.Line, Col: -1}
	}
	// A hostile span may run over the whole file: a line at a time, and
	// no further than a block of lines can sensibly hold one secret.
	last := min(end.Line, f.Start.Line+1000, src.NumLines())
	for line := f.Start.Line; line <= last; line++ {
		ls := src.Offset(diag.Pos{Line: line, Col: 1})
		r := byteRange{0, -1}
		if line == f.Start.Line {
			r.start = src.Offset(f.Start) - ls
		}
		if line == end.Line && end.Col >= 1 {
			r.end = src.Offset(end) - ls
		}
		value := ""
		if r.end >= 0 {
			value = string(src.Src[ls+r.start : ls+r.end])
		}
		m.add(f.File, line, r, value)
	}
}

// text returns s with every secret value in it replaced by secretMask.
func (m *masker) text(s string) string {
	if len(m.needles) == 0 && len(m.short) == 0 {
		return s
	}
	var b strings.Builder
	done := 0
	for i := 0; i+4 <= len(s); {
		n := 0
		for _, v := range m.needles[key4(s[i:])] {
			if len(v) > n && strings.HasPrefix(s[i:], v) {
				n = len(v)
			}
		}
		if n == 0 {
			i++
			continue
		}
		b.WriteString(s[done:i])
		b.WriteString(secretMask)
		i += n
		done = i
	}
	if done > 0 {
		b.WriteString(s[done:])
		s = b.String()
	}
	for _, v := range m.short {
		s = strings.ReplaceAll(s, v, secretMask)
	}
	return s
}

// findings returns fs with their messages and hints masked, copying fs
// only when a finding changes.
func (m *masker) findings(fs []diag.Finding) []diag.Finding {
	if len(m.needles) == 0 && len(m.short) == 0 {
		return fs
	}
	out := fs
	for i, f := range fs {
		msg, hint := m.text(f.Message), m.text(f.Hint)
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

// window returns src[left:right], part of line n of file whose first byte
// is at lineStart, with each character of a secret replaced by '*': one
// for one, so that the caret under the line still lines up.
func (m *masker) window(file string, n int, src []byte, lineStart, left, right int) []byte {
	rs := m.hide[file][n]
	if len(rs) == 0 {
		return src[left:right]
	}
	hidden := func(off int) bool {
		for _, r := range rs {
			if off >= lineStart+r.start && (r.end < 0 || off < lineStart+r.end) {
				return true
			}
		}
		return false
	}
	out := make([]byte, 0, right-left)
	for i := left; i < right; {
		_, w := utf8.DecodeRune(src[i:])
		if hidden(i) {
			out = append(out, '*')
		} else {
			out = append(out, src[i:i+w]...)
		}
		i += w
	}
	return out
}

func key4(s string) [4]byte { return [4]byte{s[0], s[1], s[2], s[3]} }
