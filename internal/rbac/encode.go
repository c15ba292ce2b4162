package rbac

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Objects returns the policy's objects as plain maps: the ClusterRole, then
// the binding when there is one. They hold no server-set fields, so that
// they print and apply cleanly.
func (p *Policy) Objects() ([]map[string]any, error) {
	objs := []any{p.Role}
	if p.Binding != nil {
		objs = append(objs, p.Binding)
	}
	var out []map[string]any
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		if meta, ok := m["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp") // null on an object never stored
		}
		out = append(out, m)
	}
	return out, nil
}

// YAML returns the policy as YAML documents, the ClusterRole first, each
// rule under a comment saying what obsctl needs it for. The same policy
// always gives the same bytes.
func (p *Policy) YAML() ([]byte, error) {
	objs, err := p.Objects()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for i, obj := range objs {
		var doc yaml.Node
		if err := doc.Encode(obj); err != nil {
			return nil, err
		}
		if i == 0 {
			doc.HeadComment = "The ClusterRole obsctl needs to apply, diff, prune, and keep its inventory and lock\n(printed by `obsctl rbac`)."
			if rules := mapValue(&doc, "rules"); rules != nil && len(rules.Content) == len(p.Why) {
				for j, item := range rules.Content {
					if j == 0 || p.Why[j] != p.Why[j-1] {
						item.HeadComment = wrap(p.Why[j], 76)
					}
					flowLists(item)
				}
			}
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(&doc); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// JSON returns the ClusterRole as an indented JSON object or, with a
// binding, both in a v1 List, as kubectl prints several objects.
func (p *Policy) JSON() ([]byte, error) {
	objs, err := p.Objects()
	if err != nil {
		return nil, err
	}
	var v any = objs[0]
	if len(objs) > 1 {
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = o
		}
		v = map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), nil
}

// mapValue returns the value of key in the mapping a document node holds.
func mapValue(doc *yaml.Node, key string) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// wrap breaks text into lines of at most width characters, at spaces.
func wrap(text string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// flowLists prints the lists of strings of a rule on one line each
// ("verbs: [get, list]"), as RBAC rules are usually written.
func flowLists(rule *yaml.Node) {
	if rule.Kind != yaml.MappingNode {
		return
	}
	for i := 1; i < len(rule.Content); i += 2 {
		if v := rule.Content[i]; v.Kind == yaml.SequenceNode {
			v.Style = yaml.FlowStyle
		}
	}
}
