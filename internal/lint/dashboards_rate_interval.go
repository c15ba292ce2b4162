package lint

import (
	"encoding/json"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/diag"
)

// dashboardRateInterval reports rate(), irate(), increase(), delta(),
// idelta(), deriv() or predict_linear() over [$__interval] in a panel
// query to Prometheus. $__interval is the time between two points of the
// graph, which Grafana shortens as the time range narrows or the panel
// widens: once it is under two scrape intervals, a window holds one
// sample or none, these functions return nothing, and the panel shows
// gaps or no data at all. Grafana's $__rate_interval is meant for them:
// it is never under four scrape intervals (the datasource's scrape
// interval, 15s unless set) nor under $__interval plus one scrape
// interval.
//
// A query whose panel or target sets a min interval ("interval": "1m",
// or a variable), or an intervalFactor of 2 or more, is left alone:
// $__interval is never under it, the author chose the step, and an
// increase() per step of a bar chart is then what is meant. Only queries
// known to go to a Prometheus are read, as dashboards/promql reads them,
// with the variables substituted alike. The *_over_time() functions are
// left alone: max_over_time(x[$__interval]) is how a graph keeps a spike
// between two of its points.
type dashboardRateInterval struct{}

func (dashboardRateInterval) Name() string { return "dashboards/rate-interval" }

func (dashboardRateInterval) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "A dashboard query takes a rate over [$__interval]; use [$__rate_interval]."}
}

// intervalFuncs need two samples or more in their window.
var intervalFuncs = map[string]bool{
	"rate": true, "irate": true, "increase": true, "delta": true, "idelta": true, "deriv": true, "predict_linear": true,
}

func (dashboardRateInterval) Check(p *Pass) {
	var bounded map[int]bool
	var boundedOf *dashboardScan
	eachRangeWindow(p, func(d *dashboardScan, e *dashboardExpr, w rangeWindow) {
		if !intervalFuncs[w.fn] || (w.text != "$__interval" && w.text != "${__interval}") {
			return
		}
		if boundedOf != d {
			bounded, boundedOf = minIntervalQueries(d.model()), d
		}
		if len(e.offsets) > 0 && bounded[e.offsets[0]-1] {
			return
		}
		span := diag.Span{File: d.file.Path, Start: d.file.Pos(e.at(w.start)), End: d.file.Pos(e.at(w.end))}
		p.Report(span, "use ["+strings.Replace(w.text, "__interval", "__rate_interval", 1)+"], which Grafana keeps at four scrape intervals or more",
			"%s() over [%s]: when the graph's step is under two scrape intervals the window holds fewer than two samples, and the panel shows nothing", w.fn, w.text)
	})
}

// minIntervalQueries returns the offsets of the queries (their expr
// strings) whose panel or target sets a min interval.
func minIntervalQueries(m *dashboard.Model) map[int]bool {
	out := map[int]bool{}
	if m == nil {
		return out
	}
	set := func(part *dashboard.Part) bool {
		f, ok := part.Field("interval")
		return ok && string(f.Value) != `""` && string(f.Value) != "null"
	}
	// Grafana multiplies $__interval by a target's intervalFactor: at 2
	// and more, it is never under two of the datasource's scrape
	// intervals.
	factor := func(t *dashboard.Part) bool {
		f, ok := t.Field("intervalFactor")
		var n float64
		return ok && json.Unmarshal(f.Value, &n) == nil && n >= 2
	}
	for _, pn := range m.Panels {
		panelSet := set(&pn.Part)
		for _, t := range pn.Targets() {
			if e, ok := t.Field("expr"); ok && (panelSet || set(t) || factor(t)) {
				out[e.Offset] = true
			}
		}
	}
	return out
}

// rangeWindow is the range of a function's range-vector argument in a
// dashboard query.
type rangeWindow struct {
	fn string
	// text is the range as the query writes it ($__interval, 5m), and
	// start and end where it is in the query.
	text       string
	start, end int
}

// eachRangeWindow calls fn for the range of each function's range-vector
// argument (not a subquery's) in every Prometheus query of the repo's
// dashboards.
func eachRangeWindow(p *Pass, fn func(*dashboardScan, *dashboardExpr, rangeWindow)) {
	promUIDs := repoPrometheusUIDs(p)
	for _, d := range p.dashboards() {
		if d.err != nil {
			continue // dashboards/syntax reports it
		}
		var vars map[string]string
		for i := range d.exprs {
			e := &d.exprs[i]
			if !strings.Contains(e.text, "[") {
				continue
			}
			if e.ds >= 0 && vars == nil {
				_, vars = d.variables()
			}
			if !queriesPrometheus(*e, d.refs, vars, promUIDs) {
				continue
			}
			q, ok := grafanaExpr(e.text)
			if !ok {
				continue
			}
			expr, err := promql.ParseExpr(q)
			if err != nil {
				continue // dashboards/promql reports it
			}
			eachNode(expr, func(n parser.Node) bool {
				c, ok := n.(*parser.Call)
				if !ok {
					return true
				}
				for _, a := range c.Args {
					ms := matrixArg(a)
					if ms == nil {
						continue
					}
					vs, ok := ms.VectorSelector.(*parser.VectorSelector)
					if !ok {
						continue
					}
					// grafanaExpr keeps every byte where it was: the
					// range is read from the query as written.
					from, to := int(vs.PosRange.End), int(ms.EndPos)
					if from < 0 || to > len(e.text) || from >= to {
						continue
					}
					open := strings.IndexByte(e.text[from:to], '[')
					if open < 0 {
						continue
					}
					open += from + 1
					shut := strings.IndexByte(e.text[open:to], ']')
					if shut < 0 {
						continue
					}
					shut += open
					raw := e.text[open:shut]
					text := strings.TrimSpace(raw)
					start := open + strings.Index(raw, text)
					fn(d, e, rangeWindow{fn: c.Func.Name, text: text, start: start, end: start + len(text)})
				}
				return true
			})
		}
	}
}

// dashboardFixedRateWindow reports rate() or increase() over a fixed
// window ([5m]) in a panel query to Prometheus. A fixed window is right
// at one zoom only: zoomed out, the graph's step grows past the window and
// each point reads a few minutes out of every hour, so a spike between two
// points is never drawn; zoomed in, each point still averages five
// minutes. [$__rate_interval] follows the step (and [$__range] gives one
// total over the time range).
//
// It is a house style, off by default: many public dashboards use fixed
// windows on purpose (a 5m rate as the alerting rules compute it). The
// embedded default repo keeps it.
type dashboardFixedRateWindow struct{}

func (dashboardFixedRateWindow) Name() string { return "dashboards/fixed-rate-window" }

func (dashboardFixedRateWindow) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeRepo, Optional: true, Summary: "A dashboard query takes a rate over a fixed window rather than [$__rate_interval]."}
}

func (dashboardFixedRateWindow) Check(p *Pass) {
	eachRangeWindow(p, func(d *dashboardScan, e *dashboardExpr, w rangeWindow) {
		if w.fn != "rate" && w.fn != "increase" {
			return
		}
		if _, err := model.ParseDuration(w.text); err != nil {
			return // a variable
		}
		span := diag.Span{File: d.file.Path, Start: d.file.Pos(e.at(w.start)), End: d.file.Pos(e.at(w.end))}
		p.Report(span, "use [$__rate_interval], or [$__range] for one total over the time range",
			"%s() over a fixed [%s] window: zoomed out, the graph's points skip what falls between them", w.fn, w.text)
	})
}
