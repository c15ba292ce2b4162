package ruletest

import (
	"slices"
	"sync"

	"github.com/prometheus/prometheus/promql/parser"
)

// cachingParser is the PromQL parser of the test engines. The rule
// manager hands the engine each rule's expression as a string at every
// evaluation, which the engine parses again: a seventh of a run's CPU. It
// keeps the first parse of each string and hands out copies of it, since
// the engine writes into the tree it is given (step-invariant wrappers,
// @ start() and end() resolved to the query's time, the series it
// selects, grouping labels sorted). An expression with a node it does not
// know how to copy is parsed afresh each time, as without it.
type cachingParser struct {
	parser.Parser
	trees sync.Map // string -> parser.Expr, never given out
}

func newCachingParser(p parser.Parser) *cachingParser { return &cachingParser{Parser: p} }

func (c *cachingParser) ParseExpr(q string) (parser.Expr, error) {
	if t, ok := c.trees.Load(q); ok {
		if e, ok := cloneExpr(t.(parser.Expr)); ok {
			return e, nil
		}
		return c.Parser.ParseExpr(q)
	}
	e, err := c.Parser.ParseExpr(q)
	if err != nil {
		return nil, err
	}
	kept, ok := cloneExpr(e)
	if !ok {
		return e, nil
	}
	c.trees.Store(q, kept)
	return e, nil
}

// cloneExpr copies a syntax tree: every node, and the slices the engine
// may write to; label matchers and functions, which it only reads, are
// shared. It reports false for a node type it does not know.
func cloneExpr(e parser.Expr) (parser.Expr, bool) {
	ok := true
	var clone func(parser.Expr) parser.Expr
	cloneDur := func(d *parser.DurationExpr) *parser.DurationExpr {
		if d == nil {
			return nil
		}
		c := *d
		c.LHS, c.RHS = clone(d.LHS), clone(d.RHS)
		return &c
	}
	clone = func(e parser.Expr) parser.Expr {
		switch n := e.(type) {
		case nil:
			return nil
		case *parser.AggregateExpr:
			c := *n
			c.Expr, c.Param = clone(n.Expr), clone(n.Param)
			c.Grouping = slices.Clone(n.Grouping)
			return &c
		case *parser.BinaryExpr:
			c := *n
			c.LHS, c.RHS = clone(n.LHS), clone(n.RHS)
			if n.VectorMatching != nil {
				vm := *n.VectorMatching
				vm.MatchingLabels = slices.Clone(vm.MatchingLabels)
				vm.Include = slices.Clone(vm.Include)
				c.VectorMatching = &vm
			}
			return &c
		case *parser.Call:
			c := *n
			c.Args = make(parser.Expressions, len(n.Args))
			for i, a := range n.Args {
				c.Args[i] = clone(a)
			}
			return &c
		case *parser.DurationExpr:
			return cloneDur(n)
		case *parser.MatrixSelector:
			c := *n
			c.VectorSelector = clone(n.VectorSelector)
			c.RangeExpr = cloneDur(n.RangeExpr)
			return &c
		case *parser.SubqueryExpr:
			c := *n
			c.Expr = clone(n.Expr)
			c.RangeExpr, c.StepExpr, c.OriginalOffsetExpr = cloneDur(n.RangeExpr), cloneDur(n.StepExpr), cloneDur(n.OriginalOffsetExpr)
			return &c
		case *parser.NumberLiteral:
			c := *n
			return &c
		case *parser.StringLiteral:
			c := *n
			return &c
		case *parser.ParenExpr:
			c := *n
			c.Expr = clone(n.Expr)
			return &c
		case *parser.UnaryExpr:
			c := *n
			c.Expr = clone(n.Expr)
			return &c
		case *parser.StepInvariantExpr:
			c := *n
			c.Expr = clone(n.Expr)
			return &c
		case *parser.VectorSelector:
			c := *n
			c.OriginalOffsetExpr = cloneDur(n.OriginalOffsetExpr)
			c.UnexpandedSeriesSet, c.Series = nil, nil
			return &c
		default:
			ok = false
			return e
		}
	}
	out := clone(e)
	return out, ok
}
