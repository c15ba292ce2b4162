package lint

import (
	"reflect"
	"strings"
	"text/template/parse"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// labelValue reports alert labels whose template reads the query value
// ($value, .Value, or humanize of it) or calls a template function whose
// output changes from one evaluation to the next (query, now).
//
// An alert's labels are its identity. When a label holds the value, every
// evaluation produces a different alert: the pending one is dropped before
// its `for` elapses, so the alert never fires, or, without `for`, each
// evaluation resolves the old alert and fires a new one, and the on-call
// gets a fresh page every 30 seconds with the old ones resolving behind
// it. Silences and inhibitions that match on labels stop matching too.
//
// Put the value in an annotation instead (`description: "error rate is
// {{ $value | humanizePercentage }}"`): annotations may change while an
// alert fires. If the label is meant to bucket the value, compute the
// bucket in the expression with a fixed label.
//
// Silence the check for one rule with `# obsctl:disable rules/label-value`.
type labelValue struct{}

func (labelValue) Name() string { return "rules/label-value" }

func (labelValue) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRule, Summary: "An alert label holds the query value, so the alert's identity changes on every evaluation."}
}

func (labelValue) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || !labelMayChange(r.Labels) {
		return
	}
	for _, t := range p.Templates() {
		if !t.IsLabel || t.Tree == nil ||
			!t.UsesValue && !strings.Contains(t.KV.Value, "query") && !strings.Contains(t.KV.Value, "now") {
			continue
		}
		off, token := changingTemplateNode(t.Tree.Root, len(templateDefs))
		if off < 0 {
			continue
		}
		what := "reads " + token
		if token == "query" || token == "now" {
			what = "calls " + token
		}
		span := t.Span(r, off)
		span.End = t.Span(r, off+len(token)).Start
		p.Report(span, "move the value into an annotation such as description; labels must stay the same while the alert fires",
			"label %q %s: the alert's identity changes on every evaluation", t.KV.Key, what)
	}
}

// labelMayChange is a cheap test that spares parsing the templates of
// the many rules whose labels cannot read the value: they hold no action,
// or none that mentions Value, query or now.
func labelMayChange(kvs []promrule.KV) bool {
	for _, kv := range kvs {
		v := kv.Value
		if strings.Contains(v, "{{") &&
			(strings.Contains(v, "Value") || strings.Contains(v, "value") || strings.Contains(v, "query") || strings.Contains(v, "now")) {
			return true
		}
	}
	return false
}

// changingTemplateNode returns the offset in the value (the template
// without Prometheus' defs prefix) of the first place where the template
// reads the query value or calls a function whose result changes between
// evaluations, with the token written there ($value, .Value, query or
// now); the offset is -1 when there is none.
func changingTemplateNode(n parse.Node, defs int) (int, string) {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return -1, ""
	}
	switch n := n.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			if off, what := changingTemplateNode(c, defs); off >= 0 {
				return off, what
			}
		}
	case *parse.ActionNode:
		return changingTemplateNode(n.Pipe, defs)
	case *parse.PipeNode:
		for _, c := range n.Cmds {
			if off, what := changingTemplateNode(c, defs); off >= 0 {
				return off, what
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if off, what := changingTemplateNode(a, defs); off >= 0 {
				return off, what
			}
		}
	case *parse.IdentifierNode:
		if int(n.Pos) >= defs && (n.Ident == "query" || n.Ident == "now") {
			return int(n.Pos) - defs, n.Ident
		}
	case *parse.VariableNode:
		if int(n.Pos) >= defs && n.Ident[0] == "$value" {
			return int(n.Pos) - defs, "$value"
		}
	case *parse.FieldNode:
		if int(n.Pos) >= defs && n.Ident[0] == "Value" {
			return int(n.Pos) - defs, ".Value"
		}
	case *parse.ChainNode:
		return changingTemplateNode(n.Node, defs)
	case *parse.IfNode:
		return changingBranch(&n.BranchNode, defs)
	case *parse.RangeNode:
		return changingBranch(&n.BranchNode, defs)
	case *parse.WithNode:
		return changingBranch(&n.BranchNode, defs)
	}
	return -1, ""
}

func changingBranch(b *parse.BranchNode, defs int) (int, string) {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if off, what := changingTemplateNode(n, defs); off >= 0 {
			return off, what
		}
	}
	return -1, ""
}
