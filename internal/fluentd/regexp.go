package fluentd

import (
	"fmt"
	"regexp"
	"strings"
)

// goRegexp rewrites a Ruby (Onigmo) regexp for Go's regexp package: named
// groups (?<name>...) become (?P<name>...). Escapes and character classes
// are skipped so that an escaped or bracketed "(?<" stays as it is. It
// also reports whether re already uses (?P<name>...), which Go accepts but
// Ruby does not.
func goRegexp(re string) (out string, pythonGroups bool) {
	var b strings.Builder
	b.Grow(len(re) + 8)
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\':
			b.WriteByte(c)
			if i+1 < len(re) {
				i++
				b.WriteByte(re[i])
			}
		case inClass && c == '[' && strings.HasPrefix(re[i:], "[:"):
			// A POSIX class such as [:alpha:] inside a bracket.
			end := strings.Index(re[i+2:], ":]")
			if end < 0 {
				b.WriteByte(c)
				continue
			}
			b.WriteString(re[i : i+2+end+2])
			i += 2 + end + 1
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				i++
				b.WriteByte('^')
			}
			if i+1 < len(re) && re[i+1] == ']' { // a leading ] is literal
				i++
				b.WriteByte(']')
			}
		case strings.HasPrefix(re[i:], "(?P<"):
			pythonGroups = true
			b.WriteString("(?P<")
			i += 3
		case strings.HasPrefix(re[i:], "(?<") && i+3 < len(re) && re[i+3] != '=' && re[i+3] != '!':
			b.WriteString("(?P<") // (?<= and (?<! are lookbehinds
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), pythonGroups
}

// checkRegexp checks a parse regexp and returns its named groups, or a
// message and hint saying why Fluentd could not use it.
func checkRegexp(re string) (groups []string, msg, hint string) {
	if hasControl(re) {
		return nil, "regexp contains a line break or control character", `write it on one line; match those characters with \n or \t`
	}
	translated, python := goRegexp(re)
	if python {
		return nil, "regexp uses (?P<name>...), which Ruby does not accept", "write named groups as (?<name>...)"
	}
	g, err := regexp.Compile(translated)
	if err != nil {
		return nil, fmt.Sprintf("regexp does not compile: %v", err),
			"obsctl checks regexps with Go's RE2 engine: Ruby-only features such as lookaround, backreferences and possessive quantifiers are not accepted"
	}
	for _, n := range g.SubexpNames() {
		if n == "" {
			continue
		}
		if c := n[0]; c >= '0' && c <= '9' {
			return nil, fmt.Sprintf("named group %q starts with a digit, which Ruby does not accept", n), "start group names with a letter"
		}
		groups = append(groups, n)
	}
	if len(groups) == 0 {
		return nil, "regexp has no named group, so parsing would add no field", "capture what you need with (?<name>...)"
	}
	return groups, "", ""
}

// ParsedFields returns the record fields a pipeline's parse adds whose
// names are known: the named groups of a regexp (none for json, whose
// fields are the application's, or plain). A regexp that does not check
// out gives none.
func (p *Pipeline) ParsedFields() []string {
	if p.Parse.EffectiveFormat() != FormatRegexp {
		return nil
	}
	groups, msg, _ := checkRegexp(p.Parse.Regexp)
	if msg != "" {
		return nil
	}
	return groups
}
