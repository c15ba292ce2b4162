package lint

import (
	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/diag"
)

// dashboardPanelID reports two panels of a dashboard with the same id,
// the panels of collapsed rows and of the legacy rows list included.
// Grafana keys a panel's link (?viewPanel=, d-solo embeds), its edit and
// view state and its library-panel and alert bindings by its id: a link to
// the later panel opens the earlier one, and editing one can change the
// other. The finding is on the later panel's id.
//
// A panel without an id (or with id 0) is fine: Grafana gives it one when
// it loads the dashboard.
type dashboardPanelID struct{}

func (dashboardPanelID) Name() string { return "dashboards/panel-id" }

func (dashboardPanelID) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "Two panels of a dashboard share an id."}
}

func (dashboardPanelID) Check(p *Pass) {
	for _, d := range p.models() {
		seen := map[int64]*dashboard.Panel{}
		for _, pn := range d.m.Panels {
			id, ok := pn.ID()
			if !ok {
				continue
			}
			first := seen[id]
			if first == nil {
				seen[id] = pn
				continue
			}
			f, _ := pn.Field("id")
			p.Report(d.span(f.Offset, len(f.Value)), "give it an id no other panel of the dashboard has, or remove the id and let Grafana assign one",
				"%s has id %d, which %s already has: links to it (?viewPanel=%d) and its panel state go to the other", panelName(pn), id, panelName(first), id)
		}
	}
}
