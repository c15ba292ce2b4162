package lint

import (
	"errors"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/diag"
)

// dashboardPromQL reports a panel query sent to a Prometheus datasource
// that does not parse as PromQL: Grafana shows the panel with an error and
// no data. Grafana's variables ($__rate_interval, $__interval, $__range,
// $var, ${var}, [[var]]) are replaced first by what they stand for (a
// duration in a range, a label name in by (...), a number elsewhere;
// inside a quoted string they are label values and stay), and a query in
// which a variable makes part of a name is passed over.
//
// Only queries known to go to a Prometheus are judged: a datasource of
// type prometheus, the stack's prometheus uid, a datasource variable
// whose plugin is prometheus, or none (the stack's default is its
// Prometheus). Loki, Elasticsearch and the others have queries of their
// own.
type dashboardPromQL struct{}

func (dashboardPromQL) Name() string { return "dashboards/promql" }

func (dashboardPromQL) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "A dashboard query to Prometheus does not parse as PromQL."}
}

func (dashboardPromQL) Check(p *Pass) {
	promUIDs := repoPrometheusUIDs(p)
	for _, d := range p.dashboards() {
		if d.err != nil {
			continue // dashboards/syntax reports it
		}
		var vars map[string]string
		for _, e := range d.exprs {
			if e.ds >= 0 && vars == nil {
				_, vars = d.variables()
			}
			if !queriesPrometheus(e, d.refs, vars, promUIDs) {
				continue
			}
			expr, ok := grafanaExpr(e.text)
			if !ok {
				continue
			}
			_, err := promql.ParseExpr(expr)
			var errs parser.ParseErrors
			if !errors.As(err, &errs) || len(errs) == 0 {
				continue
			}
			pe := errs[0]
			start := e.at(int(pe.PositionRange.Start))
			end := max(start, e.at(int(pe.PositionRange.End)))
			span := diag.Span{File: d.file.Path, Start: d.file.Pos(start), End: d.file.Pos(end)}
			p.Report(span, "Grafana shows the panel with this error and no data; try the query in Prometheus' expression browser",
				"query does not parse as PromQL: %s", pe.Err)
		}
	}
}

// queriesPrometheus reports whether the query e is known to go to a
// Prometheus.
func queriesPrometheus(e dashboardExpr, refs []datasourceRef, vars map[string]string, promUIDs map[string]bool) bool {
	if e.ds < 0 || e.ds >= len(refs) {
		return true // the default datasource: the stack's Prometheus
	}
	r := refs[e.ds]
	switch {
	case r.typ != "":
		return r.typ == "prometheus"
	case r.uid != "":
		if v, ok := variableName(r.uid); ok {
			return vars[v] == "prometheus"
		}
		return provisionedDatasources[r.uid] == "prometheus" || promUIDs[r.uid]
	case r.name != "":
		if v, ok := variableName(r.name); ok {
			return vars[v] == "prometheus"
		}
		return false // a datasource by name: of a type not known
	}
	return true // null: the default
}

// variableName returns the variable a datasource reference is, alone:
// $ds, ${ds} or [[ds]].
func variableName(s string) (string, bool) {
	switch {
	case strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}"):
		return strings.TrimSuffix(strings.TrimPrefix(s, "${"), "}"), true
	case strings.HasPrefix(s, "[[") && strings.HasSuffix(s, "]]"):
		return strings.TrimSuffix(strings.TrimPrefix(s, "[["), "]]"), true
	case strings.HasPrefix(s, "$") && len(s) > 1:
		return s[1:], true
	}
	return "", false
}

// repoPrometheusUIDs returns the uids of the repo's datasources of type
// prometheus (grafana.datasources: a Thanos, a second Prometheus).
func repoPrometheusUIDs(p *Pass) map[string]bool {
	out := map[string]bool{}
	for _, d := range dashboard.Repo(p.Config) {
		if d.Type == "prometheus" {
			out[d.UID] = true
		}
	}
	return out
}
