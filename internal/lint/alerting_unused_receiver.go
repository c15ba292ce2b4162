package lint

import "github.com/obsctl/obsctl/internal/diag"

// unusedReceiver reports a receiver in alerting.receivers that neither
// alerting.defaultReceiver nor any route names. No alert ever reaches it,
// so its integration is configuration to maintain (and secrets to mount)
// for nothing, and it often means a route's receiver is misspelt or was
// removed by mistake.
//
// The finding points at the receiver's name. Route alerts to it, or remove
// it. To keep an unused receiver on purpose, disable the check with
// `lint: {disable: [alerting/unused-receiver]}` in obsctl.yaml.
type unusedReceiver struct{}

func (unusedReceiver) Name() string { return "alerting/unused-receiver" }

func (unusedReceiver) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "A receiver is declared but no route sends to it."}
}

func (unusedReceiver) Check(p *Pass) {
	a := &p.Config.Alerting
	used := map[string]bool{a.DefaultReceiver: true}
	for _, r := range a.Routes {
		used[r.Receiver] = true
	}
	reported := map[string]bool{}
	for i := range a.Receivers {
		r := &a.Receivers[i]
		if r.Name == "" || used[r.Name] || reported[r.Name] {
			continue
		}
		reported[r.Name] = true
		p.Report(r.Span("name"), "route alerts to it (alerting.routes or defaultReceiver) or remove it",
			"receiver %q is declared but no route sends alerts to it", r.Name)
	}
}
