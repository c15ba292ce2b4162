package lint

import (
	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/config"
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
// The finding points at the offending field: each value Alertmanager
// validates on its own (a webhook URL, a groupBy label, a timer) is given
// to Alertmanager's own type to find it, and what only fails together is
// narrowed down to the receiver, route or inhibition rule that fails on
// its own; only what fails in none of them alone is reported at
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
			path := fieldPath(re.Field)
			span = st.span(span, path...)
			if k, v := st.find(path...); k != nil && v != nil && (v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode) {
				span = st.file.Span(k) // a list or mapping as a whole: at its key
			}
		}
		if schemaReported(p, span) {
			return // config/schema says the same, at the same place
		}
		p.Report(span, "fix obsctl.yaml so that Alertmanager accepts the compiled alertmanager.yaml",
			"Alertmanager rejects the compiled configuration: %v", re.Err)
	})
}

// schemaReported reports whether obsctl.yaml's schema check has a finding
// at span's start: a value both refuse (an invalid label name in
// alerting.groupBy) is one mistake, reported once.
func schemaReported(p *Pass, span diag.Span) bool {
	for _, f := range p.Repo.Findings {
		if f.Check == config.CheckSchema && f.File == span.File && f.Start == span.Start {
			return true
		}
	}
	return false
}
