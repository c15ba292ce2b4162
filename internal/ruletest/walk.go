package ruletest

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// Walker reads the YAML tree of a test file, reporting what is not of the
// expected shape as test/schema findings (CheckSchema) at their positions. The
// rule unit test parser and the routing test parser (internal/routetest)
// both read their files with it.
type Walker struct {
	Src      *source.File
	Findings []diag.Finding
}

// Errorf records a finding at at.
func (w *Walker) Errorf(at diag.Span, format string, args ...any) {
	w.Findings = append(w.Findings, diag.Finding{Check: CheckSchema, Severity: diag.Error, Span: at, Message: fmt.Sprintf(format, args...)})
}

// Span returns where n is written.
func (w *Walker) Span(n *yaml.Node) diag.Span { return w.Src.Span(n) }

// Seq calls fn for each item of the list n (aliases followed); null is an
// empty list.
func (w *Walker) Seq(n *yaml.Node, what string, fn func(i int, item *yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		if IsNull(n) {
			return
		}
		w.Errorf(w.Span(n), "%s must be a list", what)
		return
	}
	for i, item := range n.Content {
		fn(i, Deref(item))
	}
}

// Str returns the scalar n; null is "".
func (w *Walker) Str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		w.Errorf(w.Span(n), "%s must be a string", what)
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// Deref follows aliases to the node they stand for.
func Deref(n *yaml.Node) *yaml.Node {
	for depth := 0; n.Kind == yaml.AliasNode && n.Alias != nil && depth < 64; depth++ {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is YAML's null.
func IsNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }
