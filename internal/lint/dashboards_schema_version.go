package lint

import (
	"encoding/json"
	"strconv"

	"github.com/obsctl/obsctl/internal/diag"
)

// dashboardSchemaVersion reports a dashboard without a schemaVersion (or
// with one that is not a positive number, or a string of one). Grafana reads the dashboard as
// if written for its first schema and runs every migration since on it:
// migrations meant for the dashboards of old Grafanas (rows into a grid,
// panel types, datasource names into references, options moved) run over
// a dashboard already in the new form, and what Grafana shows can differ
// from the file. Grafana writes schemaVersion whenever it saves or
// exports a dashboard; a dashboard written by hand or by a generator that
// leaves it out gets it this way.
//
// It is a house style, off by default: for most dashboards the migrations
// change nothing that shows, and no public dashboard measured lacks a
// schemaVersion. The embedded default repo keeps it.
type dashboardSchemaVersion struct{}

func (dashboardSchemaVersion) Name() string { return "dashboards/schema-version" }

func (dashboardSchemaVersion) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeRepo, Optional: true, Summary: "A dashboard has no schemaVersion: Grafana migrates it from the oldest schema."}
}

func (dashboardSchemaVersion) Check(p *Pass) {
	const hint = `add "schemaVersion": the version Grafana writes when it saves or exports the dashboard (Settings, JSON Model)`
	for _, d := range p.models() {
		f, ok := d.m.Field("schemaVersion")
		if !ok {
			p.Report(d.file.Whole(), hint, "dashboard has no schemaVersion: Grafana runs every migration since its first schema on it")
			continue
		}
		// A number, or a string of one (Grafana's frontend compares it
		// as a number).
		var v float64
		var s string
		if json.Unmarshal(f.Value, &s) == nil {
			v, _ = strconv.ParseFloat(s, 64)
		} else if json.Unmarshal(f.Value, &v) != nil {
			v = 0
		}
		if v <= 0 {
			p.Report(d.span(f.Offset, len(f.Value)), hint, "schemaVersion %s is not a positive number: Grafana runs every migration since its first schema on the dashboard", string(f.Value))
		}
	}
}
