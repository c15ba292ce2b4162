package lint

import (
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// isConstant reports whether e selects no series at all.
func isConstant(e parser.Expr) bool {
	constant := true
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n.(type) {
		case *parser.VectorSelector, *parser.MatrixSelector:
			constant = false
		}
		return nil
	})
	return constant
}

// eachNode calls fn for n and every node below it, depth first, like
// parser.Inspect but without the path, which spares the rule checks an
// allocation or two per rule and walk. fn returns false to skip the
// node's children.
func eachNode(n parser.Node, fn func(parser.Node) bool) {
	if n == nil || !fn(n) {
		return
	}
	switch n := n.(type) {
	case *parser.AggregateExpr:
		eachNode(n.Expr, fn)
		if n.Param != nil {
			eachNode(n.Param, fn)
		}
	case *parser.BinaryExpr:
		eachNode(n.LHS, fn)
		eachNode(n.RHS, fn)
	case *parser.Call:
		for _, a := range n.Args {
			eachNode(a, fn)
		}
	case *parser.SubqueryExpr:
		eachNode(n.Expr, fn)
	case *parser.ParenExpr:
		eachNode(n.Expr, fn)
	case *parser.UnaryExpr:
		eachNode(n.Expr, fn)
	case *parser.MatrixSelector:
		eachNode(n.VectorSelector, fn)
	case *parser.StepInvariantExpr:
		eachNode(n.Expr, fn)
	case *parser.NumberLiteral, *parser.StringLiteral, *parser.VectorSelector, *parser.DurationExpr:
	default:
		for c := range parser.ChildrenIter(n) {
			eachNode(c, fn)
		}
	}
}

// eachNodePath is eachNode that also gives fn the path to the node, from
// the root to its parent, as parser.Inspect does, in one slice reused
// for the whole walk: fn must not keep it. fn returns false to skip the
// node's children.
func eachNodePath(n parser.Node, fn func(n parser.Node, path []parser.Node) bool) {
	var path []parser.Node
	var walk func(n parser.Node)
	walk = func(n parser.Node) {
		if n == nil || !fn(n, path) {
			return
		}
		path = append(path, n)
		switch n := n.(type) {
		case *parser.AggregateExpr:
			walk(n.Expr)
			if n.Param != nil {
				walk(n.Param)
			}
		case *parser.BinaryExpr:
			walk(n.LHS)
			walk(n.RHS)
		case *parser.Call:
			for _, a := range n.Args {
				walk(a)
			}
		case *parser.SubqueryExpr:
			walk(n.Expr)
		case *parser.ParenExpr:
			walk(n.Expr)
		case *parser.UnaryExpr:
			walk(n.Expr)
		case *parser.MatrixSelector:
			walk(n.VectorSelector)
		case *parser.StepInvariantExpr:
			walk(n.Expr)
		case *parser.NumberLiteral, *parser.StringLiteral, *parser.VectorSelector, *parser.DurationExpr:
		default:
			for c := range parser.ChildrenIter(n) {
				walk(c)
			}
		}
		path = path[:len(path)-1]
	}
	walk(n)
}

// absentCall returns the name of the absent() or absent_over_time() call
// that the alert's series can come from, or "": through parentheses,
// either side of `or`, the left side of `and` and `unless` (the right side
// only filters: `x and absent(y)` fires for x's series), either side of a
// comparison, and into aggregations and other function calls.
func absentCall(e parser.Expr) string {
	switch n := e.(type) {
	case *parser.Call:
		if n.Func.Name == "absent" || n.Func.Name == "absent_over_time" {
			return n.Func.Name
		}
		for _, a := range n.Args {
			if f := absentCall(a); f != "" {
				return f
			}
		}
	case *parser.ParenExpr:
		return absentCall(n.Expr)
	case *parser.AggregateExpr:
		return absentCall(n.Expr)
	case *parser.BinaryExpr:
		switch n.Op {
		case parser.LAND, parser.LUNLESS:
			return absentCall(n.LHS)
		}
		if f := absentCall(n.LHS); f != "" {
			return f
		}
		return absentCall(n.RHS)
	}
	return ""
}

