package lint

import (
	"encoding/json"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// dashboardUnusedVariable reports a template variable that nothing in the
// dashboard refers to: no panel (its queries, title, description, links,
// repeat, datasource, options), no other variable (its query, regex or
// datasource: a variable that only feeds another counts as used), no
// annotation and no dashboard link. Its drop-down changes nothing the
// dashboard shows, and a reader who picks a value in it is misled into
// thinking the panels follow it; a query variable also runs its query on
// every load. It is mostly the mark of a query edited to no longer use
// it: `up{job="api"}` where `up{job="$job"}` was meant.
//
// A reference is $name, ${name}, ${name:format}, [[name]] or a panel's or
// row's repeat. Not reported: ad hoc filters (Grafana applies them to
// every query of their datasource), and nothing in a dashboard that holds
// a library panel (its queries are elsewhere) or passes every variable on
// (a link with includeVars, a data link with ${__all_variables}).
// Variables hidden from the controls are reported like any other.
type dashboardUnusedVariable struct{}

func (dashboardUnusedVariable) Name() string { return "dashboards/unused-variable" }

func (dashboardUnusedVariable) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "A dashboard's template variable is used by nothing in it."}
}

func (dashboardUnusedVariable) Check(p *Pass) {
	for _, d := range p.models() {
		m := d.m
		if len(m.Variables) == 0 {
			continue
		}
		u := &varUses{names: map[string]bool{}}
		for _, f := range m.Fields {
			if f.Key != "templating" {
				u.scan(f.Value)
			}
		}
		for _, pn := range m.Panels {
			if _, ok := pn.Field("libraryPanel"); ok {
				u.all = true
			}
		}
		if u.all {
			continue
		}
		// What each variable refers to, for the others.
		byVar := make([]*varUses, len(m.Variables))
		for i, v := range m.Variables {
			byVar[i] = &varUses{names: map[string]bool{}}
			byVar[i].scan(v.Raw)
			if byVar[i].all {
				u.all = true
			}
		}
		if u.all {
			continue
		}
	vars:
		for i, v := range m.Variables {
			name := v.Name()
			if name == "" || v.Type() == "adhoc" || u.names[name] {
				continue
			}
			for j, o := range byVar {
				if j != i && o.names[name] {
					continue vars
				}
			}
			off, n := v.Offset, 1
			if f, ok := v.Field("name"); ok {
				off, n = f.Offset, len(f.Value)
			}
			p.Report(d.span(off, n), "use $"+name+" in the queries it is meant to filter, or remove it from templating.list",
				"variable $%s is used by nothing in the dashboard: no query, panel, link or other variable refers to it", name)
		}
	}
}

// varUses is what a part of a dashboard refers to: the variables it
// names, and whether it passes every variable on.
type varUses struct {
	names map[string]bool
	all   bool
}

// scan reads every string of the JSON value raw for references.
func (u *varUses) scan(raw json.RawMessage) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return
	}
	u.value("", v)
}

func (u *varUses) value(key string, v any) {
	switch v := v.(type) {
	case map[string]any:
		if b, _ := v["includeVars"].(bool); b {
			u.all = true
		}
		for k, x := range v {
			u.value(k, x)
		}
	case []any:
		for _, x := range v {
			u.value(key, x)
		}
	case string:
		if key == "repeat" && v != "" {
			name, ok := variableName(v)
			if !ok {
				name = v
			}
			u.names[name] = true
		}
		if strings.Contains(v, "__all_variables") {
			u.all = true
		}
		if strings.ContainsAny(v, "$[") {
			for _, r := range variableRefs(v) {
				u.names[r] = true
			}
		}
	}
}

// variableRefs returns the names of the variables s refers to, as
// Grafana reads them anywhere in a dashboard: $name, ${name},
// ${name:format}, ${name.field} and [[name]] (with :format).
func variableRefs(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "[[") {
			if end := strings.Index(s[i:], "]]"); end > 2 {
				name := s[i+2 : i+end]
				if k := strings.IndexByte(name, ':'); k >= 0 {
					name = name[:k]
				}
				if isWord(name) {
					out = append(out, name)
					i += end + 1
				}
			}
			continue
		}
		if s[i] != '$' {
			continue
		}
		n := grafanaVarLen(s[i:])
		if n == 0 {
			continue
		}
		name := s[i+1 : i+n]
		if strings.HasPrefix(name, "{") {
			name = strings.TrimSuffix(name[1:], "}")
			if k := strings.IndexAny(name, ":."); k >= 0 {
				name = name[:k]
			}
		}
		out = append(out, name)
		i += n - 1
	}
	return out
}
