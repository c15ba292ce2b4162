package lint

import (
	"github.com/obsctl/obsctl/internal/diag"
)

// dashboardUnit reports a panel that draws numbers (timeseries, stat,
// gauge, bar gauge) without a unit (fieldConfig.defaults.unit, or one an
// override sets): its values read as bare numbers, 1.2 K where 1.2 KiB/s
// or 12% was meant, and a reader must open the query to know what the
// axis counts.
//
// It is a house style, off by default: a count, a ratio drawn as is or a
// panel whose title says the unit needs none, and public dashboards leave
// it out often. The embedded default repo keeps it.
type dashboardUnit struct{}

func (dashboardUnit) Name() string { return "dashboards/unit" }

func (dashboardUnit) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeRepo, Optional: true, Summary: "A panel that draws numbers has no unit."}
}

// unitPanels are the panel types that draw numbers with a unit.
var unitPanels = map[string]bool{"timeseries": true, "stat": true, "gauge": true, "bargauge": true}

func (dashboardUnit) Check(p *Pass) {
	for _, d := range p.models() {
		for _, pn := range d.m.Panels {
			if !unitPanels[pn.Type()] || pn.Unit() != "" {
				continue
			}
			off, n := pn.Offset, 1
			if f, ok := pn.Field("type"); ok {
				off, n = f.Offset, len(f.Value)
			}
			p.Report(d.span(off, n), `set fieldConfig.defaults.unit ("short" for a plain count, "percentunit", "bytes", "reqps", "s", ...)`,
				"%s draws numbers without a unit", panelName(pn))
		}
	}
}