// matrixArg returns the range selector that argument a of a function
// call is, looking through parentheses, or nil.
func matrixArg(a parser.Expr) *parser.MatrixSelector {
	for {
		switch n := a.(type) {
		case *parser.MatrixSelector:
			return n
		case *parser.ParenExpr:
			a = n.Expr
		default:
			return nil
		}
	}
}

// promDuration writes d as PromQL and rule files do: 5m, 1h30m, 2d.
func promDuration(d time.Duration) string { return model.Duration(d).String() }

// isRegexMatcher reports whether m is a =~ or !~ matcher.
func isRegexMatcher(m *labels.Matcher) bool {
	return m.Type == labels.MatchRegexp || m.Type == labels.MatchNotRegexp
}

// eachRegexMatcher calls fn for every =~ and !~ matcher of expression e,
// with the span where the matcher is written in rule r's expression
// (worked out only when fn asks for it, since most matchers are fine).
func eachRegexMatcher(r *promrule.Rule, e parser.Expr, fn func(m *labels.Matcher, span func() diag.Span)) {
	eachNode(e, func(n parser.Node) bool {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return true
		}
		for i, m := range vs.LabelMatchers {
			if isRegexMatcher(m) {
				fn(m, func() diag.Span { return ExprSpan(r, regexMatcherRange(r.Expr, vs, i)) })
			}
		}
		return true
	})
}

// regexMatcherRanges returns where each regex matcher of vs (=~ and !~,
// in the order of vs.LabelMatchers) is written in expr, from its label
// name to the end of its value. It returns nil when the text cannot be
// lined up with the matchers; callers then fall back to the selector's
// range. It is meant for the rare selector that has a finding, not for
// every selector.
func regexMatcherRanges(expr string, vs *parser.VectorSelector) []posrange.PositionRange {
	start, end := int(vs.PosRange.Start), int(vs.PosRange.End)
	if start < 0 || end > len(expr) || start >= end {
		return nil
	}
	var want int
	for _, m := range vs.LabelMatchers {
		if isRegexMatcher(m) {
			want++
		}
	}
	out := make([]posrange.PositionRange, 0, want)
	for i := start; i < end; i++ {
		switch c := expr[i]; c {
		case '"', '\'', '`':
			i = skipPromQLString(expr, i, end) - 1
		case '=', '!':
			if i+1 >= end || expr[i+1] != '~' {
				continue
			}
			from := matcherNameStart(expr, start, i)
			j := i + 2
			for j < end && isExprSpace(expr[j]) {
				j++
			}
			to := j
			if j < end && (expr[j] == '"' || expr[j] == '\'' || expr[j] == '`') {
				to = skipPromQLString(expr, j, end)
			}
			out = append(out, posrange.PositionRange{Start: posrange.Pos(from), End: posrange.Pos(to)})
			i = to - 1
		}
	}
	if len(out) != want {
		return nil
	}
	return out
}

// regexMatcherRange returns where the regex matcher at index k of
// vs.LabelMatchers is written, or the selector's range.
func regexMatcherRange(expr string, vs *parser.VectorSelector, k int) posrange.PositionRange {
	nth := 0
	for i, m := range vs.LabelMatchers {
		if i == k {
			break
		}
		if isRegexMatcher(m) {
			nth++
		}
	}
	if rs := regexMatcherRanges(expr, vs); nth < len(rs) {
		return rs[nth]
	}
	return vs.PosRange
}

// skipPromQLString returns the offset just after the string literal opening at
// expr[i], or end when it is not closed before end.
func skipPromQLString(expr string, i, end int) int {
	q := expr[i]
	for j := i + 1; j < end; j++ {
		switch expr[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			return j + 1
		}
	}
	return end
}

// matcherNameStart returns where the label name ending before the operator at op
// begins: a bare name or a quoted one, after optional spaces.
func matcherNameStart(expr string, lo, op int) int {
	j := op
	for j > lo && isExprSpace(expr[j-1]) {
		j--
	}
	if j > lo && (expr[j-1] == '"' || expr[j-1] == '\'' || expr[j-1] == '`') {
		q := expr[j-1]
		for k := j - 2; k >= lo; k-- {
			if expr[k] == q && (k == lo || expr[k-1] != '\\') {
				return k
			}
		}
		return j
	}
	for j > lo && isLabelNameByte(expr[j-1]) {
		j--
	}
	return j
}

func isExprSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isLabelNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
