package lint

import "github.com/obsctl/obsctl/internal/diag"

// emptyGroup reports rule groups with no rules.
//
// Prometheus loads an empty group without complaint and evaluates
// nothing. It is usually the remains of a move or a half-finished change,
// or a sign that the rules were indented under the wrong key, in which
// case the alerts someone relies on at 3 a.m. are not loaded at all.
// Add the rules, or delete the group.
//
// The check is off by default (enable it with `--enable
// rules/empty-group` or lint.enable): on public rule collections every
// empty group was deliberate, a generated `rules: []` for a component
// without rules, and rules indented under the wrong key are reported by
// rules/schema anyway.
//
// This is a file check: silence it for a file with
// `# obsctl:disable-file rules/empty-group`.
type emptyGroup struct{}

func (emptyGroup) Name() string { return "rules/empty-group" }

func (emptyGroup) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeFile, Optional: true, Summary: "A rule group has no rules."}
}

func (emptyGroup) Check(p *Pass) {
	for _, g := range p.File.Groups {
		if len(g.Rules) > 0 {
			continue
		}
		span := g.NameSpan
		if span.File == "" {
			span = g.Span
		}
		p.Report(span, "add rules to it, or delete it", "group %q has no rules", g.Name)
	}
}
