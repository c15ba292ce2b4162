package lint

import (
	"errors"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"

	"github.com/obsctl/obsctl/internal/diag"
)

// promqlSyntax reports expressions that are not valid PromQL, as the
// Prometheus version obsctl is built with parses them. The finding points
// at the line and column inside `expr` where the parser gave up, whether the
// expression is a one-liner or a block scalar, so the editor jumps to the
// mistake rather than to the start of the rule. Prometheus refuses to load
// a rule file with such an expression, so none of its rules would run.
type promqlSyntax struct{}

func (promqlSyntax) Name() string { return "rules/promql-syntax" }

func (promqlSyntax) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRule, Summary: "An expression is not valid PromQL."}
}

func (promqlSyntax) Check(p *Pass) {
	err := p.ExprErr()
	if err == nil {
		return
	}
	r := p.Rule
	var perrs parser.ParseErrors
	if !errors.As(err, &perrs) || len(perrs) == 0 {
		p.Report(r.ExprSpan, "", "invalid PromQL: %v", err)
		return
	}
	// The parser often reports one mistake several times; the first is
	// the one to fix.
	pe := perrs[0]
	// "Unexpected end of input" sits past a block scalar's final line
	// break; point at the last character written instead.
	if end := posrange.Pos(len(strings.TrimRight(r.Expr, " \t\r\n"))); pe.PositionRange.Start >= end && end > 0 {
		pe.PositionRange = posrange.PositionRange{Start: end - 1, End: end}
	}
	span := ExprSpan(r, pe.PositionRange)
	if r.Expr == "" || strings.TrimSpace(r.Expr) == "" {
		span = r.ExprSpan
	}
	p.Report(span, "", "invalid PromQL: %s", pe.Err)
}
