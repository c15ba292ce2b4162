package lint

import (
	"maps"
	"slices"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/layer"
)

// The checks below are about a repo built on obsctl's default content
// (obsctl.yaml's defaults: and overrides:, internal/layer). The default
// content is shown under @defaults/, which is not a folder of the repo.

// defaultsOverride reports an override that names nothing the default
// content has: an alert (by name, or name and labels), a rule group, a
// dashboard uid or a pipeline, with the closest name as a hint; and a
// parameter the alert does not declare. Overrides change the default
// content only: an alert of the repo's own is changed where it is
// written. An override that names nothing is a setting the user believes
// in and that does nothing.
type defaultsOverride struct{}

func (defaultsOverride) Name() string { return "defaults/override" }

func (defaultsOverride) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "An override of obsctl.yaml names no item of the default content, or a parameter its alert does not declare."}
}

func (defaultsOverride) Check(*Pass) {}

// defaultsParameter reports a parameter a rule declares ("#
// obsctl:parameter NAME=VALUE -- what it is" above its expr) that is not
// NAME=VALUE, is declared twice, or whose value is not exactly one number
// of the rule's expression: an override changes a parameter by writing
// another number in the place of that one, so the value must name it
// alone.
type defaultsParameter struct{}

func (defaultsParameter) Name() string { return "defaults/parameter" }

func (defaultsParameter) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRule, Summary: "A declared parameter is not one number of its rule's expression."}
}

func (defaultsParameter) Check(p *Pass) {
	r := p.Rule
	seen := map[string]bool{}
	for _, prm := range r.Params {
		switch {
		case prm.Bad || prm.Name == "":
			p.Report(r.Span, "write # obsctl:parameter NAME=VALUE -- what it is", "%s: a parameter comment is not NAME=VALUE", r.Name())
		case seen[prm.Name]:
			p.Report(r.Span, "give each parameter its own name", "%s declares the parameter %s twice", r.Name(), prm.Name)
		default:
			if _, err := layer.SetParam(r.Expr, prm.Value, prm.Value); err != nil {
				p.Report(r.Span, "a parameter names one number of the expression by its value", "%s: parameter %s: %v", r.Name(), prm.Name, err)
			}
		}
		seen[prm.Name] = true
	}
}

// defaultsTest reports an override of a default alert's for or
// parameters (or an annotation written as a template) when the repo has
// no test of its own for the alert: the default tests of the alert were
// written for the default's timing and thresholds, so obsctl test leaves
// them out, and nothing then shows that the alert as overridden fires.
// The default tests of alerts whose labels, severity or annotations the
// overrides change still run, expecting the changed values.
type defaultsTest struct{}

func (defaultsTest) Name() string { return "defaults/test" }

func (defaultsTest) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeLoad, Summary: "An override changes when a default alert fires, and the repo has no test of its own for it."}
}

func (defaultsTest) Check(*Pass) {}

// defaultsShadow reports an item of the repo's own with the name of an
// item of the default content it builds on: an alert or a recording
// rule, a dashboard's uid, a pipeline's name. Two items of one name are
// two items (two alerts firing, two dashboards fighting over a uid), not
// the repo's replacing the default's, which is what was most likely
// meant: disable the default in overrides, and the repo's own may then
// take its name.
type defaultsShadow struct{}

func (defaultsShadow) Name() string { return "defaults/shadow" }

func (defaultsShadow) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "An alert, recording rule, dashboard or pipeline of the repo has a default item's name."}
}

func (defaultsShadow) Check(p *Pass) {
	for _, m := range []map[string][]*RuleRef{p.Index.Alerts, p.Index.Records} {
		for _, name := range slices.Sorted(maps.Keys(m)) {
			refs := m[name]
			i := slices.IndexFunc(refs, func(r *RuleRef) bool { return layer.IsDefault(r.path) })
			if i < 0 {
				continue
			}
			def := refs[i]
			for _, r := range refs {
				if layer.IsDefault(r.path) {
					continue
				}
				kind, sec := "alert", "overrides.alerts"
				if !r.IsAlert() {
					kind, sec = "recording rule", "overrides.groups"
				}
				p.ReportRef(r, r.NameSpan(), layer.ShadowHint+" ("+sec+")",
					"%s %q is also a rule of the default content (%s): a repo's rule does not replace a default of its name", kind, name, def.NameSpan())
			}
		}
	}
}
