package lint

import (
	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/diag"
)

// invalidConfig reports an alerting section whose compiled
// alertmanager.yaml Alertmanager refuses: obsctl builds the configuration
// with Alertmanager's own types and loads it back with Alertmanager's own
// config loader, and reports what that loader says. Typical causes are a
// zero groupInterval or repeatInterval, an invalid label name in a route's
// groupBy, an email smarthost without a port, or a webhook or Opsgenie URL
// that does not parse. Alertmanager keeps running its previous
// configuration when it refuses a new one, so no routing change would
// reach it.
//
// The finding points at the offending field when obsctl knows it, else at
// `alerting:`. Problems that other checks report with a better position
// (an undeclared receiver, a matcher that does not parse, a missing
// required key) are not repeated here; while one of them is present the
// configuration is not loaded, so fix those first. An alerting section
// with no receivers, routes or defaultReceiver is not compiled.
type invalidConfig struct{}

func (invalidConfig) Name() string { return "alerting/invalid-config" }

func (invalidConfig) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "The compiled alertmanager.yaml is rejected by Alertmanager's own config loader."}
}

func (invalidConfig) Check(p *Pass) {
	st := p.alerting()
	walkErrors(st.err, func(err error) {
		re, ok := err.(*amroute.RejectedError)
		if !ok {
			return // the others are reported by alerting/unknown-receiver, alerting/matcher-syntax or config/schema
		}
		span := st.alertingKey()
		if re.Field != "" {
			span = st.span(span, fieldPath(re.Field)...)
		}
		p.Report(span, "fix obsctl.yaml so that Alertmanager accepts the compiled alertmanager.yaml",
			"Alertmanager rejects the compiled configuration: %v", re.Err)
	})
}
