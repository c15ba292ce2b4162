package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/spell"
)

// undeclaredSeverity reports a route that matches a severity which
// alerting.severities does not declare: its `severity:` field, or a
// `severity="..."` item of its matchers. Alerts are checked against the
// declared severities, so no alert should carry the route's severity and
// the route never matches; usually the value is misspelt ("critcal") or
// the list is missing a level.
//
// A silent severity (alerting.silentSeverities, `none` by default) needs
// no declaring: a route may send its alerts to a receiver that drops them.
//
// The finding points at the severity, with the closest declared severity
// as a hint. Fix the value or declare the severity (highest first). When
// alerting.severities is empty, alerting/no-severities reports that instead.
type undeclaredSeverity struct{}

func (undeclaredSeverity) Name() string { return "alerting/undeclared-severity" }

func (undeclaredSeverity) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "A route matches a severity that alerting.severities does not declare."}
}

func (undeclaredSeverity) Check(p *Pass) {
	a := &p.Config.Alerting
	if len(a.Severities) == 0 {
		return
	}
	st := p.alerting()
	hint := func(s string) string {
		if c := spell.Closest(s, a.Severities); c != "" {
			return fmt.Sprintf("did you mean %q? Declared severities: %s", c, strings.Join(a.Severities, ", "))
		}
		return "declared severities: " + strings.Join(a.Severities, ", ") + "; add it to alerting.severities if it is a new level"
	}
	for i := range a.Routes {
		r := &a.Routes[i]
		if r.Severity != "" && !slices.Contains(a.Severities, r.Severity) && !p.Config.SilentSeverity(r.Severity) {
			p.Report(r.Span("severity"), hint(r.Severity),
				"route %s matches severity %q, which alerting.severities does not declare", routeName(r, i), r.Severity)
		}
		for j, s := range r.Matchers {
			m, err := amroute.ParseMatcher(s)
			if err != nil || m.Name != "severity" || m.Type != labels.MatchEqual || slices.Contains(a.Severities, m.Value) || p.Config.SilentSeverity(m.Value) {
				continue
			}
			p.Report(st.span(r.Span("matchers"), "alerting", "routes", i, "matchers", j), hint(m.Value),
				"route %s matches severity %q, which alerting.severities does not declare", routeName(r, i), m.Value)
		}
	}
}
