package lint

import "github.com/obsctl/obsctl/internal/diag"

// noSeverities reports an obsctl.yaml whose alerting.severities list is
// empty or missing. The list names the values of the `severity` label,
// highest first; without it obsctl cannot check that alerts carry a known
// severity, that every severity reaches someone, or build the inhibition
// that lets a higher severity silence the lower ones.
//
// A repo with no routing (no receivers, routes or default receiver) keeps
// rules only and is not asked for severities.
//
// The finding points at `severities:`, at `alerting:` when the list is not
// written, or at the start of the file when there is no alerting section.
// Declare the severities your alerts use, for example
// `severities: [critical, warning, info]`. The check can be disabled with
// `lint: {disable: [alerting/no-severities]}` in obsctl.yaml, but the
// severity checks then have nothing to go on.
type noSeverities struct{}

func (noSeverities) Name() string { return "alerting/no-severities" }

func (noSeverities) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "alerting.severities is empty, so severity routing and the severity-label check have nothing to go on."}
}

func (noSeverities) Check(p *Pass) {
	if len(p.Config.Alerting.Severities) > 0 || !p.Config.Alerting.Routing() {
		return
	}
	st := p.alerting()
	p.Report(st.span(st.alertingKey(), "alerting", "severities"),
		"list the severity label values, highest first, for example `severities: [critical, warning, info]`",
		"alerting.severities is empty: alert severities cannot be checked or routed by severity")
}
