package lint

import (
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// duplicateGroup reports two rule groups with the same name in one plain
// rule file, or in one PrometheusRule object.
//
// Prometheus refuses a rule file with a repeated group name, and the
// Prometheus Operator writes each PrometheusRule into one such file. The
// reload fails, so none of the file's rules change: a fix to an alert
// never reaches production, and new alerts are silently not loaded,
// while the old rules keep running and the failure shows up only in
// Prometheus' logs and its reload metric. Rename one of the groups, or
// merge them. Groups of the same name in different PrometheusRule objects
// are fine.
//
// This is a file check: silence it for a file with
// `# obsctl:disable-file rules/duplicate-group`.
type duplicateGroup struct{}

func (duplicateGroup) Name() string { return "rules/duplicate-group" }

func (duplicateGroup) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeFile, Summary: "Two groups in one file (or PrometheusRule) share a name; Prometheus refuses the file."}
}

func (duplicateGroup) Check(p *Pass) {
	gs := p.File.Groups
	if len(gs) < 2 {
		return
	}
	type key struct {
		obj  *promrule.Object
		name string
	}
	first := make(map[key]*promrule.Group, len(gs))
	for _, g := range gs {
		if g.Name == "" {
			continue // rules/schema reports it
		}
		k := key{g.Object, g.Name}
		f, ok := first[k]
		if !ok {
			first[k] = g
			continue
		}
		where := "this file"
		if g.Object != nil {
			where = "PrometheusRule " + g.Object.Name
		}
		p.Report(g.NameSpan, "rename one of the groups or merge them",
			"group %q is already defined on line %d of %s: Prometheus refuses the file", g.Name, f.NameSpan.Start.Line, where)
	}
}
