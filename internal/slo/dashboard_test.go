package slo

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/layer"
)

// TestDashboard: the SLO dashboard has a row per SLO and a budget, an SLI
// and a burn-rate panel under each, every one with a unit, and every query
// reads only series the SLOs' compiled rules record, with the SLO's label.
func TestDashboard(t *testing.T) {
	a := load(t, head+"objective: 99.9\nsli:\n  ratio:\n    bad: http_requests_total{code=~\"5..\"}\n    total: http_requests_total\n")
	b := load(t, "apiVersion: obsctl/v1\nkind: SLO\nname: search\nservice: shop\nobjective: 95\nwindow: 7d\nsli:\n  latency:\n    histogram: http_request_duration_seconds_bucket{job=\"a\"}\n    threshold: 1s\n")
	src, err := Dashboard([]*SLO{a, b})
	if err != nil {
		t.Fatal(err)
	}
	m, err := dashboard.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		UID    string `json:"uid"`
		Panels []struct {
			Type, Title string
			GridPos     struct{ X, Y, W, H int }
			FieldConfig struct {
				Defaults struct{ Unit string }
			}
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(src, &top); err != nil {
		t.Fatal(err)
	}
	if DashboardUID != layer.SLODashboardUID {
		t.Errorf("overrides.dashboards know the SLO dashboard as %q, it is %q", layer.SLODashboardUID, DashboardUID)
	}
	if top.UID != DashboardUID || len(top.Panels) != 8 || len(m.Panels) < 6 {
		t.Fatalf("uid %q, %d panels", top.UID, len(top.Panels))
	}
	recorded := map[string]bool{}
	for _, s := range []*SLO{a, b} {
		for _, r := range Compile(s, Options{}).Rules() {
			recorded[r.Record] = true
		}
	}
	rows := 0
	for _, p := range top.Panels {
		if p.Type == "row" {
			rows++
			continue
		}
		if p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("panel %q has no unit", p.Title)
		}
		for _, tg := range p.Targets {
			e, err := promql.ParseExpr(tg.Expr)
			if err != nil {
				t.Fatalf("%q: %v", tg.Expr, err)
			}
			for _, sel := range parser.ExtractSelectors(e) {
				name, slo := "", ""
				for _, l := range sel {
					switch l.Name {
					case "__name__":
						name = l.Value
					case "slo":
						slo = l.Value
					}
				}
				if !recorded[name] || (slo != "checkout" && slo != "search") {
					t.Errorf("%q selects %s{slo=%q}, which no SLO records", tg.Expr, name, slo)
				}
			}
		}
	}
	if rows != 2 || !strings.Contains(string(src), "search (shop, 95% over 1w)") {
		t.Errorf("%d rows; titles in %s", rows, src)
	}
}
