package lint

import (
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
// Alerts built on absent() or absent_over_time(), which return a series
// only when something is missing, and constant alerts such as the
// Watchdog's `vector(1)`, which are meant to fire always, are left alone.
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
	if filters || !selects {
		return
	}
	p.Report(r.ExprSpan, "compare the value with a threshold, for example `... > 0`; an alert meant to fire always uses a constant such as vector(1)",
		"alert %q has no comparison: it fires for every series the expression returns, whatever the value", r.Alert)
}
