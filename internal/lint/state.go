package lint

import (
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// promql parses with Prometheus' default options: an experimental function
// is an error here exactly when the server would refuse it.
var promql = parser.NewParser(parser.Options{})

// ruleState is what the rule checks share about one rule: its expression,
// parsed once, and its templates, parsed on first use.
type ruleState struct {
	rule      *promrule.Rule
	expr      parser.Expr
	exprErr   error
	tmpl      []*Template
	tmplReady bool
}

func newRuleState(r *promrule.Rule) *ruleState {
	rs := &ruleState{rule: r}
	if !r.ExprLoc.IsZero() {
		rs.expr, rs.exprErr = promql.ParseExpr(r.Expr)
		if rs.exprErr != nil {
			rs.expr = nil
		}
	}
	return rs
}

func (rs *ruleState) templates(r *promrule.Rule) []*Template {
	if !rs.tmplReady && r != nil {
		rs.tmplReady = true
		if r.IsAlert() {
			for _, kv := range r.Labels {
				rs.tmpl = append(rs.tmpl, parseTemplate(r.Alert, kv, true))
			}
			for _, kv := range r.Annotations {
				rs.tmpl = append(rs.tmpl, parseTemplate(r.Alert, kv, false))
			}
		}
	}
	return rs.tmpl
}

// uses returns the recorded series (names with a colon) that the rule's
// expression selects.
func (rs *ruleState) uses() []Use {
	if rs.expr == nil {
		return nil
	}
	var out []Use
	parser.Inspect(rs.expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && strings.Contains(vs.Name, ":") {
			out = append(out, Use{Name: vs.Name, Rule: rs.rule, Span: ExprSpan(rs.rule, vs.PosRange)})
		}
		return nil
	})
	return out
}

// ExprSpan maps a position range inside rule r's expression to the file.
func ExprSpan(r *promrule.Rule, pr posrange.PositionRange) diag.Span {
	if r.ExprLoc.IsZero() {
		return r.ExprSpan
	}
	f := r.Group.File
	start := f.ScalarAt(r.ExprLoc, r.Expr, int(pr.Start))
	end := start
	if pr.End > pr.Start {
		end = f.ScalarAt(r.ExprLoc, r.Expr, int(pr.End))
	}
	return diag.Span{File: f.Path, Start: start, End: end}
}

// Use is a place where a rule selects a series.
type Use struct {
	Name string
	Rule *promrule.Rule
	Span diag.Span
}

// Index is built once from every rule for the repo checks.
type Index struct {
	// Rules lists every rule in file order.
	Rules []*promrule.Rule
	// Alerts and Records map names to the rules that define them.
	Alerts, Records map[string][]*promrule.Rule
	// Uses maps each recorded series name selected by some expression to
	// where it is selected.
	Uses map[string][]Use
	// StaticLabels holds every label name that some rule or group sets.
	StaticLabels map[string]bool
	// LabelsUnknown, RecordsUnknown and UsesUnknown are set when some
	// labels, recording rule names or selected series could not be read:
	// a rule file that does not parse, labels or a record name the loader
	// refused, an expression that does not parse. The checks that find
	// what no rule does then say nothing: they would report the
	// consequences of a mistake reported already.
	LabelsUnknown, RecordsUnknown, UsesUnknown bool
}

func newIndex(files []*promrule.File, per []fileResult) *Index {
	idx := &Index{
		Alerts: map[string][]*promrule.Rule{}, Records: map[string][]*promrule.Rule{},
		Uses: map[string][]Use{}, StaticLabels: map[string]bool{},
	}
	for fi, f := range files {
		if fi < len(per) && per[fi].unparsed {
			idx.UsesUnknown = true
		}
		ri := 0
		for _, g := range f.Groups {
			for _, kv := range g.Labels {
				idx.StaticLabels[kv.Key] = true
			}
			idx.LabelsUnknown = idx.LabelsUnknown || g.Refused("labels")
			for _, rule := range g.Rules {
				idx.LabelsUnknown = idx.LabelsUnknown || rule.Refused("labels")
				idx.RecordsUnknown = idx.RecordsUnknown || rule.Refused("record")
				idx.UsesUnknown = idx.UsesUnknown || rule.Refused("expr")
				idx.Rules = append(idx.Rules, rule)
				if rule.IsAlert() {
					idx.Alerts[rule.Alert] = append(idx.Alerts[rule.Alert], rule)
				} else if rule.Record != "" {
					idx.Records[rule.Record] = append(idx.Records[rule.Record], rule)
				}
				for _, kv := range rule.Labels {
					idx.StaticLabels[kv.Key] = true
				}
				if fi < len(per) && ri < len(per[fi].uses) {
					for _, u := range per[fi].uses[ri] {
						idx.Uses[u.Name] = append(idx.Uses[u.Name], u)
					}
				}
				ri++
			}
		}
	}
	return idx
}
