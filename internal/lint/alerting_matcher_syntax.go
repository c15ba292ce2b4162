package lint

import (
	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/diag"
)

// matcherSyntax reports a matcher in alerting.routes[].matchers or in an
// inhibition rule's source or target that Alertmanager cannot parse, such
// as `severity=page"` (an unbalanced quote), `team=~"(db"` (a bad regular
// expression) or `alertname="A",team="b"` (two matchers in one item).
// Alertmanager refuses the whole configuration when one matcher does not
// parse, so no routing change reaches it until this is fixed.
//
// The finding points at the matcher. Write one matcher per list item:
// label="value", label!="value", label=~"regex" or label!~"regex", with the
// value in double quotes.
type matcherSyntax struct{}

func (matcherSyntax) Name() string { return "alerting/matcher-syntax" }

func (matcherSyntax) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "A route or inhibition matcher does not parse as an Alertmanager matcher."}
}

func (matcherSyntax) Check(p *Pass) {
	st := p.alerting()
	a := &p.Config.Alerting
	check := func(fallback diag.Span, lines []string, path ...any) {
		for j, s := range lines {
			_, err := amroute.ParseMatcher(s)
			if err == nil {
				continue
			}
			span := st.span(fallback, append(path[:len(path):len(path)], j)...)
			if ms, err := labels.ParseMatchers(s); err == nil && len(ms) > 1 {
				p.Report(span, "write each matcher as a list item of its own",
					"%q holds %d matchers where one is expected", s, len(ms))
				continue
			}
			p.Report(span, `write one matcher per item: label="value", label!="value", label=~"regex" or label!~"regex"`,
				"matcher %q does not parse: %v", s, err)
		}
	}
	for i := range a.Routes {
		r := &a.Routes[i]
		check(r.Span("matchers"), r.Matchers, "alerting", "routes", i, "matchers")
	}
	for i := range a.Inhibit.Rules {
		r := &a.Inhibit.Rules[i]
		check(r.Span("source"), r.Source, "alerting", "inhibit", "rules", i, "source")
		check(r.Span("target"), r.Target, "alerting", "inhibit", "rules", i, "target")
	}
}
