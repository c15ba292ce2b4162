package lint

import (
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/obsctl/obsctl/internal/diag"
)

// regexRedundant reports regex matchers that say more than they mean or
// nothing at all:
//
//   - a regex starting with `^` or ending with `$`: Prometheus anchors
//     label regexes at both ends already, so the anchors are noise, and
//     they suggest that the regex would otherwise match substrings, which
//     misleads whoever edits it next;
//   - `=~".*"`, which matches every value, including a missing label: the
//     matcher filters nothing and can be dropped (if it was meant to
//     require the label, write `!=""`);
//   - `=~".+"`, which only requires the label to be set: `!=""` says so
//     plainly;
//   - `!~".+"`, which only keeps series without the label, reads better
//     as `=""`.
//
// These are style: the selector selects what was meant, so the findings
// are informational. A matcher that refuses everything (`!~".*"`) is
// rules/never-matches.
//
// Silence the check for one rule with `# obsctl:disable rules/regex-redundant`.
//
// It is off by default (enable it with `--enable rules/regex-redundant` or
// lint.enable): on public rule collections every one was harmless
// (`=~"^5.."`, `=~".+"` for a label that must be set): it is house style;
// a matcher that makes a selector match nothing is rules/never-matches, on
// by default.
type regexRedundant struct{}

func (regexRedundant) Name() string { return "rules/regex-redundant" }

func (regexRedundant) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeRule, Optional: true, Summary: "A regex matcher is anchored (Prometheus anchors already) or says plainly what an equality says."}
}

func (regexRedundant) Check(p *Pass) {
	if p.Expr() == nil {
		return
	}
	eachRegexMatcher(p.Rule, p.Expr(), func(m *labels.Matcher, span func() diag.Span) {
		if msg, hint := redundantRegex(m); msg != "" {
			p.Report(span(), hint, "%s%s%s %s", m.Name, m.Type, strconv.Quote(m.Value), msg)
		}
	})
}

// redundantRegex says what is wrong with regex matcher m, if anything.
func redundantRegex(m *labels.Matcher) (msg, hint string) {
	v, not := m.Value, m.Type == labels.MatchNotRegexp
	switch {
	case v == ".*" && !not:
		return "matches every value, even a missing label: it filters nothing",
			"drop the matcher; to require the label write " + m.Name + `!=""`
	case v == ".*" && not:
		return "", "" // rules/never-matches
	case v == ".+" && !not:
		return "only requires the label to be non-empty", "write " + m.Name + `!=""`
	case v == ".+" && not:
		return "only keeps series where the label is empty or missing", "write " + m.Name + `=""`
	}
	start := strings.HasPrefix(v, "^")
	end := strings.HasSuffix(v, "$") && !escapedAt(v, len(v)-1)
	if !start && !end {
		return "", ""
	}
	core := v
	if start {
		core = core[1:]
	}
	if end && len(core) > 0 {
		core = core[:len(core)-1]
	}
	what := "is anchored with ^ and $"
	switch {
	case !end:
		what = "starts with ^"
	case !start:
		what = "ends with $"
	}
	return what + ": Prometheus anchors label regexes already",
		"write " + m.Name + m.Type.String() + strconv.Quote(core)
}

// escapedAt reports whether the byte at i of s is escaped by an odd
// number of backslashes.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}
