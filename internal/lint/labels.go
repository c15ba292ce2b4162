package lint

import (
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// labelSet describes which labels an expression's result can carry.
// When open, any label may be present except those in absent; when
// closed, exactly those in present may be.
type labelSet struct {
	open    bool
	present map[string]bool
	absent  map[string]bool
}

func openSet() labelSet { return labelSet{open: true} }

func closedSet(names ...string) labelSet {
	s := labelSet{present: map[string]bool{}}
	for _, n := range names {
		s.present[n] = true
	}
	return s
}

// mayHave reports whether a series of the result can carry label name.
func (s labelSet) mayHave(name string) bool {
	if s.open {
		return !s.absent[name]
	}
	return s.present[name]
}

func (s labelSet) with(names ...string) labelSet {
	out := labelSet{open: s.open, present: map[string]bool{}, absent: map[string]bool{}}
	for k := range s.present {
		out.present[k] = true
	}
	for k := range s.absent {
		out.absent[k] = true
	}
	for _, n := range names {
		out.present[n] = true
		delete(out.absent, n)
	}
	return out
}

func (s labelSet) without(names ...string) labelSet {
	out := s.with()
	for _, n := range names {
		delete(out.present, n)
		if out.open {
			out.absent[n] = true
		}
	}
	return out
}

func union(a, b labelSet) labelSet {
	switch {
	case a.open && b.open:
		out := openSet()
		out.absent = map[string]bool{}
		for k := range a.absent {
			if b.absent[k] {
				out.absent[k] = true
			}
		}
		return out
	case a.open:
		return a.without().withoutAbsent(b.present)
	case b.open:
		return b.without().withoutAbsent(a.present)
	}
	out := a.with()
	for k := range b.present {
		out.present[k] = true
	}
	return out
}

func (s labelSet) withoutAbsent(names map[string]bool) labelSet {
	for k := range names {
		delete(s.absent, k)
	}
	return s
}

// outputLabels infers which labels the result of e may carry. It errs on
// the side of openness: a label is reported missing only when the
// expression certainly drops it.
func outputLabels(e parser.Expr) labelSet {
	switch e := e.(type) {
	case *parser.ParenExpr:
		return outputLabels(e.Expr)
	case *parser.UnaryExpr:
		return outputLabels(e.Expr)
	case *parser.StepInvariantExpr:
		return outputLabels(e.Expr)
	case *parser.SubqueryExpr:
		return outputLabels(e.Expr)
	case *parser.NumberLiteral, *parser.StringLiteral:
		return closedSet()
	case *parser.VectorSelector, *parser.MatrixSelector:
		return openSet()
	case *parser.AggregateExpr:
		switch e.Op {
		case parser.TOPK, parser.BOTTOMK, parser.LIMITK, parser.LIMIT_RATIO:
			return outputLabels(e.Expr)
		}
		var s labelSet
		if e.Without {
			s = outputLabels(e.Expr).without(e.Grouping...)
		} else {
			s = closedSet(e.Grouping...)
		}
		if e.Op == parser.COUNT_VALUES {
			if str, ok := e.Param.(*parser.StringLiteral); ok {
				s = s.with(str.Val)
			}
		}
		return s
	case *parser.Call:
		return callLabels(e)
	case *parser.BinaryExpr:
		return binaryLabels(e)
	}
	return openSet()
}

func callLabels(c *parser.Call) labelSet {
	switch c.Func.Name {
	case "absent", "absent_over_time":
		// absent() returns one series labelled with the equality matchers
		// of its selector.
		s := closedSet()
		var vs *parser.VectorSelector
		switch a := c.Args[0].(type) {
		case *parser.VectorSelector:
			vs = a
		case *parser.MatrixSelector:
			vs, _ = a.VectorSelector.(*parser.VectorSelector)
		}
		if vs != nil {
			for _, m := range vs.LabelMatchers {
				if m.Type == labels.MatchEqual && m.Name != labels.MetricName {
					s.present[m.Name] = true
				}
			}
		}
		return s
	case "vector", "time", "scalar", "pi":
		return closedSet()
	case "label_replace":
		if dst, ok := c.Args[1].(*parser.StringLiteral); ok {
			return outputLabels(c.Args[0]).with(dst.Val)
		}
	case "label_join":
		if dst, ok := c.Args[1].(*parser.StringLiteral); ok {
			return outputLabels(c.Args[0]).with(dst.Val)
		}
	case "histogram_quantile":
		if len(c.Args) == 2 {
			return outputLabels(c.Args[1]).without("le")
		}
	}
	// Most functions keep their vector argument's labels.
	for _, a := range c.Args {
		if t := a.Type(); t == parser.ValueTypeVector || t == parser.ValueTypeMatrix {
			return outputLabels(a)
		}
	}
	return openSet()
}

func binaryLabels(b *parser.BinaryExpr) labelSet {
	lt, rt := b.LHS.Type(), b.RHS.Type()
	switch {
	case lt != parser.ValueTypeVector && rt != parser.ValueTypeVector:
		return closedSet()
	case lt != parser.ValueTypeVector:
		return outputLabels(b.RHS)
	case rt != parser.ValueTypeVector:
		return outputLabels(b.LHS)
	}
	m := b.VectorMatching
	switch b.Op {
	case parser.LAND, parser.LUNLESS:
		return outputLabels(b.LHS)
	case parser.LOR:
		return union(outputLabels(b.LHS), outputLabels(b.RHS))
	}
	if m == nil {
		return outputLabels(b.LHS)
	}
	switch m.Card {
	case parser.CardManyToOne:
		return outputLabels(b.LHS).with(m.Include...)
	case parser.CardOneToMany:
		return outputLabels(b.RHS).with(m.Include...)
	}
	if m.On {
		return closedSet(m.MatchingLabels...)
	}
	return outputLabels(b.LHS).without(m.MatchingLabels...)
}
