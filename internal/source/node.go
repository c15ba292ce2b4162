package source

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// KindName says what a YAML node is, for a message that wanted another:
// "a mapping", "a list", "an alias", "null", or a scalar's value quoted
// (cut at 40 characters).
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	v := n.Value
	if r := []rune(v); len(r) > 40 {
		v = string(r[:40]) + "..."
	}
	return strconv.Quote(v)
}

// Resolve follows aliases (eight at most: a chain longer than that is not
// a file's) to the node they stand for.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// Value returns the value of key in the mapping n, or nil (also when n is
// nil or no mapping). A key written twice is the first.
func Value(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Items returns the items of the sequence n, or nil (also when n is nil
// or no sequence).
func Items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}
