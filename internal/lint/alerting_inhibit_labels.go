package lint

import (
	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/diag"
)

// inhibitLabels reports an inhibition matcher on a label that no alert can
// carry as far as obsctl can see: no rule or rule group sets it, it is not
// one of prometheus.externalLabels, and it is not alertname. Such a source
// matcher never matches, so the rule never silences anything; such a
// target matcher never matches, so nothing is ever silenced. Usually the
// label is misspelt or the rules that should set it do not.
//
// It looks at the source and target matchers of alerting.inhibit.rules and,
// when severity inhibition is on, at the `severity` label that it matches.
// Matchers that also match an absent label (such as team!="db") are left
// alone, as are the `equal` labels: those usually come from the series an
// alert's expression returns, which obsctl cannot know. A matcher on such a
// series label is reported too; if that is intended, disable the check
// with `lint: {disable: [alerting/inhibit-labels]}` in obsctl.yaml. The
// check says nothing when the repo has no alerting rules.
type inhibitLabels struct{}

func (inhibitLabels) Name() string { return "alerting/inhibit-labels" }

func (inhibitLabels) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "An inhibition rule matches on a label that no rule sets and Prometheus does not add."}
}

func (inhibitLabels) Check(p *Pass) {
	if len(p.Index.Alerts) == 0 {
		return
	}
	a := &p.Config.Alerting
	known := func(label string) bool {
		_, ext := p.Config.Prometheus.ExternalLabels[label]
		return label == "alertname" || ext || p.Index.StaticLabels[label] || p.Index.LabelsUnknown
	}
	st := p.alerting()
	const hint = "set the label in the rules (labels:) or in prometheus.externalLabels, or fix its name"
	if p.Config.SeverityInhibition() && len(a.Severities) > 1 && !known("severity") {
		span := a.Span("severities")
		if a.Inhibit.Has("bySeverity") {
			span = a.Inhibit.Span("bySeverity")
		}
		p.Report(span, hint+"; or turn severity inhibition off with inhibit.bySeverity: false",
			"severity inhibition matches on label %q, which no rule sets: it never silences anything", "severity")
	}
	for i := range a.Inhibit.Rules {
		r := &a.Inhibit.Rules[i]
		for _, side := range []struct {
			key   string
			lines []string
		}{{"source", r.Source}, {"target", r.Target}} {
			for j, s := range side.lines {
				m, err := amroute.ParseMatcher(s)
				if err != nil || known(m.Name) || m.Matches("") {
					continue // syntax errors are alerting/matcher-syntax findings
				}
				p.Report(st.span(r.Span(side.key), "alerting", "inhibit", "rules", i, side.key, j), hint,
					"inhibition %s matcher %s is on label %q, which no rule sets and Prometheus does not add: it never matches",
					side.key, s, m.Name)
			}
		}
	}
}
