package lint

import (
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
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

// stackNeeds lists, for a component, what it cannot work without and why.
var stackNeeds = []struct {
	component, needs, why string
}{
	{"kibana", "elasticsearch", "Kibana searches Elasticsearch"},
	{"fluentd", "elasticsearch", "Fluentd ships the logs to Elasticsearch"},
	{"prometheus", "prometheusOperator", "the Prometheus Operator runs the Prometheus custom resource"},
	{"alertmanager", "prometheusOperator", "the Prometheus Operator runs the Alertmanager custom resource"},
	{"grafana", "prometheus", "Grafana's dashboards query Prometheus"},
	{"alertmanager", "prometheus", "only Prometheus sends Alertmanager alerts"},
}

func (stackDependency) Check(p *Pass) {
	on := map[string]*config.NamedComponent{}
	for _, nc := range p.Config.ComponentsByName() {
		on[nc.Name] = &nc
	}
	for _, n := range stackNeeds {
		c, dep := on[n.component], on[n.needs]
		if c == nil || dep == nil || !c.On() || dep.On() {
			continue
		}
		p.Report(stackComponentSpan(p.Config, c), "enable stack.components."+n.needs+", or disable stack.components."+n.component,
			"stack.components.%s is enabled but %s is not: %s", n.component, n.needs, n.why)
	}
	if len(p.Repo.RuleFiles) > 0 && !on["prometheus"].On() {
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
