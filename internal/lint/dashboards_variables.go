package lint

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/spell"
)

// dashboardUndefinedVariable reports a variable in a Prometheus query
// ($name, ${name}, ${name:format}, [[name]]) that the dashboard does not
// define in its templating list: Grafana leaves it as written, so the
// query selects a label value "$jbo" no series has, or does not parse,
// and the panel is empty. Grafana's own variables ($__interval,
// $__rate_interval, $__range and every other $__ name) are always
// defined, and so are an exported dashboard's inputs (${VAR_...}), which
// obsctl resolves when it ships the dashboard. Only queries known to go to a Prometheus are read, as
// dashboards/promql reads them.
type dashboardUndefinedVariable struct{}

func (dashboardUndefinedVariable) Name() string { return "dashboards/undefined-variable" }

func (dashboardUndefinedVariable) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "A dashboard query uses a variable the dashboard does not define."}
}

func (dashboardUndefinedVariable) Check(p *Pass) {
	promUIDs := repoPrometheusUIDs(p)
	for _, d := range p.dashboards() {
		if d.err != nil {
			continue // dashboards/syntax reports it
		}
		var defined []string
		var dsVars map[string]string
		loaded := false
		for _, e := range d.exprs {
			if !strings.ContainsAny(e.text, "$[") {
				continue
			}
			if !loaded {
				names, plugins := d.variables()
				defined, dsVars = slices.Clone(names), plugins
				// An export's inputs are resolved when it is provisioned.
				for _, in := range d.inputs() {
					defined = append(defined, in.Name)
				}
				loaded = true
			}
			if !queriesPrometheus(e, d.refs, dsVars, promUIDs) {
				continue
			}
			for _, v := range queryVariables(e.text) {
				// $1 is a label_replace group, not a variable.
				if strings.HasPrefix(v.name, "__") || v.name[0] >= '0' && v.name[0] <= '9' || slices.Contains(defined, v.name) {
					continue
				}
				hint := "define it under templating.list, or fix the name"
				if near := spell.Closest(v.name, defined); near != "" {
					hint = "did you mean $" + near + "?"
				}
				span := diag.Span{File: d.file.Path, Start: d.file.Pos(e.at(v.start)), End: d.file.Pos(e.at(v.end))}
				p.Report(span, hint, "variable $%s is not defined by the dashboard: Grafana sends it as written, and the panel shows nothing", v.name)
			}
		}
	}
}

// queryVariable is a variable reference in a query, by byte range.
type queryVariable struct {
	name       string
	start, end int
}

// queryVariables returns the variables a query refers to: $name,
// ${name}, ${name:format}, ${name.field} and [[name]] (with :format).
// A # comment is passed over.
func queryVariables(q string) []queryVariable {
	var out []queryVariable
	for i := 0; i < len(q); i++ {
		switch {
		case q[i] == '#' && (i == 0 || q[i-1] == '\n' || q[i-1] == ' ' || q[i-1] == '\t'):
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case strings.HasPrefix(q[i:], "${"):
			end := strings.IndexByte(q[i:], '}')
			if end < 0 {
				return out
			}
			name := q[i+2 : i+end]
			if k := strings.IndexAny(name, ":."); k >= 0 {
				name = name[:k]
			}
			if isWord(name) {
				out = append(out, queryVariable{name, i, i + end + 1})
			}
			i += end
		case strings.HasPrefix(q[i:], "[["):
			end := strings.Index(q[i:], "]]")
			if end < 0 {
				continue
			}
			name := q[i+2 : i+end]
			if k := strings.IndexByte(name, ':'); k >= 0 {
				name = name[:k]
			}
			if isWord(name) {
				out = append(out, queryVariable{name, i, i + end + 2})
				i += end + 1
			}
		case q[i] == '$':
			n := i + 1
			for n < len(q) && (q[n] == '_' || q[n] >= 'a' && q[n] <= 'z' || q[n] >= 'A' && q[n] <= 'Z' || q[n] >= '0' && q[n] <= '9') {
				n++
			}
			if n > i+1 {
				out = append(out, queryVariable{q[i+1 : n], i, n})
				i = n - 1
			}
		}
	}
	return out
}

// templateVariables returns the names of a dashboard's template variables
// and, of its datasource variables, the plugin of each (its query:
// prometheus, loki, ...); plugins is never nil.
func templateVariables(src []byte) (names []string, plugins map[string]string) {
	var d struct {
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	plugins = map[string]string{}
	if json.Unmarshal(src, &d) != nil {
		return nil, plugins
	}
	for _, v := range d.Templating.List {
		names = append(names, v.Name)
		if q, ok := v.Query.(string); ok && v.Type == "datasource" {
			plugins[v.Name] = q
		}
	}
	return names, plugins
}
