package source

import (
	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
)

// Scalar locates a scalar in its file without holding on to the YAML tree:
// a rule model keeps one per expression, label and annotation, and a
// yaml.Node is many times larger than what mapping positions back needs.
// The scalar's decoded value is kept by its owner and passed back in.
type Scalar struct {
	Line, Col int32
	Style     yaml.Style
}

// ScalarOf records where scalar node n was written.
func ScalarOf(n *yaml.Node) Scalar {
	return Scalar{Line: int32(n.Line), Col: int32(n.Column), Style: n.Style}
}

// IsZero reports whether s locates nothing.
func (s Scalar) IsZero() bool { return s.Line == 0 }

func (s Scalar) node(value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Line: int(s.Line), Column: int(s.Col), Style: s.Style, Value: value}
}

// ScalarAt maps byte offset off of value, the scalar s decodes to, back to
// the file, as ScalarPos does for a node.
func (f *File) ScalarAt(s Scalar, value string, off int) diag.Pos {
	return f.ScalarPos(s.node(value), off)
}

// ScalarSpan returns the span of the scalar s decoding to value, as Span
// does for a node.
func (f *File) ScalarSpan(s Scalar, value string) diag.Span {
	if s.IsZero() {
		return f.Whole()
	}
	return f.Span(s.node(value))
}
