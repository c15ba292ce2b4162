package lint

import (
	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/render"
)

// dashboardConfigMap reports a dashboard that does not fit the ConfigMap
// the stack ships it in (grafana-dashboard-NAME holding NAME.json, or
// grafana-dashboard-FOLDER.NAME for one in a folder of dashboards/): a
// file or folder name that makes a ConfigMap name Kubernetes refuses
// (upper-case letters, spaces, underscores, or over 253 characters with
// the prefix), a file name that is not a ConfigMap key, two dashboards
// whose ConfigMap names are the same (a.b.json beside a/b.json), a
// dashboard over the 1 MiB a ConfigMap holds, or one holding a control
// character the API server's YAML reader refuses (DEL or a C1 control,
// which JSON takes raw). Render stops on it, and the API server would
// refuse the ConfigMap. Rename the file (lower-case letters, digits,
// dashes and dots), or split the dashboard or drop unused panels.
//
// Dashboards are checked only while Grafana is enabled: without it they
// are not rendered.
//
// It cannot be disabled: lint.disable, --disable (by name, dashboards/*
// or all) leave it on, since render cannot make the ConfigMap.
type dashboardConfigMap struct{}

func (dashboardConfigMap) Name() string { return "dashboards/configmap" }

func (dashboardConfigMap) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Required: true, Summary: "A dashboard does not fit the ConfigMap that ships it (a name Kubernetes refuses, over 1 MiB, a control character)."}
}

func (dashboardConfigMap) Check(p *Pass) {
	if !p.Config.Stack.Components.Grafana.On() {
		return
	}
	uidOf := dashboard.ConfigUIDOf(p.Config)
	names := map[string]string{}
	for _, d := range p.Repo.Dashboards {
		// The size of what is shipped: an exported dashboard is
		// rewritten with its inputs resolved.
		shipped := d.Src
		if out, err := dashboard.Provision(d.Src, uidOf); err == nil {
			shipped = out
		}
		size := len(shipped)
		name, err := render.DashboardConfigMap(d, size)
		if err != nil {
			p.Report(d.Whole(), "rename the file with lower-case letters, digits, dashes and dots, or make the dashboard smaller", "%v", err)
		} else if prev, ok := names[name]; ok {
			p.Report(d.Whole(), "rename one of them", "%s: its ConfigMap, %s, is also %s's", d.Path, name, prev)
		} else {
			names[name] = d.Path
		}
		if err := render.DashboardContent(d.Path, shipped); err != nil {
			p.Report(d.Whole(), "", "%v", err)
		}
	}
}
