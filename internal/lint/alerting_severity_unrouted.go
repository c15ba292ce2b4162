package lint

import (
	"fmt"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/obsctl/obsctl/internal/diag"
)

// severityUnrouted reports a declared severity whose alerts reach no
// receiver with an integration, and an alert that reaches none for
// another reason (a route on its alertname or team, or an undeclared
// severity). Alertmanager accepts such alerts and drops them: they notify
// nobody, which is found out when something breaks.
//
// obsctl compiles the routing and routes test alerts with Alertmanager's
// own dispatcher. For each severity in alerting.severities the test alert
// carries only that severity and prometheus.externalLabels; the finding
// points at the severity. For each alerting rule it carries the rule's
// alertname and static labels (labels whose value is a template are left
// out, and rules with a templated severity are skipped); the finding points
// at the alert's name and is not given when the alert's declared severity
// is already reported, so that one unrouted severity gives one finding.
//
// Alerts of a silent severity (alerting.silentSeverities, `none` by
// default, as on a Watchdog meant for a null receiver) are meant to
// notify nobody and are not reported, nor is a silent severity declared
// in alerting.severities.
//
// Route the severity or the alert to a receiver that has an integration,
// or give that receiver one. To drop a level on purpose, disable the check
// with `lint: {disable: [alerting/severity-unrouted]}` in obsctl.yaml, or
// for one alert with `# obsctl:disable alerting/severity-unrouted`.
type severityUnrouted struct{}

func (severityUnrouted) Name() string { return "alerting/severity-unrouted" }

func (severityUnrouted) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "A declared severity routes to no receiver with an integration, so its alerts go nowhere."}
}

func (severityUnrouted) Check(p *Pass) {
	st := p.alerting()
	if st.route == nil {
		return // no routing, or it does not compile: other checks say why
	}
	a := &p.Config.Alerting
	ext := externalLabels(p.Config)
	hint := func(names []string) string {
		return fmt.Sprintf("give %s an integration, or route these alerts to a receiver that has one", quoteList(names))
	}
	unrouted := map[string]bool{}
	for i, s := range a.Severities {
		if p.Config.SilentSeverity(s) {
			continue
		}
		ls := ext.Clone()
		ls["severity"] = model.LabelValue(s)
		names, ok := st.receivers(p.Config, ls)
		if ok {
			continue
		}
		unrouted[s] = true
		p.Report(st.span(a.Span("severities"), "alerting", "severities", i), hint(names),
			"severity %q is routed to %s: its alerts notify nobody", s, routedTo(names))
	}
	for _, r := range p.Index.Rules {
		ls, ok := alertLabels(r, ext)
		if !ok {
			continue
		}
		names, delivered := st.receivers(p.Config, ls)
		sev := string(ls["severity"])
		if delivered || unrouted[sev] || p.Config.SilentSeverity(sev) {
			continue // delivered, or reported once for the severity
		}
		p.ReportRef(r, r.NameSpan(), hint(names),
			"alert %q is routed to %s: it notifies nobody", r.Alert, routedTo(names))
	}
}

// alertLabels returns the labels alerts of rule r carry as far as they
// are known before evaluation, and false when the rule is not an alert or
// its severity is a template.
func alertLabels(r *RuleRef, ext model.LabelSet) (model.LabelSet, bool) {
	if !r.IsAlert() {
		return nil, false
	}
	ls := ext.Clone()
	for _, kv := range r.Labels { // the group's, then the rule's
		if strings.Contains(kv.Value, "{{") {
			if kv.Key == "severity" {
				return nil, false
			}
			delete(ls, model.LabelName(kv.Key))
			continue
		}
		ls[model.LabelName(kv.Key)] = model.LabelValue(kv.Value)
	}
	ls[model.AlertNameLabel] = model.LabelValue(r.Alert)
	return ls, true
}

// routedTo describes receivers that have no integration.
func routedTo(names []string) string {
	if len(names) == 1 {
		return fmt.Sprintf("receiver %q, which has no integration", names[0])
	}
	return fmt.Sprintf("receivers %s, none of which has an integration", quoteList(names))
}

// quoteList renders receiver names for messages: "a" or "a" and "b".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return "none"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
