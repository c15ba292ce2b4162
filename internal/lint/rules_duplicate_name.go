package lint

import (
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/layer"
)

// duplicateName reports two alerting rules with the same name and the same
// static labels, or two recording rules with the same name and labels,
// anywhere in the repo, when their series can overlap. Two alerts with one
// identity overwrite each other's state and notifications; two recording
// rules writing one series produce interleaved samples and "duplicate
// sample" errors.
//
// Rules that share a name but can never write the same series are a
// common, valid pattern and are left alone: alerts that differ in a static
// label (say severity: warning and severity: critical at two thresholds),
// and rules whose expressions keep a label with values that cannot meet
// (one recording rule per status class, code=~"2.." and code=~"5..";
// job="a" and job="b"), or that keep different labels (`sum by (code)`
// and `sum by (code, verb)`); and alerts whose expressions differ other
// than in their selectors' labels, one alert detected several ways on
// purpose (a compactor that has not run: its last success is old, or it
// never succeeded, or its runs fail), whose notifications Alertmanager
// merges as their authors mean it to. What is reported is
// the same alert written twice over series that can meet: a copy of a
// group whose selector `job=~"a|b"` still takes in job "a".
type duplicateName struct{}

func (duplicateName) Name() string { return "rules/duplicate-name" }

func (duplicateName) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "Two alerts, or two recording rules, share a name and the same static labels."}
}

func (duplicateName) Check(p *Pass) {
	for _, m := range []map[string][]*RuleRef{p.Index.Alerts, p.Index.Records} {
		names := make([]string, 0, len(m))
		for name, rs := range m {
			if len(rs) > 1 {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			seen := map[string][]*RuleRef{}
			for _, r := range m[name] {
				key := staticIdentity(r)
				var prev *RuleRef
				for _, q := range seen[key] {
					if layer.IsDefault(q.path) != layer.IsDefault(r.path) {
						continue // defaults/shadow says it
					}
					if seriesMayOverlap(r.IsAlert(), p.RuleExpr(q), p.RuleExpr(r)) {
						prev = q
						break
					}
				}
				seen[key] = append(seen[key], r)
				if prev == nil {
					continue
				}
				kind := "alert"
				if !r.IsAlert() {
					kind = "recording rule"
				}
				p.ReportRef(r, r.NameSpan(), "rename one of them or tell them apart with a label",
					"%s %q is already defined with the same labels at %s, and their series can be the same", kind, name, prev.NameSpan())
			}
		}
	}
}

// staticIdentity renders the rule's static labels (group labels included)
// in a canonical order.
func staticIdentity(r *RuleRef) string {
	kv := map[string]string{}
	for _, l := range r.Labels { // the group's, then the rule's
		kv[l.Key] = l.Value
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(kv[k])
		b.WriteByte(0)
	}
	return b.String()
}

// seriesMayOverlap reports whether two rules (alerts when alert is set)
// of expressions a and b, of one name and the same static labels, can
// write a series of the same labels. It answers no only
// when it is sure: their expressions keep one label with values that
// cannot meet, or one certainly keeps a label the other certainly drops.
func seriesMayOverlap(alert bool, a, b string) bool {
	ea, errA := promql.ParseExpr(a)
	eb, errB := promql.ParseExpr(b)
	if errA != nil || errB != nil || a == "" || b == "" {
		return true
	}
	if alert && shape(a) != shape(b) {
		// Alerts of one name whose expressions differ other than in their
		// selectors' labels are one alert detected several ways, a
		// deliberate pattern (a compactor that has not run: its last
		// success is old, or it never succeeded, or its runs fail):
		// Alertmanager merges their notifications, as their authors mean
		// it to.
		return false
	}
	la, lb := outputLabels(ea), outputLabels(eb)
	names := map[string]bool{}
	for _, e := range []parser.Expr{ea, eb} {
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				for _, m := range vs.LabelMatchers {
					names[m.Name] = true
				}
			}
			return nil
		})
	}
	for name := range names {
		if name == labels.MetricName {
			continue
		}
		ga, okA := labelValues(ea, name)
		gb, okB := labelValues(eb, name)
		switch {
		case ga != nil && gb != nil && !groupsMeet(ga, gb):
			return false
		case okA && !lb.mayHave(name), okB && !la.mayHave(name):
			return false
		}
	}
	// Aggregations by different labels write different label sets.
	if !la.open && !lb.open && !sameKeys(la.present, lb.present) {
		return false
	}
	return true
}

func sameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// labelValues returns the groups of matchers (each the matchers of one
// selector on label name) one of which every series of e's result meets
// with its value of name ("" when it has none), or nil when some series
// has a value no selector constrains; and whether every series certainly
// carries the label.
func labelValues(e parser.Expr, name string) ([][]*labels.Matcher, bool) {
	switch e := e.(type) {
	case *parser.ParenExpr:
		return labelValues(e.Expr, name)
	case *parser.UnaryExpr:
		return labelValues(e.Expr, name)
	case *parser.StepInvariantExpr:
		return labelValues(e.Expr, name)
	case *parser.SubqueryExpr:
		return labelValues(e.Expr, name)
	case *parser.MatrixSelector:
		return labelValues(e.VectorSelector, name)
	case *parser.VectorSelector:
		var g []*labels.Matcher
		for _, m := range e.LabelMatchers {
			if m.Name == name {
				g = append(g, m)
			}
		}
		if len(g) == 0 {
			return nil, false
		}
		// The label is certainly set when a matcher refuses the empty
		// value; either way its value, "" when it is not set, meets g.
		for _, m := range g {
			if !m.Matches("") {
				return [][]*labels.Matcher{g}, true
			}
		}
		return [][]*labels.Matcher{g}, false
	case *parser.AggregateExpr:
		switch {
		case e.Op == parser.COUNT_VALUES:
			if s, ok := e.Param.(*parser.StringLiteral); !ok || s.Val == name {
				return nil, false
			}
		case e.Op == parser.TOPK || e.Op == parser.BOTTOMK || e.Op == parser.LIMITK || e.Op == parser.LIMIT_RATIO:
			return labelValues(e.Expr, name)
		}
		if slices.Contains(e.Grouping, name) != e.Without {
			return labelValues(e.Expr, name)
		}
		return nil, false
	case *parser.Call:
		switch e.Func.Name {
		case "absent", "absent_over_time", "vector", "time", "scalar", "pi", "sort_by_label", "sort_by_label_desc", "info":
			return nil, false
		case "label_replace", "label_join":
			if dst, ok := e.Args[1].(*parser.StringLiteral); !ok || dst.Val == name {
				return nil, false
			}
		case "histogram_quantile", "histogram_fraction":
			if name == "le" {
				return nil, false
			}
		}
		for _, a := range e.Args {
			if t := a.Type(); t == parser.ValueTypeVector || t == parser.ValueTypeMatrix {
				return labelValues(a, name)
			}
		}
		return nil, false
	case *parser.BinaryExpr:
		lt, rt := e.LHS.Type(), e.RHS.Type()
		switch {
		case lt != parser.ValueTypeVector && rt != parser.ValueTypeVector:
			return nil, false
		case lt != parser.ValueTypeVector:
			return labelValues(e.RHS, name)
		case rt != parser.ValueTypeVector:
			return labelValues(e.LHS, name)
		}
		switch e.Op {
		case parser.LAND, parser.LUNLESS:
			return labelValues(e.LHS, name)
		case parser.LOR:
			ga, okA := labelValues(e.LHS, name)
			gb, okB := labelValues(e.RHS, name)
			if ga == nil || gb == nil {
				return nil, false // one side's values are not bounded
			}
			return append(ga, gb...), okA && okB
		}
		m := e.VectorMatching
		side := e.LHS
		if m != nil {
			switch {
			case m.Card == parser.CardOneToMany:
				side = e.RHS
				fallthrough
			case m.Card == parser.CardManyToOne:
				if slices.Contains(m.Include, name) {
					return nil, false // copied from the other side
				}
			case m.On && !slices.Contains(m.MatchingLabels, name), !m.On && slices.Contains(m.MatchingLabels, name):
				return nil, false // one-to-one matching drops it
			}
		}
		return labelValues(side, name)
	}
	return nil, false
}

// groupsMeet reports whether some value satisfies all the matchers of a
// group of a and of a group of b.
func groupsMeet(a, b [][]*labels.Matcher) bool {
	for _, ga := range a {
		for _, gb := range b {
			if matchersMeet(append(slices.Clone(ga), gb...)) {
				return true
			}
		}
	}
	return false
}

// matchersMeet reports whether some value may satisfy every matcher of
// ms; it answers false only when none surely can.
func matchersMeet(ms []*labels.Matcher) bool {
	all := func(v string) bool {
		for _, m := range ms {
			if !m.Matches(v) {
				return false
			}
		}
		return true
	}
	for _, m := range ms {
		if m.Type == labels.MatchEqual {
			return all(m.Value)
		}
	}
	for _, m := range ms {
		if m.Type != labels.MatchRegexp {
			continue
		}
		if set := m.SetMatches(); len(set) > 0 && !strings.Contains(m.Value, "(?") {
			return slices.ContainsFunc(set, all)
		}
	}
	// Regexes of literal prefixes neither of which starts the other
	// (2.. and 5..) meet nowhere.
	for i, m := range ms {
		if m.Type != labels.MatchRegexp {
			continue
		}
		for _, n := range ms[i+1:] {
			if n.Type != labels.MatchRegexp || strings.Contains(m.Value+n.Value, "(?") {
				continue // flags such as (?i) make a prefix match other cases
			}
			pm, pn := m.Prefix(), n.Prefix()
			if !strings.HasPrefix(pm, pn) && !strings.HasPrefix(pn, pm) {
				return false
			}
		}
	}
	return true
}

// shape returns expr as PromQL with its selectors' label matchers left
// out, the metric name kept: two expressions of one shape compute the same
// thing over series their matchers choose.
func shape(expr string) string {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return expr
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = slices.DeleteFunc(vs.LabelMatchers, func(m *labels.Matcher) bool { return m.Name != labels.MetricName })
		}
		return nil
	})
	return e.String()
}
