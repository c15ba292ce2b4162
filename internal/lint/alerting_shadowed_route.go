package lint

import (
	"fmt"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
)

// shadowedRoute reports a route of alerting.routes that can never match:
// an earlier route without `continue: true` matches every alert it would
// match, and Alertmanager stops at the first matching route. A team route
// placed after a catch-all `severity: critical` route never sees that
// team's critical alerts; a route after one with no matchers at all never
// sees anything. The alerts go where the earlier route sends them, so
// nothing looks wrong until the team asks why it was never paged.
//
// The earlier route shadows the later one when each of its matchers
// (severity, team, namespace and matchers) is implied by one of the later
// route's: the same equality, or an equality whose value the earlier
// regex or negative matcher accepts. Move the narrower route first, or
// give the earlier one `continue: true`.
type shadowedRoute struct{}

func (shadowedRoute) Name() string { return "alerting/shadowed-route" }

func (shadowedRoute) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "A route can never match: an earlier route without continue matches all its alerts."}
}

func (shadowedRoute) Check(p *Pass) {
	routes := p.Config.Alerting.Routes
	ms := make([][]*labels.Matcher, len(routes))
	ok := make([]bool, len(routes))
	for i := range routes {
		ms[i], ok[i] = routeMatchers(&routes[i])
	}
	st := p.alerting()
	for j := range routes {
		if !ok[j] {
			continue // alerting/matcher-syntax reports it
		}
		for i := range j {
			if !ok[i] || routes[i].Continue || !implies(ms[j], ms[i]) {
				continue
			}
			p.Report(st.span(routes[j].At, "alerting", "routes", j), fmt.Sprintf("move it before route %s, or give route %s `continue: true`", routeName(&routes[i], i), routeName(&routes[i], i)),
				"route %s can never match: route %s before it, without continue, matches every alert it would", routeName(&routes[j], j), routeName(&routes[i], i))
			break
		}
	}
}

// routeMatchers returns the matchers route r compiles to, and false when
// one does not parse.
func routeMatchers(r *config.Route) ([]*labels.Matcher, bool) {
	var out []*labels.Matcher
	for _, l := range []struct{ name, value string }{{"severity", r.Severity}, {"team", r.Team}, {"namespace", r.Namespace}} {
		if l.value != "" {
			m, err := labels.NewMatcher(labels.MatchEqual, l.name, l.value)
			if err != nil {
				return nil, false
			}
			out = append(out, m)
		}
	}
	for _, s := range r.Matchers {
		m, err := amroute.ParseMatcher(s)
		if err != nil {
			return nil, false
		}
		out = append(out, m)
	}
	return out, true
}

// implies reports whether every label set that satisfies all of later
// surely satisfies all of earlier.
func implies(later, earlier []*labels.Matcher) bool {
	for _, e := range earlier {
		found := false
		for _, l := range later {
			if l.Name != e.Name {
				continue
			}
			if l.Type == e.Type && l.Value == e.Value || l.Type == labels.MatchEqual && e.Matches(l.Value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
