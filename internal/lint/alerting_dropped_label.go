package lint

import (
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/diag"
)

// droppedLabel reports an alert whose expression cannot produce a label
// that the routing obsctl.yaml declares relies on: a label its
// notifications are grouped by (alerting.groupBy, or the groupBy of a
// route the alert takes), a label inhibition compares (alerting.inhibit's
// equal, for severity inhibition and for rules the alert is a source or
// target of). The expression
// drops it by aggregating it away (`sum by (job)` has no namespace) or by
// ending in `or vector(0)`, whose series has no labels at all.
//
// Such an alert carries the label empty: its notifications are grouped
// with every other alert that lacks it, or it silences or is silenced
// across namespaces or clusters. Keep the label in the aggregation (`sum by (job, namespace)`), set
// it under the rule's labels, or leave it out of the routing.
//
// Only what obsctl.yaml declares is judged (not the default grouping),
// labels the rule or group sets and prometheus.externalLabels count as
// present, and a label is reported only when the expression names it (in
// a matcher, a by clause or vector matching: the series had it) and
// certainly cannot produce it. Dropping a label with `without (...)` is
// taken as meant.
type droppedLabel struct{}

func (droppedLabel) Name() string { return "alerting/dropped-label" }

func (droppedLabel) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "An alert's expression drops a label that its grouping, inhibition or a route needs."}
}

// readsAlertExprs: Check reads every alert's expression when there is
// routing to judge them against.
func (droppedLabel) readsAlertExprs(p *Pass) bool { return p.Config.Alerting.Routing() }

func (droppedLabel) Check(p *Pass) {
	st := p.alerting()
	if st.route == nil || p.Index.LabelsUnknown {
		return
	}
	a := &p.Config.Alerting
	// What every alert needs, and why.
	base := map[string]string{}
	if a.Has("groupBy") {
		for _, l := range a.GroupBy {
			base[l] = "alerting.groupBy groups notifications by it"
		}
	}
	if p.Config.SeverityInhibition() && a.Inhibit.Has("equal") {
		for _, l := range a.Inhibit.Equal {
			if _, ok := base[l]; !ok {
				base[l] = "severity inhibition compares it (alerting.inhibit.equal)"
			}
		}
	}
	ext := externalLabels(p.Config)
	for _, r := range p.Index.Rules {
		ls, ok := alertLabels(r, ext)
		if !ok || r.labelsRefused {
			continue
		}
		x := p.RuleExpr(r)
		e, err := promql.ParseExpr(x)
		if err != nil || x == "" {
			continue
		}
		need := map[string]string{}
		for l, why := range base {
			need[l] = why
		}
		for _, dr := range st.route.Match(ls) {
			for i := range a.Routes {
				if i >= len(st.route.Routes) || st.route.Routes[i] != dr {
					continue
				}
				for _, l := range a.Routes[i].GroupBy {
					need[l] = "route " + routeName(&a.Routes[i], i) + " groups notifications by it"
				}
			}
		}
		for _, ir := range a.Inhibit.Rules {
			src, _ := inhibitSideMatches(ir.Source, ls)
			tgt, _ := inhibitSideMatches(ir.Target, ls)
			if src || tgt {
				for _, l := range ir.Equal {
					if _, ok := need[l]; !ok {
						need[l] = "an inhibition rule compares it (equal)"
					}
				}
			}
		}
		out := outputLabels(e)
		vec := orVector(e)
		names := make([]string, 0, len(need))
		for l := range need {
			if l == "..." || l == model.AlertNameLabel {
				continue
			}
			if _, set := ls[model.LabelName(l)]; set {
				continue
			}
			if slices.ContainsFunc(r.Labels, func(kv Label) bool { return kv.Key == l }) {
				continue // a templated label is set, from what is not known
			}
			// Reported only with evidence that the series had the label:
			// the expression names it, and drops it all the same.
			if !mentions(e, l) || droppedOnPurpose(e, l) || out.mayHave(l) && !vec {
				continue
			}
			names = append(names, l)
		}
		slices.Sort(names)
		for _, l := range names {
			how := "aggregates it away"
			if vec {
				how = "may return the series of `or vector(...)`, which has no labels"
			}
			p.ReportRef(r, r.NameSpan(), "keep it in the aggregation, for example `by (..., "+l+")`, or set it under labels:",
				"the expression of alert %q %s, but %s: label %q", r.Alert, how, need[l], l)
		}
	}
}

// orVector reports whether e ends in `or vector(...)` (or a number
// turned vector): a series without labels stands in when the left side
// returns nothing.
func orVector(e parser.Expr) bool {
	for {
		switch x := e.(type) {
		case *parser.ParenExpr:
			e = x.Expr
			continue
		case *parser.BinaryExpr:
			if x.Op == parser.LOR {
				if c, ok := unparen(x.RHS).(*parser.Call); ok && c.Func.Name == "vector" {
					return true
				}
				return orVector(x.LHS) || orVector(x.RHS)
			}
			if x.LHS.Type() != parser.ValueTypeVector {
				e = x.RHS
			} else {
				e = x.LHS
			}
			continue
		}
		return false
	}
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// droppedOnPurpose reports whether e names label l in a without clause.
func droppedOnPurpose(e parser.Expr, l string) bool {
	found := false
	eachNode(e, func(n parser.Node) bool {
		if a, ok := n.(*parser.AggregateExpr); ok && a.Without && slices.Contains(a.Grouping, l) {
			found = true
		}
		return !found
	})
	return found
}

// mentions reports whether expression e names label l: in a selector's
// matchers, a by clause, or an on, ignoring or group clause. A without
// clause names a label to drop it, on purpose.
func mentions(e parser.Expr, l string) bool {
	found := false
	eachNode(e, func(n parser.Node) bool {
		switch n := n.(type) {
		case *parser.VectorSelector:
			for _, m := range n.LabelMatchers {
				found = found || m.Name == l
			}
		case *parser.AggregateExpr:
			// without (l) drops it on purpose: no evidence it is needed.
			found = found || !n.Without && slices.Contains(n.Grouping, l)
		case *parser.BinaryExpr:
			if m := n.VectorMatching; m != nil {
				found = found || slices.Contains(m.MatchingLabels, l) || slices.Contains(m.Include, l)
			}
		}
		return !found
	})
	return found
}

// inhibitSideMatches reports whether labels ls satisfy every matcher of
// one side of an inhibition rule, and false when one does not parse.
func inhibitSideMatches(side []string, ls model.LabelSet) (bool, bool) {
	for _, s := range side {
		m, err := amroute.ParseMatcher(s)
		if err != nil {
			return false, false
		}
		if !m.Matches(string(ls[model.LabelName(m.Name)])) {
			return false, true
		}
	}
	return len(side) > 0, true
}
