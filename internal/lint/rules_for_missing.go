package lint

import (
	"strings"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/diag"
)

// forMissing reports alerting rules without `for`. Such an alert fires on
// the first evaluation that matches, so a single slow scrape, a restart or
// a one-off spike notifies someone. A `for` of a few evaluation intervals
// makes the alert wait until the condition has held.
//
// Alerts that are right to fire at once are left alone: an expression
// that selects no series (a constant such as the Watchdog's vector(1));
// one that measures elapsed time itself (`time() - last_success > 86400`
// holds for a day before it fires); one over ALERTS, whose alerts waited
// their own `for` already (an inhibitor of info alerts); and a countdown
// to a deadline (a TTL or expiry metric such as
// `cert_ttl_seconds < 604800`), which does not flap back once it
// crosses its threshold; an uptime compared to catch a restart
// (`mysql_uptime_seconds < 60`: any wait longer than the window misses
// it); a counter compared as it is (`errors_total > 0`: a counter only
// grows, so it does not flap); and one whose every sample is read over a
// window (`rate(errors_total[10m]) > 1`, `increase(restarts_total[1h]) >
// 3`, `max_over_time(x[15m])`): the window is the wait, and one bad
// scrape does not make it. What is reported is the instantaneous
// threshold, a gauge compared as it is scraped (`node_load1 > 10`, `up ==
// 0`), where one sample notifies someone.
// An alert on absent() is left to rules/absent-for, so that one mistake
// is one finding. Silence the check for one rule with
// `# obsctl:disable rules/for-missing`.
type forMissing struct{}

func (forMissing) Name() string { return "rules/for-missing" }

func (forMissing) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "An alert has no `for`, so one bad scrape notifies someone."}
}

func (forMissing) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || r.ForSet || r.Refused("for") || p.Expr() == nil || isConstant(p.Expr()) || firesAtOnce(p.Expr()) {
		return
	}
	if absentCall(p.Expr()) != "" {
		return // rules/absent-for says it, with the reason that matters there
	}
	p.Report(r.NameSpan, "add `for:` of a few evaluation intervals, for example `for: 5m`",
		"alert %q has no `for`: it fires on the first matching evaluation", r.Alert)
}

// firesAtOnce reports whether expression e is one an alert may fire on at
// once: it calls time(), selects ALERTS or ALERTS_FOR_STATE, selects a
// countdown metric (a name holding "ttl" or "expir") or an uptime (restart
// detection, `uptime_seconds < 60`, which a wait would miss), or reads
// every sample over a window or a counter as it is (see instant).
func firesAtOnce(e parser.Expr) bool {
	if !instant(e) {
		return true
	}
	found := false
	eachNode(e, func(n parser.Node) bool {
		switch n := n.(type) {
		case *parser.Call:
			found = found || n.Func.Name == "time"
		case *parser.VectorSelector:
			name := strings.ToLower(n.Name)
			found = found || name == "alerts" || name == "alerts_for_state" ||
				strings.Contains(name, "_ttl") || strings.HasPrefix(name, "ttl") || strings.Contains(name, "expir") ||
				strings.Contains(name, "uptime") || strings.Contains(name, "up_time")
		}
		return !found
	})
	return found
}

// instant reports whether e compares a sample as it is scraped: it
// selects a series that is not read over a window, and reads nothing
// over a window (a range selector, a subquery) or against the past (an
// offset, `x != x offset 5m`). Where part of the expression is read over
// a window, the window sets the pace (`rate(rx_bytes_total[5m]) /
// link_speed_bytes > 0.8`, `max_over_time(temp[10m]) >= trip_temp`).
// Selectors that do not carry the alert's value are passed over: the
// right side of `and` and `unless` (a filter), info series (`*_info`,
// joined for their labels), counters (`*_total`: a counter only grows,
// so once over its threshold it stays there and waiting changes nothing),
// and kube-state-metrics' mirrors of an object's spec (`*_spec_*`: what
// someone declared, which no scrape changes).
func instant(e parser.Expr) bool {
	windowed := false
	eachNode(e, func(n parser.Node) bool {
		switch n := n.(type) {
		case *parser.MatrixSelector, *parser.SubqueryExpr:
			windowed = true
		case *parser.VectorSelector:
			windowed = windowed || n.OriginalOffset != 0 || n.Timestamp != nil
		}
		return !windowed
	})
	return !windowed && instantSelector(e)
}

// instantSelector reports whether e selects a series whose scraped
// value the alert compares (see instant).
func instantSelector(e parser.Expr) bool {
	switch n := e.(type) {
	case *parser.VectorSelector:
		return !strings.HasSuffix(n.Name, "_info") && !strings.HasSuffix(n.Name, "_total") &&
			!(strings.HasPrefix(n.Name, "kube_") && strings.Contains(n.Name, "_spec_"))
	case *parser.ParenExpr:
		return instantSelector(n.Expr)
	case *parser.UnaryExpr:
		return instantSelector(n.Expr)
	case *parser.StepInvariantExpr:
		return instantSelector(n.Expr)
	case *parser.AggregateExpr:
		return instantSelector(n.Expr)
	case *parser.Call:
		for _, a := range n.Args {
			if instantSelector(a) {
				return true
			}
		}
		return false
	case *parser.BinaryExpr:
		if n.Op == parser.LAND || n.Op == parser.LUNLESS {
			return instantSelector(n.LHS)
		}
		return instantSelector(n.LHS) || instantSelector(n.RHS)
	}
	return false
}
