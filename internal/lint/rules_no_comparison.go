package lint

import (
	"strings"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/diag"
)

// noComparison reports alerts whose expression has no comparison
// operator (==, !=, >, <, >=, <=) anywhere.
//
// An alert fires for every series its expression returns, whatever the
// value. `expr: rate(http_errors_total[5m])` therefore fires for every
// job that has the metric at all, error or not, and someone is paged at
// 3 a.m. for a rate of zero. The threshold was meant to be there: add it,
// as in `rate(http_errors_total[5m]) > 0.1`. A comparison with the `bool`
// modifier does not filter (it returns 0 or 1 for every series), so it
// still needs a comparison on top, for example `(a > bool 1) + (b > bool 1)
// >= 2`. One comparison anywhere is enough: `a > 1 and b` filters by a.
//
// Only an expression whose value is computed is reported: a rate, an
// increase, a sum, an average, arithmetic, or a counter selected as it is.
// An expression that tests for presence is left alone: a selector of an
// info or state series (`ceph_subsystem_metadata{allow_any_host="yes"}`),
// count() or group() of one, and set operations of those (`count by
// (instance) (x offset 2h) unless count by (instance) (x)`), whose series
// exist exactly when the alert should fire. So are alerts built on
// absent() or absent_over_time(), which return a series only when
// something is missing, and constant alerts such as the Watchdog's
// `vector(1)`, which are meant to fire always.
// Silence the check for one rule with `# obsctl:disable rules/no-comparison`.
type noComparison struct{}

func (noComparison) Name() string { return "rules/no-comparison" }

func (noComparison) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "An alert expression has no comparison, so it fires for every series it selects."}
}

func (noComparison) Check(p *Pass) {
	r, e := p.Rule, p.Expr()
	if !r.IsAlert() || e == nil {
		return
	}
	filters, selects := false, false
	eachNode(e, func(n parser.Node) bool {
		switch n := n.(type) {
		case *parser.BinaryExpr:
			if n.Op.IsComparisonOperator() && !n.ReturnBool {
				filters = true
			}
		case *parser.Call:
			if n.Func.Name == "absent" || n.Func.Name == "absent_over_time" {
				filters = true
			}
		case *parser.VectorSelector, *parser.MatrixSelector:
			selects = true
		}
		return !filters
	})
	if filters || !selects || !computed(e) {
		return
	}
	p.Report(r.ExprSpan, "compare the value with a threshold, for example `... > 0`; an alert meant to fire always uses a constant such as vector(1)",
		"alert %q has no comparison: it fires for every series the expression returns, whatever the value", r.Alert)
}

// computed reports whether the value of e's series is computed (a rate, a
// sum, arithmetic, a counter's count), so that an alert on e without a
// comparison fires whatever the value; false when e's series exist only
// where something is present (a selector of an info or state series,
// count or group of one, set operations of those).
func computed(e parser.Expr) bool {
	switch n := e.(type) {
	case *parser.ParenExpr:
		return computed(n.Expr)
	case *parser.UnaryExpr:
		return computed(n.Expr)
	case *parser.SubqueryExpr:
		return computed(n.Expr)
	case *parser.BinaryExpr:
		switch n.Op {
		case parser.LOR:
			return computed(n.LHS) || computed(n.RHS)
		case parser.LAND, parser.LUNLESS:
			return computed(n.LHS)
		}
		return true
	case *parser.AggregateExpr:
		switch n.Op {
		case parser.COUNT, parser.GROUP, parser.COUNT_VALUES:
			return false
		case parser.TOPK, parser.BOTTOMK, parser.LIMITK, parser.LIMIT_RATIO:
			return computed(n.Expr)
		}
		return true
	case *parser.Call:
		switch n.Func.Name {
		case "present_over_time", "count_over_time", "vector", "time", "timestamp":
			return false
		case "last_over_time", "label_replace", "label_join", "sort", "sort_desc", "sort_by_label", "sort_by_label_desc":
			if len(n.Args) > 0 {
				if m, ok := n.Args[0].(*parser.MatrixSelector); ok {
					return computed(m.VectorSelector)
				}
				return computed(n.Args[0])
			}
			return false
		}
		return true
	case *parser.VectorSelector:
		return valuedName(n.Name)
	}
	return false
}

// valuedName reports whether a metric's value is what an alert on it
// means, by the naming conventions: a counter's or a histogram's or
// summary's series (counts), and the 0-or-1 health series (up, *_up,
// probe_success, kube-state-metrics' *_status_*), which exist whether
// healthy or not.
func valuedName(name string) bool {
	for _, s := range []string{"_total", "_count", "_sum", "_bucket", "_up"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return name == "up" || name == "probe_success" || (strings.HasPrefix(name, "kube_") && strings.Contains(name, "_status_"))
}
