package lint

import (
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/diag"
)

// neverMatches reports a selector that no series can satisfy: a matcher
// that refuses every value, such as `!~".*"`, or matchers on one label
// whose values cannot meet, such as `job="api", job="web"` or
// `code=~"2..", code=~"5.."`. The selector always returns nothing: an
// alert built on it can never fire, the worst kind of silence at 3 a.m.,
// and a recording rule built on it records nothing. Prometheus accepts it
// without a word.
//
// Usually a placeholder left empty (a list of values rendered as `.*` into
// `!~`) or matchers meant as alternatives: write one regex
// (`code=~"2..|5.."`), or drop the matcher.
type neverMatches struct{}

func (neverMatches) Name() string { return "rules/never-matches" }

func (neverMatches) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "A selector's matchers refuse every series, so it always returns nothing."}
}

func (neverMatches) Check(p *Pass) {
	e := p.Expr()
	if e == nil {
		return
	}
	what := "recording rule " + strconv.Quote(p.Rule.Record) + " records nothing"
	if p.Rule.IsAlert() {
		what = "alert " + strconv.Quote(p.Rule.Alert) + " can never fire"
	}
	eachNode(e, func(n parser.Node) bool {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return true
		}
		byName := map[string][]*labels.Matcher{}
		var order []string
		for i, m := range vs.LabelMatchers {
			if m.Type == labels.MatchNotRegexp && matchesAll(m.Value) {
				p.Report(ExprSpan(p.Rule, regexMatcherRange(p.Rule.Expr, vs, i)), "drop the matcher, or write the values to exclude",
					"%s!~%s refuses every value: the selector never returns a series, so %s", m.Name, strconv.Quote(m.Value), what)
				return true
			}
			if byName[m.Name] == nil {
				order = append(order, m.Name)
			}
			byName[m.Name] = append(byName[m.Name], m)
		}
		for _, name := range order {
			ms := byName[name]
			if len(ms) < 2 || name == labels.MetricName {
				continue
			}
			if !matchersMeet(ms) && !allMatch(ms, "") {
				p.Report(ExprSpan(p.Rule, vs.PosRange), "write the alternatives as one regex, such as "+name+`=~"a|b"`,
					"no value of %q satisfies all its matchers: the selector never returns a series, so %s", name, what)
			}
		}
		return true
	})
}

// matchesAll reports whether regex re, anchored as Prometheus anchors it,
// matches every value.
func matchesAll(re string) bool {
	switch re {
	case ".*", "(.*)", "(?:.*)", ".*?", "(?s).*", "(?s:.*)":
		return true
	}
	return false
}

func allMatch(ms []*labels.Matcher, v string) bool {
	for _, m := range ms {
		if !m.Matches(v) {
			return false
		}
	}
	return true
}
