package lint

import (
	"github.com/obsctl/obsctl/internal/diag"
)

// templateLabels reports templates that read a label the alert cannot
// carry. An alert's labels are those of its expression's result, plus the
// rule's own labels and Prometheus' external labels. When the expression
// aggregates them away (`sum by (job) (...)` keeps only job; `without
// (pod)` drops pod; `absent(x{job="a"})` has only job), `{{ $labels.pod }}`
// renders empty and the page reads "pod  is crash looping".
//
// The check infers labels conservatively: it reports only labels the
// expression certainly drops, never ones it merely cannot prove present.
type templateLabels struct{}

func (templateLabels) Name() string { return "rules/template-labels" }

func (templateLabels) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "A template reads a label the alert's expression never produces."}
}

func (templateLabels) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || p.Expr() == nil || r.Refused("labels") || r.Group.Refused("labels") {
		return
	}
	var out labelSet
	computed := false
	for _, t := range p.Templates() {
		for _, ref := range t.Refs {
			if _, ok := r.Label(ref.Name); ok {
				continue
			}
			if _, ok := p.Config.Prometheus.ExternalLabels[ref.Name]; ok || ref.Name == "alertname" {
				continue
			}
			if _, ok := r.Group.Label(ref.Name); ok {
				continue
			}
			if !computed {
				out, computed = outputLabels(p.Expr()), true
			}
			if out.mayHave(ref.Name) {
				continue
			}
			hint := "keep the label in the expression (for example add it to `by (...)`) or stop using it"
			p.Report(t.Span(r, ref.Off), hint, "template reads label %q, which the expression of alert %q never produces", ref.Name, r.Alert)
		}
	}
}
