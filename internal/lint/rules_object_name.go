package lint

import (
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// objectName reports two rule files, or PrometheusRule objects, that
// compile to the same PrometheusRule (the same namespace and name) or to
// the same file of build's output: rules/team-api.yaml and
// rules/team/api.yaml (both rules-team-api), rules/API.yaml and
// rules/api.yaml, rules/api.yaml and rules/api.yml, a PrometheusRule
// named rules-b beside the plain file rules/b.yaml, two objects of one
// name in one namespace, paths that are the same in their first 253
// characters, or the second part of a file split for size (see
// rules/object-size) and a file whose name it takes (big.yaml's second
// part is <stack>-rules-big-2, as big-2.yaml is). Apply would write one
// over the other on every run, and build one file over the other.
//
// The finding points at the second of the two (its metadata.name, the
// first group of its part, or its first line) and names the first.
// Rename one of the files, or give the object another metadata.name.
//
// It cannot be disabled: lint.disable, --disable (by name, rules/* or
// all) and obsctl:disable comments leave it on, since build and render
// cannot make the objects.
type objectName struct{}

func (objectName) Name() string { return "rules/object-name" }

func (objectName) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Required: true, Summary: "Two rule files or PrometheusRule objects compile to the same PrometheusRule or output file."}
}

func (objectName) Check(p *Pass) {
	for _, c := range promrule.Clashes(p.plan()) {
		what := "build would write one file over the other"
		if c.Object {
			what = "apply would write one object over the other"
		}
		p.ReportRule(c.Second.File, nil, plannedSpan(c.Second), "rename one of the files, or give the object another metadata.name",
			"%s: %s", c, what)
	}
}

// plannedSpan is where a planned PrometheusRule comes from: the first
// group of a further part, an object's metadata.name, or the file's start.
func plannedSpan(pl *promrule.PlannedRule) diag.Span {
	switch {
	case pl.Part > 1 && len(pl.Groups) > 0:
		return pl.Groups[0].Span
	case pl.Object != nil && !pl.Object.NameSpan.Start.IsZero():
		return pl.Object.NameSpan
	case pl.Object != nil:
		return pl.Object.Span
	}
	return pl.File.Whole()
}

// plan returns the PrometheusRules the repo's rule files compile to, as
// the compile stage plans them: planned file by file as the files are
// checked (detached from them), in file order.
func (p *Pass) plan() []promrule.PlannedRule { return p.planSt }
