package lint

import (
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/layer"
	"github.com/obsctl/obsctl/internal/spell"
)

// severityLabel reports alerts without a `severity` label, or with a value
// that alerting.severities in obsctl.yaml does not declare. It checks
// nothing until the repo declares its severities: severity is a policy of
// the repo, not of obsctl. A silent severity (alerting.silentSeverities,
// `none` by default), carried by alerts meant to notify nobody such as a
// Watchdog, is accepted without being declared. Routing and
// inhibition are by severity: an alert whose severity is missing or
// misspelt ("critcal") falls through to the default receiver, is never
// inhibited, and may wake nobody. The label must be a literal: a templated
// severity cannot be checked and changes the alert's identity.
type severityLabel struct{}

func (severityLabel) Name() string { return "rules/severity-label" }

func (severityLabel) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRule, Summary: "An alert has no severity label, or one that alerting.severities does not declare."}
}

func (severityLabel) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || r.Refused("labels") || r.Group.Refused("labels") {
		return // rules/schema reports the labels it could not read
	}
	declared := p.Config.Alerting.Severities
	if len(declared) == 0 {
		return // no severity policy: nothing to hold alerts to
	}
	list := strings.Join(declared, ", ")
	kv, ok := r.Label("severity")
	switch {
	case !ok:
		p.Report(r.NameSpan, "add `severity:` under labels, one of: "+list, "alert %q has no severity label", r.Alert)
	case strings.Contains(kv.Value, "{{"):
		p.Report(kv.ValueSpan(), "use one literal value, one of: "+list, "alert %q has a templated severity", r.Alert)
	case !slices.Contains(declared, kv.Value) && !p.Config.SilentSeverity(kv.Value):
		hint := "declared severities: " + list
		if s := spell.Closest(kv.Value, declared); s != "" {
			hint = "did you mean \"" + s + "\"? " + hint
		}
		if layer.IsDefault(r.Group.File.Path) {
			hint = "declare it in alerting.severities, or map the default content's to yours in overrides.severities (" + kv.Value + ": " + declared[0] + "); " + "declared severities: " + list
		}
		p.Report(kv.ValueSpan(), hint, "severity %q of alert %q is not declared in alerting.severities", kv.Value, r.Alert)
	}
}
