package lint

import (
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/diag"
)

// dashboardInputs reports an input of an exported dashboard (one with
// __inputs, as Grafana's "Export for sharing externally" and
// grafana.com write it) that obsctl cannot resolve when it provisions the
// dashboard: a datasource input of a plugin the stack provisions no
// datasource of (or whose component is disabled), an input of a type
// other than datasource and constant, or one without a name. Grafana's
// file provisioning does not fill in __inputs itself
// (grafana/grafana#10786), so obsctl resolves each ${DS_...} placeholder
// to the stack's datasource of that plugin (prometheus, alertmanager,
// elasticsearch: logs, jaeger) and each constant to its value; what it
// cannot resolve would show "datasource not found", and render stops on
// it.
type dashboardInputs struct{}

func (dashboardInputs) Name() string { return "dashboards/inputs" }

func (dashboardInputs) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "An exported dashboard's input names a datasource the stack does not provision."}
}

func (dashboardInputs) Check(p *Pass) {
	if !p.Config.Stack.Components.Grafana.On() {
		return
	}
	on := p.Config.ComponentsOn()
	uidOf := dashboard.ConfigUIDOf(p.Config)
	var types []string
	for _, d := range dashboard.Provisioned {
		if on[d.Component] {
			types = append(types, d.Type)
		}
	}
	for _, d := range dashboard.Repo(p.Config) {
		if !slices.Contains(types, d.Type) {
			types = append(types, d.Type)
		}
	}
	for _, d := range p.dashboards() {
		f := d.file
		for _, in := range d.inputs() { // none when not JSON: dashboards/syntax reports it
			if msg := in.Problem(uidOf); msg != "" {
				span := diag.Span{File: f.Path, Start: f.Pos(in.Offset), End: f.Pos(in.Offset)}
				p.Report(span, "the stack provisions datasources of "+strings.Join(types, ", ")+"; point the input's panels at one of them, enable its component, or declare one under grafana.datasources in obsctl.yaml", "%s", msg)
			}
		}
	}
}
