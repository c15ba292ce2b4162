package lint

import (
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/diag"
)

// rateWindow reports range selectors that are too short for the function
// they feed, given the scrape interval that obsctl.yaml declares:
// prometheus.scrapeIntervals for a selector with a job="..." matcher of a
// job listed there, else prometheus.scrapeInterval. When the repo declares
// no interval for the selector the check says nothing: a window is only
// too short against a known interval (a [1m] window is right for a 15s
// scrape and wrong for a 30s one).
//
// rate(), increase(), delta(), deriv(), predict_linear(), resets(),
// changes() and the *_over_time() aggregations need several samples in
// their window. With a window under 4x the scrape interval, one slow or
// failed scrape leaves one sample or none: the function returns nothing,
// the alert's series vanishes and the alert resolves, only to fire again a
// minute later. At 3 a.m. that is a flapping page, or an outage that never
// pages because the window is always empty. Use a window of at least four
// scrape intervals, for example [2m] for a 30s scrape.
//
// irate() and idelta() look at the last two samples only, and
// last_over_time(), first_over_time(), present_over_time() and
// absent_over_time() at one; for them a window of 2x the scrape interval,
// which survives one missed scrape, is enough.
//
// Only ranges given directly to a function are checked, not subquery
// ranges. Silence the check for one rule with
// `# obsctl:disable rules/rate-window`.
type rateWindow struct{}

func (rateWindow) Name() string { return "rules/rate-window" }

func (rateWindow) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "A rate/increase-style window is shorter than 4x the scrape interval."}
}

func (rateWindow) Check(p *Pass) {
	e := p.Expr()
	if e == nil {
		return
	}
	if p.Config == nil {
		return
	}
	eachNode(e, func(n parser.Node) bool {
		c, ok := n.(*parser.Call)
		if !ok {
			return true
		}
		k := windowSamples(c.Func.Name)
		if k == 0 {
			return true
		}
		for _, a := range c.Args {
			ms := matrixArg(a)
			if ms == nil || ms.RangeExpr != nil || ms.Range <= 0 {
				continue
			}
			job, scrape, known := selectorJob(ms), time.Duration(0), false
			if scrape, known = p.Config.KnownScrapeInterval(job); !known || ms.Range >= time.Duration(k)*scrape {
				continue
			}
			lower := "lower prometheus.scrapeInterval"
			if _, ok := p.Config.Prometheus.ScrapeIntervals[job]; ok {
				lower = "lower prometheus.scrapeIntervals." + job
			} else if job != "" {
				lower = "declare the job's own interval in prometheus.scrapeIntervals"
			}
			why := "one missed scrape leaves it too few samples"
			if k == 2 {
				why = "one missed scrape can leave it empty"
			}
			p.Report(ExprSpan(p.Rule, ms.PositionRange()),
				"use a window of at least "+promDuration(time.Duration(k)*scrape)+", or "+lower+" if the targets are scraped more often",
				"%s() window [%s] is shorter than %dx the scrape interval (%s): %s",
				c.Func.Name, rangeText(p.Rule.Expr, ms), k, promDuration(scrape), why)
		}
		return true
	})
}

// selectorJob returns the value of the job="..." matcher of the range
// selector ms, or "" when it has none.
func selectorJob(ms *parser.MatrixSelector) string {
	vs, ok := ms.VectorSelector.(*parser.VectorSelector)
	if !ok {
		return ""
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == "job" && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// rangeText returns the range of ms as written in expr (90s stays 90s).
func rangeText(expr string, ms *parser.MatrixSelector) string {
	pr := ms.PositionRange()
	vs := ms.VectorSelector.PositionRange()
	if 0 <= vs.End && vs.End <= pr.End && int(pr.End) <= len(expr) {
		t := expr[vs.End:pr.End]
		if i := strings.IndexByte(t, '['); i >= 0 {
			if j := strings.IndexByte(t[i:], ']'); j > 1 {
				return strings.TrimSpace(t[i+1 : i+j])
			}
		}
	}
	return promDuration(ms.Range)
}

// windowSamples returns how many scrape intervals the range given to
// function fn should span, or 0 when fn is not checked.
func windowSamples(fn string) int {
	switch fn {
	case "irate", "idelta",
		"last_over_time", "first_over_time", "present_over_time", "absent_over_time",
		"ts_of_last_over_time", "ts_of_first_over_time":
		return 2
	case "rate", "increase", "delta", "deriv", "predict_linear", "resets", "changes",
		"double_exponential_smoothing", "holt_winters":
		return 4
	}
	if strings.HasSuffix(fn, "_over_time") {
		return 4
	}
	return 0
}
