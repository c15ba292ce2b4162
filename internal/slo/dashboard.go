package slo

import (
	"encoding/json"
	"fmt"

	"github.com/grafana-tools/sdk"
	"github.com/prometheus/common/model"
)

// The SLO dashboard: one for all of a repo's SLOs, shipped with its
// dashboards (grafana-dashboard-obsctl-slos) under DashboardPath.
const (
	DashboardUID  = "obsctl-slos"
	DashboardPath = Dir + "/obsctl-slos.json"
)

// datasource is the stack's Prometheus, as the default dashboards name it.
var datasource = map[string]string{"type": "prometheus", "uid": "prometheus"}

// DefaultOrdinal is the first Ordinal of the default content's SLOs: a
// repo's own SLOs are fewer (a thousand SLOs is a thousand rows).
const DefaultOrdinal = 1000

// BurnPanel is the id of the SLO's burn rate panel in the SLOs' dashboard,
// where its alerts link: the SLO's panels are 4×Ordinal+1 (its row) to
// 4×Ordinal+4.
func BurnPanel(s *SLO) uint { return panelID(s, 4) }

// panelID is the id of the SLO's nth panel (1 to 4) in the SLOs'
// dashboard.
func panelID(s *SLO, n uint) uint { return uint(4*s.Ordinal) + n }

// Dashboard builds the dashboard of the SLOs, a row each: the share of the
// error budget left over the SLO's window, the SLI over it, and the burn
// rate over each alerting window against the factor it pages or tickets
// at. Every query reads the series the SLO records (Compile), so the
// dashboard shows what the alerts see.
func Dashboard(slos []*SLO) ([]byte, error) {
	b := sdk.NewBoard("SLOs")
	b.ID, b.UID, b.Style, b.Timezone = 0, DashboardUID, "", ""
	b.Tags = []string{"obsctl", "slo"}
	b.Editable = true
	b.SchemaVersion, b.Version = 39, 1
	b.Time = sdk.Time{From: "now-7d", To: "now"}
	b.Rows = nil
	refresh := sdk.BoolString{Flag: true, Value: "5m"}
	b.Refresh = &refresh
	grid := func(p *sdk.Panel, x, y, w, h int) {
		p.GridPos.X, p.GridPos.Y, p.GridPos.W, p.GridPos.H = &x, &y, &w, &h
	}
	for i, s := range slos {
		y := i * 9
		window := model.Duration(s.Window).String()
		sel := fmt.Sprintf("{slo=%q}", s.Name)
		ratio := RecordRatio(s.Window) + sel
		budget := RecordBudget + sel

		row := &sdk.Panel{CommonPanel: sdk.CommonPanel{OfType: sdk.RowType, Type: "row", Title: fmt.Sprintf("%s (%s, %s%% over %s)", s.Name, s.Service, s.objectiveText(), window), ID: panelID(s, 1)},
			RowPanel: &sdk.RowPanel{Panels: []sdk.Panel{}}}
		grid(row, 0, y, 24, 1)

		left := gauge("Error budget left", fmt.Sprintf("What is left of the error budget over %s: 100%% when no request failed, 0%% when the SLO is missed.", window),
			fmt.Sprintf("1 - %s / on (slo) %s", ratio, budget), "percentunit", panelID(s, 2))
		min, max := 0.0, 1.0
		left.BarGaugePanel.FieldConfig.Defaults.Min, left.BarGaugePanel.FieldConfig.Defaults.Max = &min, &max
		left.BarGaugePanel.FieldConfig.Defaults.Thresholds = steps("red", "orange", 0.25, "green", 0.5)
		grid(left, 0, y+1, 6, 8)

		sli := gauge("SLI", fmt.Sprintf("The share of good events over %s; the objective is %s%%.", window, s.objectiveText()),
			"1 - "+ratio, "percentunit", panelID(s, 3))
		sli.BarGaugePanel.FieldConfig.Defaults.Thresholds = steps("red", "green", 1-parseBudget(s))
		decimals := 3
		sli.BarGaugePanel.FieldConfig.Defaults.Decimals = &decimals
		grid(sli, 6, y+1, 6, 8)

		burn := sdk.NewTimeseries("Burn rate")
		desc := "How fast the error budget is spent over each alerting window, as a multiple of the rate that spends it exactly over the SLO's window: the page fires at its factor over both of a pair's windows, the ticket at its."
		burn.Description, burn.ID, burn.IsNew, burn.Span, burn.Datasource = &desc, BurnPanel(s), false, 0, datasource
		burn.TimeseriesPanel.FieldConfig.Defaults.Unit = "none"
		burn.TimeseriesPanel.FieldConfig.Defaults.Color = sdk.FieldConfigColor{Mode: "palette-classic"}
		burn.TimeseriesPanel.FieldConfig.Defaults.Thresholds = steps("green")
		burn.TimeseriesPanel.Options.Legend = sdk.TimeseriesLegendOptions{Calcs: []string{"lastNotNull", "max"}, DisplayMode: "table", Placement: "right"}
		burn.TimeseriesPanel.Options.Tooltip.Mode = "multi"
		for j, w := range s.Burns() {
			burn.TimeseriesPanel.Targets = append(burn.TimeseriesPanel.Targets, sdk.Target{
				RefID: string(rune('A' + j)), Datasource: datasource,
				Expr:         fmt.Sprintf("%s%s / on (slo) %s", RecordRatio(w.Long), sel, budget),
				LegendFormat: fmt.Sprintf("%s (%s at %sx)", model.Duration(w.Long), w.Severity, formatFactor(w.Factor)),
			})
		}
		grid(burn, 12, y+1, 12, 8)
		b.Panels = append(b.Panels, row, left, sli, burn)
	}
	return json.MarshalIndent(b, "", "  ")
}

// gauge is a bar gauge of one instant query's value.
func gauge(title, desc, expr, unit string, id uint) *sdk.Panel {
	p := &sdk.Panel{CommonPanel: sdk.CommonPanel{OfType: sdk.BarGaugeType, Type: "bargauge", Title: title, Description: &desc, ID: id, Datasource: datasource},
		BarGaugePanel: &sdk.BarGaugePanel{}}
	p.BarGaugePanel.Targets = []sdk.Target{{RefID: "A", Datasource: datasource, Expr: expr, Instant: true, LegendFormat: "{{slo}}"}}
	p.BarGaugePanel.FieldConfig.Defaults.Unit = unit
	p.BarGaugePanel.FieldConfig.Defaults.Color = sdk.FieldConfigColor{Mode: "thresholds"}
	p.BarGaugePanel.Options.Orientation = "horizontal"
	p.BarGaugePanel.Options.DisplayMode = "gradient"
	p.BarGaugePanel.Options.ReduceOptions.Calcs = []string{"lastNotNull"}
	return p
}

// steps are absolute thresholds: the color below the first value, then
// a color and the value it starts at each.
func steps(first string, more ...any) sdk.Thresholds {
	t := sdk.Thresholds{Mode: "absolute", Steps: []sdk.ThresholdStep{{Color: first}}}
	for i := 0; i+1 < len(more); i += 2 {
		v := more[i+1].(float64)
		t.Steps = append(t.Steps, sdk.ThresholdStep{Color: more[i].(string), Value: &v})
	}
	return t
}

// parseBudget returns the SLO's error budget as a fraction (0.001 for 99.9).
func parseBudget(s *SLO) float64 { return (100 - s.Objective) / 100 }
