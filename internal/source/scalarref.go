package source

import (
	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
)

// Scalar locates a scalar in its file without holding on to the YAML tree:
// a rule model keeps one per expression and template, and a yaml.Node is
// several times larger than what mapping positions back needs.
type Scalar struct {
	Line, Col int32
	Style     yaml.Style
	Value     string
}

// ScalarOf records where scalar node n was written.
func ScalarOf(n *yaml.Node) Scalar {
	return Scalar{Line: int32(n.Line), Col: int32(n.Column), Style: n.Style, Value: n.Value}
}

// IsZero reports whether s locates nothing.
func (s Scalar) IsZero() bool { return s.Line == 0 }

// ScalarAt maps byte offset off of s's value to the file, as ScalarPos does
// for a node.
func (f *File) ScalarAt(s Scalar, off int) diag.Pos {
	n := yaml.Node{Kind: yaml.ScalarNode, Line: int(s.Line), Column: int(s.Col), Style: s.Style, Value: s.Value}
	return f.ScalarPos(&n, off)
}
