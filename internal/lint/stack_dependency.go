package lint

import (
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/render"
)

// stackDependency reports a stack component that is enabled while a
// component it needs is not: Kibana and Fluentd without Elasticsearch
// (nothing to search, nowhere to ship logs), Prometheus and Alertmanager
// without the Prometheus Operator (their custom resources would never run),
// Grafana without Prometheus (its dashboards would show nothing), and rules
// or routing with Prometheus or Alertmanager disabled (nothing would
// evaluate or route them).
//
// The finding points at the component's enabled key. Enable what it
// needs, or disable the component too.
type stackDependency struct{}

func (stackDependency) Name() string { return "stack/dependency" }

func (stackDependency) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "A stack component is enabled without a component it needs."}
}

func (stackDependency) Check(p *Pass) {
	on := map[string]*config.NamedComponent{}
	for _, nc := range p.Config.ComponentsByName() {
		on[nc.Name] = &nc
	}
	// The render's table: what it leaves out is what this reports.
	for _, n := range render.Dependencies() {
		c, dep := on[n.Component], on[n.Needs]
		if c == nil || dep == nil || !c.On() || dep.On() {
			continue
		}
		p.Report(stackComponentSpan(p.Config, c), "enable stack.components."+n.Needs+", or disable stack.components."+n.Component,
			"stack.components.%s is enabled but %s is not: %s", n.Component, n.Needs, n.Why)
	}
	if p.Index.RuleFiles > 0 && !on["prometheus"].On() {
		p.Report(stackComponentSpan(p.Config, on["prometheus"]), "enable Prometheus, or remove the rules",
			"the repo has rules but stack.components.prometheus is disabled: nothing would evaluate them")
	}
	if p.Config.Alerting.Routing() && !on["alertmanager"].On() {
		p.Report(stackComponentSpan(p.Config, on["alertmanager"]), "enable Alertmanager, or remove alerting.routes and receivers",
			"obsctl.yaml routes alerts but stack.components.alertmanager is disabled: no notification would be sent")
	}
}

// stackComponentSpan points at a component's enabled key, else its
// mapping, else stack:.
func stackComponentSpan(c *config.Config, nc *config.NamedComponent) diag.Span {
	switch {
	case nc.Has("enabled"):
		return nc.Span("enabled")
	case c.Stack.Components.Has(nc.Name):
		return c.Stack.Components.Span(nc.Name)
	}
	return c.Span("stack")
}
