package rbac

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/source"
)

// object is one printed object: its head comment and, for a role, why each
// rule is there.
type object struct {
	obj  any
	head string
	why  []string
}

// objects returns the policy's objects in the order kubectl applies them
// without trouble: the Namespaces before the Roles in them, the roles
// before their bindings.
func (p *Policy) objects() []object {
	var out []object
	for _, n := range p.Namespaces {
		head := "Namespace " + n.Name + " holds the stack's lock and inventory: created here so that obsctl's Role in it can be bound before the first apply."
		if n.Annotations[AnnotationAdopt] == "true" {
			head = "Namespace " + n.Name + " is the stack's: created here so that obsctl's Role in it can be bound before the first apply, " +
				"and annotated so that the first apply takes it over (obsctl takes over no existing object it did not create otherwise). " +
				"If " + n.Name + " exists already and is not meant to be the stack's, remove the annotation."
		}
		out = append(out, object{obj: n, head: head})
	}
	out = append(out, object{obj: p.ClusterRole, head: "ClusterRole " + p.ClusterRole.Name + ": what obsctl needs across the cluster. Each rule says why it is not narrower.", why: p.Why})
	for i, r := range p.Roles {
		out = append(out, object{obj: r, head: "Role " + r.Namespace + "/" + r.Name + ": what obsctl needs in " + r.Namespace + " only.", why: p.RoleWhy[i]})
	}
	if p.ClusterRoleBinding != nil {
		out = append(out, object{obj: p.ClusterRoleBinding, head: "Binds ClusterRole " + p.ClusterRoleBinding.RoleRef.Name + " to the subjects."})
	}
	for _, b := range p.RoleBindings {
		out = append(out, object{obj: b, head: "Binds Role " + b.Namespace + "/" + b.RoleRef.Name + " to the subjects, in " + b.Namespace + "."})
	}
	return out
}

// header starts the YAML output.
func (p *Policy) header() string {
	h := "What obsctl needs to apply, diff, prune and roll back the stack, and keep its lock and inventory " +
		"(printed by `obsctl rbac`): a ClusterRole for what it does across the cluster, " +
		"a Role in each namespace where it needs more (Secrets above all), and the stack's namespaces those Roles live in, created ahead."
	if p.ClusterRoleBinding == nil {
		h += " Bind the ClusterRole with a ClusterRoleBinding, and each Role with a RoleBinding in its namespace " +
			"(obsctl rbac --service-account, --user or --group prints them)."
	}
	return wrap(h, 78)
}

// Objects returns the policy's objects as plain maps, in the order they
// print: the Namespaces, the ClusterRole, the Roles, then the bindings when
// there are some. They hold no server-set fields, so that they print and
// apply cleanly.
func (p *Policy) Objects() ([]map[string]any, error) {
	var out []map[string]any
	for _, o := range p.objects() {
		b, err := json.Marshal(o.obj)
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
		for _, k := range []string{"spec", "status"} { // a Namespace's, empty
			if v, ok := m[k].(map[string]any); ok && len(v) == 0 {
				delete(m, k)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// YAML returns the policy as YAML documents in the order of Objects, each
// under a comment saying what it is for, and each rule of a role under one
// saying why obsctl needs it. The same policy always gives the same bytes.
func (p *Policy) YAML() ([]byte, error) {
	objs, err := p.Objects()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for i, o := range p.objects() {
		var doc yaml.Node
		if err := doc.Encode(objs[i]); err != nil {
			return nil, err
		}
		doc.HeadComment = wrap(o.head, 78)
		if i == 0 {
			doc.HeadComment = p.header() + "\n\n" + doc.HeadComment
		}
		if rules := mapValue(&doc, "rules"); rules != nil && len(rules.Content) == len(o.why) {
			for j, item := range rules.Content {
				if j == 0 || o.why[j] != o.why[j-1] {
					item.HeadComment = wrap(o.why[j], 76)
				}
				flowLists(item)
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

// JSON returns the policy's objects, in the order of Objects, in an
// indented v1 List, as kubectl prints several objects.
func (p *Policy) JSON() ([]byte, error) {
	objs, err := p.Objects()
	if err != nil {
		return nil, err
	}
	items := make([]any, len(objs))
	for i, o := range objs {
		items[i] = o
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), nil
}

// mapValue returns the value of key in the mapping a document node holds.
func mapValue(doc *yaml.Node, key string) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	return source.Value(doc, key)
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
