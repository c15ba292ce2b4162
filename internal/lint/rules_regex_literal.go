package lint

import (
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/obsctl/obsctl/internal/diag"
)

// regexLiteral reports regex matchers (=~ and !~) whose regex has no
// metacharacters, such as `job=~"api"`, so that it matches one exact
// string, just as `job="api"` would.
//
// The regex costs more to evaluate than an equality, which matters on
// selectors over many series, and it misleads the reader: someone who
// sees =~ at 3 a.m. assumes the matcher covers several values and looks
// for the others. Often it is also a typo for a pattern that was meant
// to match more (`=~"api"` for `=~"api.*"`). Write the equality
// (`job="api"`, `job!="api"`), or the pattern that was meant.
//
// Escaped characters count as literal text (`=~"a\\.b"` is `="a.b"`),
// while a case-insensitive flag, `.` or `|` make a real regex.
// The selector selects what it says, so the findings are informational.
// Silence the check for one rule with `# obsctl:disable rules/regex-literal`.
//
// It is off by default (enable it with `--enable rules/regex-literal` or
// lint.enable): on public rule collections every one was harmless
// (`=~"otlp"`, `!~""` for a label that must be set): it is house style.
type regexLiteral struct{}

func (regexLiteral) Name() string { return "rules/regex-literal" }

func (regexLiteral) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeRule, Optional: true, Summary: "A regex matcher has no regex metacharacters; an equality matcher says the same, faster."}
}

func (regexLiteral) Check(p *Pass) {
	if p.Expr() == nil {
		return
	}
	eachRegexMatcher(p.Rule, p.Expr(), func(m *labels.Matcher, span func() diag.Span) {
		lit, ok := literalRegex(m.Value)
		if !ok {
			return
		}
		op := "="
		if m.Type == labels.MatchNotRegexp {
			op = "!="
		}
		p.Report(span(), "write "+m.Name+op+strconv.Quote(lit)+", or the pattern that was meant",
			"%s%s%s has no regex metacharacters: it matches only %s", m.Name, m.Type, strconv.Quote(m.Value), strconv.Quote(lit))
	})
}

// regexMeta are the bytes that make a regex more than its text.
const regexMeta = `\.+*?()|[]{}^$`

// literalRegex returns the one string that regex re (fully anchored, as
// Prometheus applies it) matches, when it matches exactly one.
func literalRegex(re string) (string, bool) {
	if !strings.ContainsAny(re, regexMeta) {
		return re, true
	}
	if strings.IndexByte(re, '\\') < 0 {
		return "", false
	}
	// Escapes such as \. are literal text; let the regex parser decide.
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil || r.Flags&syntax.FoldCase != 0 {
		return "", false
	}
	switch r.Op {
	case syntax.OpLiteral:
		return string(r.Rune), true
	case syntax.OpEmptyMatch:
		return "", true
	}
	return "", false
}
